"""Training and evaluation throughput of the custom loop on CPU (one device).

Builds the model of a params file (default: the two-head basenji2_small reference
configuration, 16,384 bp in, 112 bins of 128 bp), feeds random sequences and Poisson
targets from memory, and times optimizer steps after a warm-up (tracing) epoch.

Usage: python bench/train_throughput.py [--params P] [--steps N] [--batch B]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from basenji_tf import seqnn, train  # noqa: E402
from basenji_tf.params import parse_train_params  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PARAMS = REPO / "tests" / "data" / "reference" / "basenji2_small" / "params.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(DEFAULT_PARAMS))
    parser.add_argument("--steps", type=int, default=10, help="timed steps per dataset")
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = seqnn.load(args.params, augment=True)
    settings = parse_train_params({**model.params_json["train"], "batch_size": args.batch})
    rng = np.random.default_rng(0)
    data = []
    for head in model.heads:
        n = args.steps * args.batch
        x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, head.seq_length))]
        y = rng.poisson(1.0, (n, head.target_length, head.num_targets)).astype(np.float32)
        data.append(
            train.array_data_source(x, y, x, y, args.batch, seed=0, name=f"head{head.index}")
        )
    out_dir = tempfile.mkdtemp(prefix="bench_train_throughput_")
    trainer = train.Trainer(
        model.models, data, settings, out_dir, save_model=lambda path, i: None, seed=0
    )
    trainer.train_epoch(0)  # traces every step function
    start = time.perf_counter()
    trainer.train_epoch(1)
    train_s = time.perf_counter() - start
    steps = sum(d.steps_per_epoch for d in data)
    trainer.evaluate(0)
    start = time.perf_counter()
    trainer.evaluate(0)
    eval_s = time.perf_counter() - start
    print(
        json.dumps(
            {
                "params": os.path.relpath(args.params, REPO),
                "seq_length_bp": model.seq_length,
                "heads": len(model.models),
                "parameters": int(sum(np.prod(v.shape) for v in trainer.variables)),
                "batch_size": args.batch,
                "train_steps": steps,
                "train_seconds": round(train_s, 2),
                "train_seqs_per_s": round(steps * args.batch / train_s, 2),
                "eval_seqs_per_s": round(args.steps * args.batch / eval_s, 2),
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
