"""basenji_sad: the original's outputs, statistics, clusters, shards, real VCFs."""

import filecmp

import h5py
import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.cli import basenji_sad
from basenji_tf.dna import dna_1hot
from basenji_tf.errors import InputError
from basenji_tf.execute import InProcess, LocalProcesses
from basenji_tf.genome import Genome
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec
from basenji_tf.scoring.outputs import SAD_STATS
from basenji_tf.scoring.sad import SadOptions, run_sad, sad_stats, score_vcf
from basenji_tf.scoring.target_set import TargetSet
from basenji_tf.scoring.vcf import read_vcf

ALL_STATS = ",".join(SAD_STATS)


@pytest.fixture(scope="module")
def small(reference_dir):
    """The small Basenji2 reference model's head 0, for inference."""
    d = reference_dir / "basenji2_small"
    return seqnn.load(str(d / "params.json"), str(d / "model0_best.h5")).head


@pytest.fixture(scope="module")
def sad_dir(reference_dir):
    return reference_dir / "sad_small"


@pytest.fixture(scope="module")
def float32_run(sad_dir):
    return np.load(sad_dir / "sad_float32.npz")


def assert_same_sad(ours_file, ref_file, extra_row=None):
    """Every dataset equal (float16 tolerance).

    ``extra_row``: a row of ours the original does not have (then the percentile tables,
    computed over all rows, are not compared).
    """
    with h5py.File(ours_file) as ours, h5py.File(ref_file) as ref:
        assert set(ours) == set(ref)
        for name in ref:
            a, b = ours[name][:], ref[name][:]
            if extra_row is not None:
                if name.endswith("_pct"):
                    continue
                if a.shape[:1] == (b.shape[0] + 1,):
                    a = np.delete(a, extra_row, axis=0)
            assert a.shape == b.shape, name
            if b.dtype.kind == "f":
                assert a.dtype == b.dtype, name
                np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-3, err_msg=name)
            elif name == "target_labels" and not any(b):
                assert not any(a)  # empty labels: the original's string width is not kept
            else:
                assert a.dtype == b.dtype, name
                np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("run", ["sad_out", "sad_targets_out"])
def test_cli_reproduces_the_original(tmp_path, reference_dir, sad_dir, run):
    argv = [
        "-f",
        str(sad_dir / "gata4_locus.fa"),
        "-o",
        str(tmp_path),
        "--rc",
        "--shifts",
        "0,1,-1",
        "--stats",
        ALL_STATS,
        "--batch_variants",
        "6",
    ]
    extra_row = None
    if run == "sad_targets_out":
        argv += ["-t", str(sad_dir / "targets_sad.txt"), "--first_alt"]
    else:
        extra_row = 11  # multi's second ALT (C), which the original does not score
    small = reference_dir / "basenji2_small"
    argv += [str(small / "params.json"), str(small / "model0_best.h5"), str(sad_dir / "snps.vcf")]
    assert basenji_sad.main(argv) == 0
    assert_same_sad(tmp_path / "sad.h5", sad_dir / run / "sad.h5", extra_row)
    if extra_row is not None:
        with h5py.File(tmp_path / "sad.h5") as h5:
            assert list(h5["snp"][10:12]) == [b"multi", b"multi"]
            assert list(h5["alt_allele"][10:12]) == [b"A", b"C"]
            # both ALTs share the REF window
            np.testing.assert_array_equal(h5["REF"][10], h5["REF"][11])


def test_statistics_equal_the_originals(sad_dir, float32_run):
    """All 14 statistics from the original's float32 predictions.

    Bit for bit where no float32 sum rounding shows: REF, ALT, SAX and every D1, D2, JS.
    The SAD forms (a difference of two sums over the bins) are ours in float64 and the
    original's in float32, whose rounding error (~1e-6 of the sums) cancellation turns
    into up to ~20 float16 steps of a small difference: they are compared within that
    error. (numpy's float32 log2 also differs in the last bit between AVX-512 and AVX2.)
    """
    scores = sad_stats(float32_run["ref_preds"], float32_run["alt_preds"], SAD_STATS)
    ref = float32_run["ref_preds"].astype(np.float64)
    alt = float32_run["alt_preds"].astype(np.float64)
    with h5py.File(sad_dir / "sad_out" / "sad.h5") as h5:
        for stat in SAD_STATS:
            assert scores[stat].dtype == np.float16
            assert_same_stat(stat, scores[stat], h5[stat][:], ref, alt)


