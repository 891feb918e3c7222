"""Genome FASTA access (pysam), chromosome names, BED files, GTF TSSs and contigs.

FASTA fetches are padded with N past the chromosome ends; contigs are the stretches of a
genome that training sequences are cut from.

Coordinates are 0-based, half-open, in bp, like BED and pysam.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pysam

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path
from basenji_tf.textio import display_name, read_lines

log = logging.getLogger(__name__)

# bp fetched at each end of a contig to check the .fai against the FASTA: longer than a
# FASTA line, so a stale line length or offset shows as a newline or header in the bases.
_INDEX_CHECK_BP = 256
# contigs checked at each end of the index (assemblies can have 10^5 scaffolds).
_INDEX_CHECK_CONTIGS = 100
_SEQUENCE = re.compile(r"[A-Za-z*-]*")


class Genome:
    """An indexed FASTA (plain or bgzipped) with N-padded fetches.

    The index is checked against the FASTA when opened (the first and last bases of up
    to 100 contigs at each end of the index): a stale ``.fai``, left from an older FASTA
    or a truncated one, is an :class:`InputError` saying to delete it, not wrong bases.

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
        self._check_index()

    def _check_index(self) -> None:
        """Fail with one line if the ``.fai`` does not describe this FASTA."""
        names = list(self.sizes)
        if len(names) > 2 * _INDEX_CHECK_CONTIGS:
            names = names[:_INDEX_CHECK_CONTIGS] + names[-_INDEX_CHECK_CONTIGS:]
        for chrom in names:
            size = self.sizes[chrom]
            for start in (0, max(0, size - _INDEX_CHECK_BP)):
                end = min(size, start + _INDEX_CHECK_BP)
                try:
                    seq = self._fasta.fetch(chrom, start, end)
                except (OSError, ValueError) as err:
                    self._stale_index(f"{chrom}:{start}-{end} cannot be read ({err})")
                if len(seq) != end - start or not _SEQUENCE.fullmatch(seq):
                    self._stale_index(f"{chrom}:{start}-{end} is not sequence")

    def _stale_index(self, problem: str) -> None:
        fai = f"{self.path}.fai"
        older = ""
        if Path(fai).is_file() and os.path.getmtime(fai) < os.path.getmtime(self.path):
            older = ", and the index is older than the FASTA"
        raise InputError(
            f"{fai}: the index does not match {self.path} ({problem}{older}); the FASTA was "
            f"changed or truncated after indexing: delete {fai} (and any .gzi) to rebuild it, "
            "or check the FASTA"
        )

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
            try:
                inner = self._fasta.fetch(chrom, max(start, 0), min(end, size))
            except (OSError, ValueError) as err:
                raise InputError(
                    f"{self.path}: cannot read {chrom}:{start}-{end} ({err}); the FASTA may "
                    f"be truncated or corrupt: check it, and delete {self.path}.fai to reindex"
                ) from None
        return ("N" * left_pad + inner + "N" * right_pad).upper()


