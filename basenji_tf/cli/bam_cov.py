"""bam_cov.py: BAM/CRAM alignments -> per-bp coverage BigWig or w5, with the original's options."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.bam import CoverageOptions, bam_coverage
from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import nonnegative_float, nonnegative_int, positive_float, positive_int

PROG = "bam_cov.py"


def _add_events(add) -> None:
    """Where a read counts: -a, -c, -v, -w, --fragment_length."""
    add(
        "-a",
        dest="all_overlap",
        action="store_true",
        help="count every aligned base of every read, not one event per read",
    )
    add(
        "-c",
        "--shift_center",
        dest="shift_center",
        action="store_true",
        help="count each fragment once at its centre (proper pairs: read 1's template "
        "centre; single reads: half the fragment length past the 5' end)",
    )
    add(
        "--fragment_length",
        type=positive_int,
        default=None,
        help="single-end fragment length (bp) for -c; default: learned from the "
        "cross-strand correlation, as the original",
    )
    add("-v", dest="shift_forward_end", type=int, default=0, help="+ strand event shift (bp)")
    add("-w", dest="shift_reverse_end", type=int, default=0, help="- strand event shift (bp)")


def _add_multi(add) -> None:
    """Multi-mapped reads: -m, -s, -t, -u, --clip_multi, --skip_multi."""
    add(
        "-m",
        dest="multi_em",
        type=nonnegative_int,
        default=0,
        help="EM iterations re-assigning multi-mapped reads by the smoothed coverage "
        "(0: each of a read's n alignments gets 1/n)",
    )
    add(
        "-s",
        "--smooth_multi",
        dest="smooth_multi_sd",
        type=nonnegative_float,
        default=16,
        help="Gaussian sd (bp) of the EM's coverage estimate",
    )
    add(
        "-t",
        dest="maps_t",
        type=positive_int,
        default=20,
        help="drop reads aligned to more loci than this",
    )
    add(
        "-u",
        dest="all_unique",
        action="store_true",
        help="count every alignment of a multi-mapped read as a unique read (weight 1)",
    )
    add(
        "--clip_multi",
        dest="clip_max_multi",
        type=positive_float,
        default=None,
        help="cap of the multi-read coverage at one position",
    )
    add("--skip_multi", action="store_true", help="drop multi-mapped reads")
    add("-q", "--min_mapq", type=nonnegative_int, default=0, help="drop alignments below this MAPQ")


def _add_output(add) -> None:
    """What happens to the coverage: --clip_max, --smooth_out, -g, -f, --strand, -o, -b."""
    add(
        "--clip_max",
        dest="clip_max",
        type=positive_int,
        default=None,
        help="cap of the per-bp coverage (before smoothing)",
    )
    add(
        "--smooth_out",
        "--smooth",
        dest="smooth_out_sd",
        type=nonnegative_float,
        default=0,
        help="Gaussian sd (bp) smoothing the output (0: none)",
    )
    add("-g", dest="gc", action="store_true", help="correct for local GC content (needs -f)")
    add("-f", dest="fasta_file", default=None, help="genome FASTA (for -g; a CRAM's reference)")
    add(
        "--strand",
        dest="stranded",
        action="store_true",
        help="one track per strand: <stem>+<ext> and <stem>-<ext>",
    )
    add("-o", dest="out_dir", default="bam_cov", help="directory for gc_table.txt (with -g)")
    add(
        "-b",
        dest="cut_bias_kmer",
        action="store_true",
        default=None,
        help="the original's unfinished k-mer cut-bias model: refused",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Per-bp coverage of a BAM/CRAM as a BigWig (.bw) or w5 HDF5 (.h5/.w5) track: one "
        "event per read (or every aligned base with -a), multi-mapped reads shared 1/n or "
        "re-assigned by EM (-m), capped (--clip_max), smoothed and GC-corrected (-g).",
    )
    parser.add_argument("bam_file", help="coordinate-sorted, indexed BAM or CRAM")
    parser.add_argument("output_file", help="output .bw or .h5/.w5")
    add = parser.add_argument
    _add_events(add)
    _add_multi(add)
    _add_output(add)
    add("--reference", default=None, help="reference FASTA of a CRAM (default: -f)")
    add(
        "--unsorted",
        action="store_true",
        help="read the file in its own order, without an index",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    fields = CoverageOptions.__dataclass_fields__
    options = CoverageOptions(**{k: v for k, v in vars(args).items() if k in fields})

    def body() -> None:
        outputs = bam_coverage(args.bam_file, args.output_file, options)
        print(f"{PROG}: wrote {', '.join(outputs)}")

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())
