"""sim.writers: the FASTA and its index as samtools writes them; runs of N."""

import numpy as np
import pysam

from basenji_tf.dna import N_INDEX, dna_index
from basenji_tf.genome import Genome
from basenji_tf.sim.genomes import Chromosome
from basenji_tf.sim.writers import n_runs, write_fasta


def test_n_runs_are_half_open():
    index = dna_index("NNACNGTNN")
    assert n_runs(index) == [(0, 2), (4, 5), (7, 9)]
    assert n_runs(dna_index("ACGT")) == []


def test_fasta_and_index_match_samtools(tmp_path):
    rng = np.random.default_rng(0)
    chroms = []
    for name, length in (("chrA", 120), ("chrB", 61), ("chrC", 67)):
        index = rng.integers(0, 5, size=length).astype(np.uint8)
        index[:3] = N_INDEX
        chroms.append(Chromosome(name, index, np.zeros(length, dtype=bool)))
    fasta = tmp_path / "genome.fa"
    write_fasta(fasta, chroms)
    ours = (tmp_path / "genome.fa.fai").read_text()
    (tmp_path / "genome.fa.fai").unlink()
    pysam.faidx(str(fasta))
    assert ours == (tmp_path / "genome.fa.fai").read_text()
    with Genome(fasta) as genome:
        for chrom in chroms:
            seq = genome.fetch(chrom.name, 0, chrom.length)
            np.testing.assert_array_equal(dna_index(seq), chrom.index)
