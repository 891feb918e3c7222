"""What the scoring commands share: model options -> a :class:`ModelSpec`, shard options.

Like every command module, this one imports no TensorFlow at module level (``--help``
and usage errors answer at once): the library modules are imported where they are used.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from basenji_tf.cli._common import add_scheduler_options, executor_from_args
from basenji_tf.cli._types import positive_int

if TYPE_CHECKING:
    from basenji_tf.scoring.ensemble import ModelSpec

Result = TypeVar("Result")

# basenji_tf.seqnn.PRECISIONS, named here to check --precision without importing
# TensorFlow (tests/test_precision.py holds the two equal)
PRECISION_CHOICES = ("float32", "bfloat16", "float16")


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """``--precision`` (and ``--float16``, baskerville's spelling of ``--precision float16``)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="float32",
        help="compute precision of the model (variables and outputs stay float32; "
        "bfloat16 is fast on CPUs with AVX-512 BF16, float16 on GPUs; accuracy and "
        "speed in docs/precision.md)",
    )
    group.add_argument(
        "--float16",
        dest="precision",
        action="store_const",
        const="float16",
        help="the same as --precision float16 (baskerville's option)",
    )


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--precision``/``--float16`` and ``--max_call_bp``: what :func:`model_spec` reads."""
    add_precision_option(parser)
    parser.add_argument(
        "--max_call_bp",
        type=positive_int,
        help="most input bp per model call: sequences go min(--batch_size, this / their "
        "bp) at a time, and windows of nearby variants share their conv tower over regions "
        "of at most this length (one window: no sharing). Lower it to save memory; "
        "results then change by float rounding only (docs/precision.md; default: the "
        "conv tower 131072 bp per call, the rest --batch_size sequences, regions up to "
        "three windows)",
    )


def model_spec(args: argparse.Namespace) -> ModelSpec:
    """The model, head, targets table and ensemble of a scoring command's options.

    Reads ``params_file``, ``model_file``, ``head_i``, ``targets_file``, ``rc``, ``shifts``,
    ``batch_size``, ``precision``, ``max_call_bp`` and, where the command has it,
    ``no_splice``.
    """
    from basenji_tf.scoring.ensemble import ModelSpec

    return ModelSpec(
        args.params_file,
        args.model_file,
        args.head_i,
        args.targets_file,
        args.rc,
        tuple(args.shifts),
        args.batch_size,
        splice=not getattr(args, "no_splice", False),
        precision=args.precision,
        max_call_bp=args.max_call_bp,
    )


def add_keep_shards_option(parser: argparse.ArgumentParser) -> None:
    """``--keep_shards``: keep the ``job{i}`` directories of a sharded run."""
    parser.add_argument(
        "--keep_shards",
        action="store_true",
        help="keep the shards' job0, job1, ... directories in the output directory "
        "(removed after the merge, and after a failed run, by default)",
    )


def add_shard_options(parser: argparse.ArgumentParser, what: str) -> None:
    """``-p``, ``--scheduler``, ``--scheduler_file`` and ``--keep_shards``.

    Args:
        parser: the command's parser.
        what: what is split into shards, for the help ("the VCF's records").
    """
    parser.add_argument(
        "-p",
        dest="processes",
        type=positive_int,
        help=f"split {what} over this many local processes and merge (default and 1: in "
        "this process; with --scheduler: at least this many shard tasks)",
    )
    add_scheduler_options(parser)
    add_keep_shards_option(parser)


def shard_count(args: argparse.Namespace, parallelism: int) -> int | None:
    """Shard tasks: ``-p``, or one per worker thread of a Dask cluster; None: no shards."""
    if args.scheduler or args.scheduler_file:
        return max(args.processes or 1, parallelism)
    return args.processes if args.processes and args.processes > 1 else None


def run_sharded(args: argparse.Namespace, run: Callable[..., Result], *run_args) -> Result:
    """``run(*run_args, shards=..., executor=..., keep_shards=...)`` from the shard options.

    Shards: ``-p`` when above 1, or at least one per worker thread with a scheduler
    (:func:`shard_count`); None runs in this process.
    """
    with executor_from_args(args) as executor:
        shards = shard_count(args, executor.parallelism)
        return run(*run_args, shards=shards, executor=executor, keep_shards=args.keep_shards)


def multi_parser(parser: argparse.ArgumentParser, prog: str, single: str) -> None:
    """Turn a single command's parser into its ``*_multi.py`` front end's (in place).

    ``-p`` (already on ``parser``, from :func:`add_shard_options`) becomes the number of
    shards, 2 by default: the original's ``-p``, the number of its Slurm jobs.

    Args:
        parser: the single command's ``build_parser()``.
        prog: the multi command's name.
        single: the single command's name, for the description.
    """
    parser.prog = prog
    parser.description = (
        f"{single} split into -p shards (job0, job1, ... in the output directory) run in "
        "local processes, at most --max_proc at once, or as tasks on a Dask cluster "
        "(--scheduler), and merged into the output a single process writes, byte for "
        "byte. The original's Slurm options are accepted and ignored (docs/scaling.md)."
    )
    processes = parser._option_string_actions["-p"]
    processes.help = "number of shards (default: 2; with --scheduler: at least this many)"


def add_slurm_options(
    parser: argparse.ArgumentParser,
    name: str | None,
    conda_env: str | None = "tf2.6",
    name_flags: tuple[str, ...] = ("--name",),
    restart_flags: tuple[str, ...] = ("-r",),
    max_proc: bool = True,
    cpu: bool = False,
) -> None:
    """The original ``*_multi.py`` options of its Slurm jobs: accepted, and ignored.

    ``--max_proc`` alone acts (local processes at once, :func:`run_multi`); ``-r`` and
    the rest are named in one warning (:func:`warn_slurm_ignored`).

    Args:
        parser: the command's parser.
        name: the default Slurm job name (``--name``; None with no ``name_flags``).
        conda_env: the default of ``-e`` (None: the command has no ``-e conda_env``).
        name_flags: the option strings of the job name (``-n`` in basenji_sat_bed_multi;
            none: the command has no job name option).
        restart_flags: the option strings of restart (``-r``, ``--restart``).
        max_proc: add ``--max_proc``.
        cpu: add ``--cpu`` (Slurm jobs without a GPU).
    """
    add = parser.add_argument
    add("-q", dest="queue", default="geforce", help="Slurm queue; ignored: see -p, --scheduler")
    if conda_env is not None:
        add("-e", dest="conda_env", default=conda_env, help="conda env of Slurm jobs; ignored")
    if name_flags:
        add(*name_flags, dest="name", default=name, help="Slurm job name prefix; ignored")
    if max_proc:
        add("--max_proc", type=positive_int, help="shards running at once (default: -p)")
    if cpu:
        add("--cpu", action="store_true", help="Slurm jobs on CPUs; ignored (runs where it runs)")
    add(
        *restart_flags,
        dest="restart",
        action="store_true",
        help="the original's restart of a partial run; accepted with a warning: every run "
        "scores all shards (an output directory holding an earlier run's output is "
        "overwritten)",
    )


def warn_slurm_ignored(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """One warning naming the Slurm options given that change nothing here, and ``-r``."""
    given = [
        dest
        for dest in ("queue", "conda_env", "name", "cpu", "restart")
        if hasattr(args, dest) and getattr(args, dest) != parser.get_default(dest)
    ]
    if given:
        logging.warning(
            "ignored (the original's Slurm options; shards run on -p local processes or "
            "--scheduler, and every run scores all shards): %s",
            ", ".join(given),
        )


def run_multi(args: argparse.Namespace, run: Callable[..., Result], *run_args) -> Result:
    """``run(*run_args, shards=..., executor=..., keep_shards=...)`` of a ``*_multi.py``.

    ``-p`` shards (default 2; at least one per worker thread with a scheduler), at most
    ``--max_proc`` local processes at once.
    """
    args.processes = args.processes or 2
    max_proc = getattr(args, "max_proc", None) or args.processes
    with executor_from_args(args, max_proc) as executor:
        shards = shard_count(args, executor.parallelism) or 1
        return run(*run_args, shards=shards, executor=executor, keep_shards=args.keep_shards)
