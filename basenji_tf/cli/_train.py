"""The options and the library call that basenji_train.py and basenji_transfer.py share."""

from __future__ import annotations

import argparse

from basenji_tf.cli._common import comma_ints
from basenji_tf.cli._types import nonnegative_int, positive_int


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The params file, data directories and every option of basenji_train.py."""
    parser.add_argument("params_file")
    parser.add_argument("data_dirs", nargs="+", metavar="data_dir")
    parser.add_argument("-o", dest="out_dir", default="train_out", help="output directory")
    parser.add_argument("--restore", help="start from the weights of this model file")
    parser.add_argument("--trunk", action="store_true", help="restore the trunk only")
    parser.add_argument(
        "-m",
        dest="mixed_precision",
        action="store_true",
        help="mixed precision: float16 with loss scaling on GPUs, bfloat16 on CPUs with "
        "native bfloat16 (AVX512_BF16, AMX); elsewhere float32, with a warning",
    )
    parser.add_argument(
        "--xla",
        dest="jit_compile",
        action="store_true",
        help="XLA-compile the training step (measured slower on CPU; try it on GPUs)",
    )
    parser.add_argument("--tfr_train", help="TFRecord glob under tfrecords/ for training")
    parser.add_argument("--tfr_eval", help="TFRecord glob under tfrecords/ for validation")
    parser.add_argument(
        "-k",
        dest="keras_fit",
        action="store_true",
        help="accepted for compatibility; every run uses the same custom loop "
        "(Keras' fit cannot run under MultiWorkerMirroredStrategy)",
    )
    parser.add_argument("--seed", type=nonnegative_int, help="seed everything (deterministic ops)")
    parser.add_argument(
        "--strategy",
        choices=("default", "mirrored", "multiworker"),
        help="tf.distribute strategy (default: mirrored if train.num_gpu > 1); "
        "multiworker reads the cluster from TF_CONFIG or from the Slurm job "
        "step (srun)",
    )
    parser.add_argument(
        "--port_base",
        type=positive_int,
        default=8888,
        help="first port of the multiworker workers on each node (Slurm)",
    )
    parser.add_argument(
        "--heads",
        type=comma_ints,
        help="the head each data directory trains, e.g. 2 to add a third head to a joint "
        "model (default: 0, 1, ...); the other heads stay as they are",
    )
    parser.add_argument(
        "--pretrain_bed",
        help="sequences.bed of the pretrained model's data: warn when the data's valid or "
        "test regions overlap its train regions",
    )
    parser.add_argument(
        "--strict", action="store_true", help="refuse such an overlap (with --pretrain_bed)"
    )


def train(args: argparse.Namespace) -> None:
    """``train.train_model`` with the parsed options (imports TensorFlow)."""
    from basenji_tf.train import train_model

    train_model(
        args.params_file,
        args.data_dirs,
        out_dir=args.out_dir,
        restore=args.restore,
        trunk=args.trunk,
        mixed_precision=args.mixed_precision,
        tfr_train=args.tfr_train,
        tfr_eval=args.tfr_eval,
        seed=args.seed,
        strategy=args.strategy,
        port_base=args.port_base,
        jit_compile=args.jit_compile,
        heads=args.heads,
        pretrain_bed=args.pretrain_bed,
        strict=args.strict,
    )
