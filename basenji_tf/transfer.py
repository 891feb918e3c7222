"""Fine-tuning a pretrained model: the params' ``transfer`` section applied to a SeqNN.

``basenji_train.py --restore model_human.h5 --trunk`` (or ``basenji_transfer.py``, the
successor library's name for the same command) with a ``transfer`` section:

* ``full``: every weight trains, batch normalization included (ordinary training).
* ``linear``: the trunk is frozen, the heads train (a linear probe when the head is one
  ``final`` block).
* ``adapter``: the trunk is frozen and :mod:`basenji_tf.adapters` layers train with the
  heads: ``lora``, ``ia3``, ``locon`` (merged back into the kernels whenever a model file
  is written, so ``model_best.h5`` is an ordinary model of the plain params), ``houlsby``
  and ``houlsby_se`` (kept as layers; the output ``params.json`` rebuilds them).

A frozen layer is a Keras layer with ``trainable = False``: a frozen BatchNormalization
normalizes with its moving statistics (inference mode) in training steps too, and keeps
them. Dropout in a frozen trunk still drops in training steps (as in the original's
frozen trunks).

The output ``params.json`` is the params file without its ``transfer`` section (plus the
``adapter`` model keys for houlsby / houlsby_se): the params that rebuild the model files.
Runs with a transfer section and no ``warmup_steps`` warm the learning rate up over their
first epoch (:func:`fine_tuning_settings`).

Differences from the successor library: the merged model is ``model_best.h5`` itself (not a
second ``model_best.mergeW.h5``), and so is ``model_check.h5``; LoRA adapts the trunk's
kernel-1 convolutions and Dense layers (Basenji has no attention); locon also trains that
LoRA with its own rank and alpha (``adapter_latent``, ``lora_alpha``; the library used 8
and 16 whatever the keys said).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from basenji_tf import adapters, seqnn
from basenji_tf.errors import InputError
from basenji_tf.genome import read_bed_records
from basenji_tf.params import (
    MODEL_ADAPTERS,
    TrainParams,
    TransferParams,
    parse_transfer_params,
    read_params,
)
from basenji_tf.tfrecords import read_sequences_bed

log = logging.getLogger(__name__)

MERGED_ADAPTERS = ("lora", "ia3", "locon")


@dataclasses.dataclass
class Transfer:
    """A SeqNN prepared for fine-tuning, and how its model files are written.

    Attributes:
        model: the model to train (with its adapters; a new SeqNN for houlsby and
            houlsby_se, else the one given, changed in place).
        settings: the transfer section.
        params: the params that rebuild the written model files (no transfer section).
    """

    model: seqnn.SeqNN
    settings: TransferParams
    params: dict
    _plain: seqnn.SeqNN | None = dataclasses.field(default=None, repr=False)

    @property
    def params_text(self) -> str:
        """:attr:`params` as the output ``params.json`` holds it."""
        return json.dumps(self.params, indent=4) + "\n"

    @property
    def merges(self) -> bool:
        """Whether model files hold the adapters merged into plain kernels."""
        return self.settings.mode == "adapter" and self.settings.adapter in MERGED_ADAPTERS

    def merged(self) -> seqnn.SeqNN:
        """A SeqNN of the plain params holding the adapted model's weights, merged.

        Predictions equal the adapted model's up to float32 rounding. Built once, then
        refreshed from the adapted model on every call.
        """
        if self._plain is None:
            self._plain = seqnn.SeqNN(self.model.params, params_json=self.params)
        merge_into(self.model, self._plain)
        return self._plain

    def save(self, path: str | os.PathLike, head_i: int) -> None:
        """Write head ``head_i``'s model (legacy HDF5): merged, or with its adapters."""
        (self.merged() if self.merges else self.model).save(path, head_i=head_i)


