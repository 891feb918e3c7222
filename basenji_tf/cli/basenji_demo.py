"""basenji_demo.py: the whole pipeline on simulated data, ending with a scorecard.

The steps are those of :mod:`basenji_tf.demo`; each prints its command line, so it can be
replayed by hand. The library and the step commands are imported when the demo runs, not
at module import: basenji_data.py's worker processes re-import this script as their main
module, and must not load TensorFlow for it.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import time
from collections.abc import Sequence
from pathlib import Path

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.errors import InputError

PROG = "basenji_demo.py"


def run_step(command: str, args: list[str]) -> None:
    """Run one pipeline command, showing its shell form, failing on a non-zero status."""
    from basenji_tf import demo

    number, total = demo.STEPS.index(command) + 1, len(demo.STEPS)
    print(f"\n[{number}/{total}] {command} {shlex.join(args)}", flush=True)
    start = time.perf_counter()
    module = importlib.import_module(f"basenji_tf.cli.{command.removesuffix('.py')}")
    status = module.main(args)
    if status:
        raise InputError(f"step {number} ({command}) failed with status {status}; see above")
    print(f"[{number}/{total}] done in {time.perf_counter() - start:.0f} s", flush=True)


def print_summary(summary: dict, out_dir: Path) -> None:
    print("\n== basenji demo summary ==")
    for assay, r in summary["test_pearsonr_by_assay"].items():
        print(f"test Pearson R, {assay:<6} {r:.3f}")
    print(
        f"SAD vs true effect, Spearman (mean over tracks) {summary['sad_true_effect_spearman']:.3f}"
    )
    print(f"figure:  {summary['outputs']['figure']}")
    print(f"plots:   {len(summary['outputs']['plots'])} under {out_dir / 'test'}")
    print(f"bigwigs: {', '.join(summary['outputs']['bigwigs'])}")
    print(f"summary: {out_dir / 'summary.json'}")


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Run simulate -> data -> train -> test -> SAD -> predict on simulated data and "
        "summarise against the ground truth.",
    )
    parser.add_argument("-o", dest="out_dir", default="demo_out", help="output folder")
    parser.add_argument("--seed", type=int, default=1, help="seed of every step")
    parser.add_argument(
        "--size",
        default="default",
        choices=["default", "small", "tiny"],
        help="simulated genome size",
    )
    parser.add_argument(
        "--params",
        dest="params_file",
        default=argparse.SUPPRESS,
        help="params JSON of the model (default: the packaged models/params_demo.json)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf import demo

        params_file = getattr(args, "params_file", None) or demo.demo_params_file()
        summary = demo.run_demo(args.out_dir, args.seed, args.size, params_file, run_step)
        print_summary(summary, Path(args.out_dir))

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
