"""basenji_sed: gene-level effects at the TSS bins near each variant."""

import h5py
import numpy as np
import pytest

from basenji_tf.cli import basenji_sed
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor
from basenji_tf.scoring.sed import GeneWindow, TssIndex, read_tss_bed, score_genes
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


def test_read_tss_bed_takes_the_midpoint_name_and_strand(tmp_path):
    bed = tmp_path / "tss.bed"
    bed.write_text("chrG\t74000\t74001\tnear\t0\t+\nchrG\t79990\t80010\tminus\t0\t-\nchrG\t5\t6\n")
    genes = read_tss_bed(str(bed))
    assert [(g["gene_id"], g["tss"], g["strand"]) for g in genes] == [
        ("near", 74000, "+"),
        ("minus", 80000, "-"),
        ("chrG:5-6", 5, "+"),
    ]
    bed.write_text("chrG\tx\t5\n")
    with pytest.raises(InputError, match="tss.bed:1: a TSS BED line needs"):
        read_tss_bed(str(bed))


@pytest.mark.parametrize(
    "options, tss, message",
    [
        ([], [], "give the genes either as a TSS BED"),
        (["-g", "g.gtf"], ["tss.bed"], "give the genes either as a TSS BED"),
        (["-g", "g.gtf", "--stats", "SED,XYZ"], [], "--stats: unknown statistic(s) XYZ"),
    ],
)
def test_bad_gene_sources_and_stats_are_one_line(tmp_path, capsys, options, tss, message):
    # each fails before any file is opened
    argv = ["-f", "x.fa", "-o", str(tmp_path), *options, "p.json", "m.h5", "v.vcf", *tss]
    assert basenji_sed.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_original_options_parse():
    args = basenji_sed.build_parser().parse_args(
        ["-f", "hg38.fa", "-n", "norm.txt", "--pseudo", "0.5", "--stats", "SED,SER",
         "--threads", "-p", "3", "--rc", "--shifts", "1,0", "-t", "t.txt",
         "p.json", "m.h5", "v.vcf", "tss.bed"]
    )  # fmt: skip
    assert (args.norm_file, args.log_pseudo, args.stats) == ("norm.txt", 0.5, ["SED", "SER"])
    assert (args.threads, args.processes, args.rc, args.shifts) == (True, 3, True, [1, 0])
    assert (args.tss_bed_file, args.gtf_file, args.out_dir) == ("tss.bed", None, "sed")
    defaults = basenji_sed.build_parser().parse_args(["-f", "a.fa", "p", "m", "v", "t"])
    assert (defaults.log_pseudo, defaults.stats, defaults.processes) == (1.0, ["SED"], None)
    assert (defaults.norm_file, defaults.threads, defaults.keep_shards) == (None, False, False)


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.fixed_shape
def test_sed_shards_equal_a_single_run_byte_for_byte(tmp_path, small_model, reference_dir):
    """-p 2 with a TSS BED, SEDR/SER and -n: the same sed.h5 as -p 1; no job dirs left."""
    tss = tmp_path / "tss.bed"
    tss.write_text(
        "chrG\t74000\t74001\tnear\t0\t+\nchrG\t36000\t36001\tg36\t0\t-\n"
        "chrG\t90100\t90101\tg90\t0\t+\nchrG\t100\t101\tg0\t0\t+\n"
    )
    norms = tmp_path / "norm.txt"
    norms.write_text("\n".join(["2.0"] * 8) + "\n")
    common = [
        "-f", small_model["fasta"], "--stats", "SED,SEDR,SER", "--pseudo", "0.5",
        "--batch_variants", "4", "--tss_bins", "3", "--threads",
        small_model["params"], small_model["model"],
        str(reference_dir / "sad_small" / "snps.vcf"), str(tss),
    ]  # fmt: skip
    assert basenji_sed.main(["-o", str(tmp_path / "one"), *common]) == 0
    assert basenji_sed.main(["-o", str(tmp_path / "two"), "-p", "2", *common]) == 0
    one, two = tmp_path / "one" / "sed.h5", tmp_path / "two" / "sed.h5"
    assert one.read_bytes() == two.read_bytes()
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["sed.h5"]
    assert basenji_sed.main(["-o", str(tmp_path / "norm"), "-n", str(norms), *common]) == 0
    with h5py.File(one) as h5, h5py.File(tmp_path / "norm" / "sed.h5") as normed:
        assert h5["snp"].shape[0] > 4 and set(h5) >= {"SED", "SEDR", "SER", "REF", "ALT"}
        ref, alt = (h5[k][:].astype(np.float32) for k in ("REF", "ALT"))
        sedr = np.log2(alt + 0.5) - np.log2(ref + 0.5)
        np.testing.assert_allclose(h5["SEDR"][:], sedr, rtol=1e-2, atol=2e-2)
        np.testing.assert_allclose(normed["REF"][:], ref / 2, rtol=1e-3, atol=1e-3)
        np.testing.assert_array_equal(h5["gene_id"][:], normed["gene_id"][:])
