"""basenji_sim.py: write the simulated two-species genomes, tracks and variants."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.sim.config import SIZES
from basenji_tf.sim.pipeline import simulate

PROG = "basenji_sim.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Simulate a human-like and a mouse-like genome with known regulatory grammar: "
        "FASTA, gaps, genes, BigWig tracks with a targets table, variants with their true "
        "effects, and the human/mouse alignment net (see docs/sim.md).",
    )
    parser.add_argument("-o", "--out_dir", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default="default",
        help="genome size: default (~5 Mb human, for the demo), small, tiny (tests)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        info = simulate(args.out_dir, seed=args.seed, size=args.size)
        for name, species in info["species"].items():
            print(
                f"{name}: {species['genome_bp']:,} bp, {species['genes']} genes, "
                f"{len(species['tracks'])} tracks, {species['variants']} variants "
                f"(test {','.join(species['test_chroms'])}, "
                f"valid {','.join(species['valid_chroms'])})"
            )
        print(f"alignment: {info['alignment']['fills']} fills; wrote {args.out_dir}")

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())
