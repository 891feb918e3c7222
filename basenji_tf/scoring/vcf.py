"""VCF variants and their model windows.

* :func:`read_vcf` streams a VCF (plain, gzip or bgzip text, or BCF; ``-`` for standard
  input) into one :class:`Variant` per ALT allele, skipping symbolic alleles and resolving
  chromosome names against the FASTA.
* :func:`window_bounds` is the one definition of a variant-centred window: the variant's
  first base at index ``L/2 - 1``, as the original ``basenji.vcf.snp_seq1``.
* :func:`variant_windows` builds the REF and ALT one-hot windows exactly as ``snp_seq1``
  does: indel alleles length-normalised around the centre, N encoded as 0.25 in every
  channel.

Differences from the original (``basenji/vcf.py``):

* every ALT of a multi-allelic record is its own row (the original scores only the first;
  ``first_alt=True`` restores that);
* symbolic alleles (``<DEL>``, ``*``, breakends) are skipped and counted instead of crashing;
* a REF allele that matches neither the genome nor an ALT is reported and the record skipped
  (``strict=True`` raises instead); the original crashes on it;
* chromosome names are resolved against the FASTA (adding or removing ``chr``) instead of
  always prepending ``chr``;
* a POS below 1 or a REF running past its chromosome's end is an error naming the line
  (the original reports it as a REF mismatch or crashes).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pysam

from basenji_tf.dna import dna_length_1hot
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.textio import STDIN, display_name, iter_lines, open_binary

log = logging.getLogger(__name__)

_BASES = frozenset("ACGTN")


@dataclass(frozen=True)
class Variant:
    """One ALT allele of one VCF record.

    Attributes:
        chrom: chromosome name as spelled in the FASTA.
        pos: VCF position (1-based) of the first REF base.
        id: the VCF ID, or ``chrom:pos`` when it is ``.``.
        ref: REF allele (upper case).
        alt: this row's ALT allele (upper case).
        site_alts: every ALT of the record (the REF/ALT swap check looks at all of them).
        line: line number in the VCF (for messages).
        record: index of the record among the VCF's data records (0-based; -1 when the
            variant does not come from a VCF).
    """

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    site_alts: tuple[str, ...]
    line: int
    record: int = -1

    @property
    def is_snv(self) -> bool:
        return len(self.ref) == len(self.alt)

    @property
    def deletion_bp(self) -> int:
        """Base pairs by which REF is longer than ALT (0 for SNVs and insertions)."""
        return max(0, len(self.ref) - len(self.alt))


@dataclass
class VcfCounts:
    """What :func:`read_vcf` and :func:`variant_windows` skipped or changed, for a summary."""

    records: int = 0
    rows: int = 0
    symbolic: int = 0
    ref_swapped: int = 0
    ref_mismatch: int = 0
    extra_alts: int = 0
    mismatches: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.records} VCF records, {self.rows} rows scored"]
        if self.symbolic:
            parts.append(f"{self.symbolic} symbolic ALT alleles skipped")
        if self.extra_alts:
            parts.append(f"{self.extra_alts} ALT alleles beyond the first skipped (first_alt)")
        if self.ref_swapped:
            parts.append(f"{self.ref_swapped} records whose ALT matches the genome (REF used)")
        if self.ref_mismatch:
            shown = ", ".join(self.mismatches[:5])
            parts.append(f"{self.ref_mismatch} rows skipped for a REF mismatch ({shown})")
        return "; ".join(parts)


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def _is_symbolic(allele: str) -> bool:
    return allele in ("*", ".", "") or allele.startswith("<") or "[" in allele or "]" in allele


def _vcf_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line of a VCF: text or BCF, a file or ``-`` (stdin).

    A BCF record is turned into its VCF text line by pysam (the same columns a text VCF
    has), numbered from 1 by record.

    Raises:
        InputError: an empty (0-byte) file, not text, or corrupt/truncated data.
    """
    name = display_name(path)
    with open_binary(path, "VCF file") as stream:
        head = stream.peek(3)[:3]
        if not head:
            raise InputError(f"{name}: the VCF is empty (0 bytes); give a VCF with records")
        if head == b"BCF":
            yield from _bcf_lines(path, stream, name)
        else:
            yield from iter_lines(stream, name, "VCF file")


