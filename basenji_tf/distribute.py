"""Training's device set-up: strategy, multi-worker cluster, chief, mixed precision.

Strategies: one device, MirroredStrategy over local GPUs (or logical CPUs), and
MultiWorkerMirroredStrategy over a cluster from ``TF_CONFIG`` or a Slurm job step.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import keras
import tensorflow as tf

from basenji_tf import hardware
from basenji_tf.errors import InputError


def make_strategy(
    name: str | None = None, num_gpu: int = 1, port_base: int = 8888
) -> tf.distribute.Strategy:
    """The tf.distribute strategy to train under.

    Args:
        name: "default" (one device), "mirrored" (all visible GPUs, else all logical CPUs,
            listed explicitly because MirroredStrategy ignores extra logical CPUs
            otherwise), "multiworker" (MultiWorkerMirroredStrategy over the cluster of
            :func:`cluster_resolver`), or None (mirrored when ``num_gpu`` > 1, else default).
        num_gpu: the params' ``train.num_gpu``.
        port_base: first port of the workers of a cluster read from Slurm.

    Must be called before TensorFlow runs any op when ``name`` is "multiworker".
    """
    if name is None:
        name = "mirrored" if num_gpu > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=cluster_resolver(port_base)
        )
    raise InputError(f"unknown strategy {name!r}; use default, mirrored or multiworker")


def mixed_precision_policy() -> str:
    """The Keras policy of ``basenji_train.py -m`` on this machine's devices.

    ``mixed_float16`` with GPUs (tensor cores; the loop scales the loss);
    ``mixed_bfloat16`` on a CPU with native bfloat16 (AVX-512 BF16 or AMX: bfloat16 keeps
    float32's exponent range, so no loss scaling is needed); ``float32`` on other CPUs,
    with one warning line, since emulated bfloat16 trains several times slower
    (:func:`basenji_tf.hardware.training_policy`).
    """
    return hardware.training_policy(bool(tf.config.list_logical_devices("GPU")))


@contextlib.contextmanager
def global_policy(name: str | None) -> Iterator[None]:
    """Keras' global dtype policy set to ``name`` inside (None: left as it is)."""
    previous = keras.mixed_precision.global_policy()
    if name is not None:
        keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def cluster_resolver(port_base: int = 8888) -> tf.distribute.cluster_resolver.ClusterResolver:
    """The multi-worker cluster: from ``TF_CONFIG``, else from a Slurm job step.

    Under ``srun`` every task of the step is one worker: worker ``i`` is task ``i``
    (``SLURM_PROCID``), listening on ``port_base`` + its rank on its node. TensorFlow's
    SlurmClusterResolver reads the step's node list and tasks per node; on nodes without
    GPUs (``CUDA_VISIBLE_DEVICES`` empty or no ``nvidia-smi``) each task gets none,
    otherwise the node's GPUs are shared out among its tasks.
    """
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.cluster_resolver.TFConfigClusterResolver()
    if "SLURM_PROCID" in os.environ and "SLURM_STEP_NUM_TASKS" in os.environ:
        if _node_has_gpus():
            return tf.distribute.cluster_resolver.SlurmClusterResolver(port_base=port_base)
        # The resolver pairs tasks with GPU slots; give every task a slot and keep
        # CUDA_VISIBLE_DEVICES as it is.
        tasks = os.environ.get("SLURM_STEP_TASKS_PER_NODE", "1")
        per_node = max(int(part.split("(")[0]) for part in tasks.split(","))
        return tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=port_base, gpus_per_node=per_node, gpus_per_task=1, auto_set_gpu=False
        )
    raise InputError(
        "--strategy multiworker needs a cluster: set TF_CONFIG (cluster and task of this "
        "worker) on every worker, or start the workers as the tasks of a Slurm job step (srun)"
    )


def _node_has_gpus() -> bool:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        return False
    return shutil.which("nvidia-smi") is not None


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes files (always, except non-chief multi-workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )
