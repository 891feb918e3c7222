"""Training throughput of the custom loop on this machine (one device), as JSON lines.

Each configuration builds head 0 of a params file's model, trains it on random sequences
and Poisson targets, and times ``--steps`` optimizer steps per run (5 runs after a warm-up
run that traces the step). Configurations:

* ``memory``: batches from arrays already in memory (the step alone);
* ``pipeline``: the same number of records written as TFRecords and read through
  ``seq_data_source`` (a new, seeded pipeline per epoch: shuffle-buffer fill, parallel
  decoding, prefetch), so ``ratio_vs_memory`` shows whether the input pipeline starves
  the step;
* ``bfloat16``: ``-m`` on a CPU (mixed_bfloat16), data in memory;
* ``xla``: the XLA-compiled step (``--xla``), data in memory.

Models: the small Basenji2-shaped reference model (16,384 bp, batch 4) and, unless
``--quick``, the full Basenji2 human model (131,072 bp, 5,313 targets, batch 2, as
published; random weights) in float32, bfloat16 and float32 with XLA.
Fractions count 3x the forward FLOPs per sequence against the roofs each line names
(bench/_harness.py): ``roof``, the same run's large Conv1D in the step's compute type
(float32, or bfloat16 where the CPU has it natively; else the float32 one, named so),
``arithmetic_roof`` (cores x lanes x FMA units x clock); ``_cpu``: per CPU-second, steadier
on a shared machine. ``-m`` itself trains in float32 on a CPU without native bfloat16
(:func:`basenji_tf.hardware.training_policy`); the ``mixed_bfloat16`` lines here set the
policy directly, to measure what that choice avoids.

Usage: python bench/train_throughput.py [--quick] [--steps N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _harness import emit, forward_gflops, roof_fields, roofs, timed  # noqa: E402

from basenji_tf import hardware, seqnn, train, train_data  # noqa: E402
from basenji_tf.params import parse_train_params  # noqa: E402
from basenji_tf.tfrecords import write_statistics, write_tfrecords  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "tests" / "data" / "reference" / "basenji2_small" / "params.json"
FULL = REPO / "models" / "params_basenji2_human.json"


def random_data(head: seqnn.Head, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 base codes [n, seq_length_bp], float32 Poisson targets [n, bins, targets])."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, head.seq_length), dtype=np.uint8)
    targets = rng.poisson(1.0, (n, head.target_length, head.num_targets)).astype(np.float32)
    return codes, targets


def write_data_dir(root: Path, head: seqnn.Head, codes: np.ndarray, y: np.ndarray) -> Path:
    """A data directory whose train and valid splits hold these records."""
    for split in ("train", "valid"):
        write_tfrecords(root / "tfrecords" / f"{split}-0.tfr", codes, y.astype(np.float16))
    write_statistics(
        root,
        {
            "num_targets": head.num_targets,
            "seq_length": head.seq_length,
            "seq_1hot": True,
            "pool_width": head.stride,
            "crop_bp": head.crop * head.stride,
            "target_length": head.target_length,
            "train_seqs": len(codes),
            "valid_seqs": len(codes),
        },
    )
    return root


def run_config(params_file: Path, source: str, precision: str, jit: bool, batch: int, steps: int):
    """(timing of one epoch of ``steps`` steps, forward GFLOPs per sequence)."""
    keras.mixed_precision.set_global_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        model = seqnn.load(
            params_file, augment=True, precision=seqnn.precision_of_policy(precision)
        )
        head = model.head
        settings = parse_train_params({**model.params_json["train"], "batch_size": batch})
        codes, y = random_data(head, steps * batch)
        if source == "memory":
            x = np.eye(4, dtype=np.float32)[codes]
            data = train_data.array_data_source(x, y, x[:batch], y[:batch], batch, seed=0)
        else:
            root = write_data_dir(Path(tempfile.mkdtemp(prefix="bench_train_")), head, codes, y)
            data = train_data.seq_data_source(root, settings, seed=0)
        trainer = train.Trainer(
            model.models[:1],
            [data],
            settings,
            tempfile.mkdtemp(prefix="bench_train_out_"),
            save_model=lambda path, i: None,
            seed=0,
            jit_compile=jit,
        )
        epoch = iter(range(10**6))
        timing = timed(lambda: trainer.train_epoch(next(epoch)))
        return timing, forward_gflops(model.models[0])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small model only")
    parser.add_argument("--steps", type=int, default=4, help="steps per timed run (small)")
    args = parser.parse_args()
    roof = roofs(("float32", "bfloat16") if hardware.native_bfloat16() else ("float32",))
    configs = [
        ("basenji2_small", SMALL, "memory", "float32", False, 4, args.steps),
        ("basenji2_small", SMALL, "pipeline", "float32", False, 4, args.steps),
        ("basenji2_small", SMALL, "memory", "mixed_bfloat16", False, 4, args.steps),
        ("basenji2_small", SMALL, "memory", "float32", True, 4, args.steps),
    ]
    if not args.quick:
        configs += [
            ("basenji2_human", FULL, "memory", "float32", False, 2, 1),
            ("basenji2_human", FULL, "memory", "mixed_bfloat16", False, 2, 1),
            ("basenji2_human", FULL, "memory", "float32", True, 2, 1),
        ]
    medians = {}
    for name, params_file, source, precision, jit, batch, steps in configs:
        dtype = "bfloat16" if precision == "mixed_bfloat16" else "float32"
        config = {
            "model": name,
            "data": source,
            "precision": precision,
            "xla": jit,
            "batch": batch,
            "steps_per_run": steps,
        }
        if precision == "mixed_bfloat16" and hardware.bfloat16_hidden():
            emit("train_throughput", config, skipped="ONEDNN_MAX_CPU_ISA hides bfloat16")
            continue
        try:
            timing, gflops = run_config(params_file, source, precision, jit, batch, steps)
        except Exception as err:  # one failed configuration does not end the others
            emit("train_throughput", config, error=f"{type(err).__name__}: {err}"[:300])
            continue
        seqs = steps * batch
        key = (name, source, precision, jit)
        medians[key] = timing["median_s"]
        figures = {
            "train_seqs_per_s": round(seqs / timing["median_s"], 3),
            "step_s": round(timing["median_s"] / steps, 4),
            "forward_gflops_per_seq": round(gflops, 2),
            **roof_fields(3 * gflops * seqs, timing, roof.get(dtype, roof["float32"])),
        }
        base = medians.get((name, "memory", "float32", False))
        if key != (name, "memory", "float32", False) and base:
            label = "ratio_vs_memory" if source == "pipeline" else "ratio_vs_float32"
            figures[label] = round(base / timing["median_s"], 3)
        emit("train_throughput", config, timing, **figures)


if __name__ == "__main__":
    main()
