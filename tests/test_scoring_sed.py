"""basenji_sed: gene-level effects at the TSS bins near each variant."""

import h5py
import numpy as np
import pytest

from basenji_tf.cli import basenji_sed
from basenji_tf.genome import Genome
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor
from basenji_tf.scoring.sed import GeneWindow, TssIndex, score_genes
from basenji_tf.scoring.vcf import read_vcf, variant_windows


@pytest.mark.slow
def test_sed_scores_tss_bins(tmp_path, small_model, predictor):
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
    argv = [
        "-f",
        small_model["fasta"],
        "-g",
        str(gtf),
        "-o",
        str(out),
        "--tss_bins",
        "3",
        small_model["params"],
        small_model["model"],
        str(vcf),
    ]
    assert basenji_sed.main(argv) == 0
    with Genome(small_model["fasta"]) as genome:
        v = next(read_vcf(str(vcf), genome))
        ref, alt = variant_windows(genome, v, 16384)
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


@pytest.mark.slow
def test_sed_with_shared_towers_equals_plain(tmp_path, small_model, predictor):
    """Gene scores with shared towers equal the plain predictor's.

    score_genes hands its REF windows' genome starts to the predictor: with shared
    towers forced on, close variants (a deletion among them) share them.
    """
    model = predictor.model
    shared = EnsemblePredictor(model, rc=True, splice=ConeSplice(model), share_towers=True)
    plain = EnsemblePredictor(model, rc=True)
    genes = [{"chrom": "chrG", "tss": 75_000, "strand": "+", "gene_id": "g", "gene_name": "G"}]
    vcf = tmp_path / "v.vcf"
    with Genome(small_model["fasta"]) as genome:
        base = lambda pos, n=1: genome.fetch("chrG", pos - 1, pos - 1 + n)  # noqa: E731
        vcf.write_text(
            f"chrG\t74453\ta\t{base(74453)}\t{'C' if base(74453) != 'C' else 'G'}\n"
            f"chrG\t74600\tdel\t{base(74600, 3)}\t{base(74600)}\n"
            f"chrG\t76001\tb\t{base(76001)}\t{'T' if base(76001) != 'T' else 'A'}\n"
        )
        index = TssIndex(genes, genome)
        runs = [
            list(score_genes(p, genome, str(vcf), index, GeneWindow(16384, 128, 8, 3)))
            for p in (shared, plain)
        ]
    assert shared.shared.counts == {"shared": 6, "alone": 0}  # 3 windows x 2 strands
    pairs = [(v.id, g["gene_id"]) for v, g, _, _ in runs[0]]
    assert pairs == [("a", "g"), ("del", "g"), ("b", "g")]
    for (_, _, ref0, alt0), (_, _, ref1, alt1) in zip(*runs):
        np.testing.assert_allclose(ref0, ref1, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(alt0, alt1, rtol=1e-4, atol=1e-4)
