"""basenji_predict_bed (HDF5 + BigWig), basenji_grad_bed and basenji_sed end to end."""

import h5py
import numpy as np
import pyBigWig
import pytest

from basenji_tf import regions as R
from basenji_tf import variants as V
from basenji_tf.cli import basenji_grad_bed, basenji_predict_bed, basenji_sed
from basenji_tf.genome import Genome


@pytest.fixture(scope="module")
def paths(reference_dir):
    small = reference_dir / "basenji2_small"
    sad_dir = reference_dir / "sad_small"
    return {
        "fasta": str(sad_dir / "gata4_locus.fa"),
        "params": str(small / "params.json"),
        "model": str(small / "model0_best.h5"),
    }


@pytest.fixture(scope="module")
def predictor(paths):
    _, model, _ = V.load_scoring_model(paths["params"], paths["model"])
    return V.EnsemblePredictor(model)


def test_predict_bed_bigwig_equals_model_bins(tmp_path, paths, predictor):
    bed = tmp_path / "r.bed"
    # the second window overlaps the first and the third runs off the contig's start
    bed.write_text("chrG\t60000\t60100\nchrG\t61000\t61100\nG\t3000\t3010\n")
    out = tmp_path / "pred"
    argv = ["-f", paths["fasta"], "-o", str(out), "-b", "0,5", "-l", "4096",
            paths["params"], paths["model"], str(bed)]
    assert basenji_predict_bed.main(argv) == 0
    with Genome(paths["fasta"]) as genome:
        seqs = np.stack([
            R.region_1hot(genome, R.Region("chrG", m - 8192, m + 8192, "+", ""))
            for m in (60050, 61050, 3005)
        ])
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
        assert bw.values("chrG", start1, start1 + 1)[0] == pytest.approx(full[0, 40 + k0, 5], rel=1e-5)
        end0 = int(starts[0]) + 4096
        assert bw.values("chrG", end0, end0 + 1)[0] == pytest.approx(
            full[1, 40 + (end0 - start1) // 128, 5], rel=1e-5
        )
        start2 = int(starts[2]) + 128 * 10
        assert bw.values("chrG", start2, start2 + 1)[0] == pytest.approx(full[2, 50, 5], rel=1e-5)
    finally:
        bw.close()


def test_grad_bed_writes_attribution(tmp_path, paths):
    bed = tmp_path / "r.bed"
    bed.write_text("chrG\t70000\t70001\n")
    out = tmp_path / "grad"
    argv = ["-f", paths["fasta"], "-o", str(out), "--targets", "1", paths["params"],
            paths["model"], str(bed)]
    assert basenji_grad_bed.main(argv) == 0
    with h5py.File(out / "scores.h5") as h5:
        attr = h5["attr"][0]
        grads = h5["grads"][0].astype(np.float32)
        np.testing.assert_allclose(attr, (grads * h5["seqs"][0]).sum(axis=1), rtol=2e-3, atol=1e-6)
        window_start = int(h5["start"][0])
    assert window_start == 70000 - 8192 and np.abs(attr).max() > 0
    bw = pyBigWig.open(str(out / "attr.bw"))
    try:
        assert bw.values("chrG", 70000, 70003) == pytest.approx(attr[8192:8195], rel=1e-5)
    finally:
        bw.close()


def test_sed_scores_tss_bins(tmp_path, paths, predictor):
    gtf = tmp_path / "g.gtf"
    attrs = 'gene_id "{0}"; gene_name "{0}N";'
    gtf.write_text(
        f"chrG\tt\tgene\t74001\t76000\t.\t+\t.\t{attrs.format('near')}\n"
        f"chrG\tt\tgene\t60000\t80000\t.\t-\t.\t{attrs.format('minus')}\n"
        f"chrG\tt\tgene\t1000\t2000\t.\t+\t.\t{attrs.format('far')}\n"
    )
    vcf = tmp_path / "v.vcf"
    vcf.write_text("chrG\t74453\tsnv2\tA\tC\n")
    out = tmp_path / "sed"
    argv = ["-f", paths["fasta"], "-g", str(gtf), "-o", str(out), "--tss_bins", "3",
            paths["params"], paths["model"], str(vcf)]
    assert basenji_sed.main(argv) == 0
    with Genome(paths["fasta"]) as genome:
        v = next(V.read_vcf(str(vcf), genome))
        ref, alt = V.variant_windows(genome, v, 16384)
    ref_p, alt_p = predictor.predict_pairs(ref[None], alt[None], np.array([0]))
    pred0 = 74453 - 1 - 8191 + 8 * 128  # genome bp of the first predicted bin
    with h5py.File(out / "sed.h5") as h5:
        assert [g.decode() for g in h5["gene_id"][:]] == ["near", "minus"]  # by TSS
        assert list(h5["tss"][:]) == [74000, 79999]
        assert list(h5["tss_dist"][:]) == [74000 - 74452, 79999 - 74452]
        for row, tss in enumerate((74000, 79999)):
            b = (tss - pred0) // 128
            want = alt_p[0, b - 1 : b + 2].sum(axis=0) - ref_p[0, b - 1 : b + 2].sum(axis=0)
            np.testing.assert_allclose(h5["SED"][row], want, rtol=2e-3, atol=1e-3)
        assert h5["SED"].shape == (2, 8) and h5["snp"][0] == b"snv2"


def test_sed_with_shared_towers_equals_plain(tmp_path, paths, predictor):
    """score_genes hands its REF windows' genome starts to the predictor: with shared
    towers forced on, close variants (a deletion among them) share them and every gene
    score equals the plain predictor's."""
    from basenji_tf.cone import ConeSplice

    model = predictor.model
    shared = V.EnsemblePredictor(
        model, rc=True, splice=ConeSplice(model), share_towers=True
    )
    plain = V.EnsemblePredictor(model, rc=True)
    genes = [{"chrom": "chrG", "tss": 75_000, "strand": "+", "gene_id": "g", "gene_name": "G"}]
    vcf = tmp_path / "v.vcf"
    with Genome(paths["fasta"]) as genome:
        base = lambda pos, n=1: genome.fetch("chrG", pos - 1, pos - 1 + n)  # noqa: E731
        vcf.write_text(
            f"chrG\t74453\ta\t{base(74453)}\t{'C' if base(74453) != 'C' else 'G'}\n"
            f"chrG\t74600\tdel\t{base(74600, 3)}\t{base(74600)}\n"
            f"chrG\t76001\tb\t{base(76001)}\t{'T' if base(76001) != 'T' else 'A'}\n"
        )
        index = R.TssIndex(genes, genome)
        runs = [
            list(R.score_genes(p, genome, str(vcf), index, 16384, 128, 8, tss_bins=3))
            for p in (shared, plain)
        ]
    assert shared.shared.counts == {"shared": 6, "alone": 0}  # 3 windows x 2 strands
    pairs = [(v.id, g["gene_id"]) for v, g, _, _ in runs[0]]
    assert pairs == [("a", "g"), ("del", "g"), ("b", "g")]
    for (_, _, ref0, alt0), (_, _, ref1, alt1) in zip(*runs):
        np.testing.assert_allclose(ref0, ref1, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(alt0, alt1, rtol=1e-4, atol=1e-4)
