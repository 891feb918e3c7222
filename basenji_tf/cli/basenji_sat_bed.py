"""basenji_sat_bed.py: saturation mutagenesis of the centre of BED regions."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main

PROG = "basenji_sat_bed.py"


def add_sat_options(parser: argparse.ArgumentParser, default_len: int, default_out: str) -> None:
    """Options shared by basenji_sat_bed.py and basenji_sat_vcf.py."""
    parser.add_argument("-d", dest="mut_down", type=int, default=0,
                        help="bp mutated downstream of the centre (with -u, overrides -l)")
    parser.add_argument("-u", dest="mut_up", type=int, default=0,
                        help="bp mutated upstream of the centre (with -d, overrides -l)")
    parser.add_argument("-l", dest="mut_len", type=int, default=default_len,
                        help="bp mutated around the centre")
    parser.add_argument("-o", dest="out_dir", default=default_out, help="output directory")
    parser.add_argument("--plots", action="store_true",
                        help="write a sequence logo and a heatmap per sequence and target")
    parser.add_argument("--plot_targets", type=comma_ints, default=[0],
                        help="targets (reported indexes) to plot with --plots")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument("--stats", default="sum", help="comma-separated: sum, center, scd")
    parser.add_argument("-t", dest="targets_file", help="targets table (output channels to keep)")
    parser.add_argument("--head", dest="head_i", type=int, default=0, help="model head")
    parser.add_argument("--batch_size", type=int, default=8, help="sequences per model call")


def sat_setup(args: argparse.Namespace):
    """(predictor, mut_start, mut_len, stats) for a mutagenesis command; scores are over
    the model's output channels (the targets table's, with -t), not un-transformed."""
    from basenji_tf.regions import mutation_region
    from basenji_tf.variants import scoring_setup

    seqnn_model, _, predictor, _ = scoring_setup(
        args.params_file, args.model_file, args.head_i, args.targets_file,
        args.rc, args.shifts, args.batch_size,
    )  # fmt: skip
    mut_start, mut_len = mutation_region(
        seqnn_model.seq_length, args.mut_len, args.mut_up, args.mut_down
    )
    stats = [s.lower() for s in args.stats.split(",") if s]
    return predictor, mut_start, mut_len, stats


def write_plots(out_dir: str, labels: Sequence[str], seqs, scores, plot_targets) -> None:
    from basenji_tf.plots import sat_heatmap, sat_logo

    for i, label in enumerate(labels):
        for ti in plot_targets:
            stem = os.path.join(out_dir, f"seq{i}_t{ti}")
            sat_logo(seqs[i], scores[i, :, :, ti], f"{stem}_logo", title=f"{label} t{ti}")
            sat_heatmap(seqs[i], scores[i, :, :, ti], f"{stem}_heat", title=f"{label} t{ti}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(
        PROG,
        "Predict every single-base substitution in the centre of each BED region's model "
        "window; writes <out_dir>/scores.h5 (and figures with --plots).",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("bed_file", help="regions; column 6 '-' reverse-complements a window")
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    add_sat_options(parser, default_len=0, default_out="sat_mut")
    args = parse_args(parser, argv)

    def body() -> None:
        from basenji_tf.genome import Genome
        from basenji_tf.regions import read_bed_windows, sat_bed, write_sat_h5

        predictor, mut_start, mut_len, stats = sat_setup(args)
        with Genome(args.genome_fasta) as genome:
            regions = read_bed_windows(args.bed_file, genome, int(predictor.model.input.shape[1]))
            seqs, scores, coords = sat_bed(predictor, genome, regions, mut_start, mut_len, stats)
        write_sat_h5(os.path.join(args.out_dir, "scores.h5"), seqs, scores, coords)
        if args.plots:
            write_plots(args.out_dir, [r.name for r in regions], seqs, scores[stats[0]],
                        args.plot_targets)

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())
