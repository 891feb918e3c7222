"""basenji_sad_ref.py's -c clustering (SadOptions.cluster_pct): groups, windows, scores."""

import h5py
import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.dna import dna_1hot
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor
from basenji_tf.scoring.sad import SadOptions, _clusters, score_vcf
from basenji_tf.scoring.target_set import TargetSet
from basenji_tf.scoring.vcf import Variant, read_vcf, window_bounds

SEQ_LENGTH = 16384  # the small reference model's window


def snv(chrom: str, pos: int, i: int = 0) -> Variant:
    return Variant(chrom, pos, f"v{pos}", "A", "C", ("C",), i + 1, i)


def test_groups_follow_the_originals_cluster_snps():
    """Less than int(L * c) bp after the group's first SNV (strictly), one chromosome."""
    reach = int(SEQ_LENGTH * 0.25)  # 4096
    positions = [1000, 1000 + reach - 1, 1000 + reach, 9500, 9501]
    variants = [snv("chr1", p, i) for i, p in enumerate(positions)]
    variants.append(snv("chr2", 9502, 5))
    variants.append(Variant("chr1", 9503, "del", "AC", "A", ("A",), 7, 6))
    groups = _clusters(variants, 0, 0.25, SEQ_LENGTH)
    got = [(centre, [v.id for v in members]) for centre, members in groups]
    assert got == [
        ((1000 + 1000 + reach - 1) // 2, ["v1000", f"v{1000 + reach - 1}"]),
        (1000 + reach, [f"v{1000 + reach}"]),  # exactly int(L * c) after: a new group
        (9500, ["v9500", "v9501"]),  # midpoint rounded down
        (9502, ["v9502"]),  # another chromosome
        (9503, ["del"]),  # indels alone
    ]


@pytest.mark.parametrize("pct", [0.05, 0.25, 0.5, 0.999])
def test_every_member_lies_in_the_central_fraction(pct):
    """What -c promises: each clustered SNV within the central pct of its shared window.

    Dense SNVs (every 7 bp over 3 windows) in random order: every member's window offset
    is within pct * L / 2 of the window's centre, and every SNV is in exactly one group.
    """
    rng = np.random.default_rng(0)
    positions = rng.permutation(np.arange(20_000, 20_000 + 3 * SEQ_LENGTH, 7))
    variants = [snv("chr1", int(p), i) for i, p in enumerate(positions)]
    groups = _clusters(variants, 0, pct, SEQ_LENGTH)
    assert sorted(v.pos for _, g in groups for v in g) == sorted(positions.tolist())
    assert max(len(g) for _, g in groups) > 1
    centre_index = SEQ_LENGTH // 2 - 1  # the variant-centred window's centre (window_bounds)
    for centre, members in groups:
        start, end = window_bounds(centre, SEQ_LENGTH)
        assert end - start == SEQ_LENGTH
        for v in members:
            offset = v.pos - 1 - start
            assert 0 <= offset < SEQ_LENGTH
            assert abs(offset - centre_index) <= pct * SEQ_LENGTH / 2
        assert members[-1].pos - members[0].pos < int(SEQ_LENGTH * pct)


def test_cluster_pct_is_checked():
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(InputError, match=f"-c {bad}: the central fraction"):
            SadOptions(cluster_pct=bad)
    with pytest.raises(InputError, match="give one way of clustering"):
        SadOptions(cluster_pct=0.25, cluster_bp=100)
    assert _clusters([snv("chr1", 5)], 0, 0.0, SEQ_LENGTH) == [(5, [snv("chr1", 5)])]


@pytest.mark.slow
def test_cluster_pct_scores_equal_the_shared_window_by_hand(tmp_path, reference_dir):
    """Scores of a -c 0.25 run: one REF window centred on the midpoint, one ALT per SNV.

    Three SNVs within L/4 share the window centred on (min + max) // 2 (not on any of
    them); a deletion and an SNV L/4 away are each scored in their own centred window.
    """
    small = reference_dir / "basenji2_small"
    model = seqnn.load(str(small / "params.json"), str(small / "model0_best.h5")).head.model
    fasta = reference_dir / "sad_small" / "gata4_locus.fa"
    vcf = tmp_path / "c.vcf"
    with Genome(fasta) as genome:
        base = lambda pos: genome.fetch("chrG", pos - 1, pos)  # noqa: E731
        other = lambda pos: "T" if base(pos) != "T" else "G"  # noqa: E731
        snvs = (60_001, 60_900, 62_000, 60_001 + SEQ_LENGTH // 4)
        lines = [f"chrG\t{p}\ts{p}\t{base(p)}\t{other(p)}" for p in snvs]
        lines.insert(1, f"chrG\t61000\tdel\t{base(61_000)}{base(61_001)}\t{base(61_000)}")
        vcf.write_text("\n".join(lines) + "\n")
        rows = list(read_vcf(str(vcf), genome))
        options = SadOptions(stats=("SAD", "REF", "ALT"), cluster_pct=0.25)
        predictor = EnsemblePredictor(model, rc=True, splice=ConeSplice(model))
        score_vcf(predictor, genome, str(vcf), str(tmp_path / "sad.h5"), TargetSet.all_outputs(8),
                  options)  # fmt: skip
        start, end = window_bounds((60_001 + 62_000) // 2, SEQ_LENGTH)
        ref = dna_1hot(genome.fetch("chrG", start, end), n_uniform=True)
        lone_start, lone_end = window_bounds(snvs[3], SEQ_LENGTH)
        lone_ref = dna_1hot(genome.fetch("chrG", lone_start, lone_end), n_uniform=True)
    alts = []
    for v in (rows[0], rows[2], rows[3]):
        alt = ref.copy()
        alt[v.pos - 1 - start] = dna_1hot(v.alt)[0]
        alts.append(alt)
    lone_alt = lone_ref.copy()
    lone_alt[rows[4].pos - 1 - lone_start] = dna_1hot(rows[4].alt)[0]
    want = EnsemblePredictor(model, rc=True).predict(np.stack([ref, *alts, lone_ref, lone_alt]))
    with h5py.File(tmp_path / "sad.h5") as h5:
        assert [s.decode() for s in h5["snp"][:]] == ["s60001", "del", "s60900", "s62000",
                                                      f"s{snvs[3]}"]  # fmt: skip
        np.testing.assert_allclose(
            h5["REF"][[0, 2, 3]], np.repeat(want[:1], 3, 0), rtol=2e-3, atol=1e-3
        )
        np.testing.assert_allclose(h5["ALT"][[0, 2, 3]], want[1:4], rtol=2e-3, atol=1e-3)
        np.testing.assert_allclose(h5["REF"][4], want[4], rtol=2e-3, atol=1e-3)
        np.testing.assert_allclose(h5["ALT"][4], want[5], rtol=2e-3, atol=1e-3)
        sad = h5["SAD"][:].astype(np.float64)
    # SAD of the clustered rows: their ALT sums less the one shared REF sum
    np.testing.assert_allclose(
        sad[[0, 2, 3]], (want[1:4].sum(1) - want[:1].sum(1)), rtol=5e-3, atol=5e-2
    )
