"""Basenji (2018) in miniature: does a dilated trunk beat the same trunk without dilation?

Trains the demo model twice on the simulated human data, once with the dilated residual
stack (rates 1, 2, 4, ..., 32 bins: a receptive field of about +-8 kb) and once with every
rate fixed at 1 (about +-1 kb), and prints the held-out test Pearson R per assay. The
simulated CAGE-like tracks depend on enhancers up to 20 kb away, DNase-like ones only on
local sites, so dilation should matter most for CAGE.

Usage: python experiments/dilation.py [-o experiments_out] [--seed 1] [--epochs 6]
"""

import json

from _pipeline import human_data, params_variant, parse_args, print_table, simulate, train_and_test


def set_rate_mult(rate_mult: float):
    def edit(params):
        for block in params["model"]["trunk"]:
            if block["name"] == "dilated_residual":
                block["rate_mult"] = rate_mult

    return edit


def main() -> None:
    args = parse_args(__doc__)
    out = args.out
    sim = simulate(out, args.seed)
    data = human_data(out, sim, args.seed)
    rows = {}
    for name, rate_mult in (("dilated (rate x2)", 2), ("not dilated (rate 1)", 1)):
        tag = "dilated" if rate_mult > 1 else "undilated"
        params = params_variant(out / tag / "params.json", set_rate_mult(rate_mult), args.epochs)
        rows[name] = train_and_test(params, [data], out / tag, args.seed)
    (out / "dilation.json").write_text(json.dumps(rows, indent=2))
    print_table(f"Held-out test Pearson R ({args.epochs} epochs, seed {args.seed})", rows)


if __name__ == "__main__":
    main()
