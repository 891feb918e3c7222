"""Training: one custom loop over any number of datasets, and ``basenji_train.py``.

The loop trains one Keras model per dataset (``models[i]`` = head ``i`` of a
:class:`~basenji_tf.seqnn.SeqNN`, all sharing the trunk) with one optimizer. Every epoch
interleaves ``steps_per_epoch`` batches of each dataset in a seeded random order (the
original ``fit2``, REFERENCE.md 5.5, generalized from two datasets to any number), then
evaluates each dataset on its validation split; validation ``r + r2/4`` decides the best
model. :mod:`basenji_tf.checkpoint` writes the model files, history, summaries and resume
state.

Every step runs through ``strategy.run`` whatever the strategy (default, Mirrored or
MultiWorkerMirrored): Keras 3.15 ``model.fit`` fails under MultiWorkerMirroredStrategy
(keras-team/keras#20585), and one code path is easier to trust. Each global batch is cut
into ``num_replicas`` equal consecutive slices, replica ``k`` taking slice ``k``, so a
distributed step sees exactly the examples of the single-device step.

Resume: running the same command again after a crash or SIGKILL restarts from the last
completed epoch (``resume.h5``) and ends after the same number of epochs; with a seed, the
run's numbers match an uninterrupted one (datasets and batch order are seeded per epoch,
augmentation seed states are model variables).

Differences from the original:

* any number of datasets (the original: one or two); stopping when every dataset has
  gone ``patience`` epochs without improvement, as ``fit2`` does;
* the best model is chosen by ``valid_r + valid_r2/4`` for every dataset (``fit2`` used
  ``valid_r`` alone);
* gradients are all-reduced first and clipped afterwards, so ``clip_norm`` /
  ``global_clipnorm`` clip the gradient of the global batch; Keras 3 optimizers clip each
  replica's partial gradient before reducing, which changes results with the number of
  devices;
* resume state is one ``resume.h5`` file instead of tf.train ``ckpt-N`` checkpoints
  (:mod:`basenji_tf.checkpoint`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from basenji_tf import metrics, optimizers, seqnn, transfer
from basenji_tf.checkpoint import RESUME_FILE, Checkpointer
from basenji_tf.dataset import naming_corrupt_records, without_autotune
from basenji_tf.distribute import global_policy, is_chief, make_strategy, mixed_precision_policy
from basenji_tf.errors import InputError
from basenji_tf.files import claim_output_dir
from basenji_tf.params import TrainParams, parse_train_params, parse_transfer_params, read_params
from basenji_tf.progress import track
from basenji_tf.targets import read_targets, strand_pairs
from basenji_tf.tfrecords import read_statistics
from basenji_tf.train_data import DataSource, seq_data_source

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# The loop


class Trainer:
    """Train ``models[i]`` on ``data[i]`` with a shared optimizer.

    Build the models and call this constructor inside ``strategy.scope()``.

    Args:
        models: one Keras model per dataset (heads sharing a trunk).
        data: one :class:`DataSource` per model.
        settings: the parsed ``train`` section.
        out_dir: output directory (created).
        save_model: ``save_model(path, i)`` writes model ``i`` to ``path`` (legacy HDF5);
            called with a temporary name that is then renamed.
        strategy: the tf.distribute strategy the models were built under.
        seed: seeds the per-epoch batch order and data shuffles (None: drawn once and
            kept in the resume state).
        params_text: the params JSON, written to ``out_dir/params.json`` once the run is
            accepted (None: not written).
        jit_compile: compile each replica's training step with XLA (the iterator and the
            cross-replica reductions stay outside).
    """

    def __init__(
        self,
        models: Sequence[keras.Model],
        data: Sequence[DataSource],
        settings: TrainParams,
        out_dir: str | os.PathLike,
        save_model: Callable[[str, int], None],
        strategy: tf.distribute.Strategy | None = None,
        seed: int | None = None,
        params_text: str | None = None,
        jit_compile: bool = False,
    ):
        if len(models) != len(data):
            raise InputError(
                f"{len(data)} data directories for {len(models)} model heads; give one data "
                "directory per head (in natsorted head-key order)"
            )
        self.models = list(models)
        self.data = list(data)
        self.settings = settings
        self.strategy = strategy or tf.distribute.get_strategy()
        self.seed = seed if seed is not None else int(np.random.default_rng().integers(2**31))
        self.num_replicas = self.strategy.num_replicas_in_sync
        if settings.batch_size % self.num_replicas:
            raise InputError(
                f"train.batch_size {settings.batch_size} is not divisible by the "
                f"{self.num_replicas} replicas; make it a multiple"
            )
        self.chief = is_chief(self.strategy)
        self.checkpoints = Checkpointer(
            out_dir, len(models), save_model, self.chief, params_text=params_text
        )
        self.loss_fn = metrics.make_loss(settings)

        self.variables = _unique(v for m in self.models for v in m.variables)
        trainable = _unique(v for m in self.models for v in m.trainable_variables)
        total_steps = sum(d.steps_per_epoch for d in self.data)
        with self.strategy.scope():
            optimizer = optimizers.make_optimizer(settings, total_steps)
            self.mixed = keras.mixed_precision.global_policy().name == "mixed_float16"
            if self.mixed:
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(trainable)
        self.optimizer = optimizer
        self.jit_compile = jit_compile
        self._train_steps = [self._make_train_step(i) for i in range(len(models))]
        self._eval_steps = [self._make_eval_step(i) for i in range(len(models))]

        self.epoch = 0
        self.best = [-math.inf] * len(models)
        self.unimproved = [0] * len(models)
        self.history: list[dict] = []

    # -- distributed steps --------------------------------------------------------------

    def _distribute(self, dataset: tf.data.Dataset, pad: bool):
        """Global batches -> per-replica slices, with a [B/replicas] mask of real rows."""
        batch = self.settings.batch_size
        replicas = self.num_replicas

        def add_mask(x, y):
            real = tf.shape(x)[0]
            mask = tf.ones([real], tf.float32)
            if pad:
                extra = batch - real
                x = tf.pad(x, [[0, extra], [0, 0], [0, 0]])
                y = tf.pad(y, [[0, extra], [0, 0], [0, 0]])
                mask = tf.pad(mask, [[0, extra]])
            return x, y, mask

        def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            ds = without_autotune(dataset.map(add_mask))
            if replicas == 1:
                return ds
            per_pipeline = replicas // context.num_input_pipelines
            first = context.input_pipeline_id * per_pipeline

            def slices(*tensors):
                return tuple(
                    tf.reshape(t, tf.concat([[replicas, batch // replicas], tf.shape(t)[1:]], 0))[
                        first : first + per_pipeline
                    ]
                    for t in tensors
                )

            return ds.map(slices).unbatch()

        options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
        return self.strategy.distribute_datasets_from_function(dataset_fn, options)

    def _reduce(self, value):
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)

    def _make_train_step(self, i: int):
        model = self.models[i]
        variables = list(model.trainable_variables)
        optimizer, settings, loss_fn = self.optimizer, self.settings, self.loss_fn
        replicas, batch, mixed = self.num_replicas, self.settings.batch_size, self.mixed

        def replica_step(x, y, mask):
            with tf.GradientTape() as tape:
                pred = tf.cast(model(x, training=True), tf.float32)
                per_example = loss_fn(y, pred)
                regularization = tf.add_n(model.losses) if model.losses else 0.0
                loss = tf.reduce_sum(per_example) / batch + regularization / replicas
                scaled = optimizer.scale_loss(loss) if mixed else loss
            grads = tape.gradient(scaled, variables)
            pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
            context = tf.distribute.get_replica_context()
            grads = context.all_reduce(tf.distribute.ReduceOp.SUM, [g for g, _ in pairs])
            scale = tf.cast(optimizer.dynamic_scale, tf.float32) if mixed else 1.0
            grads = optimizers.clip_gradients([g / scale for g in grads], settings)
            # The optimizer all-reduces (sums) again; hand each replica 1/replicas of the
            # clipped global gradient so that sum is the gradient itself.
            grads = [g * (scale / replicas) for g in grads]
            optimizer.apply_gradients(zip(grads, [v for _, v in pairs]))
            return loss, metrics.batch_sums(y, pred, mask)

        compiled = tf.function(replica_step, jit_compile=True) if self.jit_compile else replica_step

        @tf.function
        def step(iterator):
            x, y, mask = next(iterator)
            loss, sums = self.strategy.run(compiled, args=(x, y, mask))
            return self._reduce(loss), self._reduce(sums)

        return step

    def _make_eval_step(self, i: int):
        model, loss_fn = self.models[i], self.loss_fn

        def replica_step(x, y, mask):
            pred = tf.cast(model(x, training=False), tf.float32)
            loss_sum = tf.reduce_sum(loss_fn(y, pred) * mask)
            return loss_sum, tf.reduce_sum(mask), metrics.batch_sums(y, pred, mask)

        @tf.function
        def step(inputs):
            loss_sum, count, sums = self.strategy.run(replica_step, args=inputs)
            return self._reduce(loss_sum), self._reduce(count), self._reduce(sums)

        return step

    def _regularization(self, i: int) -> float:
        losses = self.models[i].losses
        return float(sum(float(loss) for loss in losses)) if losses else 0.0

    def evaluate(self, i: int) -> dict[str, float]:
        """Validation loss (mean per sequence + regularization), mean r and R2 of dataset ``i``."""
        stats = metrics.TargetStats(int(self.models[i].output.shape[-1]))
        loss_sum = count = 0.0
        for inputs in self._distribute(self.data[i].valid(), pad=True):
            batch_loss, batch_count, sums = self._eval_steps[i](inputs)
            loss_sum += float(batch_loss)
            count += float(batch_count)
            stats.add_sums(sums.numpy())
        if count == 0:
            raise InputError(f"{self.data[i].name}: the validation split has no sequences")
        return {
            "loss": loss_sum / count + self._regularization(i),
            "r": float(np.nanmean(stats.pearsonr())),
            "r2": float(np.nanmean(stats.r2())),
        }

    # -- epochs -------------------------------------------------------------------------

    def batch_order(self, epoch: int) -> np.ndarray:
        """Dataset index of each step of ``epoch``: steps_i copies of i, shuffled (seeded)."""
        order = np.concatenate(
            [np.full(d.steps_per_epoch, i) for i, d in enumerate(self.data)]
        ).astype(np.int64)
        np.random.default_rng([self.seed, epoch]).shuffle(order)
        return order

    def train_epoch(self, epoch: int) -> list[dict[str, float]]:
        """One epoch of interleaved training steps; per dataset mean loss, r, R2."""
        iterators = [iter(self._distribute(d.train(epoch), pad=False)) for d in self.data]
        stats = [metrics.TargetStats(int(m.output.shape[-1])) for m in self.models]
        loss_sums = [0.0] * len(self.data)
        order = self.batch_order(epoch)
        for i in track(order, desc=f"epoch {epoch}", unit="steps", enabled=self.chief):
            loss, sums = self._train_steps[i](iterators[i])
            loss_sums[i] += float(loss)
            stats[i].add_sums(sums.numpy())
        return [
            {
                "loss": loss_sums[i] / d.steps_per_epoch,
                "r": float(np.nanmean(stats[i].pearsonr())),
                "r2": float(np.nanmean(stats[i].r2())),
            }
            for i, d in enumerate(self.data)
        ]

    def fit(self) -> list[dict]:
        """Train until early stopping or ``train_epochs_max``; returns the history rows.

        Resumes from ``out_dir/resume.h5`` when it exists; nothing is written to
        ``out_dir`` before that state is accepted.
        """
        settings = self.settings
        self.load_state()
        self.checkpoints.open()
        while self.epoch < settings.train_epochs_max:
            if self.epoch >= settings.train_epochs_min and min(self.unimproved) > settings.patience:
                break
            start = time.time()
            train = self.train_epoch(self.epoch)
            for i in range(len(self.models)):
                valid = self.evaluate(i)
                score = valid["r"] + valid["r2"] / 4
                improved = score > self.best[i]
                if improved:
                    self.best[i] = score
                    self.unimproved[i] = 0
                else:
                    self.unimproved[i] += 1
                row = {
                    "epoch": self.epoch,
                    "data": i,
                    "seconds": round(time.time() - start, 2),
                    **{f"train_{k}": v for k, v in train[i].items()},
                    **{f"valid_{k}": v for k, v in valid.items()},
                    "best": improved,
                }
                self.history.append(row)
                log.info(_epoch_line(row, len(self.models)))
                self.checkpoints.save_epoch(i, row)
            self.epoch += 1
            self.save_state()
        return self.history

    # -- resume state -------------------------------------------------------------------

    def save_state(self) -> None:
        """Write every variable and the loop state to ``resume.h5`` (chief only, atomic)."""
        state = {
            "epoch": self.epoch,
            "best": self.best,
            "unimproved": self.unimproved,
            "seed": self.seed,
            "history": self.history,
        }
        self.checkpoints.save_state(self.variables, self.optimizer.variables, state)

    def load_state(self) -> bool:
        """Restore variables and loop state from ``resume.h5`` if present; True if resumed."""
        state = self.checkpoints.load_state(self.variables, self.optimizer.variables)
        if state is None:
            return False
        self.epoch = state["epoch"]
        self.best = [float(b) for b in state["best"]]
        self.unimproved = state["unimproved"]
        self.seed = state["seed"]
        self.history = state["history"]
        return True


def _unique(variables) -> list:
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _epoch_line(row: dict, num_datasets: int) -> str:
    """The original's per-epoch line (prefixed with the dataset with several)."""
    prefix = f"Data {row['data']} - " if num_datasets > 1 else ""
    line = (
        f"{prefix}Epoch {row['epoch']} - {row['seconds']:.0f}s - "
        f"train_loss: {row['train_loss']:.4f} - train_r: {row['train_r']:.4f} - "
        f"train_r2: {row['train_r2']:.4f} - valid_loss: {row['valid_loss']:.4f} - "
        f"valid_r: {row['valid_r']:.4f} - valid_r2: {row['valid_r2']:.4f}"
    )
    return line + (" - best!" if row["best"] else "")


