"""Variant effect scoring: VCF -> REF/ALT windows -> ensemble predictions -> SAD statistics.

The pieces, in the order a ``basenji_sad.py`` run uses them:

* :func:`read_vcf` streams a VCF (plain or bgzipped) into one :class:`Variant` per ALT
  allele, skipping symbolic alleles and resolving chromosome names against the FASTA.
* :func:`variant_windows` builds the REF and ALT one-hot windows exactly as the original
  ``basenji.vcf.snp_seq1`` does: the variant's first base at index ``L/2 - 1``, indel alleles
  length-normalised around the centre, N encoded as 0.25 in every channel.
* :class:`EnsemblePredictor` runs many variants' REF, ALT and ensemble members (shifts,
  reverse complement) through the model in large batches; with a
  :class:`~basenji_tf.cone.ConeSplice` it recomputes only the band of each layer an SNV can
  change and reuses the REF activations elsewhere, and with a
  :class:`~basenji_tf.cone.SharedTower` overlapping REF windows share their conv tower
  (both exact).
* :func:`sad_stats` computes the SAD family of statistics; :class:`SadWriter` streams rows
  into ``sad.h5`` and adds the percentile tables at the end.
* :func:`score_vcf` ties them together; :func:`merge_sad` joins shard outputs.

Differences from the original (``bin/basenji_sad.py``):

* every ALT of a multi-allelic record is scored as its own row (the original scores only the
  first; ``first_alt=True`` restores that);
* symbolic alleles (``<DEL>``, ``*``, breakends) are skipped and counted instead of crashing;
* a REF allele that matches neither the genome nor an ALT is reported and the record skipped
  (``strict=True`` raises instead); the original crashes on it;
* chromosome names are resolved against the FASTA (adding or removing ``chr``) instead of
  always prepending ``chr``;
* a targets table without a ``clip_soft`` column skips the soft-clip un-transformation
  (the original raises an AttributeError);
* ``*_pct`` tables of a multi-process run are recomputed over all rows, so they equal a
  single-process run (the original averages the per-job tables).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import h5py
import numpy as np
import pysam
from scipy.special import rel_entr
from tqdm import tqdm

from basenji_tf.dna import dna_1hot, dna_length_1hot, hot1_augment
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path
from basenji_tf.genome import Genome
from basenji_tf.targets import read_targets

if TYPE_CHECKING:
    from basenji_tf.cone import ConeSplice

log = logging.getLogger(__name__)

SAD_STATS = (
    "SAD", "logSAD", "sqrtSAD", "SAX", "D1", "logD1", "sqrtD1",
    "D2", "logD2", "sqrtD2", "JS", "logJS", "REF", "ALT",
)  # fmt: skip

# The original's table: 0.001..0.099 by 0.001, 0.10..0.89 by 0.01, 0.900..0.999 by 0.001,
# built with np.arange so the float64 values are bit-identical.
PERCENTILES = np.concatenate(
    [np.arange(0.001, 0.1, 0.001), np.arange(0.1, 0.9, 0.01), np.arange(0.9, 1, 0.001)]
)

_FLOAT16_MAX = float(np.finfo(np.float16).max)
_BASES = frozenset("ACGTN")


# ---------------------------------------------------------------------------------------
# VCF reading
# ---------------------------------------------------------------------------------------


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


def variant_windows(
    genome: Genome,
    variant: Variant,
    seq_length: int,
    counts: VcfCounts | None = None,
    strict: bool = False,
) -> tuple[np.ndarray, np.ndarray] | None:
    """REF and ALT one-hot windows of a variant, as the original ``snp_seq1`` builds them.

    The window is fetched so that the variant's first base sits at index ``L/2 - 1``; a
    deletion extends it right by ``len(REF) - len(ALT)`` bp. Both alleles are then
    length-normalised to ``L`` around the centre (:func:`basenji_tf.dna.dna_length_1hot`).

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
    left = seq_length // 2 - 1
    right = seq_length // 2
    start0 = variant.pos - left - 1
    end0 = variant.pos + right + max(0, len(variant.ref) - len(variant.alt))
    seq = genome.fetch(variant.chrom, start0, end0)
    genome_allele = seq[left : left + len(variant.ref)]
    if genome_allele != variant.ref:
        if genome_allele in variant.site_alts:
            # The original's behaviour: trust the VCF's REF and put it in the window.
            log.warning(
                "line %d %s: the genome has the ALT allele %s at %s:%d; scoring with the "
                "VCF REF %s in its place",
                variant.line, variant.id, genome_allele, variant.chrom, variant.pos, variant.ref,
            )  # fmt: skip
            counts.ref_swapped += 1
            seq = seq[:left] + variant.ref + seq[left + len(variant.ref) :]
        else:
            message = (
                f"line {variant.line} {variant.id}: REF {variant.ref} does not match the "
                f"genome ({genome_allele}) at {variant.chrom}:{variant.pos}"
            )
            if strict:
                raise InputError(
                    f"{message}; check the genome build, or drop --strict to skip such rows"
                )
            log.warning("%s; skipped", message)
            counts.ref_mismatch += 1
            counts.mismatches.append(variant.id)
            return None
    alt_seq = seq[:left] + variant.alt + seq[left + len(variant.ref) :]
    ref_1hot = dna_length_1hot(seq, seq_length, n_uniform=True)
    alt_1hot = dna_length_1hot(alt_seq, seq_length, n_uniform=True)
    return ref_1hot, alt_1hot