def _bcf_lines(path: str, stream: BinaryIO, name: str) -> Iterator[tuple[int, str]]:
    """(record number, VCF text line) of a BCF; standard input is spooled to a file first."""
    with contextlib.ExitStack() as stack:
        if path == STDIN:
            spool = stack.enter_context(tempfile.NamedTemporaryFile(suffix=".bcf"))
            shutil.copyfileobj(stream, spool)
            spool.flush()
            path = spool.name
        record_no = 0
        try:
            variants = stack.enter_context(_open_quietly(path))
            for record_no, record in enumerate(variants, 1):
                yield record_no, str(record).rstrip("\n")
        except (OSError, ValueError) as err:
            raise InputError(
                f"{name}: record {record_no + 1}: cannot read the BCF ({err}); the file may "
                "be truncated or corrupt"
            ) from None


def _open_quietly(path: str) -> pysam.VariantFile:
    """Open with pysam, without htslib's message that an unindexed BCF has no index."""
    verbosity = pysam.set_verbosity(0)
    try:
        return pysam.VariantFile(path)
    finally:
        pysam.set_verbosity(verbosity)


def count_vcf_records(path: str) -> int:
    """Number of data lines of a VCF (one pass, constant memory).

    Raises:
        InputError: ``path`` is ``-``: standard input can be read only once.
    """
    if path == STDIN:
        raise InputError(
            "-: a VCF on standard input can be read only once, so its records cannot be "
            "counted to split it into shards; write it to a file first"
        )
    return sum(1 for _, line in _vcf_lines(path) if line and not line.startswith("#"))


def read_vcf(
    path: str,
    genome: Genome | None = None,
    counts: VcfCounts | None = None,
    first_alt: bool = False,
    record_range: tuple[int, int] | None = None,
) -> Iterator[Variant]:
    """Stream the ALT alleles of a VCF as :class:`Variant` rows, in file order.

    Only the first five columns are read (as the original does), so header-less VCFs work.
    A VCF with a header and no record yields nothing, with a warning.

    Args:
        path: VCF (plain, gzip or bgzip text) or BCF; ``-`` reads standard input (once).
        genome: resolve chromosome names to this FASTA's (``chr`` added or removed) and
            check that each position lies on its chromosome; None keeps the VCF's names.
        counts: updated with records read, rows yielded and alleles skipped.
        first_alt: yield only the first ALT of each record (the original's behaviour).
        record_range: only data records ``[first, last)`` (0-based, in file order), for
            sharding.

    Raises:
        InputError: an empty (0-byte) or unreadable file; a line with fewer than 5
            columns, a POS that is not an integer >= 1 or lies past its chromosome's end,
            or a REF/ALT with characters other than ACGTN; a chromosome absent from the
            FASTA in both spellings.
    """
    counts = counts if counts is not None else VcfCounts()
    record_i = -1
    for line_no, line in _vcf_lines(path):
        if not line or line.startswith("#"):
            continue
        record_i += 1
        if record_range is not None:
            if record_i < record_range[0]:
                continue
            if record_i >= record_range[1]:
                break
        yield from _record_rows(path, line_no, line, record_i, genome, counts, first_alt)
    if record_i < 0:
        log.warning("%s: the VCF has no records; nothing to score", display_name(path))


def _record_rows(
    path: str,
    line_no: int,
    line: str,
    record_i: int,
    genome: Genome | None,
    counts: VcfCounts,
    first_alt: bool,
) -> Iterator[Variant]:
    """The :class:`Variant` rows of one VCF data line."""
    fields = line.split("\t") if "\t" in line else line.split()
    where = f"{display_name(path)}: line {line_no}"
    if len(fields) < 5:
        raise InputError(
            f"{where}: a VCF record needs CHROM POS ID REF ALT columns, "
            f"got {len(fields)}; separate the columns with tabs"
        )
    chrom, pos_text, rsid, ref, alts_text = fields[:5]
    try:
        pos = int(pos_text)
    except ValueError:
        raise InputError(f"{where}: POS {pos_text!r} is not an integer") from None
    ref = ref.upper()
    if not ref or set(ref) - _BASES:
        raise InputError(
            f"{where}: REF {ref!r} has characters other than A, C, G, T, N; "
            "fix or remove the record"
        )
    if pos < 1:
        raise InputError(f"{where}: POS {pos} is not a position; VCF positions start at 1")
    counts.records += 1
    if genome is not None:
        chrom = genome.resolve(chrom, source=where)
        _check_position(chrom, pos, ref, genome.sizes[chrom], where)
    if rsid == ".":
        rsid = f"{chrom}:{pos}"
    alts = tuple(a.upper() for a in alts_text.split(","))
    for alt_i, alt in enumerate(alts):
        if first_alt and alt_i > 0:
            counts.extra_alts += 1
            continue
        if _is_symbolic(alt):
            counts.symbolic += 1
            continue
        if set(alt) - _BASES:
            raise InputError(
                f"{where}: ALT {alt!r} has characters other than A, C, G, T, N; "
                "fix or remove the record"
            )
        counts.rows += 1
        yield Variant(chrom, pos, rsid, ref, alt, alts, line_no, record_i)