# ---------------------------------------------------------------------------------------
# basenji_train.py


def train_model(
    params_file: str | os.PathLike,
    data_dirs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike = "train_out",
    restore: str | os.PathLike | None = None,
    trunk: bool = False,
    mixed_precision: bool = False,
    tfr_train: str | None = None,
    tfr_eval: str | None = None,
    seed: int | None = None,
    strategy: str | None = None,
    port_base: int = 8888,
    jit_compile: bool = False,
    heads: Sequence[int] | None = None,
    pretrain_bed: str | os.PathLike | None = None,
    strict: bool = False,
) -> list[dict]:
    """Everything ``basenji_train.py`` does: data dir ``i`` trains head ``heads[i]``.

    A ``transfer`` section in the params fine-tunes the ``restore`` model
    (:mod:`basenji_tf.transfer`): frozen trunk, adapters, merged model files.

    Args:
        params_file: params JSON (``train`` and ``model`` sections).
        data_dirs: one data directory per head, in natsorted head-key order.
        out_dir: where params.json, model files, resume.h5, history.tsv and logs/ go.
        restore: weights to start from (a full head-0 model file, or a trunk file).
        trunk: load ``restore`` into the trunk only.
        mixed_precision: train under :func:`mixed_precision_policy` (mixed_float16 with
            dynamic loss scaling on GPUs, mixed_bfloat16 on CPUs with native bfloat16,
            float32 with a warning on other CPUs); outputs, losses and metrics stay
            float32. The previous global policy is restored afterwards.
        tfr_train: TFRecord glob under ``tfrecords/`` for the training set.
        tfr_eval: TFRecord glob under ``tfrecords/`` for the validation set.
        seed: seeds Keras, TensorFlow (with deterministic ops) and the data order.
        strategy: see :func:`make_strategy` (None: from ``train.num_gpu``).
        port_base: first worker port of a multi-worker cluster read from Slurm.
        jit_compile: XLA-compile the training step (slower on CPU: see docs/train.md).
        heads: the head each data directory trains (default 0, 1, ...); the others stay
            as they are and get no model files.
        pretrain_bed: the pretrained model's sequences.bed: warn when the data's valid
            or test regions overlap its train regions.
        strict: refuse such an overlap instead.

    Returns:
        the history rows (one per epoch and dataset).
    """
    params = read_params(params_file)
    params_text = Path(params_file).read_text()
    for section in ("train", "model"):
        if section not in params:
            raise InputError(f"{params_file}: no {section!r} section")
    settings = parse_train_params(params["train"], str(params_file))
    transfer_settings = parse_transfer_params(params, str(params_file))
    heads, pairs = _heads_and_pairs(heads, data_dirs)
    if pretrain_bed is not None:
        transfer.check_pretrain_overlap(data_dirs, pretrain_bed, strict)
    if jit_compile and seed is not None:
        raise InputError(
            "--xla with --seed: XLA has no deterministic MaxPool gradient, and --seed turns "
            "deterministic ops on; drop one of them"
        )
    if strategy == "multiworker" and seed is None:
        raise InputError(
            "--strategy multiworker needs --seed: every worker must draw the same batch "
            "order and shuffles"
        )
    # MultiWorkerMirroredStrategy must exist before TensorFlow runs anything.
    dist = make_strategy(strategy, settings.num_gpu, port_base)
    if seed is not None:
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()

    # The chief holds out_dir for the whole run (other workers write nothing there); the
    # run writes to it only once accepted (Trainer.fit), so a refused run leaves it as it was.
    out = Path(out_dir)
    claim = claim_output_dir(out) if is_chief(dist) else contextlib.nullcontext()
    policy = mixed_precision_policy() if mixed_precision else None
    with claim, global_policy(policy):
        restored = restore is not None or (out / RESUME_FILE).is_file()
        if (out / RESUME_FILE).is_file():
            restore = None  # resume.h5 holds newer weights
        with dist.scope():
            model = seqnn.load(
                params_file,
                restore,
                0,
                trunk=trunk,
                augment=True,
                strand_pair=pairs,
                precision=seqnn.precision_of_policy(policy),
            )
            _check_data(model, heads, data_dirs, params_file)
            tuned = None
            if transfer_settings is not None:
                tuned = transfer.prepare(
                    model, transfer_settings, params, params_file, heads, restored
                )
                model, params_text = tuned.model, tuned.params_text
            data = [seq_data_source(d, settings, seed, tfr_train, tfr_eval) for d in data_dirs]
            if tuned is not None:
                steps = sum(d.steps_per_epoch for d in data)
                settings = transfer.fine_tuning_settings(settings, params["train"], steps)
            save = tuned.save if tuned is not None else lambda path, h: model.save(path, head_i=h)
            trainer = Trainer(
                [model.models[h] for h in heads],
                data,
                settings,
                out,
                save_model=lambda path, i: save(path, heads[i]),
                strategy=dist,
                seed=seed,
                params_text=params_text,
                jit_compile=jit_compile,
            )
        files = [str(f) for d in data_dirs for f in sorted(Path(d, "tfrecords").glob("*.tfr"))]
        with naming_corrupt_records(files):
            return trainer.fit()