def read_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Read a ``chrom<TAB>length`` table (UCSC .genome / .chrom.sizes, or a .fai).

    Raises:
        InputError: a line without a positive integer length, a chromosome listed twice,
            or no chromosome at all.
    """
    name = display_name(path)
    sizes: dict[str, int] = {}
    for line_no, line in read_lines(path, "chromosome sizes table"):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        where = f"{name}: line {line_no}"
        length = _integer(fields[1] if len(fields) > 1 else "", where, "length")
        if length < 1:
            raise InputError(f"{where}: length {length} of {fields[0]} is not positive")
        if fields[0] in sizes:
            raise InputError(f"{where}: {fields[0]} is listed twice; keep one line per chromosome")
        sizes[fields[0]] = length
    if not sizes:
        raise InputError(f"{name}: no chromosomes; expected 'chrom<TAB>length' lines")
    return sizes


def _integer(text: str, where: str, column: str) -> int:
    """``int(text)``, or an InputError naming the column."""
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{where}: {column} {text!r} is not an integer") from None


def read_gtf_tss(
    gtf_file: str | os.PathLike,
    feature: str = "gene",
    sizes: Mapping[str, int] | None = None,
) -> list[dict]:
    """Transcription start sites of the ``feature`` records of a GTF.

    Args:
        gtf_file: GTF, plain, gzip or bgzip (``-``: standard input); 1-based inclusive
            coordinates as the format says, so ``1 <= start <= end``.
        feature: third-column value to keep ('gene' or 'transcript').
        sizes: chromosome sizes (bp); a record on one of these chromosomes that ends past
            it is an error (another genome build). Chromosomes not in ``sizes`` are kept:
            a genome-wide annotation with the FASTA of one locus is normal.

    Returns:
        one dict per record, in file order: ``gene_id``, ``gene_name`` (gene_id if absent),
        ``chrom``, ``strand``, ``tss`` (0-based bp of the first transcribed base: start-1 on
        '+', end-1 on '-').

    Raises:
        InputError: a malformed line, an empty file, or no ``feature`` record.
    """
    name = display_name(gtf_file)
    records = []
    features: set[str] = set()
    for line_no, line in read_lines(gtf_file, "GTF file"):
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        where = f"{name}: line {line_no}"
        if len(fields) != 9:
            raise InputError(
                f"{where}: a GTF line has 9 tab-separated columns, got {len(fields)}; "
                "separate the columns with tabs"
            )
        features.add(fields[2])
        if fields[2] == feature:
            records.append(_gtf_tss(fields, where, sizes))
    if not features:
        raise InputError(f"{name}: no GTF records (the file is empty or only comments)")
    if not records:
        raise InputError(
            f"{name}: no {feature!r} records (features: {', '.join(sorted(features)[:6])}); "
            "choose one of those features"
        )
    return records


def _gtf_tss(fields: list[str], where: str, sizes: Mapping[str, int] | None) -> dict:
    """The TSS record of one GTF line (9 fields), its coordinates checked."""
    start = _integer(fields[3], where, "start")
    end = _integer(fields[4], where, "end")
    if start < 1 or end < start:
        raise InputError(
            f"{where}: start {start} and end {end} are not an interval; GTF coordinates are "
            "1-based and inclusive, 1 <= start <= end"
        )
    chrom, strand = fields[0], fields[6]
    if sizes is not None and chrom in sizes and end > sizes[chrom]:
        raise InputError(
            f"{where}: end {end} is past the end of {chrom} ({sizes[chrom]} bp); "
            "use the annotation of the FASTA's genome build"
        )
    attrs = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in fields[8].split(";") if part.strip()
    )
    attrs = {k: v.strip('"') for k, v in attrs.items()}
    if "gene_id" not in attrs:
        raise InputError(f'{where}: record without a gene_id attribute; add gene_id "..."')
    return {
        "gene_id": attrs["gene_id"],
        "gene_name": attrs.get("gene_name", attrs["gene_id"]),
        "chrom": chrom,
        "strand": strand,
        "tss": end - 1 if strand == "-" else start - 1,
    }


# ---------------------------------------------------------------------------------------
# BED files: 0-based half-open intervals, 0 <= start < end.


class BedRecord(NamedTuple):
    """One data line of a BED file: its number, first three columns, and every column."""

    line: int
    chrom: str
    start: int
    end: int
    fields: list[str]


def read_bed_records(
    path: str | os.PathLike, what: str = "BED file", allow_empty: bool = False
) -> Iterator[BedRecord]:
    """Stream the records of a BED file, checked: integer coordinates, 0 <= start < end.

    Blank, ``#``, ``track`` and ``browser`` lines are skipped. Columns are split on tabs
    (on any whitespace in a file without tabs).

    Args:
        path: BED (or narrowPeak, ...), plain, gzip or bgzip; ``-`` reads standard input.
        what: what the file is, for messages.
        allow_empty: a file without records is fine (a mask); else it is an error.

    Raises:
        InputError: a malformed line, or no record unless ``allow_empty``.
    """
    name = display_name(path)
    count = 0
    for line_no, line in read_lines(path, what):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        where = f"{name}: line {line_no}"
        if len(fields) < 3:
            raise InputError(
                f"{where}: a BED line needs chrom, start and end separated by tabs, got "
                f"{len(fields)} column(s)"
            )
        start = _integer(fields[1], where, "start")
        end = _integer(fields[2], where, "end")
        if start < 0 or end <= start:
            raise InputError(
                f"{where}: start {start} and end {end} are not an interval; BED coordinates "
                "are 0-based and half-open, 0 <= start < end"
            )
        count += 1
        yield BedRecord(line_no, fields[0], start, end, fields)
    if not count and not allow_empty:
        raise InputError(
            f"{name}: no BED records (the file is empty or only comments); "
            "give at least one 'chrom<TAB>start<TAB>end' line"
        )


def check_inside(record: BedRecord, sizes: Mapping[str, int], name: str) -> None:
    """Fail unless ``record`` lies on a chromosome of ``sizes`` and ends inside it.

    Args:
        record: from :func:`read_bed_records`, its chromosome spelled as in ``sizes``.
        sizes: chromosome sizes in bp.
        name: the BED file's name, for the message.
    """
    where = f"{display_name(name)}: line {record.line}"
    if record.chrom not in sizes:
        examples = ", ".join(list(sizes)[:4])
        raise InputError(
            f"{where}: chromosome {record.chrom!r} is not in the genome (its names look like "
            f"{examples}); make the chromosome names agree"
        )
    if record.end > sizes[record.chrom]:
        raise InputError(
            f"{where}: end {record.end} is past the end of {record.chrom} "
            f"({sizes[record.chrom]} bp); check the genome build, or clip the region"
        )


# ---------------------------------------------------------------------------------------
# Contigs: the stretches of a genome that sequences are cut from. A contig is a
# (chrom, start, end) tuple of bp, 0-based half-open.

Contig = tuple[str, int, int]


def read_bed_rows(path: str | os.PathLike, sizes: Mapping[str, int] | None = None) -> list[Contig]:
    """(chrom, start, end) of each line of a BED file, in file order (extra columns ignored).

    Args:
        path: BED, plain, gzip or bgzip; ``-`` reads standard input.
        sizes: chromosome sizes (bp); when given, every region must lie inside one of them.

    Raises:
        InputError: a malformed line, a region off the genome, or an empty file.
    """
    rows = []
    for record in read_bed_records(path):
        if sizes is not None:
            check_inside(record, sizes, os.fspath(path))
        rows.append((record.chrom, record.start, record.end))
    return rows


def write_bed_rows(path: str | os.PathLike, rows: Sequence[tuple]) -> None:
    """Tab-separated rows (contigs.bed, sequences.bed), written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        for row in rows:
            handle.write("\t".join(str(x) for x in row) + "\n")


def read_bed_intervals(path: str | os.PathLike) -> dict[str, list[tuple[int, int]]]:
    """First three columns of a BED file, per chromosome, sorted and merged.

    A mask or track (gaps, blacklist, peaks) may be empty: its records are optional.
    """
    by_chrom: dict[str, list[tuple[int, int]]] = {}
    for record in read_bed_records(path, allow_empty=True):
        by_chrom.setdefault(record.chrom, []).append((record.start, record.end))
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
