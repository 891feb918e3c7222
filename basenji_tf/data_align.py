"""basenji_data_align: Basenji2's cross-species split of two genomes linked by an alignment.

Contigs of both genomes (each defined as in basenji_data.py) that a UCSC net aligns are
grouped into connected components; whole components are assigned to splits, so no
sequence of one genome's test set has an aligned counterpart in the other genome's
training set. Then one data directory per genome is written by
:func:`basenji_tf.data.make_data_dir` with those splits.
"""

from __future__ import annotations

import bisect
import gzip
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from basenji_tf.data import DataOptions, define_contigs, make_data_dir
from basenji_tf.errors import InputError
from basenji_tf.genome import Contig, Genome, rejoin_contigs
from basenji_tf.targets import read_target_options


def read_net_fills(net_file: str | os.PathLike) -> Iterator[tuple[str, int, int, str, int, int]]:
    """Aligned blocks of a UCSC chain-net file (``.net``, optionally gzipped), streamed.

    Every ``fill`` line at any depth is one block: the target (first genome) interval
    ``[tStart, tStart + tSize)`` of the current ``net`` chromosome aligned to the query
    (second genome) interval ``[qStart, qStart + qSize)`` (forward-strand coordinates).

    Yields:
        (target chrom, start, end, query chrom, start, end) per block, in file order.
    """
    if not Path(net_file).is_file():
        raise FileNotFoundError(f"{net_file}: alignment net file not found")
    any_fill = False
    chrom = None
    opener = gzip.open if str(net_file).endswith(".gz") else open
    with opener(net_file, "rt") as handle:
        for line_no, line in enumerate(handle, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if fields[0] == "net":
                chrom = fields[1]
            elif fields[0] == "fill":
                try:
                    t_start, t_size = int(fields[1]), int(fields[2])
                    q_chrom, q_start, q_size = fields[3], int(fields[5]), int(fields[6])
                except (IndexError, ValueError):
                    raise InputError(
                        f"{net_file}:{line_no}: expected 'fill tStart tSize qName qStrand "
                        f"qStart qSize ...', got {line.strip()!r}"
                    ) from None
                if chrom is None:
                    raise InputError(f"{net_file}:{line_no}: 'fill' before any 'net' line")
                any_fill = True
                yield chrom, t_start, t_start + t_size, q_chrom, q_start, q_start + q_size
    if not any_fill:
        raise InputError(f"{net_file}: no 'fill' lines; is this a UCSC .net file?")


class _ContigIndex:
    """Contigs of one genome, found by overlap through binary search."""

    def __init__(self, contigs: list[Contig], offset: int = 0):
        self.by_chrom: dict[str, tuple[list[int], list[int], list[int]]] = {}
        for i, (chrom, start, end) in sorted(
            enumerate(contigs), key=lambda item: (item[1][0], item[1][1])
        ):
            starts, ends, ids = self.by_chrom.setdefault(chrom, ([], [], []))
            starts.append(start)
            ends.append(end)
            ids.append(offset + i)

    def overlapping(self, chrom: str, start: int, end: int) -> list[int]:
        """Node ids of contigs overlapping [start, end) (contigs do not overlap)."""
        if chrom not in self.by_chrom:
            return []
        starts, ends, ids = self.by_chrom[chrom]
        first = bisect.bisect_right(ends, start)
        last = bisect.bisect_left(starts, end)
        return ids[first:last]


def component_bp(
    component: tuple[list[int], list[int]], contigs0: list[Contig], contigs1: list[Contig]
) -> int:
    """Nucleotides of a component's contigs in both genomes."""
    return sum(contigs0[i][2] - contigs0[i][1] for i in component[0]) + sum(
        contigs1[i][2] - contigs1[i][1] for i in component[1]
    )


def align_components(
    contigs0: list[Contig],
    contigs1: list[Contig],
    fills: Iterable[tuple],
    fill_min: int = 0,
    overlap_min: int = 0,
) -> list[tuple[list[int], list[int]]]:
    """Group contigs of two genomes that alignments connect (connected components).

    Args:
        contigs0: contigs of the first genome (the net's target).
        contigs1: contigs of the second genome (the net's query).
        fills: aligned blocks from :func:`read_net_fills`.
        fill_min: only blocks at least this long (bp) in both genomes link (``--nf``).
        overlap_min: a block links a contig it overlaps by more than this (bp, ``--no``).

    Returns:
        components as (indexes into contigs0, indexes into contigs1), largest first (by
        nucleotides of both genomes; ties by first index); unaligned contigs are
        components of their own.
    """
    parent = list(range(len(contigs0) + len(contigs1)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index0 = _ContigIndex(contigs0)
    index1 = _ContigIndex(contigs1, offset=len(contigs0))
    every = contigs0 + contigs1
    for t_chrom, t_start, t_end, q_chrom, q_start, q_end in fills:
        if min(t_end - t_start, q_end - q_start) < fill_min:
            continue
        nodes = [
            n
            for n in index0.overlapping(t_chrom, t_start, t_end)
            if min(t_end, every[n][2]) - max(t_start, every[n][1]) > overlap_min
        ] + [
            n
            for n in index1.overlapping(q_chrom, q_start, q_end)
            if min(q_end, every[n][2]) - max(q_start, every[n][1]) > overlap_min
        ]
        for node in nodes[1:]:
            parent[find(node)] = find(nodes[0])
    groups: dict[int, list[int]] = {}
    for node in range(len(parent)):
        groups.setdefault(find(node), []).append(node)
    n0 = len(contigs0)
    comps = [([n for n in g if n < n0], [n - n0 for n in g if n >= n0]) for g in groups.values()]
    return sorted(
        comps,
        key=lambda c: (-component_bp(c, contigs0, contigs1), c[0][0] if c[0] else n0 + c[1][0]),
    )


def divide_components(
    sizes: Sequence[int], fractions: Sequence[float], rng: np.random.RandomState
) -> list[int]:
    """Assign items (largest first, as given) to splits with chance ∝ each split's deficit.

    Args:
        sizes: nucleotides of each item.
        fractions: target share of each split (sums to 1).
        rng: the random draws (seeded with ``--seed``).

    Returns:
        the split index of each item.
    """
    aims = np.asarray(fractions, dtype=np.float64) * sum(sizes)
    have = np.zeros(len(fractions))
    out = []
    for size in sizes:
        gap = np.clip(aims - have, 0, np.inf)
        if gap.sum() == 0:
            gap = np.ones(len(fractions))
        fi = int(rng.choice(len(fractions), p=gap / gap.sum()))
        have[fi] += size
        out.append(fi)
    return out


def _split_fractions(opts: DataOptions) -> list[float]:
    """The nucleotide share each split aims at (train, valid, test or the folds)."""
    if opts.folds is None:
        split_fractions = opts.split_fractions()
        if split_fractions is None:
            raise InputError(
                f"-t {opts.test} -v {opts.valid}: the cross-species split needs fractions "
                "(chromosome names differ between genomes)"
            )
        test_pct, valid_pct = split_fractions
        fractions = [1 - test_pct - valid_pct, valid_pct, test_pct]
    else:
        fractions = [1 / opts.folds] * opts.folds
    return fractions


def make_aligned_data_dirs(
    net_file: str,
    fasta_files: Sequence[str],
    targets_files: Sequence[str] | None,
    out_dirs: Sequence[str],
    opts: DataOptions | Sequence[DataOptions],
    net_fill_min: int = 0,
    net_olap_min: int = 0,
) -> list[dict]:
    """One data directory per genome with splits that respect the alignment.

    Contigs of both genomes (each as in basenji_data.py) that the net aligns end up in
    the same split, so no sequence of one genome's test set has an aligned counterpart in
    the other genome's training set.

    Args:
        net_file: UCSC net of genome 0 (target) against genome 1 (query).
        fasta_files: indexed FASTA of each genome (two).
        targets_files: targets table of each genome; None: write only the splits
            (contigs.bed, sequences.bed), as the original basenji_data_align.py does.
        out_dirs: output data directory of each genome.
        opts: settings shared by both genomes, or one per genome (gaps, unmappable
            regions); ``test``/``valid`` must be fractions (or use ``folds``).
        net_fill_min: ``--nf``, see :func:`align_components` (``fill_min``).
        net_olap_min: ``--no``, see :func:`align_components` (``overlap_min``).

    Returns:
        the statistics.json contents of each directory (with only the split counts
        when ``targets_files`` is None).

    Differences from the original: components are assigned largest first with chance
    ∝ each split's nucleotide deficit (as the original's fold split), without the
    20%-of-deficit rule of its fraction split, so small genomes get all three splits.
    """
    genome_opts = [opts, opts] if isinstance(opts, DataOptions) else list(opts)
    opts = genome_opts[0]
    for one in genome_opts:
        one.check()
    for out_dir in out_dirs:
        if Path(out_dir).exists() and not opts.restart:
            raise InputError(f"{out_dir}: output directory exists; remove it or pass --restart")
    labels = opts.labels()
    fractions = _split_fractions(opts)
    genome_contigs = []
    for fasta, one in zip(fasta_files, genome_opts):
        with Genome(fasta) as genome:
            genome_contigs.append(define_contigs(genome.sizes, one))
    for targets_file in targets_files or ():
        read_target_options(targets_file)
    fills = read_net_fills(net_file)
    comps = align_components(*genome_contigs, fills, net_fill_min, net_olap_min)
    if not any(c0 and c1 for c0, c1 in comps):
        examples = [", ".join(sorted({c[0] for c in contigs})[:3]) for contigs in genome_contigs]
        raise InputError(
            f"{net_file}: no alignment links contigs of the two genomes (names like "
            f"{examples[0]} and {examples[1]}); check the chromosome names and the genome "
            "order (the net's target genome first)"
        )
    sizes = [component_bp(c, *genome_contigs) for c in comps]
    assignment = divide_components(sizes, fractions, np.random.RandomState(opts.seed))
    genome_folds = []
    for g in range(2):
        indexes: list[list[int]] = [[] for _ in labels]
        for comp, fi in zip(comps, assignment):
            indexes[fi] += comp[g]
        folds = [rejoin_contigs([genome_contigs[g][i] for i in sorted(ix)]) for ix in indexes]
        for label, fold in zip(labels, folds):
            if not fold:
                raise InputError(
                    f"{fasta_files[g]}: split {label!r} got no contig from the "
                    f"{len(comps)} aligned components; use other fractions or a smaller --break"
                )
        genome_folds.append(folds)
    results = [
        make_data_dir(
            fasta_files[g],
            targets_files[g] if targets_files else None,
            out_dirs[g],
            genome_opts[g],
            genome_folds[g],
        )
        for g in range(2)
    ]
    return results
