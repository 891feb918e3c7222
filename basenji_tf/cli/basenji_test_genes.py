"""basenji_test_genes.py: gene-level accuracy of CAGE predictions at gene TSSs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._types import nonnegative_int

PROG = "basenji_test_genes.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "For every gene with a TSS inside the split's sequences, sum predictions and "
        "targets over its TSS bins; report per CAGE track the Pearson r across genes of "
        "log2(x+1). Writes <out_dir>/acc_genes.txt and genes.h5.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("data_dir")
    parser.add_argument("gtf_file", help="gene annotation GTF (same genome build as the data)")
    parser.add_argument("-o", dest="out_dir", default="test_genes_out", help="output directory")
    parser.add_argument("--head", dest="head_i", type=nonnegative_int, default=0, help="model head")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument("--split", default="test", help="split label of the data directory")
    parser.add_argument(
        "--feature",
        default="gene",
        choices=("gene", "transcript"),
        help="GTF records giving TSSs (transcript: every transcript's TSS)",
    )
    parser.add_argument(
        "--all", dest="all_tracks", action="store_true", help="evaluate every track, not only CAGE"
    )
    parser.add_argument(
        "-t", dest="targets_file", help="targets table (default: data_dir/targets.txt)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf.evaluate_genes import evaluate_genes

        result = evaluate_genes(
            args.params_file,
            args.model_file,
            args.data_dir,
            args.gtf_file,
            out_dir=args.out_dir,
            head_i=args.head_i,
            rc=args.rc,
            shifts=args.shifts,
            split=args.split,
            targets_file=args.targets_file,
            all_tracks=args.all_tracks,
            feature=args.feature,
        )
        print(f"Genes:          {result['num_genes']}")
        print(f"Gene PearsonR:  {result['pearsonr']:7.5f}")

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
