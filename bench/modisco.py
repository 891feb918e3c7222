"""Benchmark TF-MoDISco (modisco-lite, as basenji_modisco.py runs it): time and memory.

Reads the first ``--regions`` rows of a basenji_grad_bed.py scores.h5 (the ``--window``
bp around each region's centre, as basenji_modisco.py does), then times
:func:`basenji_tf.interpret.modisco.discover_patterns` (seqlets, clustering, patterns,
modisco_results.h5; not Tomtom or the report) over 5 runs after a warm-up, which also
fills numba's cache. Prints the patterns and seqlets found, the resident memory before the
runs (the inputs and the imported libraries: this process has imported TensorFlow through
basenji_tf.interpret.motifs) and the peak (bench/_harness.py ``peak_rss_mb``: this process
or its largest waited-for child, modisco-lite forks some).

    python bench/modisco.py scores.h5 [--regions 1000] [--window 400] [--threads 2]

The figures in docs/interpretation.md come from the demo model's attributions of 1,000
regions (868 planted elements and 132 random windows; the commands are given there).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import emit, timed  # noqa: E402

from basenji_tf.interpret.modisco import (  # noqa: E402
    ModiscoOptions,
    discover_patterns,
    read_attributions,
    read_patterns,
)


def current_rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores_file", help="scores.h5 of basenji_grad_bed.py")
    parser.add_argument("--regions", type=int, default=1000)
    parser.add_argument("--window", type=int, default=400)
    parser.add_argument("--max_seqlets", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=None, help="numba threads")
    args = parser.parse_args()
    inputs = read_attributions(args.scores_file, args.window)
    if len(inputs.names) < args.regions:
        parser.error(f"{args.scores_file} has {len(inputs.names)} regions, not {args.regions}")
    for field in ("one_hot", "hypothetical", "starts_bp"):
        setattr(inputs, field, getattr(inputs, field)[: args.regions])
    options = ModiscoOptions(
        window_bp=args.window, max_seqlets=args.max_seqlets, threads=args.threads
    )
    rss_inputs = current_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        h5_file = os.path.join(tmp, "modisco_results.h5")
        timing = timed(lambda: discover_patterns(inputs, options, h5_file))
        patterns = read_patterns(h5_file)
    emit(
        "modisco",
        {
            "regions": args.regions,
            "window_bp": inputs.window_bp,
            "max_seqlets": args.max_seqlets,
            "threads": args.threads,
            "scores_file": os.path.basename(args.scores_file),
        },
        timing,
        patterns=len(patterns),
        pattern_seqlets=sum(p.seqlets for p in patterns),
        rss_before_runs_mb=rss_inputs,
    )


if __name__ == "__main__":
    main()