def apply_transfer(
    model: seqnn.SeqNN, settings: TransferParams, params: dict, source: str = "params"
) -> Transfer:
    """Freeze and adapt a (restored) SeqNN as ``settings`` says.

    Call inside the distribution strategy's scope: adapters add variables.

    Args:
        model: the pretrained model; changed in place, except for houlsby / houlsby_se,
            which build a new SeqNN with its weights.
        settings: the parsed transfer section.
        params: the whole params file.
        source: the params file, for messages.

    Raises:
        InputError: the model has no layer the adapter adapts, ``conv_select`` exceeds its
            convolutions, or its params already build adapters.
    """
    out_params = output_params(params, settings)
    if settings.mode == "full":
        return Transfer(model, settings, out_params)
    if settings.mode == "adapter" and model.params.adapter is not None:
        raise InputError(
            f"{source}: model.adapter {model.params.adapter!r}: the model has adapters "
            "already; drop the transfer section (or the model's adapter keys)"
        )
    adapter = settings.adapter if settings.mode == "adapter" else None
    trunk = model.model_trunk
    if adapter in MODEL_ADAPTERS:
        if adapter == "houlsby_se":
            adapters.last_convs(trunk, settings.conv_select, f"{source}: transfer.conv_select")
        adapted = seqnn.SeqNN(
            dataclasses.replace(
                model.params,
                adapter=adapter,
                adapter_latent=settings.adapter_latent,
                se_rank=settings.conv_latent,
                conv_select=settings.conv_select,
            ),
            source=source,
            params_json=out_params,
            precision=model.precision,
        )
        copy_weights(model, adapted)
        model = adapted
    elif adapter == "ia3":
        targets = [
            layer.name
            for layer in adapters.trunk_convs(trunk) + adapters.pointwise_layers(trunk)
            if getattr(layer.activation, "__name__", "") == "linear"
        ]
        model.insert_adapters(adapters.AdapterPlan(ia3=tuple(dict.fromkeys(targets))))
    _freeze_trunk(model, houlsby=adapter in MODEL_ADAPTERS)
    if adapter in ("lora", "locon"):
        _low_rank(model.model_trunk, settings, source)
    return Transfer(model, settings, out_params)


def prepare(
    model: seqnn.SeqNN,
    settings: TransferParams,
    params: dict,
    params_file: str | os.PathLike,
    heads: Sequence[int],
    restored: bool,
) -> Transfer:
    """:func:`apply_transfer` for a training run, which logs the parameter counts.

    Args:
        model: the model as loaded, with the ``restore`` weights.
        settings: the parsed transfer section.
        params: the whole params file.
        params_file: its name, for messages.
        heads: the heads the run trains (their parameters are counted).
        restored: whether the model holds pretrained (or resumed) weights.

    Raises:
        InputError: without them: a transfer section fine-tunes a pretrained model.
    """
    if not restored:
        raise InputError(
            f"{params_file}: a transfer section fine-tunes a pretrained model; give its file "
            "with --restore (and --trunk for a trunk, or another head's model file)"
        )
    tuned = apply_transfer(model, settings, params, os.fspath(params_file))
    counts = format_counts(parameter_counts(tuned.model, heads))
    log.info("transfer %s: parameters per layer group\n%s", settings.mode, counts)
    return tuned


def _freeze_trunk(model: seqnn.SeqNN, houlsby: bool) -> None:
    """Freeze every trunk layer but the adapters (and, for Houlsby, layer norms)."""
    for layer in model.model_trunk.layers:
        layer.trainable = adapters.is_adapter_layer(layer) or (
            houlsby and isinstance(layer, keras.layers.LayerNormalization)
        )


def _low_rank(trunk: keras.Model, settings: TransferParams, source: str) -> None:
    """LoRA on the pointwise layers; for locon, LoCon on the last conv_select Conv1D.

    As in the successor library, locon with conv_select equal to the number of Conv1D
    layers trains the first one in full and adapts the others.
    """
    pointwise = adapters.pointwise_layers(trunk)
    locon: list = []
    if settings.adapter == "locon":
        convs = adapters.trunk_convs(trunk)
        locon = adapters.last_convs(trunk, settings.conv_select, f"{source}: transfer.conv_select")
        if len(locon) == len(convs):
            convs[0].trainable = True
            locon = locon[1:]
            pointwise = [layer for layer in pointwise if layer is not convs[0]]
    elif not pointwise:
        raise InputError(
            f"{source}: transfer.adapter 'lora': the trunk has no kernel-1 Conv1D or Dense "
            "layer to adapt; use locon (the last transfer.conv_select convolutions)"
        )
    for layer in pointwise:
        if not any(layer is other for other in locon):
            adapters.enable_low_rank(layer, settings.adapter_latent, settings.lora_alpha)
    for layer in locon:
        adapters.enable_low_rank(layer, settings.conv_latent, settings.locon_alpha)


