"""Attribution of BED regions (``basenji_grad_bed.py``): scores.h5 and a BigWig.

The methods are :func:`basenji_tf.interpret.attribution.attribute`'s; this module reads
the regions, chooses each one's objective bins, and writes the outputs, in this process
or as shard tasks of regions (:func:`grad_task`) whose files it merges into the bytes a
single run writes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from basenji_tf import seqnn
from basenji_tf.errors import InputError
from basenji_tf.execute import Executor
from basenji_tf.genome import Genome
from basenji_tf.interpret.attribution import Attributions, attribute
from basenji_tf.params import read_params
from basenji_tf.scoring.bed import Site, read_bed_sites, region_1hot
from basenji_tf.scoring.outputs import read_grad_h5, write_bigwigs, write_grad_h5
from basenji_tf.scoring.shards import check_shardable, run_shards, shard_ranges

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GradOptions:
    """What ``basenji_grad_bed.py`` attributes, and how.

    Attributes:
        method: one of :data:`basenji_tf.interpret.attribution.METHODS`.
        targets: outputs whose predictions are summed (None: all).
        bins: ``"center"`` (the bins over each BED region), ``"all"``, or a
            (first, last) half-open bin range.
        rc: average with the reverse complement's attribution.
        references: shuffled references per region (deepshap, expected gradients,
            integrated gradients from shuffled baselines).
        steps: integrated gradients' intervals.
        seed: seed of the references.
        baseline: integrated gradients' baseline, ``zeros`` or ``shuffle``.
    """

    method: str = "input_x_gradient"
    targets: tuple[int, ...] | None = None
    bins: str | tuple[int, int] = "center"
    rc: bool = False
    references: int = 20
    steps: int = 50
    seed: int = 0
    baseline: str = "zeros"

    def settings(self) -> dict[str, object]:
        """The options as scores.h5 attributes (``targets`` empty: all)."""
        bins = self.bins if isinstance(self.bins, str) else f"{self.bins[0]}:{self.bins[1]}"
        return {
            "method": self.method,
            "targets": np.array(self.targets or (), np.int64),
            "bins": bins,
            "rc": self.rc,
            "references": self.references,
            "steps": self.steps,
            "seed": self.seed,
            "baseline": self.baseline,
        }


def center_bins(sites: Sequence[Site], head: seqnn.Head) -> np.ndarray:
    """The output bins overlapping each BED record: int64 [N, 2] half-open ranges.

    A record of zero length gets the bin holding its position; records longer than the
    predicted span get all bins.
    """
    ranges = np.zeros((len(sites), 2), np.int64)
    for i, site in enumerate(sites):
        first_bp, end_bp = site.start - site.window.start, site.end - site.window.start
        first = first_bp // head.stride - head.crop
        last = max(-(-end_bp // head.stride) - head.crop, first + 1)
        ranges[i] = np.clip([first, last], 0, head.target_length)
        if ranges[i, 0] >= ranges[i, 1]:
            raise InputError(
                f"region {site.window.name}: no output bin of the model overlaps it; use --bins all"
            )
    return ranges


def objective_bins(options: GradOptions, sites: Sequence[Site], head: seqnn.Head) -> np.ndarray:
    """The objective's bins of each region, int64 [N, 2], from ``options.bins``."""
    if options.bins == "center":
        return center_bins(sites, head)
    if options.bins == "all":
        return np.tile(np.array([0, head.target_length], np.int64), (len(sites), 1))
    first, last = options.bins
    if not 0 <= first < last <= head.target_length:
        raise InputError(
            f"--bins {first}:{last}: the model predicts bins 0..{head.target_length}; give "
            "a non-empty range within them"
        )
    return np.tile(np.array([first, last], np.int64), (len(sites), 1))


@dataclass(frozen=True)
class GradTask:
    """One :func:`grad_task`: the regions of a BED file, or a shard of them.

    Attributes:
        out_dir: where this task's scores.h5 goes.
        region_range: only regions ``[first, last)`` (a shard; None: all).
    """

    params_file: str
    model_file: str
    fasta: str
    bed_file: str
    out_dir: str
    options: GradOptions
    head: int = 0
    batch_size: int = 4
    precision: str = "float32"
    region_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class _Attributed:
    seqs: np.ndarray
    sites: list[Site]
    bins: np.ndarray
    attributions: Attributions


