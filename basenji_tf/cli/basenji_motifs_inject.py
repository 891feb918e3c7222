"""basenji_motifs_inject.py: the predicted effect of inserting each motif of a database."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._scoring import add_model_options, model_spec
from basenji_tf.cli._types import nonnegative_float, positive_int

PROG = "basenji_motifs_inject.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Insert each motif of a database (bases drawn from its PWM) at the centre of the "
        "model window of every BED region and predict both windows; writes "
        "<out_dir>/scores.h5: per motif and target, the mean over regions (scores) and "
        "variance (var) of the motif's summed prediction change, centred per region on "
        "the mean over motifs.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("bed_file")
    add = parser.add_argument
    add(
        "--db",
        dest="database",
        default="cisbp",
        help="motif database: 'jaspar' (JASPAR CORE vertebrates, shipped by pyjaspar) or a "
        "MEME motif file; the original's 'cisbp' is not shipped: give a MEME file of it",
    )
    add(
        "-e",
        dest="pwm_exp",
        type=nonnegative_float,
        default=1.0,
        help="raise the PWM to this power before drawing bases (large: the consensus)",
    )
    add(
        "-g",
        dest="genome",
        default="ce11",
        help="genome FASTA ('ce11': $CE11/assembly/ce11.fa, as the original)",
    )
    add("-o", dest="out_dir", default="inject_out", help="output directory")
    add("--rc", dest="rc", action="store_true", help="average with reverse complements")
    add("-s", dest="offset", type=int, default=0, help="bp from the window centre to the motif's")
    add("--shifts", dest="shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    add("-t", dest="targets_file", type=str, help="targets table (output channels to keep)")
    add("--head", dest="head_i", type=int, default=0, help="model head")
    add(
        "--batch_size",
        type=positive_int,
        help="sequences per model call (default: the params' train batch_size, as the original)",
    )
    add("--seed", type=int, default=1, help="seed of the bases drawn from the PWMs")
    add_model_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.interpret.motifs_inject import InjectOptions, run_motifs_inject

        if args.batch_size is None:
            with open(args.params_file) as handle:
                args.batch_size = int(json.load(handle).get("train", {}).get("batch_size", 8))
        options = InjectOptions(pwm_exp=args.pwm_exp, offset=args.offset, seed=args.seed)
        run_motifs_inject(
            model_spec(args), args.database, args.genome, args.bed_file, args.out_dir, options
        )

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
