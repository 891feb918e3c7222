"""What the scoring commands share: their model options -> a :class:`ModelSpec`."""

from __future__ import annotations

import argparse

from basenji_tf.scoring.ensemble import ModelSpec


def model_spec(args: argparse.Namespace) -> ModelSpec:
    """The model, head, targets table and ensemble of a scoring command's options.

    Reads ``params_file``, ``model_file``, ``head_i``, ``targets_file``, ``rc``, ``shifts``,
    ``batch_size`` and, where the command has it, ``no_splice``.
    """
    return ModelSpec(
        args.params_file,
        args.model_file,
        args.head_i,
        args.targets_file,
        args.rc,
        tuple(args.shifts),
        args.batch_size,
        splice=not getattr(args, "no_splice", False),
    )