_SCALES = {"": lambda x: x, "log": lambda x: np.log2(x + 1), "sqrt": np.sqrt}


def assert_same_stat(name, ours, theirs, ref, alt):
    """Compare a statistic of ours with the original's.

    REF, ALT and SAX bit for bit; sums of positive terms within one float16 step; the SAD
    forms within the float32 rounding of their two sums. ``ref``, ``alt``: the predictions
    [N, bins, T] the statistics come from.
    """
    if name in ("REF", "ALT", "SAX"):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
        return
    diff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
    allowed = np.spacing(np.abs(theirs)).astype(np.float64)
    prefix = name[: -len("SAD")] if name.endswith("SAD") else None
    if prefix in _SCALES:
        fn = _SCALES[prefix]
        allowed += 1e-6 * (np.abs(fn(ref)).sum(axis=1) + np.abs(fn(alt)).sum(axis=1))
    assert (diff <= allowed).all(), name


def test_sad_options_reject_bad_batches():
    with pytest.raises(InputError, match="--batch_variants 0: must be a positive"):
        SadOptions(batch_variants=0)
    with pytest.raises(InputError, match="--cluster -5"):
        SadOptions(cluster_bp=-5)


def write_dense_vcf(path, genome) -> None:
    """Four close SNVs, then a deletion, an insertion and a two-ALT site (8 rows)."""
    base = lambda pos, n=1: genome.fetch("chrG", pos - 1, pos - 1 + n)  # noqa: E731
    lines = [
        f"chrG\t{p}\ts{p}\t{base(p)}\t{'T' if base(p) != 'T' else 'G'}"
        for p in (50_000, 50_377, 51_001, 52_222)
    ]
    lines += [
        f"chrG\t50800\tdel\t{base(50_800, 4)}\t{base(50_800)}",
        f"chrG\t51500\tins\t{base(51_500)}\t{base(51_500)}GATTACA",
        f"chrG\t52000\ttwo\t{base(52_000)}\t{','.join('ACGT'.replace(base(52_000), '')[:2])}",
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_scoring_with_shared_towers_equals_without(tmp_path, small, sad_dir):
    """Scores with shared towers equal those without.

    score_vcf on close SNVs, a deletion, an insertion and a two-ALT site: REF windows (a
    deletion's shifted by half its length) all share their tower, and every statistic
    equals the run without sharing.
    """
    model = small.model
    vcf = tmp_path / "dense.vcf"
    with Genome(sad_dir / "gata4_locus.fa") as genome:
        write_dense_vcf(vcf, genome)
        targets = TargetSet.all_outputs(8)
        options = SadOptions(stats=["SAD", "REF", "ALT"], batch_variants=8)
        splice = ConeSplice(model)
        scores = []
        for share in (True, False):
            predictor = EnsemblePredictor(
                model, rc=True, shifts=[0, 1], splice=splice, share_towers=share
            )
            out = tmp_path / f"share{share}.h5"
            score_vcf(predictor, genome, str(vcf), str(out), targets, options)
            with h5py.File(out) as h5:
                scores.append({name: h5[name][:] for name in ("SAD", "REF", "ALT")})
            if share:
                # 7 REF windows (the two ALTs share one) x 4 members, none on its own
                assert predictor.shared.counts == {"shared": 28, "alone": 0}
            else:
                assert predictor.shared is None
    for name, values in scores[0].items():
        assert values.shape[0] == 8
        np.testing.assert_allclose(values, scores[1][name], rtol=2e-3, atol=1e-3, err_msg=name)


@pytest.mark.slow
@pytest.mark.fixed_shape
def test_shared_towers_shard_equals_single_run(tmp_path, small, sad_dir):
    """A shard cut at a batch boundary scores its rows bit for bit as the single run.

    Regions are formed within a batch.
    """
    model = small.model
    vcf = tmp_path / "dense.vcf"
    predictor = EnsemblePredictor(
        model, rc=True, splice=ConeSplice(model), share_towers=True, batch_size=3
    )
    targets = TargetSet.all_outputs(8)
    with Genome(sad_dir / "gata4_locus.fa") as genome:
        write_dense_vcf(vcf, genome)
        for name, records in (("one", None), ("shard", (4, 7))):
            options = SadOptions(stats=["SAD", "REF"], batch_variants=4, record_range=records)
            score_vcf(predictor, genome, str(vcf), str(tmp_path / f"{name}.h5"), targets, options)
    assert predictor.shared.counts["alone"] == 0
    with h5py.File(tmp_path / "one.h5") as one, h5py.File(tmp_path / "shard.h5") as shard:
        for name in ("SAD", "REF"):
            np.testing.assert_array_equal(shard[name][:], one[name][4:], err_msg=name)


@pytest.mark.slow
def test_cluster_shares_one_reference(tmp_path, small, sad_dir):
    """--cluster: one reference window per group.

    Each ALT is substituted in it; rows stay in VCF order.
    """
    model = small.model
    vcf = tmp_path / "c.vcf"
    vcf.write_text(
        "chrG\t74453\ta\tA\tC\n"
        "chrG\t74460\tb\tG\tA\n"  # genome base at 74460
        "chrG\t40001\tdel2\tTTG\tT\n"
        "chrG\t74500\tc\tC\tG\n"
    )
    with Genome(sad_dir / "gata4_locus.fa") as genome:
        rows = list(read_vcf(str(vcf), genome))
        for v in rows:
            if v.id in "abc":
                assert genome.fetch("chrG", v.pos - 1, v.pos) == v.ref, v
        targets = TargetSet.all_outputs(8)
        options = SadOptions(stats=["SAD", "REF", "ALT"], cluster_bp=100)
        predictor = EnsemblePredictor(model, rc=True, splice=ConeSplice(model))
        score_vcf(predictor, genome, str(vcf), str(tmp_path / "sad.h5"), targets, options)
        # by hand: the window of the middle member (b), not centred on a or c
        left = 16384 // 2 - 1
        start0 = 74460 - 1 - left
        ref = dna_1hot(genome.fetch("chrG", start0, start0 + 16384), n_uniform=True)
    predictor = EnsemblePredictor(model, rc=True)
    alts = []
    for v in (rows[0], rows[1], rows[3]):
        alt = ref.copy()
        alt[v.pos - 1 - start0] = dna_1hot(v.alt)[0]
        alts.append(alt)
    want = predictor.predict(np.stack([ref, *alts]))
    with h5py.File(tmp_path / "sad.h5") as h5:
        assert [s.decode() for s in h5["snp"][:]] == ["a", "b", "del2", "c"]
        np.testing.assert_allclose(
            h5["REF"][[0, 1, 3]], np.repeat(want[:1], 3, 0), rtol=2e-3, atol=1e-3
        )
        np.testing.assert_allclose(h5["ALT"][[0, 1, 3]], want[1:], rtol=2e-3, atol=1e-3)


class HgFake:
    """hg19 chromosome names and sizes with a synthetic sequence.

    The GATA4 locus repeated, and the validated VCF's REF alleles at their positions
    (hg19 itself is not in the repo).
    """

    def __init__(self, reference_dir):
        real = reference_dir / "real_hg19"
        self.base = "".join(
            line.strip() for line in open(real / "gata4.fa") if not line.startswith(">")
        ).upper()
        self.sizes = {}
        for line in open(reference_dir / "basenji_published" / "human.hg19.genome"):
            name, size = line.split()[:2]
            self.sizes[name] = int(size)
        self.planted = {}
        for v in read_vcf(str(real / "regulatory_validated.vcf")):
            self.planted[(v.chrom, v.pos - 1)] = v.ref

    def resolve(self, chrom, source="input"):
        return Genome.resolve(self, chrom, source)

    def fetch(self, chrom, start, end):
        seq = list(
            self.base[i % len(self.base)] if 0 <= i < self.sizes[chrom] else "N"
            for i in range(start, end)
        )
        for (c, p), allele in self.planted.items():
            if c == chrom and start <= p < end:
                seq[p - start : p - start + len(allele)] = allele
        return "".join(seq)[: end - start]


def test_real_vcfs_misref_and_misorder(tmp_path, reference_dir, small, caplog):
    model = small.model
    genome = HgFake(reference_dir)
    genome.path = "hg19-fake"
    real = reference_dir / "real_hg19"
    options = SadOptions(stats=["SAD", "D1"], batch_variants=5)
    targets = TargetSet.all_outputs(8)
    results = {}
    for name in (
        "regulatory_validated",
        "regulatory_validated_misref",
        "regulatory_validated_misorder",
    ):
        out = tmp_path / f"{name}.h5"
        counts = score_vcf(
            EnsemblePredictor(model), genome, str(real / f"{name}.vcf"), str(out), targets, options
        )
        assert counts.rows == 16 and counts.ref_mismatch == 0
        with h5py.File(out) as h5:
            results[name] = {
                s.decode(): (h5["SAD"][i], h5["D1"][i]) for i, s in enumerate(h5["snp"][:])
            }
            if name.endswith("misorder"):
                assert h5["snp"][0] == b"rs12740374"  # file order kept
    assert "rs72664324: the genome has the ALT allele G" in caplog.text
    valid = results["regulatory_validated"]
    for name in ("regulatory_validated_misref", "regulatory_validated_misorder"):
        for rsid, (sad, d1) in results[name].items():
            if name.endswith("misref") and rsid == "rs72664324":
                # REF put in the genome's place: the windows swap, so SAD changes sign
                np.testing.assert_allclose(sad, -valid[rsid][0], rtol=2e-3, atol=2e-3)
            else:
                np.testing.assert_array_equal(sad, valid[rsid][0])
            np.testing.assert_allclose(d1, valid[rsid][1], rtol=2e-3, atol=2e-3)


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.fixed_shape
def test_local_processes_equal_a_single_run_with_one_sequence_per_call(
    tmp_path, reference_dir, sad_dir
):
    """-p 2 with calls of one sequence: worker processes keep this process's threads.

    On AVX2 kernels a call of one sequence differs in the last bit between 1 and 2
    intra-op threads (oneDNN splits the work by thread); workers given half the threads
    made ``-p 2`` differ from ``-p 1``.
    """
    small = reference_dir / "basenji2_small"
    model = ModelSpec(str(small / "params.json"), str(small / "model0_best.h5"), batch_size=1)
    fasta, vcf = str(sad_dir / "gata4_locus.fa"), str(sad_dir / "snps.vcf")
    options = SadOptions(stats=("SAD", "REF"), batch_variants=2)
    one = run_sad(model, fasta, vcf, str(tmp_path / "one"), options)
    two = run_sad(model, fasta, vcf, str(tmp_path / "two"), options, 2, executor=LocalProcesses(2))
    assert filecmp.cmp(one, two, shallow=False)


@pytest.mark.slow
@pytest.mark.fixed_shape
def test_shards_merge_to_a_single_run(tmp_path, reference_dir, sad_dir):
    """Shard tasks merge into the single-run file bit for bit.

    What -p N runs in local processes; --shard i/N scores one of them.
    """
    small = reference_dir / "basenji2_small"
    params, weights = str(small / "params.json"), str(small / "model0_best.h5")
    fasta, vcf = str(sad_dir / "gata4_locus.fa"), str(sad_dir / "snps.vcf")
    model = ModelSpec(params, weights, rc=True, batch_size=4)
    options = SadOptions(stats=("SAD", "SAX", "REF"), batch_variants=3)
    one = run_sad(model, fasta, vcf, str(tmp_path / "one"), options)
    two = run_sad(
        model, fasta, vcf, str(tmp_path / "two"), options, 2, executor=InProcess(), keep_shards=True
    )
    with h5py.File(one) as a, h5py.File(two) as b:
        assert set(a) == set(b) and a["snp"].shape == (16,)
        for k in a:
            np.testing.assert_array_equal(a[k][:], b[k][:], err_msg=k)
    common = [
        "-f",
        fasta,
        "--stats",
        "SAD,SAX,REF",
        "--rc",
        "--batch_variants",
        "3",
        "--batch_size",
        "4",
        params,
        weights,
        vcf,
    ]
    assert basenji_sad.main(["--shard", "1/2", "-o", str(tmp_path / "cli"), *common]) == 0
    assert filecmp.cmp(
        tmp_path / "cli" / "sad.h5", tmp_path / "two" / "job1" / "sad.h5", shallow=False
    )


def test_bad_shard_is_one_line(tmp_path, capsys):
    argv = ["--shard", "2/2", "-f", "x.fa", "-o", str(tmp_path), "p.json", "m.h5", "v.vcf"]
    assert basenji_sad.main(argv) == 1
    assert "--shard '2/2': expected i/N with 0 <= i < N" in capsys.readouterr().err