def _check_position(chrom: str, pos: int, ref: str, size: int, where: str) -> None:
    """A REF allele that runs past its chromosome is a bad position, not a REF mismatch."""
    if pos - 1 + len(ref) > size:
        raise InputError(
            f"{where}: POS {pos} (REF {len(ref)} bp) is past the end of {chrom} ({size} bp); "
            "check the genome build of the VCF and the FASTA"
        )


# ---------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------


def window_bounds(pos: int, seq_length: int, extend: int = 0) -> tuple[int, int]:
    """Genome span of the model window centred on a variant, as the original ``snp_seq1``.

    Args:
        pos: 1-based VCF position of the variant's first base.
        seq_length: L, model input length in bp.
        extend: bp added on the right (a deletion's ``len(REF) - len(ALT)``, so that the
            ALT window still fills L bp).

    Returns:
        (start, end): 0-based half-open genome bp; the variant's first base is at index
        ``L/2 - 1`` of the window (``start = pos - L/2``), and ``end = pos + L/2 + extend``.
    """
    return pos - seq_length // 2, pos + seq_length // 2 + extend


def variant_windows(
    genome: Genome,
    variant: Variant,
    seq_length: int,
    counts: VcfCounts | None = None,
    strict: bool = False,
) -> tuple[np.ndarray, np.ndarray] | None:
    """REF and ALT one-hot windows of a variant, as the original ``snp_seq1`` builds them.

    The window is :func:`window_bounds` (a deletion extends it right by its length). Both
    alleles are then length-normalised to ``L`` around the centre
    (:func:`basenji_tf.dna.dna_length_1hot`).

    Args:
        genome: the FASTA.
        variant: one row from :func:`read_vcf` (its chromosome already resolved).
        seq_length: L, model input length in bp.
        counts: REF swaps and mismatches are counted here.
        strict: raise on a REF mismatch instead of skipping the row.

    Returns:
        (ref, alt) float32 arrays [L, 4] with N = 0.25 in every channel, or None when the
        genome matches neither REF nor any ALT (the row is to be skipped).

    Raises:
        InputError: REF mismatch with ``strict``.
    """
    counts = counts if counts is not None else VcfCounts()
    start, end = window_bounds(variant.pos, seq_length, variant.deletion_bp)
    left = variant.pos - 1 - start
    seq = genome.fetch(variant.chrom, start, end)
    genome_allele = seq[left : left + len(variant.ref)]
    if genome_allele != variant.ref:
        if genome_allele in variant.site_alts:
            # The original's behaviour: trust the VCF's REF and put it in the window.
            log.warning(
                "line %d %s: the genome has the ALT allele %s at %s:%d; scoring with the "
                "VCF REF %s in its place",
                variant.line,
                variant.id,
                genome_allele,
                variant.chrom,
                variant.pos,
                variant.ref,
            )
            counts.ref_swapped += 1
            seq = seq[:left] + variant.ref + seq[left + len(variant.ref) :]
        else:
            _ref_mismatch(variant, genome_allele, counts, strict)
            return None
    alt_seq = seq[:left] + variant.alt + seq[left + len(variant.ref) :]
    ref_1hot = dna_length_1hot(seq, seq_length, n_uniform=True)
    alt_1hot = dna_length_1hot(alt_seq, seq_length, n_uniform=True)
    return ref_1hot, alt_1hot


def _ref_mismatch(variant: Variant, genome_allele: str, counts: VcfCounts, strict: bool) -> None:
    """Log and count a REF that the genome does not have, or raise with ``strict``."""
    message = (
        f"line {variant.line} {variant.id}: REF {variant.ref} does not match the "
        f"genome ({genome_allele}) at {variant.chrom}:{variant.pos}"
    )
    if strict:
        raise InputError(f"{message}; check the genome build, or drop --strict to skip such rows")
    log.warning("%s; skipped", message)
    counts.ref_mismatch += 1
    counts.mismatches.append(variant.id)


def ref_window_start(variant: Variant, seq_length: int) -> int:
    """0-based genome bp at which :func:`variant_windows`' REF window starts.

    That is the :func:`window_bounds` start, a deletion's extension trimmed half on each
    side.
    """
    return window_bounds(variant.pos, seq_length)[0] + variant.deletion_bp // 2
