"""Params JSON -> validated, frozen settings.

A params file is ``{"train": {...}, "model": {...}}``: :func:`parse_model_params` reads the
``model`` section into :class:`ModelParams`, :func:`parse_train_params` the ``train``
section into :class:`TrainParams`. Unknown keys are an error (the original silently set
any key as an attribute), and the block lists are checked when the model is built
(:mod:`basenji_tf.blocks`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from natsort import natsorted

from basenji_tf.errors import InputError
from basenji_tf.layers import resolve_activation_name

LOSSES = ("poisson", "mse", "bce", "poisson_mn")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")


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
    try:
        activation = model.get("activation")
        resolve_activation_name(activation)
    except ValueError as err:
        raise InputError(f"{source}: {err}") from None
    strand_pair = model.get("strand_pair") or ()
    return ModelParams(
        seq_length=int(model["seq_length"]),
        seq_depth=int(model.get("seq_depth", 4)),
        trunk=tuple(model["trunk"]),
        heads={k: _as_block_list(model[k]) for k in head_keys},
        activation=activation,
        augment_rc=bool(model.get("augment_rc", False)),
        augment_shift=_parse_shift(model.get("augment_shift", 0), source),
        strand_pair=tuple(list(sp) if sp is not None else None for sp in strand_pair),
        block_globals={k: model[k] for k in _BLOCK_GLOBALS if k in model}
        | ({"activation": activation} if activation else {}),
        target_length=model.get("target_length"),
    )


def _as_block_list(head) -> list[dict]:
    return [head] if isinstance(head, dict) else list(head)


def _parse_shift(value, source: str) -> int:
    """The original accepts an int (shift range +-value) or the list [0] (no shift)."""
    if isinstance(value, list):
        if len(value) == 1:
            value = value[0]
        else:
            raise InputError(f"{source}: augment_shift must be an integer, got {value}")
    if not isinstance(value, int) or value < 0:
        raise InputError(f"{source}: augment_shift must be a non-negative integer")
    return value


def read_params(path: str | os.PathLike) -> dict:
    """Read a params JSON file (both sections, unvalidated)."""
    try:
        with open(path) as handle:
            params = json.load(handle)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if "model" not in params:
        raise InputError(f"{path}: params file needs a 'model' section")
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


# Keys the original accepts but never reads (``train_epochs`` appears in published params).
_IGNORED_TRAIN_KEYS = ("train_epochs",)


def parse_train_params(train: dict, source: str = "params") -> TrainParams:
    """Validate the ``train`` dict of a params file.

    Raises:
        InputError: unknown key, unknown loss or optimizer, or a non-positive batch size.
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
    if settings.batch_size < 1:
        raise InputError(f"{source}: train batch_size must be positive")
    return settings
