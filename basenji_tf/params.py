"""Params JSON -> validated model settings.

A params file is ``{"train": {...}, "model": {...}}``. This module owns the ``model``
section; the ``train`` section belongs to :mod:`basenji_tf.train`. Unknown model keys are
an error (the original silently set any key as an attribute), and the block lists are
checked when the model is built (:mod:`basenji_tf.blocks`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from natsort import natsorted

from basenji_tf.errors import InputError
from basenji_tf.layers import resolve_activation_name


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


_BLOCK_GLOBALS = ("batch_norm", "bn_momentum", "norm_type", "l2_scale", "l1_scale",
                  "padding", "kernel_initializer")
_IGNORED = ("verbose", "ensemble_rc", "ensemble_shifts", "num_targets", "diagonal_offset")
_KNOWN = ("seq_length", "seq_depth", "trunk", "activation", "augment_rc", "augment_shift",
          "strand_pair", "target_length") + _BLOCK_GLOBALS + _IGNORED


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
