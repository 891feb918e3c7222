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
