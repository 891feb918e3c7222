"""basenji_sad.py: variant effect (SAD) scores of a VCF's alleles with a trained model."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from basenji_tf.cli._common import (
    add_scheduler_options,
    comma_ints,
    executor_from_args,
    make_parser,
    parse_args,
    run_main,
)
from basenji_tf.cli._scoring import (
    add_keep_shards_option,
    add_model_options,
    model_spec,
    shard_count,
)
from basenji_tf.cli._types import nonnegative_int, positive_int
from basenji_tf.errors import InputError

if TYPE_CHECKING:
    from basenji_tf.scoring.sad import SadOptions

PROG = "basenji_sad.py"


def add_sad_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by basenji_sad.py and basenji_sad_multi.py."""
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument(
        "vcf_file",
        help="VCF, plain or bgzipped; every ALT allele of a "
        "multi-allelic record is scored as its own row",
    )
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    parser.add_argument("-o", dest="out_dir", default="sad", help="output directory")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument(
        "--stats",
        default="SAD",
        help="comma-separated statistics: "
        "SAD,logSAD,sqrtSAD,SAX,D1,logD1,sqrtD1,D2,logD2,sqrtD2,JS,logJS,REF,ALT",
    )
    parser.add_argument(
        "-t",
        dest="targets_file",
        help="targets table: output channels to "
        "keep (index column), un-transformation and strand-pair collapse",
    )
    parser.add_argument("--head", dest="head_i", type=nonnegative_int, default=0, help="model head")
    parser.add_argument(
        "--batch_size",
        type=positive_int,
        default=8,
        help="sequences per model call (ensemble members included)",
    )
    add_model_options(parser)
    parser.add_argument(
        "--batch_variants", type=positive_int, default=32, help="variants read and scored together"
    )
    parser.add_argument(
        "--cluster",
        dest="cluster_bp",
        type=nonnegative_int,
        default=0,
        help="score SNVs within this many bp of each other in one shared window "
        "(one reference prediction); such variants are then not centred. 0: off",
    )
    parser.add_argument(
        "--no_splice",
        action="store_true",
        help="predict every ALT window in full instead of reusing the "
        "reference activations outside the variant's receptive cone, and "
        "every REF window on its own instead of sharing the conv tower of "
        "overlapping ones",
    )
    parser.add_argument(
        "--first_alt",
        action="store_true",
        help="score only the first ALT of each record (the original's behaviour)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail on a REF allele that does not match the genome "
        "(default: warn, skip the row and summarise)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Score the variants of a VCF: predictions of REF and ALT windows centred on each "
        "variant, compared by the chosen statistics; writes <out_dir>/sad.h5.",
    )
    add_sad_options(parser)
    parser.add_argument(
        "-u",
        dest="untransform_old",
        action="store_true",
        help="the original's un-transformation of pre-2021 models (accepted; the "
        "targets table's clip/scale/sum_stat columns decide it here, see docs/cli.md)",
    )
    parser.add_argument(
        "-p",
        dest="processes",
        type=positive_int,
        help="split the VCF over this many local processes and merge (with "
        "--scheduler: at least this many shard tasks)",
    )
    add_scheduler_options(parser)
    add_keep_shards_option(parser)
    parser.add_argument("--shard", help="score only shard i of N (i/N, 0-based)")
    return parser


def sad_options(args: argparse.Namespace) -> SadOptions:
    """The scoring options of basenji_sad.py and basenji_sad_multi.py (no shard)."""
    from basenji_tf.scoring.sad import SadOptions, check_stats

    return SadOptions(
        stats=tuple(check_stats([s for s in args.stats.split(",") if s])),
        batch_variants=args.batch_variants, cluster_bp=args.cluster_bp,
        first_alt=args.first_alt, strict=args.strict,
    )  # fmt: skip


def parse_shard(text: str) -> tuple[int, int]:
    """``i/N`` -> (i, N)."""
    try:
        shard_i, num_shards = (int(x) for x in text.split("/"))
    except ValueError:
        shard_i, num_shards = -1, 0
    if not 0 <= shard_i < num_shards:
        raise InputError(f"--shard {text!r}: expected i/N with 0 <= i < N")
    return shard_i, num_shards


def run_sad_command(
    prog: str, args: argparse.Namespace, make_options: Callable[[argparse.Namespace], SadOptions]
) -> int:
    """Score ``args.vcf_file`` as basenji_sad.py (shards, executor, one-line errors).

    ``make_options`` turns the parsed arguments into :class:`SadOptions`
    (basenji_sad_ref.py adds its ``-c`` clustering).
    """

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.sad import run_sad

        options = make_options(args)
        if args.untransform_old:
            logging.warning("-u is ignored: the targets table (-t) decides the un-transformation")
        with executor_from_args(args, args.processes or 1) as executor:
            shards = shard_count(args, executor.parallelism)
            shard = parse_shard(args.shard) if args.shard and shards is None else None
            run_sad(
                model_spec(args),
                args.genome_fasta,
                args.vcf_file,
                args.out_dir,
                options,
                shards=shards,
                shard=shard,
                executor=executor,
                keep_shards=args.keep_shards,
            )

    return run_main(prog, body, out_dir=args.out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    return run_sad_command(PROG, parse_args(build_parser(), argv), sad_options)


if __name__ == "__main__":
    raise SystemExit(main())