def _heads_and_pairs(heads: Sequence[int] | None, data_dirs: Sequence) -> tuple[list, list | None]:
    """The head each data directory trains (default 0, 1, ...), and the strand pairs.

    Strand pairs: per head, the output each output becomes on the opposite strand, from
    its data directory's targets table (None: no swaps anywhere).
    """
    heads = list(range(len(data_dirs))) if heads is None else list(heads)
    if len(heads) != len(data_dirs) or len(set(heads)) != len(heads) or min(heads) < 0:
        raise InputError(
            f"--heads {','.join(map(str, heads))}: give one distinct head per data directory "
            f"({len(data_dirs)})"
        )
    pairs: list = [None] * (max(heads) + 1)
    for head, data_dir in zip(heads, data_dirs):
        path = Path(data_dir) / "targets.txt"
        pairs[head] = strand_pairs(read_targets(path)) if path.is_file() else None
    return heads, pairs if any(pair is not None for pair in pairs) else None


def _check_data(model: seqnn.SeqNN, heads: list[int], data_dirs: Sequence, params_file) -> None:
    """Each data directory's statistics.json must agree with the geometry of its head."""
    if max(heads) >= len(model.models):
        raise InputError(
            f"{len(data_dirs)} data directories for heads {heads} of the {len(model.models)} "
            f"heads of {params_file} ({', '.join(model.params.head_keys)}); give one per head"
        )
    if len(data_dirs) < len(model.models):
        # As the original: one dataset trains head 0 of a multi-head params file.
        log.info(
            "training heads %s; the others get no data directory and stay as they are",
            ", ".join(model.params.head_keys[h] for h in heads),
        )
    for i, data_dir in zip(heads, data_dirs):
        stats = read_statistics(data_dir)
        bins, targets = int(stats["target_length"]), int(stats["num_targets"])
        if bins != model.target_lengths[i] or targets != model.num_targets(i):
            raise InputError(
                f"{Path(data_dir) / 'statistics.json'}: target_length {bins} x {targets} "
                f"targets, but head {i} outputs {model.target_lengths[i]} bins x "
                f"{model.num_targets(i)}; the params and the data must agree"
            )
