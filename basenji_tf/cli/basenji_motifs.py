"""basenji_motifs.py: first-layer filters -> PWMs, a MEME file, logos and database matches."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main

PROG = "basenji_motifs.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Turn the first convolution layer's filters into PWMs from their strongest sites in "
        "a split's sequences; write filters_meme.txt, logos, weight heatmaps, tomtom.tsv "
        "(matches against JASPAR or -m: Tomtom of column correlations, q < 0.1 and better "
        "than each of 19 column shuffles of the filter) and table.txt.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("data_dir")
    add = parser.add_argument
    add(
        "-a",
        dest="act_t",
        type=float,
        default=0.5,
        help="site threshold: fraction of the way from the mean to the max activation",
    )
    add(
        "-c",
        dest="post_conv",
        action="store_true",
        help="activations of the convolution, not of its normalisation",
    )
    add("-d", dest="plot_density", action="store_true", help="plot activation histograms")
    add(
        "--heat",
        dest="plot_heats",
        action="store_true",
        help="plot filter x sequence and filter x target correlation heatmaps",
    )
    add("-l", dest="seq_length_crop", type=int, help="use the central bp of each sequence")
    add("-o", dest="out_dir", default="basenji_motifs", help="output directory")
    add(
        "-m",
        dest="meme_db",
        help="MEME motif file to match (default: JASPAR CORE vertebrates, shipped by pyjaspar)",
    )
    add(
        "-p",
        dest="parallel_threads",
        type=int,
        default=1,
        help="processes drawing logos and Tomtom threads",
    )
    add("-s", dest="sample", type=int, help="use this many sequences drawn at random")
    add(
        "-t",
        dest="trim_filters",
        action="store_true",
        help="trim uninformative positions off the PWM ends in the MEME file",
    )
    add("--split", default="test", help="split label of the sequences")
    add("--tfr", dest="tfr_pattern", help="TFRecord glob under data_dir/tfrecords")
    add(
        "-v",
        dest="high_var_pct",
        type=float,
        default=1.0,
        help="take sites only at this fraction of positions, those most variable across filters",
    )
    return parser  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf.interpret.motifs import MotifOptions, run_motifs

        options = MotifOptions(
            act_t=args.act_t, post_conv=args.post_conv, plot_density=args.plot_density,
            plot_heats=args.plot_heats, seq_length_crop=args.seq_length_crop,
            meme_db=args.meme_db, parallel_threads=args.parallel_threads, sample=args.sample,
            trim_filters=args.trim_filters, split=args.split, tfr_pattern=args.tfr_pattern,
            high_var_pct=args.high_var_pct,
        )  # fmt: skip
        run_motifs(args.params_file, args.model_file, args.data_dir, args.out_dir, options)

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