def ref_window_start(variant: Variant, seq_length: int) -> int:
    """0-based genome bp at which :func:`variant_windows`' REF window starts: the variant's
    first base at index ``L/2 - 1``, a deletion's extension trimmed half on each side."""
    extend = max(0, len(variant.ref) - len(variant.alt))
    return variant.pos - seq_length // 2 + extend // 2


# ---------------------------------------------------------------------------------------
# Targets: slice, strand pairs, un-transformation
# ---------------------------------------------------------------------------------------


@dataclass
class TargetSet:
    """Which model outputs to score and how to turn predictions into reported targets.

    Attributes:
        ids, labels: one per reported target (after strand collapsing).
        slice: model output channels to keep (None: all).
        strand_pair: for each kept channel, the kept channel of its other strand (None: no
            pairs); reverse-complement ensemble members swap these columns.
        clip_soft: per kept channel, the soft-clip threshold to undo (None: skip).
        sqrt_mask: per kept channel, whether to undo a ``*_sqrt`` transform.
        collapse: [kept, reported] 0/1 matrix summing + and - strands (None: identity).
    """

    ids: list[str]
    labels: list[str]
    slice: np.ndarray | None = None
    strand_pair: np.ndarray | None = None
    clip_soft: np.ndarray | None = None
    sqrt_mask: np.ndarray | None = None
    collapse: np.ndarray | None = None

    @classmethod
    def all_outputs(cls, num_targets: int) -> TargetSet:
        """Every output, named ``t0, t1, ...`` with empty labels (no targets table)."""
        return cls([f"t{i}" for i in range(num_targets)], [""] * num_targets)

    @classmethod
    def from_table(cls, path: str) -> TargetSet:
        """Targets table -> slice, strand pairs re-indexed to the slice, un-transform."""
        table = read_targets(path)
        index = np.asarray(table.index)
        position = {channel: i for i, channel in enumerate(index)}
        strand_pair = None
        if "strand_pair" in table.columns:
            try:
                strand_pair = np.array([position[int(c)] for c in table["strand_pair"]])
            except KeyError as err:
                raise InputError(
                    f"{path}: strand_pair {err.args[0]} is not an index of the table; every "
                    "strand's pair must be listed too"
                ) from None
        clip_soft = None
        if "clip_soft" in table.columns:
            clip_soft = table["clip_soft"].to_numpy(dtype=np.float64)
        sum_stat = table["sum_stat"] if "sum_stat" in table.columns else [""] * len(table)
        sqrt_mask = np.array(["_sqrt" in str(s) for s in sum_stat])
        identifiers = [str(x) for x in table["identifier"]]
        descriptions = (
            [str(x) for x in table["description"]]
            if "description" in table.columns
            else [""] * len(table)
        )
        # The original's targets_prep_strand: a target paired with another is stranded by
        # the last character of its identifier; '-' rows are summed into their '+' partner.
        keep = []
        collapse_cols = {}
        for i in range(len(table)):
            stranded = strand_pair is not None and strand_pair[i] != i
            if stranded and identifiers[i].endswith("-"):
                continue
            collapse_cols[i] = len(keep)
            keep.append(i)
        collapse = None
        if strand_pair is not None and len(keep) < len(table):
            collapse = np.zeros((len(table), len(keep)), dtype=np.float32)
            for i in range(len(table)):
                col = collapse_cols.get(i, collapse_cols.get(int(strand_pair[i])))
                if col is None:
                    raise InputError(
                        f"{path}: {identifiers[i]} and its strand pair are both '-' strands; "
                        "one of a pair must end in '+'"
                    )
                collapse[i, col] = 1
        return cls(
            ids=[identifiers[i] for i in keep],
            labels=[descriptions[i] for i in keep],
            slice=index,
            strand_pair=strand_pair,
            clip_soft=clip_soft,
            sqrt_mask=sqrt_mask,
            collapse=collapse,
        )

    def transform(self, preds: np.ndarray) -> np.ndarray:
        """Un-transform and strand-collapse ensemble predictions.

        Args:
            preds: float32 [..., kept channels].

        Returns:
            float32 [..., len(ids)].
        """
        if self.clip_soft is not None:
            cs = self.clip_soft.astype(preds.dtype)
            preds = np.where(preds > cs, cs - 1 + (preds - cs + 1) ** 2, preds)
        if self.sqrt_mask is not None and self.sqrt_mask.any():
            preds = preds.copy()
            preds[..., self.sqrt_mask] = -1 + (preds[..., self.sqrt_mask] + 1) ** (4 / 3)
        if self.collapse is not None:
            preds = preds @ self.collapse
        return preds


# ---------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------


