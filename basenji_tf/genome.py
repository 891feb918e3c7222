"""Genome FASTA access (pysam), chromosome names, BED files, GTF TSSs and contigs.

FASTA fetches are padded with N past the chromosome ends; contigs are the stretches of a
genome that training sequences are cut from.

Coordinates are 0-based, half-open, in bp, like BED and pysam.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path

import pysam

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path


class Genome:
    """An indexed FASTA (plain or bgzipped) with N-padded fetches.

    Args:
        fasta_file: path to the FASTA; a missing ``.fai`` index is built next to it.
    """

    def __init__(self, fasta_file: str | os.PathLike):
        self.path = str(fasta_file)
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"{self.path}: FASTA file not found")
        try:
            self._fasta = pysam.FastaFile(self.path)
        except (OSError, ValueError) as err:
            raise InputError(
                f"{self.path}: cannot open as an indexed FASTA ({err}); "
                "check the file, or index it with `samtools faidx`"
            ) from err
        self.sizes: dict[str, int] = dict(zip(self._fasta.references, self._fasta.lengths))

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self):
        # pysam handles cannot be pickled; worker processes reopen the file.
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def resolve(self, chrom: str, source: str = "input") -> str:
        """Map a chromosome name onto this FASTA's naming, adding or removing ``chr``.

        Raises:
            InputError: the name is unknown in either form; the message shows examples
                of the FASTA's names so a naming mismatch is obvious.
        """
        if chrom in self.sizes:
            return chrom
        alternative = chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"
        if alternative in self.sizes:
            return alternative
        examples = ", ".join(list(self.sizes)[:4])
        raise InputError(
            f"{source}: chromosome {chrom!r} is not in {self.path} (its names look like "
            f"{examples}); make the chromosome names of the two files agree"
        )

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Upper-case sequence of [start, end), with N where it runs off the chromosome.

        Args:
            chrom: a name of this FASTA.
            start: 0-based start (bp); may lie before the chromosome.
            end: end (bp, exclusive); may lie past the chromosome.

        Returns:
            a string of exactly ``end - start`` characters.
        """
        size = self.sizes[chrom]
        left_pad = max(0, -start)
        right_pad = max(0, end - size)
        inner = ""
        if min(end, size) > max(start, 0):
            inner = self._fasta.fetch(chrom, max(start, 0), min(end, size))
        return ("N" * left_pad + inner + "N" * right_pad).upper()


def read_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Read a ``chrom<TAB>length`` table (UCSC .genome / .chrom.sizes, or a .fai)."""
    sizes: dict[str, int] = {}
    with open(path) as handle:
        for line_no, line in enumerate(handle, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            try:
                sizes[fields[0]] = int(fields[1])
            except (IndexError, ValueError):
                raise InputError(
                    f"{path}:{line_no}: expected 'chrom length', got {line.strip()!r}"
                ) from None
    return sizes


def read_gtf_tss(gtf_file: str | os.PathLike, feature: str = "gene") -> list[dict]:
    """Transcription start sites of the ``feature`` records of a GTF.

    Args:
        gtf_file: GTF (plain text); 1-based inclusive coordinates as the format says.
        feature: third-column value to keep ('gene' or 'transcript').

    Returns:
        one dict per record, in file order: ``gene_id``, ``gene_name`` (gene_id if absent),
        ``chrom``, ``strand``, ``tss`` (0-based bp of the first transcribed base: start-1 on
        '+', end-1 on '-').
    """
    records = []
    with open(gtf_file) as handle:
        for line_no, line in enumerate(handle, 1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 9:
                raise InputError(f"{gtf_file}:{line_no}: a GTF line has 9 tab-separated columns")
            if fields[2] != feature:
                continue
            attrs = dict(
                (part.strip().split(" ", 1) + [""])[:2]
                for part in fields[8].split(";")
                if part.strip()
            )
            attrs = {k: v.strip('"') for k, v in attrs.items()}
            if "gene_id" not in attrs:
                raise InputError(f"{gtf_file}:{line_no}: record without a gene_id attribute")
            start, end, strand = int(fields[3]), int(fields[4]), fields[6]
            records.append(
                {
                    "gene_id": attrs["gene_id"],
                    "gene_name": attrs.get("gene_name", attrs["gene_id"]),
                    "chrom": fields[0],
                    "strand": strand,
                    "tss": end - 1 if strand == "-" else start - 1,
                }
            )
    return records


# ---------------------------------------------------------------------------------------
# Contigs: the stretches of a genome that sequences are cut from. A contig is a
# (chrom, start, end) tuple of bp, 0-based half-open.

Contig = tuple[str, int, int]


def read_bed_rows(path: str | os.PathLike) -> list[Contig]:
    """(chrom, start, end) of each line of a BED file, in file order (extra columns ignored)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: BED file not found")
    rows = []
    with open(path) as handle:
        for line_no, line in enumerate(handle, 1):
            fields = line.split()
            if not fields or fields[0].startswith(("#", "track", "browser")):
                continue
            try:
                rows.append((fields[0], int(fields[1]), int(fields[2])))
            except (IndexError, ValueError):
                raise InputError(
                    f"{path}:{line_no}: expected 'chrom start end', got {line.strip()!r}"
                ) from None
    return rows