def output_params(params: dict, settings: TransferParams) -> dict:
    """The params that rebuild the fine-tuned model files.

    The params without their transfer section; for houlsby / houlsby_se with the model
    keys that build the adapters.
    """
    out = copy.deepcopy(params)
    out.pop("transfer", None)
    if settings.mode == "adapter" and settings.adapter in MODEL_ADAPTERS:
        out["model"]["adapter"] = settings.adapter
        out["model"]["adapter_latent"] = settings.adapter_latent
        if settings.adapter == "houlsby_se":
            out["model"]["se_rank"] = settings.conv_latent
            out["model"]["conv_select"] = settings.conv_select
    return out


def _layers_by_name(model: seqnn.SeqNN) -> dict[str, keras.layers.Layer]:
    return {layer.name: layer for m in model.models for layer in m.layers}


def copy_weights(source: seqnn.SeqNN, target: seqnn.SeqNN) -> None:
    """Copy every weighted layer of ``source`` into ``target``'s layer of the same name."""
    layers = _layers_by_name(target)
    for name, layer in _layers_by_name(source).items():
        if layer.weights:
            layers[name].set_weights(layer.get_weights())


def merge_into(adapted: seqnn.SeqNN, plain: seqnn.SeqNN) -> None:
    """Write ``adapted``'s weights into ``plain`` (the same params without adapters).

    LoRA / LoCon updates are added to their kernels, IA3 scales multiply their layer's
    output channels (:func:`basenji_tf.adapters.merged_weights`).
    """
    source = _layers_by_name(adapted)
    for name, layer in _layers_by_name(plain).items():
        if not layer.weights:
            continue
        ia3 = source.get(f"{name}_ia3")
        scale = None if ia3 is None else np.asarray(ia3.scale.numpy())
        values = adapters.merged_weights(source[name], scale)
        layer.set_weights([values[w.name] for w in layer.weights])


# -- parameter counts ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GroupCount:
    """Parameters of one layer group.

    A group is a block of the params (``trunk2_dilated_residual``, ``head_human0_final``)
    with its adapters, or a layer outside the blocks.
    """

    group: str
    layers: int
    trainable: int
    total: int


def parameter_counts(model: seqnn.SeqNN, heads: Sequence[int] = (0,)) -> list[GroupCount]:
    """Trainable and total parameters per layer group of the models of ``heads``.

    Totals count every weight, the frozen ones and batch normalization's moving
    statistics included. Groups are in graph order.
    """
    prefixes = [f"trunk{bi}_{b['name']}" for bi, b in enumerate(model.params.trunk)] + [
        f"{key}{bi}_{b['name']}"
        for key, blocks in model.params.heads.items()
        for bi, b in enumerate(blocks)
    ]
    rows: dict[str, list[int]] = {}
    seen: set[int] = set()
    for head in heads:
        for layer in model.models[head].layers:
            if not layer.weights or id(layer) in seen:
                continue
            seen.add(id(layer))
            owners = [p for p in prefixes if layer.name == p or layer.name.startswith(p + "_")]
            row = rows.setdefault(max(owners, key=len) if owners else layer.name, [0, 0, 0])
            row[0] += 1
            row[1] += sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
            row[2] += sum(int(np.prod(w.shape)) for w in layer.weights)
    return [GroupCount(group, *row) for group, row in rows.items()]


def format_counts(counts: Sequence[GroupCount]) -> str:
    """The counts as a table: ``group layers trainable total`` and a total line."""
    width = max([len(c.group) for c in counts] + [5])
    lines = [f"{'group':<{width}}  {'layers':>6}  {'trainable':>11}  {'total':>11}"]
    lines += [
        f"{c.group:<{width}}  {c.layers:>6}  {c.trainable:>11,}  {c.total:>11,}" for c in counts
    ]
    trainable, total = sum(c.trainable for c in counts), sum(c.total for c in counts)
    lines.append(
        f"{'total':<{width}}  {sum(c.layers for c in counts):>6}  {trainable:>11,}  {total:>11,}"
    )
    return "\n".join(lines)


def read_transfer_params(params_file: str | os.PathLike) -> tuple[dict, TransferParams]:
    """The params file and its transfer section (basenji_transfer.py requires one).

    Raises:
        InputError: no transfer section, or a bad one.
    """
    params = read_params(params_file)
    settings = parse_transfer_params(params, os.fspath(params_file))
    if settings is None:
        raise InputError(
            f'{params_file}: no transfer section; add one, e.g. "transfer": {{"mode": '
            '"adapter", "adapter": "lora"}, or train with basenji_train.py'
        )
    return params, settings


