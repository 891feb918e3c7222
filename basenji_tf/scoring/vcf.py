"""VCF variants and their model windows.

* :func:`read_vcf` streams a VCF (plain or bgzipped) into one :class:`Variant` per ALT
  allele, skipping symbolic alleles and resolving chromosome names against the FASTA.
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
  always prepending ``chr``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pysam

from basenji_tf.dna import dna_length_1hot
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome

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
    """(line number, text) of every line; pysam's BGZF reader takes plain text as well."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: VCF file not found")
    with pysam.BGZFile(path, "rb") as handle:
        for line_no, raw in enumerate(handle, 1):
            yield line_no, raw.decode().rstrip("\r\n")


def count_vcf_records(path: str) -> int:
    """Number of data lines of a VCF (one pass, constant memory)."""
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

    Args:
        path: VCF, plain or bgzipped.
        genome: resolve chromosome names to this FASTA's (``chr`` added or removed); None
            keeps the VCF's names.
        counts: updated with records read, rows yielded and alleles skipped.
        first_alt: yield only the first ALT of each record (the original's behaviour).
        record_range: only data records ``[first, last)`` (0-based, in file order), for
            sharding.

    Raises:
        InputError: a line with fewer than 5 columns, a non-integer POS, or a REF with
            characters other than ACGTN; a chromosome absent from the FASTA in both spellings.
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
    if len(fields) < 5:
        raise InputError(
            f"{path}:{line_no}: a VCF record needs CHROM POS ID REF ALT columns, "
            f"got {len(fields)}; separate the columns with tabs"
        )
    chrom, pos_text, rsid, ref, alts_text = fields[:5]
    try:
        pos = int(pos_text)
    except ValueError:
        raise InputError(f"{path}:{line_no}: POS {pos_text!r} is not an integer") from None
    ref = ref.upper()
    if not ref or set(ref) - _BASES:
        raise InputError(
            f"{path}:{line_no}: REF {ref!r} has characters other than A, C, G, T, N; "
            "fix or remove the record"
        )
    counts.records += 1
    if genome is not None:
        chrom = genome.resolve(chrom, source=f"{path}:{line_no}")
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
                f"{path}:{line_no}: ALT {alt!r} has characters other than A, C, G, T, N; "
                "fix or remove the record"
            )
        counts.rows += 1
        yield Variant(chrom, pos, rsid, ref, alt, alts, line_no, record_i)


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