def _js(ref: np.ndarray, alt: np.ndarray) -> np.ndarray:
    """Symmetric KL divergence over bins after a 25th-percentile pseudocount; [N, T]."""
    pseudo = np.percentile(ref, 25, axis=1, keepdims=True)
    ref_norm = ref + pseudo
    ref_norm = ref_norm / ref_norm.sum(axis=1, keepdims=True)
    alt_norm = alt + pseudo
    alt_norm = alt_norm / alt_norm.sum(axis=1, keepdims=True)
    return (rel_entr(ref_norm, alt_norm).sum(axis=1) + rel_entr(alt_norm, ref_norm).sum(axis=1)) / 2


def sad_stats(ref: np.ndarray, alt: np.ndarray, stats: Sequence[str]) -> dict[str, np.ndarray]:
    """The SAD family of statistics (REFERENCE 7.2), as the original stores them.

    Args:
        ref, alt: predictions [N, bins, T] (float32).
        stats: names from :data:`SAD_STATS`.

    Returns:
        stat -> float16 array [N, T] ([N, bins, T] for REF and ALT). Every statistic but
        SAX, JS and logJS is clipped to the finite float16 range first, as in the original.
    """
    ref = ref.astype(np.float32)
    alt = alt.astype(np.float32)
    out: dict[str, np.ndarray] = {}
    scales = {"": lambda x: x, "log": lambda x: np.log2(x + 1), "sqrt": np.sqrt}
    for prefix, fn in scales.items():
        wanted = [s for s in (f"{prefix}SAD", f"{prefix}D1", f"{prefix}D2") if s in stats]
        if not wanted:
            continue
        ref_t, alt_t = fn(ref), fn(alt)
        if f"{prefix}SAD" in stats:
            out[f"{prefix}SAD"] = alt_t.sum(axis=1) - ref_t.sum(axis=1)
        if f"{prefix}D1" in stats:
            out[f"{prefix}D1"] = np.abs(alt_t - ref_t).sum(axis=1)
        if f"{prefix}D2" in stats:
            out[f"{prefix}D2"] = np.sqrt(((alt_t - ref_t) ** 2).sum(axis=1))
    for name in out:
        out[name] = np.clip(out[name], -_FLOAT16_MAX, _FLOAT16_MAX)
    if "SAX" in stats:
        diff = alt - ref
        max_i = np.abs(diff).argmax(axis=1)
        out["SAX"] = np.take_along_axis(diff, max_i[:, None, :], axis=1)[:, 0, :]
    if "JS" in stats:
        out["JS"] = _js(ref, alt)
    if "logJS" in stats:
        out["logJS"] = _js(np.log2(ref + 1), np.log2(alt + 1))
    if "REF" in stats:
        out["REF"] = np.clip(ref, -_FLOAT16_MAX, _FLOAT16_MAX)
    if "ALT" in stats:
        out["ALT"] = np.clip(alt, -_FLOAT16_MAX, _FLOAT16_MAX)
    return {name: out[name].astype(np.float16) for name in stats}


def check_stats(stats: Sequence[str]) -> list[str]:
    """Validate ``--stats`` names; returns them as a list."""
    unknown = [s for s in stats if s not in SAD_STATS]
    if unknown:
        raise InputError(
            f"--stats: unknown statistic(s) {', '.join(unknown)}; choose from "
            f"{', '.join(SAD_STATS)}"
        )
    return list(stats)


# ---------------------------------------------------------------------------------------
# sad.h5
# ---------------------------------------------------------------------------------------


