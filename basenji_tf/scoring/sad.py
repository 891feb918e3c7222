"""SAD scores (``basenji_sad.py``): VCF -> REF/ALT windows -> ensemble predictions -> sad.h5.

:func:`run_sad` is the command: it scores a VCF in this process (:func:`score_vcf`), or
as shard tasks (:func:`score_task`) on an :class:`~basenji_tf.execute.Executor`
whose ``sad.h5`` files it merges. :func:`sad_stats` computes the SAD family of statistics.

Differences from the original (``bin/basenji_sad.py``), besides those of
:mod:`basenji_tf.scoring.vcf` and :mod:`basenji_tf.scoring.target_set`: ``*_pct`` tables
of a multi-process run are recomputed over all rows, so they equal a single-process run
(the original averages the per-job tables).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import rel_entr

from basenji_tf.dna import dna_1hot
from basenji_tf.errors import InputError
from basenji_tf.execute import Executor, shard_range
from basenji_tf.files import atomic_path
from basenji_tf.genome import Genome
from basenji_tf.progress import track
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec, load_predictor
from basenji_tf.scoring.outputs import SAD_STATS, SadWriter, clip_float16, merge_sad
from basenji_tf.scoring.shards import absolute_model, check_shardable, run_shards
from basenji_tf.scoring.target_set import TargetSet
from basenji_tf.scoring.vcf import (
    Variant,
    VcfCounts,
    count_vcf_records,
    read_vcf,
    ref_window_start,
    variant_windows,
    window_bounds,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------


def _js(ref: np.ndarray, alt: np.ndarray) -> np.ndarray:
    """Symmetric KL divergence over bins after a 25th-percentile pseudocount; [N, T].

    Computed in the inputs' dtype (float64 from :func:`sad_stats`).
    """
    pseudo = np.percentile(ref, 25, axis=1, keepdims=True)
    ref_norm = ref + pseudo
    ref_norm = ref_norm / ref_norm.sum(axis=1, keepdims=True)
    alt_norm = alt + pseudo
    alt_norm = alt_norm / alt_norm.sum(axis=1, keepdims=True)
    return (rel_entr(ref_norm, alt_norm).sum(axis=1) + rel_entr(alt_norm, ref_norm).sum(axis=1)) / 2


def sad_stats(ref: np.ndarray, alt: np.ndarray, stats: Sequence[str]) -> dict[str, np.ndarray]:
    """The SAD family of statistics (REFERENCE 7.2), as the original stores them.

    Args:
        ref: REF predictions [N, bins, T] (float32).
        alt: ALT predictions [N, bins, T] (float32).
        stats: names from :data:`~basenji_tf.scoring.outputs.SAD_STATS`.

    Returns:
        stat -> float16 array [N, T] ([N, bins, T] for REF and ALT). Every statistic but
        SAX, JS and logJS is clipped to the finite float16 range first, as in the original.

    Differences from the original: the sums over bins (SAD, D1, D2 and their log and sqrt
    forms) accumulate in float64 the per-bin float32 terms, and JS and logJS are computed
    in float64, so a sum is rounded once, to float16. The original sums in float32,
    whose rounding over ~1,000 bins moves a score by up to ~5e-4 (docs/precision.md);
    REF, ALT and SAX are no sums and stay float32 values, as the original's.
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
            out[f"{prefix}SAD"] = _sum64(alt_t) - _sum64(ref_t)
        if f"{prefix}D1" in stats:
            out[f"{prefix}D1"] = _sum64(np.abs(alt_t - ref_t))
        if f"{prefix}D2" in stats:
            out[f"{prefix}D2"] = np.sqrt(_sum64((alt_t - ref_t) ** 2))
    out = {name: clip_float16(values) for name, values in out.items()}
    if "SAX" in stats:
        diff = alt - ref
        max_i = np.abs(diff).argmax(axis=1)
        out["SAX"] = np.take_along_axis(diff, max_i[:, None, :], axis=1)[:, 0, :]
    if "JS" in stats or "logJS" in stats:
        ref64, alt64 = ref.astype(np.float64), alt.astype(np.float64)
        if "JS" in stats:
            out["JS"] = _js(ref64, alt64)
        if "logJS" in stats:
            out["logJS"] = _js(np.log2(ref64 + 1), np.log2(alt64 + 1))
    if "REF" in stats:
        out["REF"] = clip_float16(ref)
    if "ALT" in stats:
        out["ALT"] = clip_float16(alt)
    return {name: out[name].astype(np.float16) for name in stats}


