"""basenji_predict_genome.py: genome-wide predicted tracks, one BigWig per target."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence

from basenji_tf.cli._common import (
    add_scheduler_options,
    comma_ints,
    executor_from_args,
    make_parser,
    parse_args,
    run_main,
)
from basenji_tf.cli._scoring import add_precision_option
from basenji_tf.cli._types import positive_int
from basenji_tf.genome import read_bed_rows

PROG = "basenji_predict_genome.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Tile the genome with model windows whose outputs abut (window k of a chromosome "
        "predicts [k*span, (k+1)*span), span = target_length x stride bp), skip windows "
        "that are all N, and write <out_dir>/bigwig/t{ti}.bw per target. Chunks of windows "
        "go to <out_dir>/chunks first; --restart resumes a killed run from them.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("genome_fasta", help="genome FASTA, plain or bgzipped (indexed)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--chroms",
        type=lambda s: [c for c in s.split(",") if c],
        help="comma-separated chromosomes to tile (default: all)",
    )
    where.add_argument("-b", dest="bed_file", help="tile only the windows over these regions")
    parser.add_argument("-o", dest="out_dir", default="predict_genome", help="output directory")
    parser.add_argument("--head", dest="head_i", type=int, default=0, help="model head")
    parser.add_argument(
        "--ti",
        dest="target_indexes",
        type=comma_ints,
        help="model outputs to write (default: the -t table's, else all)",
    )
    parser.add_argument("-t", dest="targets_file", help="targets table (names, transforms)")
    parser.add_argument(
        "--untransform",
        action="store_true",
        help="undo the -t table's scale, clip_soft and sum_stat transforms",
    )
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument(
        "--batch_size", type=positive_int, default=4, help="sequences per model call"
    )
    parser.add_argument("--chunk_windows", type=int, default=64, help="windows per chunk file")
    parser.add_argument("-p", dest="processes", type=int, default=1, help="worker processes")
    add_scheduler_options(parser)
    parser.add_argument(
        "--restart", action="store_true", help="resume an interrupted run of the same command"
    )
    add_precision_option(parser)
    return parser


def bigwig_names(paths: Sequence[str]) -> str:
    """The BigWigs' file names, runs of three or more consecutive targets as ``first .. last``.

    ``t0.bw, t3.bw, t6.bw`` for ``--ti 0,3,6``; ``t0.bw .. t5312.bw`` for 5,313 targets.
    """
    names = [os.path.basename(p) for p in paths]
    numbers = [int(m[1]) if (m := re.fullmatch(r"t(\d+)\.bw", n)) else None for n in names]
    parts, i = [], 0
    while i < len(names):
        j = i
        while j + 1 < len(names) and numbers[j] is not None and numbers[j + 1] == numbers[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{names[i]} .. {names[j]}")
        else:
            parts.extend(names[i : j + 1])
        i = j + 1
    return ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring import genome_tracks

        spec = genome_tracks.HeadSpec(
            args.params_file,
            args.model_file,
            args.head_i,
            args.rc,
            tuple(args.shifts),
            args.batch_size,
            precision=args.precision,
        )
        selection = genome_tracks.TrackSelection(
            None if args.target_indexes is None else tuple(args.target_indexes),
            args.targets_file, args.untransform,
        )  # fmt: skip
        regions = read_bed_rows(args.bed_file) if args.bed_file else None
        with executor_from_args(args) as executor:
            paths = genome_tracks.predict_genome(
                args.genome_fasta,
                spec,
                args.out_dir,
                selection,
                args.chroms,
                regions,
                args.chunk_windows,
                executor,
                args.restart,
            )
        print(f"wrote {len(paths)} BigWigs: {bigwig_names(paths)} in {args.out_dir}/bigwig")

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