class SadWriter:
    """Stream rows into ``sad.h5`` (resizable datasets), then add the percentile tables.

    Args:
        path: an open-for-writing temporary path (see :func:`basenji_tf.files.atomic_path`).
        stats: statistic names.
        targets: the reported targets.
        num_bins: prediction length in bins (REF/ALT datasets).
    """

    def __init__(self, path: str, stats: Sequence[str], targets: TargetSet, num_bins: int):
        self.h5 = h5py.File(path, "w")
        self.stats = list(stats)
        self.rows = 0
        num_targets = len(targets.ids)
        for name in ("snp", "chr", "ref_allele", "alt_allele"):
            self.h5.create_dataset(name, (0,), dtype="S1", maxshape=(None,), chunks=(4096,))
        self.h5.create_dataset("pos", (0,), dtype="uint32", maxshape=(None,), chunks=(4096,))
        self.h5.create_dataset("target_ids", data=np.array(targets.ids, dtype="S"))
        self.h5.create_dataset("target_labels", data=np.array(targets.labels, dtype="S"))
        for stat in self.stats:
            shape = (num_bins, num_targets) if stat in ("REF", "ALT") else (num_targets,)
            self.h5.create_dataset(
                stat, (0, *shape), dtype="float16", maxshape=(None, *shape),
                chunks=(max(1, min(64, 2**20 // (2 * int(np.prod(shape))))), *shape),
            )  # fmt: skip

    def _append_strings(self, name: str, values: list[str]) -> None:
        data = np.array(values, dtype="S")
        dset = self.h5[name]
        if data.dtype.itemsize > dset.dtype.itemsize:
            # h5py cannot widen a fixed-length string dataset in place: rewrite it.
            old = dset[:]
            del self.h5[name]
            dset = self.h5.create_dataset(
                name, data=old.astype(data.dtype), maxshape=(None,), chunks=(4096,)
            )
        dset.resize((self.rows + len(values),))
        dset[self.rows :] = data

    def append(self, variants: Sequence[Variant], scores: dict[str, np.ndarray]) -> None:
        """Add rows: ``scores[stat]`` is [len(variants), ...] float16."""
        if not variants:
            return
        self._append_strings("snp", [v.id for v in variants])
        self._append_strings("chr", [v.chrom for v in variants])
        self._append_strings("ref_allele", [v.ref for v in variants])
        self._append_strings("alt_allele", [v.alt for v in variants])
        end = self.rows + len(variants)
        self.h5["pos"].resize((end,))
        self.h5["pos"][self.rows :] = [v.pos for v in variants]
        for stat in self.stats:
            self.h5[stat].resize((end, *self.h5[stat].shape[1:]))
            self.h5[stat][self.rows :] = scores[stat]
        self.rows = end

    def close(self) -> None:
        write_percentiles(self.h5, self.stats)
        self.h5.close()


def write_percentiles(h5: h5py.File, stats: Sequence[str], block: int = 256) -> None:
    """Add ``percentiles`` and ``{stat}_pct`` [T, 279] (float16) over all rows.

    Targets are processed in blocks of columns so memory stays at rows x block values.
    With no rows the tables are NaN.
    """
    if "percentiles" in h5:
        del h5["percentiles"]
    h5.create_dataset("percentiles", data=PERCENTILES)
    for stat in stats:
        if stat in ("REF", "ALT"):
            continue
        dset = h5[stat]
        num_targets = dset.shape[1]
        table = np.full((num_targets, len(PERCENTILES)), np.nan, dtype=np.float16)
        if dset.shape[0]:
            for t0 in range(0, num_targets, block):
                values = dset[:, t0 : t0 + block]
                table[t0 : t0 + block] = np.percentile(values, 100 * PERCENTILES, axis=0).T
        name = f"{stat}_pct"
        if name in h5:
            del h5[name]
        h5.create_dataset(name, data=table)


def merge_sad(job_files: Sequence[str], out_file: str, chunk_rows: int = 4096) -> int:
    """Concatenate shard ``sad.h5`` files (in order) into one and recompute percentiles.

    Returns:
        the number of rows written.
    """
    with h5py.File(job_files[0], "r") as first:
        stats = [k for k in first if k in SAD_STATS]
        per_row = ["snp", "chr", "pos", "ref_allele", "alt_allele", *stats]
        shapes = {k: first[k].shape[1:] for k in per_row}
        dtypes = {k: first[k].dtype for k in per_row}
        target_ids = first["target_ids"][:]
        target_labels = first["target_labels"][:]
    with atomic_path(out_file) as tmp, h5py.File(tmp, "w") as out:
        total = 0
        for job in job_files:
            with h5py.File(job, "r") as h5:
                total += h5["snp"].shape[0]
                for k in ("snp", "chr", "ref_allele", "alt_allele"):
                    dtypes[k] = max(dtypes[k], h5[k].dtype, key=lambda d: d.itemsize)
        for k in per_row:
            out.create_dataset(k, (total, *shapes[k]), dtype=dtypes[k])
        out.create_dataset("target_ids", data=target_ids)
        out.create_dataset("target_labels", data=target_labels)
        row = 0
        for job in job_files:
            with h5py.File(job, "r") as h5:
                n = h5["snp"].shape[0]
                for r0 in range(0, n, chunk_rows):
                    r1 = min(n, r0 + chunk_rows)
                    for k in per_row:
                        out[k][row + r0 : row + r1] = h5[k][r0:r1]
                row += n
        write_percentiles(out, stats)
    return total


# ---------------------------------------------------------------------------------------
# Prediction: ensembles, batching, cone splicing
# ---------------------------------------------------------------------------------------


class EnsemblePredictor:
    """Ensemble-averaged predictions of many sequences per model call.

    Members are the original's: for each shift (zero-padded, not undone on the output) the
    sequence, and with ``rc`` its reverse complement, whose predictions are flipped back
    along the length and have strand-paired columns swapped. Members are averaged with
    equal weights.

    Args:
        model: ``keras.Model`` [batch, L, 4] -> [batch, bins, T] (one SeqNN head), or any
            callable returning a numpy array of that shape.
        rc: add reverse-complement members.
        shifts: bp shifts of the members.
        strand_pair: per output column, its other-strand column (None or empty: none).
        target_slice: model output columns to keep, applied before averaging.
        batch_size: sequences (members included) per model call.
        splice: reuse REF activations outside each ALT's cone (see
            :class:`~basenji_tf.cone.ConeSplice`).
        share_towers: with ``splice``, compute the towers of overlapping REF windows
            together (see :class:`~basenji_tf.cone.SharedTower`); None: when the model's
            tower is costly enough to gain from it (Basenji2, not small test models).
    """

    def __init__(
        self,
        model,
        rc: bool = False,
        shifts: Sequence[int] = (0,),
        strand_pair: Sequence[int] | None = None,
        target_slice: Sequence[int] | None = None,
        batch_size: int = 8,
        splice: ConeSplice | None = None,
        share_towers: bool | None = None,
    ):
        self.model = model
        self.members = [(s, fw) for s in shifts for fw in ((True, False) if rc else (True,))]
        has_pairs = strand_pair is not None and len(strand_pair) > 0
        self.strand_pair = np.asarray(strand_pair) if has_pairs else None
        self.target_slice = None if target_slice is None else np.asarray(target_slice)
        self.batch_size = max(1, batch_size)
        self.splice = splice
        self.shared = None
        if splice is not None and share_towers is not False:
            from basenji_tf.cone import SharedTower

            try:
                shared = SharedTower(splice)
            except ValueError as err:
                log.info("REF towers computed window by window: %s", err)
            else:
                worth = shared.window_gflops >= SharedTower.MIN_WORTH_GFLOPS
                self.shared = shared if share_towers or worth else None

    def _call(self, fn: Callable, x: np.ndarray) -> np.ndarray:
        if hasattr(fn, "predict_on_batch"):  # a Keras model
            from basenji_tf.seqnn import traced_inference

            fn = traced_inference(fn)
        outs = []
        for b0 in range(0, len(x), self.batch_size):
            # One input shape per model: no retracing, and a sequence's outputs do not
            # depend on which sequences share its batch (sharded runs equal single ones).
            n = min(self.batch_size, len(x) - b0)
            batch = _pad_rows(x[b0 : b0 + n], self.batch_size)
            outs.append(np.asarray(fn(batch))[:n])
        return np.concatenate(outs)

    def _member_inputs(self, seqs: np.ndarray) -> np.ndarray:
        """[members * N, L, 4], member-major."""
        return np.concatenate([hot1_augment(seqs, fwdrc=fw, shift=s) for s, fw in self.members])

    def _average(self, preds: np.ndarray, n: int) -> np.ndarray:
        """Member-major raw predictions [members * n, bins, T] -> averaged [n, bins, T']."""
        if self.target_slice is not None:
            preds = preds[..., self.target_slice]
        total = np.zeros((n, *preds.shape[1:]), dtype=np.float32)
        for m, (_, fw) in enumerate(self.members):
            p = preds[m * n : (m + 1) * n]
            if not fw:
                p = p[:, ::-1]
                if self.strand_pair is not None:
                    p = p[..., self.strand_pair]
            total += p
        return total / len(self.members)

    def predict(self, seqs: np.ndarray) -> np.ndarray:
        """Ensemble predictions of one-hot sequences [N, L, 4] -> float32 [N, bins, T]."""
        seqs = np.asarray(seqs, dtype=np.float32)
        return self._average(self._call(self.model, self._member_inputs(seqs)), len(seqs))

    def predict_pairs(
        self,
        refs: np.ndarray,
        alts: np.ndarray,
        alt_ref: np.ndarray,
        ref_starts: Sequence[tuple[str, int] | None] | None = None,
        genome: Genome | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble predictions of REF windows and of ALT windows each derived from one.

        Args:
            refs: [R, L, 4] reference windows.
            alts: [A, L, 4] alternative windows.
            alt_ref: [A] index into ``refs`` of each ALT's reference.
            ref_starts: per REF window, (chromosome, start bp) in ``genome``, or None;
                with both, overlapping windows share their tower.
            genome: the FASTA the windows come from.

        Returns:
            (ref predictions [R, bins, T], alt predictions [A, bins, T]), float32.
        """
        refs = np.asarray(refs, dtype=np.float32)
        alts = np.asarray(alts, dtype=np.float32)
        if self.splice is None:
            both = self.predict(np.concatenate([refs, alts]))
            return both[: len(refs)], both[len(refs) :]
        num_m = len(self.members)
        ref_in = self._member_inputs(refs)
        alt_in = self._member_inputs(alts)
        alt_ref_m = np.concatenate([m * len(refs) + np.asarray(alt_ref) for m in range(num_m)])
        if self.shared is not None and ref_starts is not None and genome is not None:

            def fetch(chrom: str, start: int, end: int) -> np.ndarray:
                return dna_1hot(genome.fetch(chrom, start, end), n_uniform=True)

            ref_tower = self.shared.outputs(ref_starts, self.members, ref_in, self._call, fetch)
        else:
            ref_tower = self._call(self.splice.tower, ref_in)
        ref_raw, alt_raw = self._spliced(ref_tower, ref_in, alt_in, alt_ref_m)
        return self._average(ref_raw, len(refs)), self._average(alt_raw, len(alts))

    def _spliced(
        self, ref_tower: np.ndarray, ref_in: np.ndarray, alt_in: np.ndarray, alt_ref: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw REF and ALT predictions of member inputs through the :class:`ConeSplice`,
        given the REF inputs' tower outputs.

        ALTs that differ from their REF in a short stretch get the tower on a local window
        and the rest of the model on their band; others (indels) get the full pass.
        """
        sp = self.splice
        local, band_rows, starts, whole = [], [], [], []
        for j in range(len(alt_in)):
            diff = np.nonzero((alt_in[j] != ref_in[alt_ref[j]]).any(axis=-1))[0]
            first, last = (int(diff[0]), int(diff[-1])) if len(diff) else (0, 0)
            start = sp.patch_start(first, last)
            if start is None:
                whole.append(j)
                continue
            w0 = sp.local_start(start)
            local.append(alt_in[j, w0 * sp.stride_bp : (w0 + sp.local_bins) * sp.stride_bp])
            band_rows.append(j)
            starts.append((start, start - w0))
        # ALTs taking the full pass join the REF rows, with no band of their own.
        rows = ref_tower
        if whole:
            rows = np.concatenate([ref_tower, self._call(sp.tower, alt_in[whole])])
        channels = ref_tower.shape[-1]
        patches = np.zeros((len(band_rows), sp.patch_bins, channels), np.float32)
        if local:
            local_out = self._call(sp.local_tower, np.stack(local))
            for k, (_, at) in enumerate(starts):
                patches[k] = local_out[k, at : at + sp.patch_bins]
        band_ref = alt_ref[band_rows] if band_rows else np.zeros(0, int)
        band_start = np.array([s for s, _ in starts], dtype=int)
        alt_out = np.empty((len(alt_in), *sp.output_shape), np.float32)
        row_out = self._rest_chunks(rows, patches, band_ref, band_start, band_rows, alt_out)
        num_refs = len(ref_in)
        alt_out[whole] = row_out[num_refs:]
        return row_out[:num_refs], alt_out

    def _rest_chunks(
        self, rows: np.ndarray, patches: np.ndarray, band_ref: np.ndarray,
        band_start: np.ndarray, band_rows: Sequence[int], alt_out: np.ndarray,
    ) -> np.ndarray:
        """The layers after the tower: REF rows in chunks of ``batch_size``, then the
        bands of each chunk's ALTs in groups of ``batch_size``.

        Every call has the same shapes, so that a row's outputs do not depend on which
        rows share its batch (a sharded run then equals a single one).

        Returns:
            predictions of ``rows``; the ALT predictions go into ``alt_out[band_rows]``.
        """
        sp = self.splice
        band_rows = np.asarray(band_rows, dtype=int)
        row_out = []
        for r0 in range(0, len(rows), self.batch_size):
            r1 = min(r0 + self.batch_size, len(rows))
            saved = sp.ref_pass(_pad_rows(rows[r0:r1], self.batch_size))
            row_out.append(saved[-1].numpy()[: r1 - r0])
            mine = np.nonzero((band_ref >= r0) & (band_ref < r1))[0]
            for g in range(0, len(mine), self.batch_size):
                group = mine[g : g + self.batch_size]
                out = sp.band_pass(
                    saved, _pad_rows(patches[group], self.batch_size),
                    _pad_rows(band_ref[group] - r0, self.batch_size),
                    _pad_rows(band_start[group], self.batch_size),
                )  # fmt: skip
                alt_out[band_rows[group]] = out[: len(group)]
        return np.concatenate(row_out)


def _pad_rows(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` with zero rows appended up to ``n`` rows."""
    if len(x) >= n:
        return x
    return np.concatenate([x, np.zeros((n - len(x), *x.shape[1:]), x.dtype)])


# ---------------------------------------------------------------------------------------
# The basenji_sad run
# ---------------------------------------------------------------------------------------


def _clusters(
    variants: Sequence[Variant], cluster_bp: int
) -> list[tuple[Variant, list[Variant]]]:
    """Group SNVs of one batch lying within ``cluster_bp`` of their group's first member.

    SNVs are grouped in (chromosome, position) order, so unsorted VCFs cluster too; other
    variants stay alone. Groups depend on which variants share a batch.

    Returns:
        (anchor, members): each group is scored in the window of its middle member.
    """
    if cluster_bp <= 0:
        return [(v, [v]) for v in variants]
    groups: list[list[Variant]] = []
    snvs = sorted((v for v in variants if v.is_snv), key=lambda v: (v.chrom, v.pos))
    for v in snvs:
        g = groups[-1] if groups else None
        if g is not None and v.chrom == g[0].chrom and v.pos - g[0].pos <= cluster_bp:
            g.append(v)
        else:
            groups.append([v])
    groups += [[v] for v in variants if not v.is_snv]
    return [(g[len(g) // 2], g) for g in groups]


def _cluster_windows(
    genome: Genome, anchor: Variant, members: list[Variant], seq_length: int
) -> tuple[np.ndarray, list[tuple[Variant, np.ndarray]], list[Variant]]:
    """One REF window centred on ``anchor``, and each member's ALT substituted in it.

    Returns:
        (ref [L, 4], [(variant, alt [L, 4])], members whose REF does not match the genome
        here; these are scored on their own so that a REF swap or mismatch is handled as in
        the exact mode).
    """
    left = seq_length // 2 - 1
    start0 = anchor.pos - 1 - left
    seq = genome.fetch(anchor.chrom, start0, start0 + seq_length)
    ref = dna_1hot(seq, n_uniform=True)
    alts, singles = [], []
    for v in members:
        offset = v.pos - 1 - start0
        if seq[offset : offset + len(v.ref)] != v.ref:
            singles.append(v)
            continue
        alt = ref.copy()
        alt[offset : offset + len(v.alt)] = dna_1hot(v.alt, n_uniform=True)
        alts.append((v, alt))
    return ref, alts, singles


@dataclass
class SadOptions:
    """Options of a basenji_sad run (see ``basenji_sad.py --help``)."""

    stats: list[str] = field(default_factory=lambda: ["SAD"])
    batch_variants: int = 16
    cluster_bp: int = 0
    first_alt: bool = False
    strict: bool = False
    record_range: tuple[int, int] | None = None

    def __post_init__(self):
        if self.batch_variants < 1:
            raise InputError(
                f"--batch_variants {self.batch_variants}: must be a positive number of records"
            )
        if self.cluster_bp < 0:
            raise InputError(f"--cluster {self.cluster_bp}: must be 0 (off) or a positive bp")


def score_vcf(
    predictor: EnsemblePredictor,
    genome: Genome,
    vcf_file: str,
    out_file: str,
    targets: TargetSet,
    options: SadOptions,
) -> VcfCounts:
    """Score every ALT allele of a VCF and write ``sad.h5``.

    Args:
        predictor: the model head with its ensemble, target slice and cone splice
            (see :func:`scoring_setup`).
        genome: the FASTA.
        vcf_file: plain or bgzipped VCF; streamed, memory independent of its size.
        out_file: ``sad.h5`` path (written atomically).
        targets: un-transformation, strand collapse and names of the reported targets.
        options: see :class:`SadOptions`.

    Returns:
        counts of records, rows and skips (also logged as a summary).
    """
    seq_length = int(predictor.model.input.shape[1])
    num_bins = int(predictor.model.output.shape[1])
    if options.cluster_bp >= seq_length // 2 - 1:
        raise InputError(
            f"--cluster {options.cluster_bp}: must be shorter than half the model's "
            f"{seq_length} bp window, or every variant could fall outside it"
        )
    counts = VcfCounts()
    variants = read_vcf(vcf_file, genome, counts, options.first_alt, options.record_range)
    with atomic_path(out_file) as tmp:
        writer = SadWriter(tmp, options.stats, targets, num_bins)
        try:
            progress = tqdm(desc="variants", unit=" variants", disable=None)
            batch: list[Variant] = []
            context = (genome, predictor, targets, options, seq_length, counts, writer)
            # A batch holds the rows of `batch_variants` consecutive records, counted from
            # the file's first record: shards cut at batch boundaries (shard_range) then
            # see the same batches, and so compute bit for bit the same scores.
            for v in variants:
                if batch and v.record // options.batch_variants != (
                    batch[0].record // options.batch_variants
                ):
                    _score_batch(batch, *context)
                    progress.update(len(batch))
                    batch = []
                batch.append(v)
            _score_batch(batch, *context)
            progress.update(len(batch))
            progress.close()
        finally:
            writer.close()
    log.info("%s", counts.summary())
    if predictor.shared is not None:
        towers = predictor.shared.counts
        log.info(
            "REF towers: %d inputs from shared sequences, %d on their own",
            towers["shared"], towers["alone"],
        )  # fmt: skip
    return counts


def _score_batch(
    batch: list[Variant],
    genome: Genome,
    predictor: EnsemblePredictor,
    targets: TargetSet,
    options: SadOptions,
    seq_length: int,
    counts: VcfCounts,
    writer: SadWriter,
) -> None:
    if not batch:
        return
    refs, ref_starts, alts, alt_ref, rows = [], [], [], [], []
    order = {id(v): i for i, v in enumerate(batch)}
    # ALT alleles of one record share a REF window when they extend it alike
    ref_of_site: dict[tuple, int] = {}

    def add_single(v: Variant) -> None:
        windows = variant_windows(genome, v, seq_length, counts, options.strict)
        if windows is None:
            return
        site = (v.line, v.chrom, v.pos, v.ref, max(0, len(v.ref) - len(v.alt)))
        if site not in ref_of_site:
            ref_of_site[site] = len(refs)
            refs.append(windows[0])
            ref_starts.append((v.chrom, ref_window_start(v, seq_length)))
        alt_ref.append(ref_of_site[site])
        alts.append(windows[1])
        rows.append(v)

    for anchor, members in _clusters(batch, options.cluster_bp):
        if len(members) == 1:
            add_single(anchor)
            continue
        ref, member_alts, singles = _cluster_windows(genome, anchor, members, seq_length)
        if member_alts:
            refs.append(ref)
            ref_starts.append((anchor.chrom, anchor.pos - seq_length // 2))
            for v, alt in member_alts:
                alt_ref.append(len(refs) - 1)
                alts.append(alt)
                rows.append(v)
        for v in singles:
            add_single(v)
    if not rows:
        return
    # Rows go out in VCF order whatever the grouping.
    perm = np.argsort([order[id(v)] for v in rows], kind="stable")
    alt_ref_arr = np.array(alt_ref)[perm]
    ref_preds, alt_preds = predictor.predict_pairs(
        np.stack(refs), np.stack(alts)[perm], alt_ref_arr, ref_starts, genome
    )
    ref_preds = targets.transform(ref_preds[alt_ref_arr])
    alt_preds = targets.transform(alt_preds)
    writer.append([rows[i] for i in perm], sad_stats(ref_preds, alt_preds, options.stats))


# ---------------------------------------------------------------------------------------
# Models and parallel runs
# ---------------------------------------------------------------------------------------


def load_scoring_model(params_file: str, model_file: str, head_i: int = 0):
    """A SeqNN head for inference, restored from ``model_file``.

    Training augmentation is left out of the graph: it is the identity at inference and has
    no weights, and without it the graph can be cut for
    :class:`~basenji_tf.cone.ConeSplice`.

    Returns:
        (the SeqNN, its ``keras.Model`` for ``head_i``, that head's strand pairs or None).
    """
    from basenji_tf.params import read_params
    from basenji_tf.seqnn import SeqNN

    params_model = dict(read_params(params_file)["model"])
    params_model["augment_rc"] = False
    params_model["augment_shift"] = 0
    seqnn_model = SeqNN(params_model, source=str(params_file))
    seqnn_model.restore(model_file, head_i=head_i)
    pairs = seqnn_model.strand_pair
    strand_pair = list(pairs[head_i]) if head_i < len(pairs) and len(pairs[head_i]) else None
    return seqnn_model, seqnn_model.models[head_i], strand_pair


def shard_range(
    num_records: int, shard_i: int, num_shards: int, align: int = 1
) -> tuple[int, int]:
    """Record range ``[first, last)`` of shard ``shard_i``: the original's even split,
    with inner boundaries rounded down to multiples of ``align`` records (the scoring batch, so
    that each shard's batches are the single run's)."""
    bounds = np.linspace(0, num_records, num_shards + 1)
    bounds = (np.floor(bounds / align) * align).astype(int)
    bounds[-1] = num_records
    return int(bounds[shard_i]), int(bounds[shard_i + 1])


def run_shards(
    worker_argv: Sequence[str], out_dir: str, num_shards: int, max_proc: int | None = None
) -> str:
    """Run ``basenji_sad.py`` on ``num_shards`` shards in local processes, then merge.

    Each worker gets ``--shard i/N -o out_dir/job{i}`` appended to ``worker_argv`` and an
    equal share of the CPU threads; their ``sad.h5`` files are merged into
    ``out_dir/sad.h5`` (rows in VCF order, percentiles over all rows).

    Returns:
        path of the merged file.

    Raises:
        RuntimeError: a worker failed (its stderr is in ``out_dir/job{i}/stderr.txt``).
    """
    import subprocess
    import sys

    max_proc = max_proc or num_shards
    threads = max(1, (os.cpu_count() or 1) // min(max_proc, num_shards))
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1",
               OMP_NUM_THREADS=str(threads))  # fmt: skip
    job_dirs = [os.path.join(out_dir, f"job{i}") for i in range(num_shards)]
    running: list[tuple[int, subprocess.Popen]] = []
    failed = []

    def wait_one() -> None:
        i, proc = running.pop(0)
        if proc.wait() != 0:
            failed.append(i)

    for i, job_dir in enumerate(job_dirs):
        os.makedirs(job_dir, exist_ok=True)
        if len(running) >= max_proc:
            wait_one()
        argv = [sys.executable, "-m", "basenji_tf.cli.basenji_sad", *worker_argv,
                "--shard", f"{i}/{num_shards}", "-o", job_dir]  # fmt: skip
        with open(os.path.join(job_dir, "stderr.txt"), "w") as err:
            running.append((i, subprocess.Popen(argv, env=env, stderr=err)))
    while running:
        wait_one()
    if failed:
        raise RuntimeError(
            f"shard(s) {', '.join(map(str, failed))} failed; see "
            f"{os.path.join(out_dir, f'job{failed[0]}', 'stderr.txt')}"
        )
    out_file = os.path.join(out_dir, "sad.h5")
    rows = merge_sad([os.path.join(d, "sad.h5") for d in job_dirs], out_file)
    log.info("merged %d shards, %d rows into %s", num_shards, rows, out_file)
    return out_file


def scoring_setup(
    params_file: str,
    model_file: str,
    head_i: int = 0,
    targets_file: str | None = None,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    batch_size: int = 8,
    splice: bool = True,
):
    """Model, ensemble predictor and target set for a scoring command.

    Returns:
        (SeqNN, keras head model, :class:`EnsemblePredictor`, :class:`TargetSet`); the
        predictor keeps the targets table's channels (its strand pairs swap under RC).
    """
    seqnn_model, model, strand_pair = load_scoring_model(params_file, model_file, head_i)
    if targets_file:
        targets = TargetSet.from_table(targets_file)
        num_outputs = int(model.output.shape[-1])
        if targets.slice.max() >= num_outputs or targets.slice.min() < 0:
            raise InputError(
                f"{targets_file}: index {int(targets.slice.max())} is not an output of head "
                f"{head_i} ({num_outputs} outputs); use the targets table of this head"
            )
        strand_pair = targets.strand_pair
    else:
        targets = TargetSet.all_outputs(int(model.output.shape[-1]))
    cone = None
    if splice:
        from basenji_tf.cone import ConeSplice

        try:
            cone = ConeSplice(model)
        except ValueError as err:
            log.info("no cone splicing (%s)", err)
    predictor = EnsemblePredictor(
        model, rc, shifts, strand_pair, targets.slice, batch_size, cone
    )
    return seqnn_model, model, predictor, targets
