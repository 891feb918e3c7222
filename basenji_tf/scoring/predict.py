"""Predictions for BED regions (``basenji_predict_bed.py``) to HDF5 and BigWig.

Differences from the original: the original writes one BigWig per sequence and target
(``s{si}_t{ti}.bw``); we write one per target (``t{ti}.bw``) holding every region, which a
genome browser can show whole. Bins covered by two overlapping windows keep the value of
the first window in (chromosome, start) order. ``-e`` writes the chosen layer's outputs
(the original's ``build_embed``), ensembled like predictions with ``--rc``/``--shifts``.

:func:`run_predict_bed` predicts in this process, or as shard tasks of regions
(:func:`predict_task`) whose files it merges.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import h5py
import keras
import numpy as np

from basenji_tf import seqnn
from basenji_tf.errors import InputError
from basenji_tf.execute import Executor
from basenji_tf.files import atomic_path
from basenji_tf.genome import Genome, read_chrom_sizes
from basenji_tf.progress import track
from basenji_tf.scoring.bed import Region, read_bed_windows, region_1hot
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec, load_predictor
from basenji_tf.scoring.outputs import write_bigwigs, write_predict_h5
from basenji_tf.scoring.shards import (
    absolute_model,
    bed_regions,
    check_shardable,
    run_shards,
    shard_ranges,
)

log = logging.getLogger(__name__)


def predict_regions(
    predictor: EnsemblePredictor,
    genome: Genome,
    regions: Sequence[Region],
    site_bins: int,
    batch: int = 8,
    sum_bins: bool = False,
) -> np.ndarray:
    """Ensemble predictions of the central ``site_bins`` bins of each window.

    Returns:
        float32 [N, site_bins, T], or [N, T] summed over the site with ``sum_bins``.
    """
    outs = []
    for b0 in track(range(0, len(regions), batch), desc="regions", unit="batches"):
        seqs = np.stack([region_1hot(genome, r) for r in regions[b0 : b0 + batch]])
        preds = predictor.predict(seqs)
        first = preds.shape[1] // 2 - site_bins // 2
        preds = preds[:, first : first + site_bins]
        outs.append(preds.sum(axis=1) if sum_bins else preds)
    return np.concatenate(outs)


@dataclass(frozen=True)
class PredictOptions:
    """Options of ``basenji_predict_bed.py``.

    Attributes:
        site_length: bp of the central site kept (a multiple of the bin width; None: the
            whole prediction).
        sum_bins: sum the site's bins.
        bigwig_indexes: reported targets written as BigWigs.
        genome_file: chromosome sizes for the BigWig header (None: the FASTA's).
        embed_layer: write the output of this layer instead of predictions
            (:func:`embedding_model`; None: predictions).
    """

    site_length: int | None = None
    sum_bins: bool = False
    bigwig_indexes: tuple[int, ...] = ()
    genome_file: str | None = None
    embed_layer: int | None = None


@dataclass(frozen=True)
class _Outputs:
    """What a model run over BED regions gives: the layer, its geometry, its values."""

    predictor: EnsemblePredictor
    stride: int
    crop: int
    length: int


def embedding_model(model: keras.Model, trunk: keras.Model, layer_i: int) -> keras.Model:
    """The original's ``build_embed``: sequence -> the output of one layer of ``model``.

    Args:
        model: a SeqNN head (its layers in graph order).
        trunk: that SeqNN's trunk.
        layer_i: index among the normalization layers (BatchNormalization,
            LayerNormalization; among the Conv1D layers for a model without any), or -1
            for the trunk's output.

    Raises:
        InputError: no such layer.
    """
    if layer_i == -1:
        return keras.Model(model.input, model.get_layer(trunk.layers[-1].name).output)
    norms = (keras.layers.BatchNormalization, keras.layers.LayerNormalization)
    candidates = [layer for layer in model.layers if isinstance(layer, norms)]
    if not candidates:
        candidates = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    if not -1 <= layer_i < len(candidates):
        raise InputError(
            f"-e {layer_i}: the model has {len(candidates)} normalization (or conv) layers; "
            f"give 0..{len(candidates) - 1}, or -1 for the trunk's output"
        )
    return keras.Model(model.input, candidates[layer_i].output)


def _layer_geometry(model: keras.Model, seq_length: int) -> tuple[int, int]:
    """(bp per position, positions cropped per side) of the output of ``model``."""
    stride = 1
    for layer in model.layers:
        strides = getattr(layer, "strides", None)
        if strides and not isinstance(layer, keras.Model):
            stride *= int(strides[0])
    length = int(model.output.shape[1])
    return stride, (seq_length // stride - length) // 2


def _model_outputs(model: ModelSpec, embed_layer: int | None) -> _Outputs:
    """The predictor of a head's predictions (ensembled), or of a layer's outputs."""
    if embed_layer is None:
        # whole-window predictions: no ALT to splice
        head, predictor, _ = load_predictor(dataclasses.replace(model, splice=False))
        return _Outputs(predictor, head.stride, head.crop, head.target_length)
    if model.targets_file:
        raise InputError("-e writes a layer's outputs, which have no targets; drop -t")
    net = seqnn.load(
        model.params_file, model.model_file, model.head, augment=False, precision=model.precision
    )
    embed = embedding_model(net.head.model, net.model_trunk, embed_layer)
    stride, crop = _layer_geometry(embed, net.head.seq_length)
    predictor = EnsemblePredictor(
        embed, model.rc, model.shifts, batch_size=model.batch_size, max_call_bp=model.max_call_bp
    )
    return _Outputs(predictor, stride, crop, int(embed.output.shape[1]))


@dataclass(frozen=True)
class PredictTask:
    """One :func:`predict_task`: the regions of a BED file, or a shard of them.

    Attributes:
        out_dir: where this task's ``predict.h5`` (and, with BigWigs, ``bigwig.npy``:
            float32 [regions, site bins, BigWig targets]) go.
        region_range: only regions ``[first, last)`` (a shard; None: all).
    """

    model: ModelSpec
    fasta: str
    bed_file: str
    out_dir: str
    options: PredictOptions
    region_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class _Predicted:
    regions: list[Region]
    preds: np.ndarray
    starts: np.ndarray
    site_length: int
    stride: int


def _predict(task: PredictTask) -> _Predicted:
    """Predictions of the central site of the task's regions.

    Raises:
        InputError: a site that is not a whole number of bins within the prediction,
            ``sum_bins`` with BigWigs, or a BigWig target that does not exist.
    """
    options = task.options
    out = _model_outputs(task.model, options.embed_layer)
    stride, preds_len = out.stride, out.length
    site_length = options.site_length or stride * preds_len
    if site_length % stride or not 0 < site_length <= stride * preds_len:
        raise InputError(
            f"-l {site_length}: the site must be a multiple of the {stride} bp bins and at "
            f"most {stride * preds_len} bp"
        )
    site_bins = site_length // stride
    if options.sum_bins and options.bigwig_indexes:
        raise InputError("-s sums the bins away; drop -s to write BigWigs with -b")
    if options.embed_layer is not None and options.bigwig_indexes:
        raise InputError("-e writes a layer's outputs, not tracks; drop -b")
    first, last = task.region_range or (0, None)
    with Genome(task.fasta) as genome:
        seq_length = int(out.predictor.model.input.shape[1])
        regions = read_bed_windows(task.bed_file, genome, seq_length, False)[first:last]
        preds = predict_regions(
            out.predictor, genome, regions, site_bins, task.model.batch_size, options.sum_bins
        )
    bad = [t for t in options.bigwig_indexes if not 0 <= t < preds.shape[-1]]
    if bad:
        raise InputError(f"-b {bad[0]}: there are {preds.shape[-1]} targets")
    first_bin = preds_len // 2 - site_bins // 2
    site_start = out.crop * stride + first_bin * stride
    starts = np.array([r.start + site_start for r in regions], np.int64)
    return _Predicted(regions, preds, starts, site_length, stride)


def predict_task(task: PredictTask) -> str:
    """Predict a shard's regions into ``predict.h5`` (and ``bigwig.npy``) in its directory.

    Returns:
        the path of its ``predict.h5``.
    """
    result = _predict(task)
    out_file = os.path.join(task.out_dir, "predict.h5")
    write_predict_h5(out_file, result.preds, result.regions, result.starts, result.site_length)
    if task.options.bigwig_indexes:
        with atomic_path(os.path.join(task.out_dir, "bigwig.npy")) as tmp:
            np.save(tmp, _bigwig_values(result.preds, task.options))
    return out_file


def _bigwig_values(preds: np.ndarray, options: PredictOptions) -> np.ndarray:
    return preds[..., list(options.bigwig_indexes)]


def run_predict_bed(
    model: ModelSpec,
    fasta: str,
    bed_file: str,
    out_dir: str,
    options: PredictOptions,
    shards: int | None = None,
    executor: Executor | None = None,
    keep_shards: bool = False,
) -> str:
    """Predict the window centred on each BED region into ``out_dir/predict.h5``.

    ``predict.h5`` holds the central site's bins; with ``bigwig_indexes``,
    ``out_dir/bigwig/t{i}.bw`` holds target i of every region at the genome coordinates
    of its bins (window start + crop + bin x stride).

    Args:
        model: the model, targets and ensemble.
        fasta: genome FASTA.
        bed_file: the regions.
        out_dir: output directory.
        options: see :class:`PredictOptions`.
        shards: split the regions into this many shard tasks (``out_dir/job{i}``), cut at
            multiples of ``model.batch_size``, run on ``executor`` (default: local
            processes) and merged; the result equals a single run bit for bit. None: run
            in this process.
        executor: where shard tasks run.
        keep_shards: keep the ``job{i}`` directories (:func:`~.shards.run_shards`).

    Returns:
        the path of predict.h5.
    """
    out_file = os.path.join(out_dir, "predict.h5")
    ranges = []
    if shards is not None:
        check_shardable(bed_file, "the BED file")
        regions = bed_regions(model, fasta, bed_file, stranded=False)
        ranges = shard_ranges(len(regions), shards, model.batch_size)
    if not ranges:
        result = _predict(PredictTask(model, fasta, bed_file, out_dir, options))
        write_predict_h5(out_file, result.preds, result.regions, result.starts, result.site_length)
        _write_bigwigs(out_dir, result.regions, _bigwig_values(result.preds, options),
                       result.starts, result.stride, fasta, options)  # fmt: skip
        return out_file
    model = absolute_model(model)
    fasta, bed_file = os.path.abspath(fasta), os.path.abspath(bed_file)

    def task(job_dir: str, shard: tuple[int, int]) -> PredictTask:
        return PredictTask(model, fasta, bed_file, job_dir, options, shard)

    def merge(job_files: list[str]) -> str:
        _merge(job_files, out_file, regions, fasta, options)
        log.info("merged %d shards into %s", len(job_files), out_file)
        return out_file

    return run_shards(predict_task, task, ranges, out_dir, merge, executor, keep_shards)


def _merge(
    job_files: Sequence[str],
    out_file: str,
    regions: Sequence[Region],
    fasta: str,
    options: PredictOptions,
) -> None:
    """Concatenate the shards' ``predict.h5`` (and BigWig values) and write the outputs."""
    preds, starts = [], []
    for job in job_files:
        with h5py.File(job, "r") as h5:
            preds.append(h5["preds"][()])
            starts.append(h5["start"][()])
            site_length = int(h5["end"][0] - h5["start"][0])
    starts = np.concatenate(starts)
    write_predict_h5(out_file, np.concatenate(preds), regions, starts, site_length)
    if options.bigwig_indexes:
        values = [np.load(os.path.join(os.path.dirname(job), "bigwig.npy")) for job in job_files]
        stride = site_length // values[0].shape[1]
        _write_bigwigs(os.path.dirname(out_file), regions, np.concatenate(values), starts,
                       stride, fasta, options)  # fmt: skip


def _write_bigwigs(
    out_dir: str,
    regions: Sequence[Region],
    values: np.ndarray,
    starts: np.ndarray,
    stride: int,
    fasta: str,
    options: PredictOptions,
) -> None:
    """``out_dir/bigwig/t{i}.bw`` of the BigWig targets' values [N, site bins, targets]."""
    if not options.bigwig_indexes:
        return
    if options.genome_file:
        sizes = read_chrom_sizes(options.genome_file)
    else:
        with Genome(fasta) as genome:
            sizes = genome.sizes
    names = [f"t{t}" for t in options.bigwig_indexes]
    write_bigwigs(os.path.join(out_dir, "bigwig"), regions, values, starts, stride, sizes, names)