def transfer_counts(
    params_file: str | os.PathLike,
    restore: str | os.PathLike | None = None,
    trunk: bool = False,
    heads: Sequence[int] = (0,),
) -> list[GroupCount]:
    """``basenji_transfer.py --skip_train``: the counts of the model the run would train.

    Raises:
        InputError: the params file has no transfer section, or bad params.
    """
    params, settings = read_transfer_params(params_file)
    model = seqnn.load(params_file, restore, trunk=trunk, augment=True)
    for head in heads:
        if not 0 <= head < len(model.models):
            raise InputError(
                f"--heads {head}: the params define {len(model.models)} head(s) "
                f"({', '.join(model.params.head_keys)}), numbered from 0"
            )
    adapted = apply_transfer(model, settings, params, os.fspath(params_file)).model
    return parameter_counts(adapted, heads)


# -- guard rails ----------------------------------------------------------------------------


def fine_tuning_settings(settings: TrainParams, train: dict, steps_per_epoch: int) -> TrainParams:
    """The train settings of a transfer run.

    Without ``warmup_steps`` in the params' ``train`` section: a linear warm-up over the
    first epoch (``steps_per_epoch``, all datasets' steps), so the new head's first large
    gradients meet a small rate.
    """
    if "warmup_steps" in train:
        return settings
    log.info("transfer: learning-rate warm-up over the first epoch (%d steps)", steps_per_epoch)
    return dataclasses.replace(settings, warmup_steps=steps_per_epoch)


def _chrom_key(chrom: str) -> str:
    return chrom[3:] if chrom.startswith("chr") else chrom


def trained_regions(pretrain_bed: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The regions a pretrained model was trained on: merged (starts, ends) per chromosome.

    The ``train`` rows of its sequences.bed, or every row of a BED without a fourth
    column; chromosome keys without a ``chr`` prefix.

    Raises:
        InputError: a malformed BED, or one without training rows.
    """
    by_chrom: dict[str, list[tuple[int, int]]] = {}
    for record in read_bed_records(pretrain_bed, "pretraining sequences.bed"):
        if len(record.fields) < 4 or record.fields[3].strip() == "train":
            by_chrom.setdefault(_chrom_key(record.chrom), []).append((record.start, record.end))
    if not by_chrom:
        raise InputError(
            f"{pretrain_bed}: no 'train' rows; give the pretraining data directory's "
            "sequences.bed, or a BED of the regions the model was trained on"
        )
    merged = {}
    for chrom, intervals in by_chrom.items():
        starts, ends = [], []
        for start, end in sorted(intervals):
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        merged[chrom] = (np.array(starts), np.array(ends))
    return merged


def split_overlaps(
    data_dir: str | os.PathLike, trained: dict, splits: Sequence[str] = ("valid", "test")
) -> dict[str, tuple[int, int, int]]:
    """Per split of ``data_dir``: (regions, regions overlapping ``trained``, overlap bp)."""
    out = {}
    for split in splits:
        bed = read_sequences_bed(data_dir, split)
        hits = overlap_bp = 0
        for chrom, start, end in zip(bed["chrom"], bed["start"], bed["end"]):
            if _chrom_key(chrom) not in trained:
                continue
            starts, ends = trained[_chrom_key(chrom)]
            first = np.searchsorted(ends, start, side="right")
            last = np.searchsorted(starts, end, side="left")
            bp = int(
                np.sum(np.minimum(ends[first:last], end) - np.maximum(starts[first:last], start))
            )
            hits += bp > 0
            overlap_bp += bp
        out[split] = (len(bed), hits, overlap_bp)
    return out


def check_pretrain_overlap(
    data_dirs: Sequence[str | os.PathLike], pretrain_bed: str | os.PathLike, strict: bool = False
) -> list[str]:
    """Warn (or, ``strict``, refuse) when fine-tuning valid/test regions were pretrained on.

    Returns:
        the warnings, one per split that overlaps (also logged).

    Raises:
        InputError: with ``strict``, the first overlap.
    """
    trained = trained_regions(pretrain_bed)
    messages = []
    for data_dir in data_dirs:
        for split, (regions, hits, bp) in split_overlaps(data_dir, trained).items():
            if not hits:
                continue
            message = (
                f"{Path(data_dir) / 'sequences.bed'}: {hits} of {regions} {split} regions "
                f"({bp} bp) overlap the training regions of {pretrain_bed}, so their accuracy "
                f"is not held out; make the {split} split from the pretraining valid/test "
                "regions"
            )
            if strict:
                raise InputError(message + " (or drop --strict to go on)")
            log.warning(message)
            messages.append(message)
    return messages
