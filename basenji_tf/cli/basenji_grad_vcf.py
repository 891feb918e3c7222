"""basenji_grad_vcf.py: attributions of each variant's REF and ALT windows, and their difference."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._scoring import add_precision_option, add_shard_options, run_sharded
from basenji_tf.cli._types import positive_int
from basenji_tf.cli.basenji_grad_bed import add_attribution_options
from basenji_tf.errors import InputError

PROG = "basenji_grad_vcf.py"
WINDOW = 1000  # basenji_tf.scoring.grad_vcf.WINDOW (tests/test_grad_vcf.py holds them equal)


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Attribute the predictions of the model window centred on each VCF variant (its "
        "first base at index L/2-1, as basenji_sad.py), with REF and with ALT, to their "
        "bases: the predictions summed over the chosen targets and bins (by default the bin "
        "holding the variant), explained by --method against the same references for both "
        "alleles. SNVs only. Writes <out_dir>/scores.h5 (REF/ALT sequences, contributions, "
        "hypothetical contributions and diff = ALT - REF over --window bp) and "
        "<out_dir>/plots/<id>.png; docs/interpretation.md.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("vcf_file", help="VCF (plain, gzip/bgzip or BCF; - for stdin)")
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    parser.add_argument("-o", dest="out_dir", default="grad_vcf", help="output directory")
    parser.add_argument(
        "-t",
        dest="targets_file",
        help="targets table: the outputs summed are its index column (or give --targets)",
    )
    parser.add_argument(
        "--shifts",
        type=comma_ints,
        default=[0],
        help="input shifts (bp) whose attributions, shifted back, are averaged",
    )
    parser.add_argument(
        "--window",
        type=positive_int,
        default=WINDOW,
        help="bp of each model window stored around the variant (the variant at "
        "(window-1)//2); the model length or more: the whole window",
    )
    parser.add_argument("--no_plots", action="store_true", help="skip <out_dir>/plots/<id>.png")
    add_attribution_options(parser, "variant")
    add_precision_option(parser)
    add_shard_options(parser, "the variants (at multiples of --batch_size)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.grad import GradOptions
        from basenji_tf.scoring.grad_vcf import GradVcfTask, run_grad_vcf
        from basenji_tf.targets import read_targets

        targets = tuple(args.target_indexes) if args.target_indexes else None
        if args.targets_file:
            if targets is not None:
                raise InputError(
                    f"-t {args.targets_file} and --targets both choose the outputs; give one"
                )
            targets = tuple(int(i) for i in read_targets(args.targets_file).index)
        options = GradOptions(
            args.method, targets, args.bins, args.rc, args.references, args.steps,
            args.seed, args.baseline,
        )  # fmt: skip
        task = GradVcfTask(
            args.params_file, args.model_file, args.genome_fasta, args.vcf_file, args.out_dir,
            options, args.head_i, args.batch_size, args.precision, args.window,
            tuple(args.shifts) or (0,),
        )  # fmt: skip
        out_file = run_sharded(args, run_grad_vcf, task, not args.no_plots)
        plots = "" if args.no_plots else f" and {os.path.join(args.out_dir, 'plots')}/"
        print(f"wrote {out_file}{plots}")

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
