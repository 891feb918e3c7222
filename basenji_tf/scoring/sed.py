"""Gene-level variant effects (``basenji_sed.py``).

The change of the summed prediction at the TSS bins of every gene whose TSS lies in a
variant's predicted window; :func:`run_sed` scores a VCF in this process or as shard
tasks (:func:`sed_task`) whose ``sed.h5`` files it merges (:mod:`~.sed_output`).

Differences from the original (``bin/basenji_sed.py``): the original predicts a window
centred on each TSS of its TSS BED and sums the whole prediction; we predict the
variant-centred windows of ``basenji_sad.py`` (cone splicing, shared towers) and sum the
bins at each TSS inside them. Genes come from a GTF (``-g``) or, as in the original,
from a TSS BED. ``REF`` and ``ALT`` hold sums over the TSS bins, not whole predictions.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from basenji_tf.errors import InputError
from basenji_tf.execute import Executor
from basenji_tf.genome import Genome, read_gtf_tss
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec, load_predictor
from basenji_tf.scoring.sed_output import check_sed_stats, merge_sed, scored_blocks, write_sed_h5
from basenji_tf.scoring.shards import (
    absolute_model,
    check_shardable,
    job_dirs,
    run_shards,
    shard_ranges,
)
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


class TssIndex:
    """TSS positions per chromosome, for range queries.

    Args:
        genes: records from :func:`basenji_tf.genome.read_gtf_tss`.
        genome: chromosome names are resolved to the FASTA's; genes on chromosomes the FASTA
            lacks are dropped with a count in the log.
    """

    def __init__(self, genes: Sequence[dict], genome: Genome):
        by_chrom: dict[str, list[dict]] = {}
        dropped = 0
        for gene in genes:
            try:
                chrom = genome.resolve(gene["chrom"])
            except InputError:
                dropped += 1
                continue
            by_chrom.setdefault(chrom, []).append(gene)
        if dropped:
            log.warning("%d genes on chromosomes missing from the FASTA were dropped", dropped)
        self.genes = {c: sorted(g, key=lambda x: x["tss"]) for c, g in by_chrom.items()}
        self.tss = {c: np.array([x["tss"] for x in g]) for c, g in self.genes.items()}

    def query(self, chrom: str, start: int, end: int) -> list[dict]:
        """Genes with TSS in [start, end) bp."""
        if chrom not in self.tss:
            return []
        i0, i1 = np.searchsorted(self.tss[chrom], [start, end])
        return self.genes[chrom][i0:i1]


@dataclass(frozen=True)
class GeneWindow:
    """Where a variant's predicted bins lie in the genome and which bins a TSS covers.

    Attributes:
        seq_length: model input, bp.
        stride: bp per output bin.
        crop: bins cropped on each side of the output.
        tss_bins: bins summed at a TSS: its bin and ``(tss_bins - 1) // 2`` either side.
    """

    seq_length: int
    stride: int
    crop: int
    tss_bins: int = 1

    def first_bp(self, variant: Variant) -> int:
        """Genome bp where the variant's first predicted bin starts.

        That is its centred window's start (:func:`~basenji_tf.scoring.vcf.window_bounds`)
        plus the crop.
        """
        return window_bounds(variant.pos, self.seq_length)[0] + self.crop * self.stride

    def tss_slice(self, pred0: int, tss: int, num_bins: int) -> slice:
        """Bins summed for a TSS at bp ``tss``, clipped to the prediction."""
        b = (tss - pred0) // self.stride
        half = (self.tss_bins - 1) // 2
        return slice(max(0, b - half), min(num_bins, b + half + 1))


def read_tss_bed(bed_file: str) -> list[dict]:
    """TSSs of a BED file, the original's ``<tss_bed_file>``: one record per line.

    Columns: chrom, start, end, name (gene id and name), score, strand ('+' when absent).
    The TSS is the record's midpoint ``(start + end) // 2`` (the original centres its
    window there), which is ``start`` for a one-base record.

    Returns:
        records as :func:`basenji_tf.genome.read_gtf_tss` gives them.

    Raises:
        InputError: a line with fewer than 3 columns or non-integer coordinates.
    """
    records = []
    with open(bed_file) as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                chrom, start, end = fields[0], int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                raise InputError(
                    f"{bed_file}:{line_no}: a TSS BED line needs chrom, start and end "
                    "(integers) separated by tabs"
                ) from None
            name = fields[3] if len(fields) > 3 else f"{chrom}:{start}-{end}"
            strand = fields[5] if len(fields) > 5 and fields[5] in ("+", "-") else "+"
            records.append(
                {
                    "gene_id": name,
                    "gene_name": name,
                    "chrom": chrom,
                    "strand": strand,
                    "tss": (start + end) // 2,
                }
            )
    return records


@dataclass(frozen=True)
class SedOptions:
    """Options of a basenji_sed run (see ``basenji_sed.py --help``).

    Attributes:
        feature: GTF feature whose start (by strand) is the TSS: gene or transcript.
        tss_bins: bins summed at each TSS (:class:`GeneWindow`).
        strict: fail on a REF mismatch instead of skipping the row.
        stats: statistic names (:data:`~basenji_tf.scoring.sed_output.SED_STATS`).
        pseudo: log2 pseudocount of SEDR and SER.
        norm_file: per reported target, a number the predictions are divided by (one per
            line; the original's ``-n``); None: no normalisation.
        batch_variants: VCF records scored together (shards start at multiples of it).
        record_range: only data records ``[first, last)`` (a shard; None: all).
    """

    feature: str = "gene"
    tss_bins: int = 1
    strict: bool = False
    stats: tuple[str, ...] = ("SED",)
    pseudo: float = 1.0
    norm_file: str | None = None
    batch_variants: int = 16
    record_range: tuple[int, int] | None = None

    def __post_init__(self):
        if self.tss_bins < 1:
            raise InputError(f"--tss_bins {self.tss_bins}: must be at least 1")
        if self.pseudo <= 0 and {"SEDR", "SER"} & set(self.stats):
            raise InputError(f"--pseudo {self.pseudo}: must be > 0 for SEDR and SER")
        check_sed_stats(self.stats)


def read_norms(norm_file: str, num_targets: int) -> np.ndarray:
    """The per-target divisors of ``-n``: float32 [T], one positive number per line.

    Raises:
        InputError: a line that is not a positive number, or not one per target.
    """
    with open(norm_file) as handle:
        lines = [line.strip() for line in handle if line.strip()]
    try:
        norms = np.array([float(x) for x in lines], dtype=np.float32)
    except ValueError:
        raise InputError(f"{norm_file}: every line must be a number; give one per target") from None
    if len(norms) != num_targets or not (np.isfinite(norms) & (norms > 0)).all():
        raise InputError(
            f"{norm_file}: {len(norms)} values; give {num_targets} positive numbers, one per "
            "reported target"
        )
    return norms


def score_genes(
    predictor: EnsemblePredictor,
    genome: Genome,
    vcf_file: str,
    tss_index: TssIndex,
    window: GeneWindow,
    options: SedOptions = SedOptions(),
    targets: TargetSet | None = None,
    norms: np.ndarray | None = None,
) -> Iterator[tuple[Variant, dict, np.ndarray, np.ndarray]]:
    """REF and ALT predictions at the TSS bins of each gene near each variant.

    Genes are those with their TSS in the variant's predicted window
    (:meth:`GeneWindow.first_bp`; a deletion's REF window is shifted by half its length,
    which moves the TSS bins by at most that much). With ``targets``, predictions are
    un-transformed and strand-collapsed first (as SAD), then divided by ``norms`` [T].
    A batch holds the rows of ``options.batch_variants`` consecutive records counted from
    the file's first record, so a shard (``options.record_range``) that starts at a
    multiple of it computes bit for bit the single run's values.

    Yields:
        (variant, gene record, REF bins [k, T], ALT bins [k, T]) in VCF order, genes by
        TSS; float32.
    """
    counts = VcfCounts()
    batch: list[Variant] = []
    size = options.batch_variants
    variants = read_vcf(vcf_file, genome, counts, record_range=options.record_range)
    for v in variants:
        if batch and v.record // size != batch[0].record // size:
            yield from _score_batch(batch, predictor, genome, tss_index, window, counts,
                                    options.strict, targets, norms)  # fmt: skip
            batch = []
        batch.append(v)
    yield from _score_batch(
        batch, predictor, genome, tss_index, window, counts, options.strict, targets, norms
    )
    log.info("%s", counts.summary())


def _score_batch(
    batch: list[Variant],
    predictor: EnsemblePredictor,
    genome: Genome,
    tss_index: TssIndex,
    window: GeneWindow,
    counts: VcfCounts,
    strict: bool,
    targets: TargetSet | None,
    norms: np.ndarray | None,
) -> Iterator[tuple[Variant, dict, np.ndarray, np.ndarray]]:
    rows, refs, alts = [], [], []
    for v in batch:
        windows = variant_windows(genome, v, window.seq_length, counts, strict)
        if windows is not None:
            rows.append(v)
            refs.append(windows[0])
            alts.append(windows[1])
    if not rows:
        return
    starts = [(v.chrom, ref_window_start(v, window.seq_length)) for v in rows]
    ref_p, alt_p = predictor.predict_pairs(
        np.stack(refs), np.stack(alts), np.arange(len(rows)), starts, genome
    )
    if targets is not None:
        ref_p, alt_p = targets.transform(ref_p), targets.transform(alt_p)
    if norms is not None:
        ref_p, alt_p = ref_p / norms, alt_p / norms
    num_bins = ref_p.shape[1]
    for k, v in enumerate(rows):
        pred0 = window.first_bp(v)
        for gene in tss_index.query(v.chrom, pred0, pred0 + num_bins * window.stride):
            sl = window.tss_slice(pred0, gene["tss"], num_bins)
            yield v, gene, ref_p[k, sl], alt_p[k, sl]


# ---------------------------------------------------------------------------------------
# The command: one process or shard tasks
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SedTask:
    """One :func:`sed_task`: everything a process needs to score a VCF or a shard of it.

    Attributes:
        genes_file: a GTF, or with ``tss_bed`` the original's TSS BED.
    """

    model: ModelSpec
    fasta: str
    vcf_file: str
    genes_file: str
    tss_bed: bool
    out_file: str
    options: SedOptions


def sed_task(task: SedTask) -> int:
    """Load the model, score the task's records into its ``sed.h5``; returns its rows."""
    options = task.options
    head, predictor, targets = load_predictor(task.model)
    window = GeneWindow(head.seq_length, head.stride, head.crop, options.tss_bins)
    norms = read_norms(options.norm_file, len(targets.ids)) if options.norm_file else None
    if task.tss_bed:
        genes = read_tss_bed(task.genes_file)
    else:
        genes = read_gtf_tss(task.genes_file, options.feature)
    extra_stats = check_sed_stats(options.stats)
    with Genome(task.fasta) as genome:
        tss_index = TssIndex(genes, genome)
        results = score_genes(
            predictor, genome, task.vcf_file, tss_index, window, options, targets, norms
        )
        blocks = scored_blocks(results, extra_stats, options.pseudo)
        return write_sed_h5(task.out_file, blocks, targets.ids, targets.labels, extra_stats)


def run_sed(
    model: ModelSpec,
    fasta: str,
    vcf_file: str,
    genes_file: str,
    out_dir: str,
    options: SedOptions = SedOptions(),
    tss_bed: bool = False,
    shards: int | None = None,
    executor: Executor | None = None,
    keep_shards: bool = False,
) -> int:
    """Score every variant against the genes near it into ``out_dir/sed.h5``.

    Args:
        model: the model, targets (un-transformed and strand-collapsed) and ensemble.
        fasta: genome FASTA.
        vcf_file: plain or bgzipped VCF.
        genes_file: gene annotation GTF, or a TSS BED with ``tss_bed``
            (:func:`read_tss_bed`).
        out_dir: output directory.
        options: see :class:`SedOptions` (``record_range`` is set here for shards).
        tss_bed: ``genes_file`` is the original's TSS BED.
        shards: split the VCF's records into this many shard tasks (``out_dir/job{i}``)
            run on ``executor`` (default: local processes) and merged; the result equals
            a single run bit for bit. None: score in this process.
        executor: where shard tasks run.
        keep_shards: keep the ``job{i}`` directories (:func:`~.shards.run_shards`).

    Returns:
        the number of (variant, gene) rows written (:mod:`~.sed_output`).
    """
    out_file = os.path.join(out_dir, "sed.h5")
    ranges = []
    if shards is not None:
        check_shardable(vcf_file, "the VCF")
        ranges = shard_ranges(count_vcf_records(vcf_file), shards, options.batch_variants)
    if not ranges:
        return sed_task(SedTask(model, fasta, vcf_file, genes_file, tss_bed, out_file, options))
    model = absolute_model(model)
    fasta, vcf_file, genes_file = (os.path.abspath(p) for p in (fasta, vcf_file, genes_file))
    if options.norm_file:
        options = dataclasses.replace(options, norm_file=os.path.abspath(options.norm_file))

    def task(job_dir: str, records: tuple[int, int]) -> SedTask:
        shard_options = dataclasses.replace(options, record_range=records)
        out = os.path.join(job_dir, "sed.h5")
        return SedTask(model, fasta, vcf_file, genes_file, tss_bed, out, shard_options)

    def merge(_: list[int]) -> int:
        job_files = [os.path.join(d, "sed.h5") for d in job_dirs(out_dir, len(ranges))]
        rows = merge_sed(job_files, out_file)
        log.info("merged %d shards, %d rows into %s", len(ranges), rows, out_file)
        return rows

    return run_shards(sed_task, task, ranges, out_dir, merge, executor, keep_shards)
