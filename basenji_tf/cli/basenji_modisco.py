"""basenji_modisco.py: TF-MoDISco patterns of a basenji_grad_bed.py scores.h5, matched."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import positive_int

PROG = "basenji_modisco.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Run TF-MoDISco (modisco-lite) on the attributions of a basenji_grad_bed.py "
        "scores.h5 (one-hot seqs, hypothetical contributions) over a window around each "
        "region's centre; write modisco_results.h5 (modisco-lite's format), patterns.meme, "
        "seqlets.bed, matches.tsv (each pattern's best Tomtom match: q < 0.1 and better "
        "than each of 19 column shuffles of the pattern) and report.html with logos.",
    )
    parser.add_argument("scores_file", help="scores.h5 of basenji_grad_bed.py")
    add = parser.add_argument
    add("-o", dest="out_dir", default="modisco", help="output directory")
    add(
        "-w",
        "--window",
        dest="window_bp",
        type=positive_int,
        default=400,
        help="bp around each region's centre given to TF-MoDISco (cut to the model window)",
    )
    add(
        "-n",
        "--max_seqlets",
        type=positive_int,
        default=2000,
        help="seqlets kept per metacluster (positive, negative)",
    )
    add(
        "-l",
        "--n_leiden",
        type=positive_int,
        default=2,
        help="Leiden clusterings (seeds 1..n) per clustering step",
    )
    add(
        "--jaspar",
        default="vertebrates",
        help="JASPAR CORE taxonomic group to match (pyjaspar, offline)",
    )
    add("-m", dest="meme_db", help="MEME motif file to match instead of JASPAR")
    add(
        "-p",
        dest="threads",
        type=positive_int,
        help="numba threads of TF-MoDISco and Tomtom (default: all cores)",
    )
    add(
        "--seed",
        type=int,
        default=1,
        help="seed of the Tomtom column shuffles (TF-MoDISco's own seeds are fixed)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf.interpret.modisco import ModiscoOptions, run_modisco

        options = ModiscoOptions(
            window_bp=args.window_bp, max_seqlets=args.max_seqlets, n_leiden=args.n_leiden,
            seed=args.seed, jaspar=args.jaspar, meme_db=args.meme_db, threads=args.threads,
        )  # fmt: skip
        table = run_modisco(args.scores_file, args.out_dir, options)
        print(table.to_string(index=False))

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
