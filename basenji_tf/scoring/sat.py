"""Saturation mutagenesis (``basenji_sat_bed.py``, ``basenji_sat_vcf.py``).

:func:`sat_mutagenesis` scores every single-base substitution of a central region of a
sequence; :func:`run_sat_bed` does so for BED regions and :func:`run_sat_vcf` for the REF
and ALT windows of VCF variants, writing ``scores.h5``. ``run_sat_bed`` runs in this
process or as shard tasks of regions (:func:`sat_bed_task`) whose files it merges.

Differences from the original:

* one explicit (position, base) index per mutant, so a reference N (which has four
  mutants, not three) no longer shifts every later score onto the wrong position and base
  as in the original's ``1 + 3 * mut_len`` bookkeeping; at an N position all four slots
  hold mutant scores;
* the ``js`` statistic of ``basenji_sat_bed.py`` (which always failed in the original) is
  not offered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import h5py
import numpy as np

from basenji_tf import plots
from basenji_tf.errors import InputError
from basenji_tf.execute import Executor
from basenji_tf.genome import Genome
from basenji_tf.progress import track
from basenji_tf.scoring.bed import Region, read_bed_windows, region_1hot
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec, load_predictor
from basenji_tf.scoring.outputs import write_sat_h5
from basenji_tf.scoring.shards import (
    absolute_model,
    bed_regions,
    check_shardable,
    run_shards,
    shard_ranges,
)
from basenji_tf.scoring.vcf import VcfCounts, read_vcf, variant_windows

log = logging.getLogger(__name__)

SAT_STATS = ("sum", "center", "scd")


def mutation_region(
    seq_length: int, mut_len: int, mut_up: int = 0, mut_down: int = 0
) -> tuple[int, int]:
    """(first bp, length) of the mutated region in sequence coordinates.

    As in the original: with ``mut_up``/``mut_down`` the length is their sum, otherwise
    ``mut_up = mut_len // 2``; the region starts at ``L // 2 - mut_up``.
    """
    if mut_up or mut_down:
        mut_len = mut_up + mut_down
    else:
        mut_up = mut_len // 2
    if mut_len <= 0 or mut_len > seq_length:
        raise InputError(
            f"-l/-u/-d: mutation length {mut_len} bp must be in 1..{seq_length} "
            "(the model's input length)"
        )
    return seq_length // 2 - mut_up, mut_len


def check_sat_stats(stats: Sequence[str]) -> None:
    """Raise unless every name is one of :data:`SAT_STATS`."""
    for stat in stats:
        if stat not in SAT_STATS:
            raise InputError(
                f"--stats: unknown statistic {stat!r}; choose from {', '.join(SAT_STATS)}"
            )


def sat_mutagenesis(
    predictor: EnsemblePredictor,
    seq_1hot: np.ndarray,
    mut_start: int,
    mut_len: int,
    stats: Sequence[str] = ("sum",),
    chunk: int = 64,
) -> dict[str, np.ndarray]:
    """Scores of every single-base substitution in ``[mut_start, mut_start + mut_len)``.

    Args:
        predictor: ensemble predictor (its ``splice`` makes each mutant cheap).
        seq_1hot: reference [L, 4].
        mut_start: first mutated bp, in sequence coordinates.
        mut_len: mutated bp.
        stats: ``sum`` (summed prediction over bins, mean-centred over the four bases at
            each position), ``center`` (the same over the central 1-2 bins), ``scd``
            (sqrt of the summed squared difference from the reference, not centred).
        chunk: mutants per prediction call.

    Returns:
        stat -> float32 [mut_len, 4, T]; reference slots hold the reference's value
        (0 for ``scd``).
    """
    check_sat_stats(stats)
    ref = np.asarray(seq_1hot, dtype=np.float32)
    mutants = [
        (p, base)
        for p in range(mut_start, mut_start + mut_len)
        for base in range(4)
        if ref[p, base] != 1
    ]
    ref_pred = predictor.predict(ref[None])[0]
    num_bins, num_targets = ref_pred.shape
    c0 = num_bins // 2
    centre = slice(c0, c0 + (2 if num_bins % 2 == 0 else 1))
    out = {s: np.zeros((mut_len, 4, num_targets), np.float32) for s in stats}
    ref_values = {"sum": ref_pred.sum(axis=0), "center": ref_pred[centre].sum(axis=0)}
    for stat in ("sum", "center"):
        if stat in out:
            out[stat][:] = ref_values[stat]
    for c in range(0, len(mutants), chunk):
        part = mutants[c : c + chunk]
        seqs = np.repeat(ref[None], len(part), axis=0)
        for k, (p, base) in enumerate(part):
            seqs[k, p] = 0
            seqs[k, p, base] = 1
        _, preds = predictor.predict_pairs(ref[None], seqs, np.zeros(len(part), dtype=int))
        for k, (p, base) in enumerate(part):
            i = p - mut_start
            if "sum" in out:
                out["sum"][i, base] = preds[k].sum(axis=0)
            if "center" in out:
                out["center"][i, base] = preds[k, centre].sum(axis=0)
            if "scd" in out:
                out["scd"][i, base] = np.sqrt(((preds[k] - ref_pred) ** 2).sum(axis=0))
    for stat in ("sum", "center"):
        if stat in out:
            out[stat] -= out[stat].mean(axis=1, keepdims=True)
    return out


def sat_bed(
    predictor: EnsemblePredictor,
    genome: Genome,
    regions: Sequence[Region],
    mut_start: int,
    mut_len: int,
    stats: Sequence[str],
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Saturation mutagenesis of each BED window's central region.

    Returns:
        (seqs [N, mut_len, 4], stat -> [N, mut_len, 4, T], coordinate datasets ``chr``,
        ``start``, ``end`` (the mutated region in genome bp; for '-' windows measured from
        the window end) and ``strand``).
    """
    seqs, scores = [], {s: [] for s in stats}
    starts, ends = [], []
    for region in track(regions, desc="regions", unit="regions"):
        seq_1hot = region_1hot(genome, region)
        seqs.append(seq_1hot[mut_start : mut_start + mut_len])
        for stat, values in sat_mutagenesis(predictor, seq_1hot, mut_start, mut_len, stats).items():
            scores[stat].append(values)
        if region.strand == "-":
            ends.append(region.end - mut_start)
            starts.append(region.end - mut_start - mut_len)
        else:
            starts.append(region.start + mut_start)
            ends.append(region.start + mut_start + mut_len)
    coords = {
        "chr": np.array([r.chrom for r in regions], dtype="S"),
        "start": np.array(starts, dtype=np.int64),
        "end": np.array(ends, dtype=np.int64),
        "strand": np.array([r.strand for r in regions], dtype="S"),
    }
    return np.stack(seqs), {s: np.stack(v) for s, v in scores.items()}, coords


