"""Params JSON -> validated, frozen settings.

A params file is ``{"train": {...}, "model": {...}}``: :func:`parse_model_params` reads the
``model`` section into :class:`ModelParams`, :func:`parse_train_params` the ``train``
section into :class:`TrainParams`, :func:`parse_transfer_params` the ``transfer`` section
(fine-tuning a pretrained model) into :class:`TransferParams`. Unknown keys are an error
(the original silently set any key as an attribute), and the block lists are checked when
the model is built (:mod:`basenji_tf.blocks`).
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
from typing import Any

from natsort import natsorted

from basenji_tf.blocks import KERAS_BLOCKS
from basenji_tf.errors import InputError
from basenji_tf.layers import resolve_activation_name

LOSSES = ("poisson", "mse", "bce", "poisson_mn")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
# transfer.mode and transfer.adapter (docs/train.md, "Transfer learning"); adapters that
# cannot be merged into the pretrained kernels are model keys of the params they write.
TRANSFER_MODES = ("full", "linear", "adapter")
ADAPTERS = ("lora", "ia3", "locon", "houlsby", "houlsby_se")
MODEL_ADAPTERS = ("houlsby", "houlsby_se")


@dataclasses.dataclass(frozen=True)
class ModelParams:
    """The ``model`` section of a params file.

    Attributes:
        seq_length: input length in bp.
        trunk: block dicts of the shared trunk, applied in order.
        heads: head key -> list of block dicts, natsorted by key (head index order).
        activation: model-wide activation, passed to blocks and applied once more after
            the trunk (None: none).
        augment_rc, augment_shift: training-time augmentation (shift in bp, +-).
        strand_pair: per head, target index of each target's opposite strand (or empty).
        block_globals: the model-wide keys injected into blocks (norm_type, ...).
        target_length: informative only (the model's own output length wins).
        adapter: adapters built into the trunk, one of :data:`MODEL_ADAPTERS` (None: none),
            as the params file that ``basenji_transfer.py`` writes for them says:
            ``adapter_latent`` (Houlsby bottleneck width), ``se_rank`` and ``conv_select``
            (squeeze-excite bottleneck width, on the last ``conv_select`` Conv1D layers).
    """

    seq_length: int
    trunk: tuple
    heads: dict
    seq_depth: int = 4
    activation: str | None = None
    augment_rc: bool = False
    augment_shift: int = 0
    strand_pair: tuple = ()
    block_globals: dict = dataclasses.field(default_factory=dict)
    target_length: int | None = None
    adapter: str | None = None
    adapter_latent: int = 8
    se_rank: int = 4
    conv_select: int = 4

    @property
    def head_keys(self) -> list[str]:
        return list(self.heads)


_BLOCK_GLOBALS = (
    "batch_norm",
    "bn_momentum",
    "norm_type",
    "l2_scale",
    "l1_scale",
    "padding",
    "kernel_initializer",
)
_IGNORED = ("verbose", "ensemble_rc", "ensemble_shifts", "num_targets", "diagonal_offset")
_ADAPTER_KEYS = ("adapter", "adapter_latent", "se_rank", "conv_select")
_KNOWN = (
    (
        "seq_length",
        "seq_depth",
        "trunk",
        "activation",
        "augment_rc",
        "augment_shift",
        "strand_pair",
        "target_length",
    )
    + _BLOCK_GLOBALS
    + _IGNORED
    + _ADAPTER_KEYS
)


def parse_model_params(model: dict[str, Any], source: str = "params") -> ModelParams:
    """Validate the ``model`` dict of a params file.

    Raises:
        InputError: unknown key, missing seq_length / trunk / head, bad augment_shift.
    """
    unknown = sorted(k for k in model if k not in _KNOWN and not k.startswith("head"))
    if unknown:
        raise InputError(
            f"{source}: unknown model key(s) {', '.join(unknown)}; valid keys: "
            f"{', '.join(sorted(_KNOWN))} and head* keys"
        )
    for required in ("seq_length", "trunk"):
        if required not in model:
            raise InputError(f"{source}: model section needs {required!r}")
    head_keys = natsorted(k for k in model if k.startswith("head"))
    if not head_keys:
        raise InputError(f"{source}: model section needs at least one head* key")
    for key, rule in _MODEL_RULES.items():
        if key in model:
            _check_value(model[key], rule, f"{source}: model.{key}")
    _check_kinds(model, source)
    trunk = _block_dicts(model["trunk"], f"{source}: model.trunk", allow_one=False)
    heads = {k: _block_dicts(model[k], f"{source}: model.{k}") for k in head_keys}
    trunk_bins = _output_length(model["seq_length"], trunk, f"{source}: model.trunk")
    for key, head in heads.items():
        _output_length(trunk_bins, head, f"{source}: model.{key}")
    try:
        activation = model.get("activation")
        resolve_activation_name(activation)
    except ValueError as err:
        raise InputError(f"{source}: {err}") from None
    strand_pair = model.get("strand_pair") or ()
    return ModelParams(
        seq_length=int(model["seq_length"]),
        seq_depth=int(model.get("seq_depth", 4)),
        trunk=tuple(trunk),
        heads=heads,
        activation=activation,
        augment_rc=bool(model.get("augment_rc", False)),
        augment_shift=_parse_shift(model.get("augment_shift", 0), source),
        strand_pair=tuple(list(sp) if sp is not None else None for sp in strand_pair),
        block_globals={k: model[k] for k in _BLOCK_GLOBALS if k in model}
        | ({"activation": activation} if activation else {}),
        target_length=model.get("target_length"),
        **{k: model[k] for k in _ADAPTER_KEYS if k in model},
    )


def _check_kinds(model: dict, source: str) -> None:
    """Model keys whose value is not a number: booleans, strings and strand pairs."""
    for key in ("augment_rc", "batch_norm"):
        if not isinstance(model.get(key, False), bool):
            raise InputError(f"{source}: model.{key}: must be true or false")
    for key in ("activation", "norm_type", "padding", "kernel_initializer"):
        if not isinstance(model.get(key), str | None):
            raise InputError(f"{source}: model.{key}: must be a string or null")
    if model.get("adapter") not in (None, *MODEL_ADAPTERS):
        raise InputError(
            f"{source}: model.adapter: {model['adapter']!r} is not one of "
            f"{', '.join(MODEL_ADAPTERS)} or null; lora, ia3 and locon are merged into the "
            "weights and need no model keys"
        )
    pairs = model.get("strand_pair") or []
    if not isinstance(pairs, list) or not all(
        sp is None or (isinstance(sp, list) and all(_INDEX.accepts(i) for i in sp)) for sp in pairs
    ):
        raise InputError(
            f"{source}: model.strand_pair: must be a list with, per head, a list of target "
            "indexes (integers >= 0) or null"
        )


def _block_dicts(value, where: str, allow_one: bool = True) -> list[dict]:
    """A list of block dicts (a head may be one dict), each with a name and valid values.

    Raises:
        InputError: not a list of objects, a block without a name, or a keyword value out
            of its range (:data:`_BLOCK_RULES`; Keras passthrough blocks are Keras's).
    """
    if allow_one and isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
        raise InputError(f'{where}: must be a list of block objects like {{"name": ...}}')
    if allow_one and not value:
        raise InputError(f"{where}: a head needs at least one block")
    for bi, block in enumerate(value):
        if not isinstance(block.get("name"), str):
            raise InputError(f'{where}[{bi}]: block without a "name" string')
        if block["name"] in KERAS_BLOCKS:
            continue
        for key, rule in _BLOCK_RULES.items():
            if key in block:
                _check_value(block[key], rule, f"{where}[{bi}] ({block['name']}).{key}")
    return value


def _output_length(length: int, blocks: list[dict], where: str) -> int:
    """Positions after ``blocks`` (bins), checking that each pooling divides the length.

    Pooling and strides of conv_block / conv_tower divide the length; Cropping1D removes
    bins. Requiring exact division keeps the bin <-> bp mapping exact (with 'same' padding
    Keras would round up and shift every bin).

    Raises:
        InputError: a pooling step that does not divide the length, or a crop that
            leaves no bins.
    """
    for bi, block in enumerate(blocks):
        at = f"{where}[{bi}] ({block['name']})"
        if block["name"] in ("conv_block", "conv_tower"):
            step = block.get("pool_size", 1) * block.get("stride", block.get("strides", 1))
            repeat = block.get("repeat", 1) if block["name"] == "conv_tower" else 1
            for _ in range(repeat):
                if length % step:
                    raise InputError(
                        f"{at}: {length} positions do not divide by its pool_size x stride "
                        f"{step}; make seq_length a multiple of the model's total pooling"
                    )
                length //= step
        elif block["name"] == "Cropping1D":
            length -= _crop_total(block.get("cropping", 1), at)
            if length < 1:
                raise InputError(
                    f"{at}: cropping leaves no bins; crop less, or lengthen seq_length"
                )
    return length


def _crop_total(cropping, where: str) -> int:
    """Bins a Cropping1D removes: ``n`` on each side, or ``[left, right]``."""
    sides = cropping if isinstance(cropping, list) else [cropping, cropping]
    if len(sides) != 2 or not all(_INDEX.accepts(c) for c in sides):
        raise InputError(f"{where}: cropping {cropping!r} is not an integer >= 0 or a pair of them")
    return sum(sides)


def _parse_shift(value, source: str) -> int:
    """The original accepts an int (shift range +-value) or the list [0] (no shift)."""
    if isinstance(value, list):
        if len(value) == 1:
            value = value[0]
        else:
            raise InputError(f"{source}: augment_shift must be an integer, got {value}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{source}: augment_shift must be a non-negative integer")
    return value


def read_params(path: str | os.PathLike) -> dict:
    """Read a params JSON file: an object with a ``model`` object (and ``train`` object).

    The sections' keys are checked by :func:`parse_model_params` and
    :func:`parse_train_params`.

    Raises:
        InputError: not UTF-8 JSON, not an object, or a section that is not an object.
    """
    try:
        with open(path, "rb") as handle:
            params = json.loads(handle.read().decode())
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; a params file is JSON") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(params, dict):
        raise InputError(
            f"{path}: holds a JSON {type(params).__name__}, not an object; a params file is "
            '{"train": {...}, "model": {...}}'
        )
    if "model" not in params:
        raise InputError(f"{path}: params file needs a 'model' section")
    for section in ("model", "train", "transfer"):
        if section in params and not isinstance(params[section], dict):
            raise InputError(f"{path}: {section}: must be a JSON object of keys and values")
    return params


@dataclasses.dataclass(frozen=True)
class TrainParams:
    """The ``train`` section of a params file, with the original's defaults.

    Attributes:
        batch_size: sequences per global batch (split over replicas).
        shuffle_buffer: records in the training shuffle buffer.
        loss: one of :data:`LOSSES`.
        total_weight: weight of the Poisson total-count term of ``poisson_mn``.
        optimizer: one of :data:`OPTIMIZERS`.
        learning_rate: constant rate, or the peak after ``warmup_steps``.
        momentum: SGD momentum.
        adam_beta1, adam_beta2: Adam / AdamW moment decay rates.
        weight_decay: AdamW decoupled weight decay.
        clip_norm: per-variable gradient norm clip (``clipnorm`` is accepted too).
        global_clipnorm: clip of the norm of all gradients together.
        warmup_steps: linear warm-up from 0 to the rate over this many optimizer steps.
        initial_learning_rate, maximal_learning_rate, final_learning_rate,
        train_epochs_cycle1: all four together select the one-cycle schedule (a triangle
            from initial to maximal and back over ``train_epochs_cycle1`` epochs, then the
            final rate).
        patience: epochs without improvement before stopping.
        train_epochs_min, train_epochs_max: bounds on the number of epochs.
        num_gpu: more than 1 selects MirroredStrategy over the visible devices.
    """

    batch_size: int = 4
    shuffle_buffer: int = 128
    loss: str = "poisson"
    total_weight: float = 1.0
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.99
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    weight_decay: float = 0.004
    clip_norm: float | None = None
    global_clipnorm: float | None = None
    warmup_steps: int = 0
    initial_learning_rate: float | None = None
    maximal_learning_rate: float | None = None
    final_learning_rate: float | None = None
    train_epochs_cycle1: int | None = None
    patience: int = 20
    train_epochs_min: int = 1
    train_epochs_max: int = 10000
    num_gpu: int = 1


# ---------------------------------------------------------------------------------------
# Value rules: (type, low, low allowed, high, high allowed); None = no bound. "int" takes
# JSON integers only, "float" any JSON number; None values are allowed where the default
# is None (unset).


@dataclasses.dataclass(frozen=True)
class _Rule:
    kind: str
    low: float | None = None
    low_ok: bool = True
    high: float | None = None
    high_ok: bool = True
    optional: bool = False

    def describe(self) -> str:
        text = "an integer" if self.kind == "int" else "a number"
        if self.low is not None:
            text += f" {'>=' if self.low_ok else '>'} {self.low:g}"
        if self.high is not None:
            text += f" and {'<=' if self.high_ok else '<'} {self.high:g}"
        return text + (" (or null)" if self.optional else "")

    def accepts(self, value) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind == "int" and not isinstance(value, numbers.Integral):
            return False
        if value != value:  # NaN
            return False
        if self.low is not None and not (value >= self.low if self.low_ok else value > self.low):
            return False
        return self.high is None or (value <= self.high if self.high_ok else value < self.high)


def _check_value(value, rule: _Rule, where: str) -> None:
    if not rule.accepts(value):
        raise InputError(f"{where}: {value!r} is not {rule.describe()}; fix the value")


_POSITIVE = _Rule("float", 0, False)
_INDEX = _Rule("int", 0)
_FRACTION = _Rule("float", 0, True, 1, False)  # [0, 1)
_TRAIN_RULES = {
    "batch_size": _Rule("int", 1),
    "shuffle_buffer": _Rule("int", 1),
    "total_weight": _Rule("float", 0),
    "learning_rate": _POSITIVE,
    "momentum": _FRACTION,
    "adam_beta1": _FRACTION,
    "adam_beta2": _FRACTION,
    "weight_decay": _Rule("float", 0),
    "clip_norm": _Rule("float", 0, False, optional=True),
    "global_clipnorm": _Rule("float", 0, False, optional=True),
    "warmup_steps": _Rule("int", 0),
    "initial_learning_rate": _Rule("float", 0, False, optional=True),
    "maximal_learning_rate": _Rule("float", 0, False, optional=True),
    "final_learning_rate": _Rule("float", 0, False, optional=True),
    "train_epochs_cycle1": _Rule("int", 1, optional=True),
    "patience": _Rule("int", 0),
    "train_epochs_min": _Rule("int", 1),
    "train_epochs_max": _Rule("int", 1),
    "num_gpu": _Rule("int", 1),
}
_MODEL_RULES = {
    "seq_length": _Rule("int", 1),
    "seq_depth": _Rule("int", 1),
    "l2_scale": _Rule("float", 0),
    "l1_scale": _Rule("float", 0),
    "bn_momentum": _Rule("float", 0, True, 1, True),
    "target_length": _Rule("int", 1, optional=True),
    "adapter_latent": _Rule("int", 1),
    "se_rank": _Rule("int", 1),
    "conv_select": _Rule("int", 1),
}
# Block keywords with a range, whatever the block (blocks.py checks the names).
_BLOCK_RULES = {
    "filters": _Rule("int", 1),
    "filters_init": _Rule("int", 1),
    "filters_end": _Rule("int", 1),
    "filters_mult": _POSITIVE,
    "units": _Rule("int", 1),
    "kernel_size": _Rule("int", 1),
    "repeat": _Rule("int", 1),
    "pool_size": _Rule("int", 1),
    "stride": _Rule("int", 1),
    "strides": _Rule("int", 1),
    "dilation_rate": _Rule("int", 1),
    "divisible_by": _Rule("int", 1),
    "rate_mult": _POSITIVE,
    "rate_init": _POSITIVE,
    "dropout": _FRACTION,
    "l2_scale": _Rule("float", 0),
    "l1_scale": _Rule("float", 0),
    "bn_momentum": _Rule("float", 0, True, 1, True),
}


# Keys the original accepts but never reads (``train_epochs`` appears in published params).
_IGNORED_TRAIN_KEYS = ("train_epochs",)


def parse_train_params(train: dict, source: str = "params") -> TrainParams:
    """Validate the ``train`` dict of a params file.

    Raises:
        InputError: unknown key, unknown loss or optimizer, or a value of the wrong type or
            out of its range (:data:`_TRAIN_RULES`, docs/params.md).
    """
    train = dict(train)
    if "clipnorm" in train:
        train.setdefault("clip_norm", train.pop("clipnorm"))
    fields = {f.name: f for f in dataclasses.fields(TrainParams)}
    unknown = sorted(k for k in train if k not in fields and k not in _IGNORED_TRAIN_KEYS)
    if unknown:
        raise InputError(
            f"{source}: unknown train key(s) {', '.join(unknown)}; valid keys: "
            f"{', '.join(sorted(fields))}, clipnorm"
        )
    values = {k: v for k, v in train.items() if k in fields}
    for key, value in values.items():
        if key not in ("loss", "optimizer"):
            _check_value(value, _TRAIN_RULES[key], f"{source}: train.{key}")
    if "loss" in values:
        values["loss"] = str(values["loss"]).lower()
    if "optimizer" in values:
        values["optimizer"] = str(values["optimizer"]).lower()
    settings = TrainParams(**values)
    if settings.loss not in LOSSES:
        raise InputError(
            f"{source}: train loss {settings.loss!r} is not one of {', '.join(LOSSES)}"
        )
    if settings.optimizer not in OPTIMIZERS:
        raise InputError(
            f"{source}: train optimizer {settings.optimizer!r} is not one of "
            f"{', '.join(OPTIMIZERS)}"
        )
    if settings.train_epochs_max < settings.train_epochs_min:
        raise InputError(
            f"{source}: train.train_epochs_max {settings.train_epochs_max} is below "
            f"train_epochs_min {settings.train_epochs_min}; raise the maximum"
        )
    return settings


@dataclasses.dataclass(frozen=True)
class TransferParams:
    """The ``transfer`` section: how a pretrained model is fine-tuned (docs/train.md).

    Keys and defaults are those of Calico's successor library (baskerville), so its params
    files work.

    Attributes:
        mode: ``full`` (every weight trains), ``linear`` (the trunk is frozen, the heads
            train) or ``adapter`` (the trunk is frozen, ``adapter`` layers and the heads
            train).
        adapter: one of :data:`ADAPTERS` (``mode`` ``adapter`` only).
        adapter_latent: rank of ``lora`` and width of the ``houlsby`` bottlenecks.
        conv_select: the last this many Conv1D layers of the trunk get ``locon`` updates or
            squeeze-excite (``houlsby_se``).
        conv_latent: rank of the ``locon`` updates and width of the squeeze-excite
            bottlenecks.
        lora_alpha: ``lora`` updates are scaled by lora_alpha / adapter_latent.
        locon_alpha: ``locon`` updates are scaled by locon_alpha / conv_latent.
    """

    mode: str = "full"
    adapter: str | None = None
    adapter_latent: int = 8
    conv_select: int = 4
    conv_latent: int = 4
    lora_alpha: float = 16.0
    locon_alpha: float = 1.0


_TRANSFER_RULES = {
    "adapter_latent": _Rule("int", 1),
    "conv_select": _Rule("int", 1),
    "conv_latent": _Rule("int", 1),
    "lora_alpha": _POSITIVE,
    "locon_alpha": _POSITIVE,
}


def parse_transfer_params(params: dict, source: str = "params") -> TransferParams | None:
    """Validate the ``transfer`` section of a params file (None: the file has none).

    Raises:
        InputError: unknown key, a mode or adapter not in :data:`TRANSFER_MODES` /
            :data:`ADAPTERS`, an adapter without mode ``adapter`` (or the reverse), or a
            value out of its range (docs/params.md).
    """
    if "transfer" not in params:
        return None
    transfer = params["transfer"]
    if not isinstance(transfer, dict):
        raise InputError(f"{source}: transfer: must be a JSON object of keys and values")
    fields = [f.name for f in dataclasses.fields(TransferParams)]
    unknown = sorted(k for k in transfer if k not in fields)
    if unknown:
        raise InputError(
            f"{source}: unknown transfer key(s) {', '.join(unknown)}; valid keys: "
            f"{', '.join(sorted(fields))}"
        )
    for key, rule in _TRANSFER_RULES.items():
        if key in transfer:
            _check_value(transfer[key], rule, f"{source}: transfer.{key}")
    settings = TransferParams(**transfer)
    if settings.mode not in TRANSFER_MODES:
        raise InputError(
            f"{source}: transfer.mode: {settings.mode!r} is not one of {', '.join(TRANSFER_MODES)}"
        )
    if settings.mode == "adapter" and settings.adapter not in ADAPTERS:
        raise InputError(
            f"{source}: transfer.adapter: {settings.adapter!r} is not one of "
            f"{', '.join(ADAPTERS)}; mode 'adapter' needs one"
        )
    if settings.mode != "adapter" and settings.adapter is not None:
        raise InputError(
            f"{source}: transfer.adapter {settings.adapter!r} is only read with mode "
            f"'adapter', not {settings.mode!r}; set mode to adapter or drop the adapter key"
        )
    return settings