def _attribute_regions(task: GradTask) -> _Attributed:
    net = seqnn.load(
        task.params_file, task.model_file, task.head, augment=False, precision=task.precision
    )
    head = net.head
    options = task.options
    first, last = task.region_range or (0, None)
    with Genome(task.fasta) as genome:
        sites = read_bed_sites(task.bed_file, genome, head.seq_length, False)[first:last]
        seqs = np.stack([region_1hot(genome, site.window) for site in sites])
    bins = objective_bins(options, sites, head)
    attributions = attribute(
        head.model,
        seqs,
        options.method,
        options.targets,
        bins,
        options.rc,
        task.batch_size,
        options.references,
        options.steps,
        options.seed,
        options.baseline,
        head.strand_pair,
    )
    if attributions.delta_violation is not None:
        log.info(
            "%s: worst summation-to-delta violation %.3g",
            options.method,
            float(attributions.delta_violation.max()),
        )
    return _Attributed(seqs, sites, bins, attributions)


def _write(out_dir: str, result: _Attributed, options: GradOptions) -> str:
    out_file = os.path.join(out_dir, "scores.h5")
    attr = result.attributions
    write_grad_h5(
        out_file, result.seqs, attr.contributions, attr.hypothetical, result.sites,
        result.bins, attr.delta_violation, options.settings(),
    )  # fmt: skip
    return out_file


def grad_task(task: GradTask) -> str:
    """Attribute a shard's regions into ``scores.h5`` in its directory; returns its path."""
    return _write(task.out_dir, _attribute_regions(task), task.options)


def run_grad_bed(
    params_file: str,
    model_file: str,
    fasta: str,
    bed_file: str,
    out_dir: str,
    options: GradOptions,
    head: int = 0,
    batch_size: int = 4,
    precision: str = "float32",
    shards: int | None = None,
    executor: Executor | None = None,
    keep_shards: bool = False,
) -> str:
    """Attribute the window centred on each BED region.

    Writes ``out_dir/scores.h5`` (:func:`~basenji_tf.scoring.outputs.write_grad_h5`) and
    ``out_dir/attr.bw`` (the contributions summed over bases, at bp resolution; where
    windows overlap, the first in genome order).

    Args:
        params_file: params JSON.
        model_file: weights of head ``head``.
        fasta: genome FASTA.
        bed_file: regions (strands ignored).
        out_dir: output directory.
        options: see :class:`GradOptions`.
        head: head index.
        batch_size: regions per model call (deepshap: twice as many rows, sequences and
            references).
        precision: compute precision (:data:`basenji_tf.seqnn.PRECISIONS`).
        shards: split the regions into this many shard tasks (``out_dir/job{i}``), cut at
            multiples of ``batch_size``, run on ``executor`` (default: local processes) and
            merged; the result equals a single run byte for byte. None: this process.
        executor: where shard tasks run.
        keep_shards: keep the ``job{i}`` directories.

    Returns:
        the scores.h5 path.
    """
    task = GradTask(params_file, model_file, fasta, bed_file, out_dir, options, head,
                    batch_size, precision)  # fmt: skip
    ranges = []
    if shards is not None:
        check_shardable(bed_file, "the BED file")
        seq_length = int(read_params(params_file)["model"]["seq_length"])
        with Genome(fasta) as genome:
            sites = read_bed_sites(bed_file, genome, seq_length, False)
        ranges = shard_ranges(len(sites), shards, batch_size)
    if not ranges:
        result = _attribute_regions(task)
        out_file = _write(out_dir, result, options)
        _write_bigwig(out_dir, result, fasta)
        return out_file
    task = dataclasses.replace(
        task,
        params_file=os.path.abspath(params_file),
        model_file=os.path.abspath(model_file),
        fasta=os.path.abspath(fasta),
        bed_file=os.path.abspath(bed_file),
    )

    def make_task(job_dir: str, shard: tuple[int, int]) -> GradTask:
        return dataclasses.replace(task, out_dir=job_dir, region_range=shard)

    def merge(job_files: list[str]) -> str:
        parts = [read_grad_h5(job) for job in job_files]
        joined = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        result = _Attributed(
            joined["seqs"],
            sites,
            np.stack([joined["bin_start"], joined["bin_end"]], axis=1),
            Attributions(
                joined["contributions"], joined["hypothetical"], joined.get("delta_violation")
            ),
        )
        out_file = _write(out_dir, result, options)
        _write_bigwig(out_dir, result, fasta)
        log.info("merged %d shards into %s", len(job_files), out_file)
        return out_file

    return run_shards(grad_task, make_task, ranges, out_dir, merge, executor, keep_shards)


def _write_bigwig(out_dir: str, result: _Attributed, fasta: str) -> None:
    """``out_dir/attr.bw``: the contributions summed over bases, at bp resolution."""
    with Genome(fasta) as genome:
        sizes = genome.sizes
    windows = [site.window for site in result.sites]
    attr = result.attributions.contributions.sum(axis=-1, dtype=np.float32)
    write_bigwigs(out_dir, windows, attr[..., None], [w.start for w in windows], 1, sizes,
                  ["attr"])  # fmt: skip