def write_bed_rows(path: str | os.PathLike, rows: Sequence[tuple]) -> None:
    """Tab-separated rows (contigs.bed, sequences.bed), written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        for row in rows:
            handle.write("\t".join(str(x) for x in row) + "\n")


def read_bed_intervals(path: str | os.PathLike) -> dict[str, list[tuple[int, int]]]:
    """First three columns of a BED file, per chromosome, sorted and merged."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: BED file not found")
    by_chrom: dict[str, list[tuple[int, int]]] = {}
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.split()
            try:
                start, end = int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                raise InputError(
                    f"{path}:{line_no}: expected 'chrom start end', got {line.strip()!r}"
                ) from None
            if end < start:
                raise InputError(f"{path}:{line_no}: end {end} is before start {start}")
            by_chrom.setdefault(fields[0], []).append((start, end))
    merged: dict[str, list[tuple[int, int]]] = {}
    for chrom, ivs in by_chrom.items():
        out: list[list[int]] = []
        for start, end in sorted(ivs):
            if out and start <= out[-1][1]:
                out[-1][1] = max(out[-1][1], end)
            else:
                out.append([start, end])
        merged[chrom] = [(s, e) for s, e in out]
    return merged


def chromosome_contigs(sizes: dict[str, int]) -> list[Contig]:
    """One contig per chromosome, in the order of ``sizes`` (the FASTA index order)."""
    return [(chrom, 0, size) for chrom, size in sizes.items()]


def subtract_intervals(
    contigs: list[Contig], intervals: dict[str, list[tuple[int, int]]]
) -> list[Contig]:
    """Contigs minus merged intervals (e.g. assembly gaps), keeping contig order."""
    out = []
    for chrom, start, end in contigs:
        pos = start
        for gap_start, gap_end in intervals.get(chrom, []):
            if gap_end <= pos or gap_start >= end:
                continue
            if gap_start > pos:
                out.append((chrom, pos, gap_start))
            pos = max(pos, gap_end)
        if pos < end:
            out.append((chrom, pos, end))
    return out


def intersect_intervals(
    contigs: list[Contig], intervals: dict[str, list[tuple[int, int]]]
) -> list[Contig]:
    """The parts of contigs covered by merged intervals (``bedtools intersect`` output)."""
    out = []
    for chrom, start, end in contigs:
        for iv_start, iv_end in intervals.get(chrom, []):
            lo, hi = max(start, iv_start), min(end, iv_end)
            if lo < hi:
                out.append((chrom, lo, hi))
    return out


def break_large_contigs(contigs: list[Contig], break_bp: int) -> list[Contig]:
    """Halve contigs longer than ``break_bp`` until none is (left half floor(len / 2)).

    Returns:
        all pieces, sorted by the input order of their chromosome, then start.

    Differences from the original: the original stops at the first popped contig that
    needs no breaking and never puts it back, so one contig (the largest short enough)
    is lost; every piece is kept here.
    """
    chrom_order: dict[str, int] = {}
    for chrom, _, _ in contigs:
        chrom_order.setdefault(chrom, len(chrom_order))
    pending = list(contigs)
    pieces = []
    while pending:
        chrom, start, end = pending.pop()
        if end - start > break_bp:
            mid = start + (end - start) // 2
            pending += [(chrom, start, mid), (chrom, mid, end)]
        else:
            pieces.append((chrom, start, end))
    return sorted(pieces, key=lambda c: (chrom_order[c[0]], c[1]))


def rejoin_contigs(contigs: list[Contig]) -> list[Contig]:
    """Join abutting contigs of one chromosome (pieces of one broken contig in one split).

    Returns:
        contigs grouped by chromosome in order of first appearance, sorted by start.
    """
    by_chrom: dict[str, list[Contig]] = {}
    for ctg in contigs:
        by_chrom.setdefault(ctg[0], []).append(ctg)
    out: list[Contig] = []
    for chrom_contigs in by_chrom.values():
        chrom_contigs.sort(key=lambda c: c[1])
        current = chrom_contigs[0]
        for ctg in chrom_contigs[1:]:
            if ctg[1] == current[2]:
                current = (current[0], current[1], ctg[2])
            else:
                out.append(current)
                current = ctg
        out.append(current)
    return out
