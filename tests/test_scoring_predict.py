"""basenji_predict_bed: predict.h5 and BigWigs at the genome coordinates of the bins."""

import h5py
import numpy as np
import pyBigWig
import pytest

from basenji_tf.cli import basenji_predict_bed
from basenji_tf.genome import Genome
from basenji_tf.scoring.bed import Region, region_1hot


@pytest.mark.slow
def test_predict_bed_bigwig_equals_model_bins(tmp_path, small_model, predictor):
    bed = tmp_path / "r.bed"
    # the second window overlaps the first and the third runs off the contig's start
    bed.write_text("chrG\t60000\t60100\nchrG\t61000\t61100\nG\t3000\t3010\n")
    out = tmp_path / "pred"
    argv = [
        "-f",
        small_model["fasta"],
        "-o",
        str(out),
        "-b",
        "0,5",
        "-l",
        "4096",
        small_model["params"],
        small_model["model"],
        str(bed),
    ]
    assert basenji_predict_bed.main(argv) == 0
    with Genome(small_model["fasta"]) as genome:
        seqs = np.stack(
            [
                region_1hot(genome, Region("chrG", m - 8192, m + 8192, "+", ""))
                for m in (60050, 61050, 3005)
            ]
        )
    full = predictor.predict(seqs)  # [3, 112, 8], bins of 128 bp from window start + 8 bins
    with h5py.File(out / "predict.h5") as h5:
        preds = h5["preds"][:]
        assert preds.shape == (3, 32, 8) and preds.dtype == np.float16
        np.testing.assert_allclose(preds, full[:, 40:72], rtol=2e-3, atol=1e-3)
        starts = h5["start"][:]
        assert list(starts) == [m - 8192 + 8 * 128 + 40 * 128 for m in (60050, 61050, 3005)]
        assert list(h5["end"][:] - starts) == [4096] * 3
    bw = pyBigWig.open(str(out / "bigwig" / "t5.bw"))
    try:
        assert bw.chroms() == {"chrG": 131072}
        # bin k of region 0 covers [starts[0] + 128 k, +128)
        for k in (0, 7, 31):
            start = int(starts[0]) + 128 * k
            assert bw.values("chrG", start, start + 128) == pytest.approx(
                [float(full[0, 40 + k, 5])] * 128, rel=1e-5
            )
        # region 1 starts inside region 0's site: its first bins were not rewritten
        start1 = int(starts[1])
        k0 = (start1 - int(starts[0])) // 128
        want = full[0, 40 + k0, 5]
        assert bw.values("chrG", start1, start1 + 1)[0] == pytest.approx(want, rel=1e-5)
        end0 = int(starts[0]) + 4096
        assert bw.values("chrG", end0, end0 + 1)[0] == pytest.approx(
            full[1, 40 + (end0 - start1) // 128, 5], rel=1e-5
        )
        start2 = int(starts[2]) + 128 * 10
        assert bw.values("chrG", start2, start2 + 1)[0] == pytest.approx(full[2, 50, 5], rel=1e-5)
    finally:
        bw.close()


def test_predict_bed_original_options_parse():
    parser = basenji_predict_bed.build_parser()
    args = parser.parse_args(["-f", "a.fa", "-e", "-1", "-p", "2", "p", "m", "b.bed"])
    assert (args.embed_layer, args.processes, args.out_dir, args.head_i) == (-1, 2, "pred_out", 0)
    assert parser.parse_args(["-f", "a.fa", "p", "m", "b"]).embed_layer is None


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.fixed_shape
def test_predict_bed_shards_equal_a_single_run_byte_for_byte(tmp_path, small_model):
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"chrG\t{s}\t{s + 50}\n" for s in range(5000, 125000, 17000)))
    common = ["-f", small_model["fasta"], "-b", "0,3", "-l", "2048", "--batch_size", "2"]
    model = [small_model["params"], small_model["model"], str(bed)]
    assert basenji_predict_bed.main([*common, "-o", str(tmp_path / "one"), *model]) == 0
    assert basenji_predict_bed.main([*common, "-o", str(tmp_path / "two"), "-p", "3", *model]) == 0
    for name in ("predict.h5", "bigwig/t0.bw", "bigwig/t3.bw"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["bigwig", "predict.h5"]


@pytest.mark.slow
def test_embed_layer_writes_that_layers_outputs(tmp_path, small_model):
    from basenji_tf import seqnn
    from basenji_tf.scoring.predict import embedding_model

    bed = tmp_path / "r.bed"
    bed.write_text("chrG\t60000\t60100\nchrG\t3000\t3010\n")
    argv = ["-f", small_model["fasta"], "-l", "2048", "-o", str(tmp_path / "e")]
    model = [small_model["params"], small_model["model"], str(bed)]
    assert basenji_predict_bed.main([*argv, "-e", "-1", *model]) == 0
    net = seqnn.load(small_model["params"], small_model["model"], augment=False)
    trunk = embedding_model(net.head.model, net.model_trunk, -1)
    with Genome(small_model["fasta"]) as genome:
        windows = [Region("chrG", m - 8192, m + 8192, "+", "") for m in (60050, 3005)]
        seqs = np.stack([region_1hot(genome, w) for w in windows])
    want = np.asarray(trunk(seqs))  # [2, 112, 64]: 128 bp bins, 8 cropped per side
    with h5py.File(tmp_path / "e" / "predict.h5") as h5:
        assert h5["preds"].shape == (2, 16, 64)
        np.testing.assert_allclose(h5["preds"][:], want[:, 48:64], rtol=2e-3, atol=2e-3)
        assert list(h5["start"][:]) == [m - 8192 + (8 + 48) * 128 for m in (60050, 3005)]
    # the first normalization layer: 16384 positions of 1 bp, before pooling
    assert basenji_predict_bed.main([*argv, "-o", str(tmp_path / "bn"), "-e", "0", *model]) == 0
    with h5py.File(tmp_path / "bn" / "predict.h5") as h5:
        assert h5["preds"].shape == (2, 2048, 32)
    assert basenji_predict_bed.main([*argv, "-e", "99", *model]) == 1
