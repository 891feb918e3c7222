"""Basenji2 (2020) in miniature: does joint human + mouse training help the smaller species?

Makes alignment-aware splits of the simulated human-like and mouse-like genomes (contigs
linked by the alignment net share a split, as in Basenji2), then trains the demo model on
mouse data alone and jointly on both species (one head each, shared trunk), and prints the
mouse test Pearson R per assay.

Usage: python experiments/joint_vs_single.py [-o experiments_out] [--seed 1] [--epochs 6]
"""

import json

from _pipeline import (
    aligned_data,
    params_variant,
    parse_args,
    print_table,
    simulate,
    train_and_test,
)

MOUSE_TRACKS = 4


def mouse_only(params):
    params["model"].pop("head_human")
    params["model"]["head_mouse"] = {
        "name": "final",
        "units": MOUSE_TRACKS,
        "activation": "softplus",
    }


def joint(params):
    params["model"]["head_mouse"] = {
        "name": "final",
        "units": MOUSE_TRACKS,
        "activation": "softplus",
    }


def main() -> None:
    args = parse_args(__doc__)
    out = args.out
    sim = simulate(out, args.seed)
    human, mouse = aligned_data(out, sim, args.seed)
    rows = {
        "mouse only": train_and_test(
            params_variant(out / "mouse_only" / "params.json", mouse_only, args.epochs),
            [mouse],
            out / "mouse_only",
            args.seed,
        ),
        "human + mouse jointly": train_and_test(
            params_variant(out / "joint" / "params.json", joint, args.epochs),
            [human, mouse],
            out / "joint",
            args.seed,
            head_i=1,
        ),
    }
    (out / "joint_vs_single.json").write_text(json.dumps(rows, indent=2))
    print_table(f"Mouse held-out test Pearson R ({args.epochs} epochs, seed {args.seed})", rows)


if __name__ == "__main__":
    main()