def _sum64(values: np.ndarray) -> np.ndarray:
    """[N, bins, T] -> [N, T] summed over the bins with a float64 accumulator (no copy)."""
    return values.sum(axis=1, dtype=np.float64)


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
# Scoring a VCF
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SadOptions:
    """Options of a basenji_sad run (see ``basenji_sad.py --help``).

    Attributes:
        stats: statistic names (:func:`check_stats`).
        batch_variants: VCF records read and scored together.
        cluster_bp: SNVs of a batch within this many bp of their group's first member
            share one REF window, centred on the group's middle member (0: off).
        cluster_pct: the original ``basenji_sad_ref.py -c``: SNVs of a batch lying less
            than ``int(L * cluster_pct)`` bp after their group's first member share one REF
            window, centred on the midpoint ``(min + max) // 2`` of their positions, so
            each lies within the central ``cluster_pct`` of it (0: off; below 1).
        first_alt: score only the first ALT of each record.
        strict: fail on a REF mismatch instead of skipping the row.
        record_range: only data records ``[first, last)`` (a shard; None: all).
    """

    stats: tuple[str, ...] = ("SAD",)
    batch_variants: int = 16
    cluster_bp: int = 0
    cluster_pct: float = 0.0
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
        if not 0 <= self.cluster_pct < 1:
            raise InputError(
                f"-c {self.cluster_pct}: the central fraction of the window must be at "
                "least 0 (0: off) and below 1"
            )
        if self.cluster_pct and self.cluster_bp:
            raise InputError(
                f"-c {self.cluster_pct} and --cluster {self.cluster_bp}: give one way of "
                "clustering, not both"
            )


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
            (see :func:`~basenji_tf.scoring.ensemble.load_predictor`).
        genome: the FASTA.
        vcf_file: plain or bgzipped VCF; streamed, memory independent of its size.
        out_file: ``sad.h5`` path (written atomically).
        targets: un-transformation, strand collapse and names of the reported targets.
        options: see :class:`SadOptions`.

    Returns:
        counts of records, rows and skips (also logged as a summary).
    """
    seq_length = predictor.seq_length
    if options.cluster_bp >= seq_length // 2 - 1:
        raise InputError(
            f"--cluster {options.cluster_bp}: must be shorter than half the model's "
            f"{seq_length} bp window, or every variant could fall outside it"
        )
    counts = VcfCounts()
    variants = read_vcf(vcf_file, genome, counts, options.first_alt, options.record_range)
    with atomic_path(out_file) as tmp:
        num_bins = int(predictor.model.output.shape[1])
        writer = SadWriter(tmp, options.stats, targets.ids, targets.labels, num_bins)
        try:
            batcher = _Batcher(genome, predictor, targets, options, counts, writer)
            progress = track(desc="variants", unit="variants")
            batch: list[Variant] = []
            # A batch holds the rows of `batch_variants` consecutive records, counted from
            # the file's first record: shards cut at batch boundaries (shard_range) then
            # see the same batches, and so compute bit for bit the same scores.
            for v in variants:
                if batch and v.record // options.batch_variants != (
                    batch[0].record // options.batch_variants
                ):
                    batcher.score(batch)
                    progress.update(len(batch))
                    batch = []
                batch.append(v)
            batcher.score(batch)
            progress.update(len(batch))
            progress.close()
        finally:
            writer.close()
        # Rewritten as a merge of one shard: the streamed file's layout depends on how its
        # rows arrived, the rewritten one on its contents only, so -p N equals -p 1 byte
        # for byte (one more pass over the file).
        merge_sad([tmp], tmp)
    # read_vcf counted the rows it yielded; REF mismatches were skipped after that.
    counts.rows = writer.rows
    log.info("%s", counts.summary())
    if predictor.shared is not None:
        towers = predictor.shared.counts
        log.info(
            "REF towers: %d inputs from shared sequences, %d on their own",
            towers["shared"], towers["alone"],
        )  # fmt: skip
    return counts


@dataclass
class _Batcher:
    """Scores batches of variants of one :func:`score_vcf` run into its writer."""

    genome: Genome
    predictor: EnsemblePredictor
    targets: TargetSet
    options: SadOptions
    counts: VcfCounts
    writer: SadWriter

    def score(self, batch: list[Variant]) -> None:
        """Predict and score one batch; rows go out in VCF order whatever the grouping."""
        if not batch:
            return
        windows = _BatchWindows(self.genome, self.predictor.seq_length, self.counts,
                                self.options.strict)  # fmt: skip
        groups = _clusters(
            batch, self.options.cluster_bp, self.options.cluster_pct, self.predictor.seq_length
        )
        for center_pos, members in groups:
            if len(members) == 1:
                windows.add_single(members[0])
            else:
                windows.add_cluster(center_pos, members)
        if not windows.rows:
            return
        order = {id(v): i for i, v in enumerate(batch)}
        perm = np.argsort([order[id(v)] for v in windows.rows], kind="stable")
        alt_ref = np.array(windows.alt_ref)[perm]
        ref_preds, alt_preds = self.predictor.predict_pairs(
            np.stack(windows.refs), np.stack(windows.alts)[perm], alt_ref, windows.ref_starts,
            self.genome,
        )  # fmt: skip
        ref_preds = self.targets.transform(ref_preds[alt_ref])
        alt_preds = self.targets.transform(alt_preds)
        scores = sad_stats(ref_preds, alt_preds, self.options.stats)
        self.writer.append([windows.rows[i] for i in perm], scores)


@dataclass
class _BatchWindows:
    """The REF and ALT windows of one batch, with each ALT's REF and each REF's start."""

    genome: Genome
    seq_length: int
    counts: VcfCounts
    strict: bool
    refs: list[np.ndarray] = field(default_factory=list)
    ref_starts: list[tuple[str, int]] = field(default_factory=list)
    alts: list[np.ndarray] = field(default_factory=list)
    alt_ref: list[int] = field(default_factory=list)
    rows: list[Variant] = field(default_factory=list)
    # ALT alleles of one record share a REF window when they extend it alike
    _ref_of_site: dict[tuple, int] = field(default_factory=dict)

    def add_single(self, v: Variant) -> None:
        """A variant in its own centred window (:func:`variant_windows`)."""
        windows = variant_windows(self.genome, v, self.seq_length, self.counts, self.strict)
        if windows is None:
            return
        site = (v.line, v.chrom, v.pos, v.ref, v.deletion_bp)
        if site not in self._ref_of_site:
            self._ref_of_site[site] = len(self.refs)
            self.refs.append(windows[0])
            self.ref_starts.append((v.chrom, ref_window_start(v, self.seq_length)))
        self._add_alt(v, windows[1], self._ref_of_site[site])

    def add_cluster(self, center_pos: int, members: list[Variant]) -> None:
        """SNVs of one chromosome sharing the window centred on VCF position ``center_pos``.

        The window is :func:`window_bounds` of ``center_pos``. A member whose REF the
        window does not hold is scored on its own (REF swaps and mismatches as in exact
        mode).
        """
        chrom = members[0].chrom
        start, _ = window_bounds(center_pos, self.seq_length)
        seq = self.genome.fetch(chrom, start, start + self.seq_length)
        ref = dna_1hot(seq, n_uniform=True)
        singles, ref_i = [], None
        for v in members:
            offset = v.pos - 1 - start
            if seq[offset : offset + len(v.ref)] != v.ref:
                singles.append(v)
                continue
            if ref_i is None:
                ref_i = len(self.refs)
                self.refs.append(ref)
                self.ref_starts.append((chrom, start))
            alt = ref.copy()
            alt[offset : offset + len(v.alt)] = dna_1hot(v.alt, n_uniform=True)
            self._add_alt(v, alt, ref_i)
        for v in singles:
            self.add_single(v)

    def _add_alt(self, v: Variant, alt: np.ndarray, ref_i: int) -> None:
        self.alt_ref.append(ref_i)
        self.alts.append(alt)
        self.rows.append(v)


def _clusters(
    variants: Sequence[Variant], cluster_bp: int, cluster_pct: float = 0.0, seq_length: int = 0
) -> list[tuple[int, list[Variant]]]:
    """Group the SNVs of one batch that share a REF window.

    SNVs are grouped in (chromosome, position) order, so unsorted VCFs cluster too; other
    variants stay alone. Groups depend on which variants share a batch. A group starts at
    an SNV and takes the next ones of its chromosome while they lie within ``cluster_bp``
    bp of that first SNV (``pos - first <= cluster_bp``, window centred on the group's
    middle member) or, with ``cluster_pct``, less than ``int(seq_length * cluster_pct)``
    bp after it (the original ``basenji_sad_ref.cluster_snps``, window centred on the
    midpoint ``(min + max) // 2`` of the positions).

    Returns:
        (centre, members): each group is scored in the window :func:`window_bounds`
        centres on VCF position ``centre``; a variant alone has its own position.
    """
    if cluster_pct > 0:
        reach = int(seq_length * cluster_pct)

        def joins(first: Variant, v: Variant) -> bool:
            return v.pos < first.pos + reach

        def centre(group: list[Variant]) -> int:
            return (group[0].pos + group[-1].pos) // 2

    elif cluster_bp > 0:

        def joins(first: Variant, v: Variant) -> bool:
            return v.pos - first.pos <= cluster_bp

        def centre(group: list[Variant]) -> int:
            return group[len(group) // 2].pos

    else:
        return [(v.pos, [v]) for v in variants]
    groups: list[list[Variant]] = []
    snvs = sorted((v for v in variants if v.is_snv), key=lambda v: (v.chrom, v.pos))
    for v in snvs:
        g = groups[-1] if groups else None
        if g is not None and v.chrom == g[0].chrom and joins(g[0], v):
            g.append(v)
        else:
            groups.append([v])
    groups += [[v] for v in variants if not v.is_snv]
    return [(centre(g), g) for g in groups]


# ---------------------------------------------------------------------------------------
# The command: one process or shard tasks
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SadTask:
    """One :func:`score_vcf` run: everything a process needs to score a VCF or a shard."""

    model: ModelSpec
    fasta: str
    vcf_file: str
    out_file: str
    options: SadOptions


def score_task(task: SadTask) -> str:
    """Load the model, score the task's records into its ``sad.h5``; returns that path."""
    _, predictor, targets = load_predictor(task.model)
    with Genome(task.fasta) as genome:
        score_vcf(predictor, genome, task.vcf_file, task.out_file, targets, task.options)
    return task.out_file


def run_sad(
    model: ModelSpec,
    fasta: str,
    vcf_file: str,
    out_dir: str,
    options: SadOptions,
    shards: int | None = None,
    shard: tuple[int, int] | None = None,
    executor: Executor | None = None,
    keep_shards: bool = False,
) -> str:
    """Score a VCF into ``out_dir/sad.h5``.

    Args:
        model: the model, targets and ensemble.
        fasta: genome FASTA.
        vcf_file: plain or bgzipped VCF.
        out_dir: output directory.
        options: see :class:`SadOptions` (``record_range`` is set here for shards).
        shards: split the VCF's records into this many shard tasks (``out_dir/job{i}``),
            run them on ``executor`` and merge them; the result equals a single run bit
            for bit. None: score in this process.
        shard: without ``shards``, (i, N): score only shard i of N, in this process.
        executor: where shard tasks run (default: one local process per shard).
        keep_shards: keep the ``job{i}`` directories (removed by default, also after a
            failed run; :func:`~basenji_tf.scoring.shards.run_shards`).

    Returns:
        the path of ``sad.h5``.
    """
    out_file = os.path.join(out_dir, "sad.h5")
    if shards is None:
        if shard is not None:
            options = _shard_options(options, count_vcf_records(vcf_file), *shard)
        return score_task(SadTask(model, fasta, vcf_file, out_file, options))
    check_shardable(vcf_file, "the VCF")
    total = count_vcf_records(vcf_file)
    # Shard tasks may run in other processes with another working directory (Dask).
    model = absolute_model(model)
    fasta, vcf_file = os.path.abspath(fasta), os.path.abspath(vcf_file)
    ranges = [shard_range(total, i, shards, options.batch_variants) for i in range(shards)]

    def task(job_dir: str, records: tuple[int, int]) -> SadTask:
        shard_options = dataclasses.replace(options, record_range=records)
        return SadTask(model, fasta, vcf_file, os.path.join(job_dir, "sad.h5"), shard_options)

    def merge(job_files: list[str]) -> str:
        rows = merge_sad(job_files, out_file)
        log.info("merged %d shards, %d rows into %s", shards, rows, out_file)
        return out_file

    return run_shards(score_task, task, ranges, out_dir, merge, executor, keep_shards)


def _shard_options(options: SadOptions, records: int, shard_i: int, shards: int) -> SadOptions:
    """``options`` restricted to shard ``shard_i`` of ``shards`` of a VCF's ``records``."""
    if not 0 <= shard_i < shards:
        raise InputError(f"shard {shard_i}/{shards}: expected i/N with 0 <= i < N")
    record_range = shard_range(records, shard_i, shards, align=options.batch_variants)
    return dataclasses.replace(options, record_range=record_range)
