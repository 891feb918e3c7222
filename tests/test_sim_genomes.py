"""sim.genomes: planted elements and genes of the simulated genomes, in memory."""

import numpy as np
import pytest

from basenji_tf.dna import index_dna, index_rc
from basenji_tf.sim.config import SIZES, TrueModelParams
from basenji_tf.sim.genomes import SpeciesGenome, build_human, build_mouse
from basenji_tf.sim.motifs import IUPAC, MOTIF_BY_NAME, tata_centre


@pytest.fixture(scope="module")
def genomes() -> dict[str, SpeciesGenome]:
    human, segments = build_human(SIZES["tiny"], seed=1)
    return {"human": human, "mouse": build_mouse(human, segments, SIZES["tiny"], seed=1)}


def _matches(seq: str, consensus: str) -> bool:
    return len(seq) == len(consensus) and all(b in IUPAC[c] for b, c in zip(seq, consensus))


def _read(genome: SpeciesGenome, chrom: str, start: int, end: int, strand: str) -> str:
    index = genome.chrom(chrom).index[start:end]
    return index_dna(index_rc(index) if strand == "-" else index)


def test_a_different_seed_changes_the_genome(genomes):
    other, _ = build_human(SIZES["tiny"], seed=2)
    assert not np.array_equal(other.chroms[0].index, genomes["human"].chroms[0].index)


@pytest.mark.parametrize("species, min_fraction", [("human", 1.0), ("mouse", 0.8)])
def test_planted_motifs_present(genomes, species, min_fraction):
    genome = genomes[species]
    present = [
        _matches(_read(genome, s.chrom, s.start, s.end, s.strand), MOTIF_BY_NAME[s.motif].consensus)
        for s in genome.sites
    ]
    assert np.mean(present) >= min_fraction
    # Every promoter: a TATA box 30 bp upstream of the gene's TSS on its strand.
    tata = MOTIF_BY_NAME["TBP"]
    hits = []
    for gene in genome.genes:
        sign = 1 if gene.strand == "+" else -1
        centre = gene.tss - sign * TrueModelParams.tss_offset_bp
        start = centre - tata_centre(gene.strand)
        hits.append(
            _matches(
                _read(genome, gene.chrom, start, start + tata.width, gene.strand), tata.consensus
            )
        )
    assert np.mean(hits) >= min_fraction
    kinds = {s.element.split("_")[-1][:3] for s in genome.sites}
    assert {"enh", "pro", "ctc"} <= kinds


def test_mouse_genes_name_their_human_orthologs(genomes):
    human_ids = {g.gene_id for g in genomes["human"].genes}
    mouse = genomes["mouse"].genes
    assert mouse and all(g.ortholog in human_ids for g in mouse)
    assert [g.gene_id for g in mouse] == [f"mm_g{k:04d}" for k in range(1, len(mouse) + 1)]