def vcf_sequences(
    genome: Genome, vcf_file: str, seq_length: int
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (label, one-hot [L, 4]) of each VCF record's REF and of each ALT.

    As the original ``snps_seq1``: labels ``{id}_{allele}`` with alleles over 5 bp cut to
    5 + ``*``.
    """
    counts = VcfCounts()
    last = None
    for v in read_vcf(vcf_file, genome, counts):
        windows = variant_windows(genome, v, seq_length, counts)
        if windows is None:
            continue
        if (v.line, v.ref) != last:
            last = (v.line, v.ref)
            yield _allele_label(v.id, v.ref), windows[0]
        yield _allele_label(v.id, v.alt), windows[1]
    log.info("%s", counts.summary())


def _allele_label(rsid: str, allele: str) -> str:
    return f"{rsid}_{allele if len(allele) <= 5 else allele[:5] + '*'}"


# ---------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SatOptions:
    """Options of the mutagenesis commands (see ``basenji_sat_bed.py --help``).

    Attributes:
        mut_len: bp mutated around the centre.
        mut_up: bp mutated upstream of the centre (with ``mut_down``, overrides mut_len).
        mut_down: bp mutated downstream of the centre.
        stats: names from :data:`SAT_STATS`.
        plots: write a sequence logo and a heatmap per sequence and target.
        plot_targets: reported targets to plot.
    """

    mut_len: int
    mut_up: int = 0
    mut_down: int = 0
    stats: tuple[str, ...] = ("sum",)
    plots: bool = False
    plot_targets: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class SatBedTask:
    """One :func:`sat_bed_task`: the regions of a BED file, or a shard of them.

    Attributes:
        out_dir: where the figures go (``seq{i}`` numbered over the whole BED file).
        out_file: this task's ``scores.h5``.
        region_range: only regions ``[first, last)`` (a shard; None: all).
    """

    model: ModelSpec
    fasta: str
    bed_file: str
    out_dir: str
    out_file: str
    options: SatOptions
    region_range: tuple[int, int] | None = None


def sat_bed_task(task: SatBedTask) -> str:
    """Mutagenesis of the task's regions into its ``scores.h5``; returns that path."""
    options = task.options
    head, predictor, _ = load_predictor(task.model)
    mut_start, mut_len = mutation_region(
        head.seq_length, options.mut_len, options.mut_up, options.mut_down
    )
    first, last = task.region_range or (0, None)
    with Genome(task.fasta) as genome:
        regions = read_bed_windows(task.bed_file, genome, head.seq_length)[first:last]
        seqs, scores, coords = sat_bed(
            predictor, genome, regions, mut_start, mut_len, options.stats
        )
    write_sat_h5(task.out_file, seqs, scores, coords)
    if options.plots:
        names = [r.name for r in regions]
        stat = scores[options.stats[0]]
        write_sat_plots(task.out_dir, names, seqs, stat, options.plot_targets, first)
    return task.out_file


def run_sat_bed(
    model: ModelSpec,
    fasta: str,
    bed_file: str,
    out_dir: str,
    options: SatOptions,
    shards: int | None = None,
    executor: Executor | None = None,
    keep_shards: bool = False,
) -> str:
    """Mutagenesis of the centre of each BED region's window into ``out_dir/scores.h5``.

    Scores are over the model's output channels (the targets table's with one), not
    un-transformed.

    Args:
        model: the model, targets and ensemble.
        fasta: genome FASTA.
        bed_file: the regions.
        out_dir: output directory.
        options: see :class:`SatOptions`.
        shards: split the regions into this many shard tasks (``out_dir/job{i}``) run on
            ``executor`` (default: local processes) and merged; the result equals a
            single run bit for bit. None: run in this process.
        executor: where shard tasks run.
        keep_shards: keep the ``job{i}`` directories (:func:`~.shards.run_shards`).

    Returns:
        the path of ``scores.h5``.
    """
    out_file = os.path.join(out_dir, "scores.h5")
    ranges = []
    if shards is not None:
        check_shardable(bed_file, "the BED file")
        ranges = shard_ranges(len(bed_regions(model, fasta, bed_file)), shards)
    if not ranges:
        return sat_bed_task(SatBedTask(model, fasta, bed_file, out_dir, out_file, options))
    model = absolute_model(model)
    fasta, bed_file, plot_dir = (os.path.abspath(p) for p in (fasta, bed_file, out_dir))

    def task(job_dir: str, regions: tuple[int, int]) -> SatBedTask:
        out = os.path.join(job_dir, "scores.h5")
        return SatBedTask(model, fasta, bed_file, plot_dir, out, options, regions)

    def merge(job_files: list[str]) -> str:
        merge_sat_h5(job_files, out_file, options.stats)
        log.info("merged %d shards into %s", len(job_files), out_file)
        return out_file

    return run_shards(sat_bed_task, task, ranges, out_dir, merge, executor, keep_shards)


def merge_sat_h5(job_files: Sequence[str], out_file: str, stats: Sequence[str]) -> None:
    """Concatenate shard ``scores.h5`` files of :func:`sat_bed_task` (in order) into one."""
    parts = []
    for job in job_files:
        with h5py.File(job, "r") as h5:
            parts.append({name: h5[name][()] for name in h5})
    joined = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    coords = {name: joined[name] for name in ("chr", "start", "end", "strand")}
    write_sat_h5(out_file, joined["seqs"], {s: joined[s] for s in stats}, coords)


def run_sat_vcf(
    model: ModelSpec, fasta: str, vcf_file: str, out_dir: str, options: SatOptions
) -> str:
    """Mutagenesis of the centre of each variant's REF and ALT windows.

    The variant is at index ``L/2 - 1``, as in basenji_sad. Writes
    ``out_dir/scores.h5``; returns its path.
    """
    head, predictor, _ = load_predictor(model)
    mut_start, mut_len = mutation_region(
        head.seq_length, options.mut_len, options.mut_up, options.mut_down
    )
    labels, seqs, scores = [], [], {s: [] for s in options.stats}
    with Genome(fasta) as genome:
        for label, seq_1hot in vcf_sequences(genome, vcf_file, head.seq_length):
            labels.append(label)
            seqs.append(seq_1hot[mut_start : mut_start + mut_len])
            out = sat_mutagenesis(predictor, seq_1hot, mut_start, mut_len, options.stats)
            for stat in options.stats:
                scores[stat].append(out[stat])
    seqs = np.stack(seqs) == 1
    scores = {s: np.stack(v) for s, v in scores.items()}
    out_file = os.path.join(out_dir, "scores.h5")
    write_sat_h5(out_file, seqs, scores, {"label": np.array(labels, dtype="S")})
    if options.plots:
        write_sat_plots(out_dir, labels, seqs, scores[options.stats[0]], options.plot_targets)
    return out_file


def write_sat_plots(
    out_dir: str,
    labels: Sequence[str],
    seqs: np.ndarray,
    scores: np.ndarray,
    plot_targets: Sequence[int],
    first: int = 0,
) -> None:
    """Write ``seq{i}_t{t}_logo`` and ``seq{i}_t{t}_heat`` figures.

    Args:
        out_dir: output directory.
        labels: one title per sequence.
        seqs: reference bases [N, mut_len, 4].
        scores: one statistic [N, mut_len, 4, T].
        plot_targets: targets t to plot.
        first: the number i of the first sequence (a shard's first region).
    """
    for i, label in enumerate(labels, first):
        for ti in plot_targets:
            stem = os.path.join(out_dir, f"seq{i}_t{ti}")
            k = i - first
            plots.sat_logo(seqs[k], scores[k, :, :, ti], f"{stem}_logo", title=f"{label} t{ti}")
            plots.sat_heatmap(seqs[k], scores[k, :, :, ti], f"{stem}_heat", title=f"{label} t{ti}")
