"""Saturation mutagenesis: the library and both CLIs."""

import h5py
import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.cli import basenji_sat_bed, basenji_sat_vcf
from basenji_tf.dna import dna_1hot
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor
from basenji_tf.scoring.sat import mutation_region, sat_mutagenesis


@pytest.fixture(scope="module")
def small(reference_dir):
    """The small Basenji2 reference model's head 0, for inference."""
    d = reference_dir / "basenji2_small"
    return seqnn.load(str(d / "params.json"), str(d / "model0_best.h5")).head


def hand_sum(predictor, seq, p, base):
    mutant = seq.copy()
    mutant[p] = 0
    mutant[p, base] = 1
    return predictor.predict(mutant[None])[0]


@pytest.mark.slow
def test_mutagenesis_equals_single_mutants_and_handles_n(small, reference_dir):
    model = small.model
    predictor = EnsemblePredictor(model, rc=True, splice=ConeSplice(model))
    rng = np.random.default_rng(3)
    seq = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16384)]
    mut_start, mut_len = mutation_region(16384, 6)
    assert (mut_start, mut_len) == (8189, 6)
    seq[mut_start + 1] = 0  # an N inside the region: four mutants there, not three
    scores = sat_mutagenesis(predictor, seq, mut_start, mut_len, ["sum", "center", "scd"], chunk=5)
    ref_pred = predictor.predict(seq[None])[0]
    raw_sum = np.zeros((mut_len, 4, 8), np.float32)
    raw_centre = np.zeros((mut_len, 4, 8), np.float32)
    for i in range(mut_len):
        p = mut_start + i
        for base in range(4):
            if seq[p, base] == 1:
                pred = ref_pred
                assert np.all(scores["scd"][i, base] == 0)
            else:
                pred = hand_sum(predictor, seq, p, base)
                scd = np.sqrt(((pred - ref_pred) ** 2).sum(axis=0))
                np.testing.assert_allclose(scores["scd"][i, base], scd, rtol=1e-4, atol=1e-5)
            raw_sum[i, base] = pred.sum(axis=0)
            raw_centre[i, base] = pred[56:58].sum(axis=0)  # 112 bins: [56, 58)
    # positions after the N are where the original's bookkeeping went wrong
    for stat, raw in (("sum", raw_sum), ("center", raw_centre)):
        want = raw - raw.mean(axis=1, keepdims=True)
        np.testing.assert_allclose(scores[stat], want, rtol=1e-4, atol=2e-4, err_msg=stat)


@pytest.mark.slow
def test_sat_bed_cli(tmp_path, reference_dir):
    sad_dir = reference_dir / "sad_small"
    small = reference_dir / "basenji2_small"
    bed = tmp_path / "r.bed"
    bed.write_text("chrG\t60000\t60010\tplus\t0\t+\nchrG\t80000\t80011\tminus\t0\t-\n")
    out = tmp_path / "sat"
    argv = [
        "-f",
        str(sad_dir / "gata4_locus.fa"),
        "-l",
        "4",
        "-o",
        str(out),
        "--plots",
        "--stats",
        "sum,scd",
        str(small / "params.json"),
        str(small / "model0_best.h5"),
        str(bed),
    ]
    assert basenji_sat_bed.main(argv) == 0
    with h5py.File(out / "scores.h5") as h5:
        assert h5["seqs"].dtype == bool and h5["seqs"].shape == (2, 4, 4)
        assert h5["sum"].shape == (2, 4, 4, 8) and h5["sum"].dtype == np.float16
        # window of 'plus': mid 60005 - 8192 = 51813; region [L/2 - 2, +4) in the window
        assert list(h5["start"][:]) == [51813 + 8190, 80005 + 8192 - 8190 - 4]
        assert list(h5["end"][:] - h5["start"][:]) == [4, 4]
        assert [s.decode() for s in h5["strand"][:]] == ["+", "-"]
        np.testing.assert_allclose(h5["sum"][:].astype(np.float32).sum(axis=2), 0, atol=2e-2)
    with open(sad_dir / "gata4_locus.fa") as handle:
        genome_seq = "".join(line.strip() for line in handle if not line.startswith(">"))
    with h5py.File(out / "scores.h5") as h5:
        plus = dna_1hot(genome_seq[51813 + 8190 : 51813 + 8194])
        np.testing.assert_array_equal(h5["seqs"][0], plus == 1)
    assert (out / "seq0_t0_logo.png").stat().st_size > 1000
    assert (out / "seq1_t0_heat.png").stat().st_size > 1000


@pytest.mark.slow
def test_sat_vcf_cli(tmp_path, reference_dir):
    sad_dir = reference_dir / "sad_small"
    small = reference_dir / "basenji2_small"
    vcf = tmp_path / "v.vcf"
    vcf.write_text("chrG\t74453\tsnv2\tA\tC,GTTTTTT\n")
    argv = [
        "--f1",
        str(sad_dir / "gata4_locus.fa"),
        "-l",
        "3",
        "-o",
        str(tmp_path / "o"),
        str(small / "params.json"),
        str(small / "model0_best.h5"),
        str(vcf),
    ]
    assert basenji_sat_vcf.main(argv) == 0
    with h5py.File(tmp_path / "o" / "scores.h5") as h5:
        assert [s.decode() for s in h5["label"][:]] == ["snv2_A", "snv2_C", "snv2_GTTTT*"]
        assert h5["sum"].shape == (3, 3, 4, 8)
        # REF and ALT windows differ exactly at the variant (index L/2 - 1 = region[0])
        assert h5["seqs"][0, 0, 0] and h5["seqs"][1, 0, 1]


def test_sat_bed_original_options_parse():
    args = basenji_sat_bed.build_parser().parse_args(["-f", "a.fa", "-p", "4", "p", "m", "b.bed"])
    assert (args.processes, args.out_dir, args.mut_len, args.stats) == (4, "sat_mut", 0, "sum")
    assert (args.scheduler, args.keep_shards) == (None, False)


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.fixed_shape
def test_sat_bed_shards_equal_a_single_run_byte_for_byte(tmp_path, small_model):
    bed = tmp_path / "r.bed"
    bed.write_text(
        "chrG\t60000\t60010\ta\t0\t+\nchrG\t80000\t80011\tb\t0\t-\n"
        "chrG\t3000\t3010\tc\t0\t+\nchrG\t95000\t95020\td\t0\t-\n"
    )
    common = ["-f", small_model["fasta"], "-l", "3", "--stats", "sum,scd", "--plots"]
    model = [small_model["params"], small_model["model"], str(bed)]
    assert basenji_sat_bed.main([*common, "-o", str(tmp_path / "one"), *model]) == 0
    two = ["-o", str(tmp_path / "two"), "-p", "2", "--keep_shards"]
    assert basenji_sat_bed.main([*common, *two, *model]) == 0
    one_h5, two_h5 = tmp_path / "one" / "scores.h5", tmp_path / "two" / "scores.h5"
    assert one_h5.read_bytes() == two_h5.read_bytes()
    assert (tmp_path / "two" / "job1" / "scores.h5").is_file()  # kept
    with h5py.File(tmp_path / "two" / "job1" / "scores.h5") as h5:
        assert h5["sum"].shape[0] == 2  # regions c and d
    # figures are numbered over the whole BED file
    assert (tmp_path / "two" / "seq3_t0_logo.png").is_file()
