"""basenji_motifs_scan.py: motif hits (FIMO) in attributed regions, with their attribution."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import positive_float

PROG = "basenji_motifs_scan.py"


def _p_value(text: str) -> float:
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a p-value in (0, 1], got {text!r}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Scan each region of an attribution scores.h5 (basenji_grad_bed.py) for every motif "
        "of a MEME file or of JASPAR with FIMO (memelite), both strands; write hits.bed (each "
        "hit at genome coordinates with its p-value and summed attribution, sorted by "
        "position) and motif_summary.tsv (per motif: hits and their total and mean "
        "attribution, largest total first).",
    )
    parser.add_argument("scores_file", help="scores.h5 of basenji_grad_bed.py")
    add = parser.add_argument
    add("-o", dest="out_dir", default="scan_out", help="output directory")
    add(
        "-m",
        dest="meme_file",
        help="MEME motif file to scan, e.g. basenji_modisco.py's patterns.meme "
        "(default: JASPAR CORE of --jaspar)",
    )
    add(
        "--jaspar",
        default="vertebrates",
        help="JASPAR CORE taxonomic group (pyjaspar, offline), without -m",
    )
    add(
        "--threshold",
        type=_p_value,
        default=1e-4,
        help="FIMO p-value below which a motif window is a hit",
    )
    add(
        "--min_attribution",
        type=_finite,
        help="keep only hits whose summed attribution exceeds this",
    )
    add(
        "--window",
        action="store_true",
        help="scan each record's whole model window, not only its BED region",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # the motif readers load TensorFlow (basenji_tf.interpret.motifs imports Keras)
        from basenji_tf.interpret.scan import ScanOptions, run_scan

        options = ScanOptions(
            threshold=args.threshold, min_attribution=args.min_attribution, window=args.window
        )
        run_scan(args.scores_file, args.out_dir, args.meme_file, args.jaspar, options)

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
