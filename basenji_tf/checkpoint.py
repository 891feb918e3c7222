"""The files a training run writes to its output directory, and resuming from them.

Per dataset ``i`` (one head each): ``model_check.h5`` after every epoch and
``model_best.h5`` when validation improves (``model{i}_check.h5`` / ``model{i}_best.h5``
with several datasets), legacy Keras-2 HDF5; TensorBoard scalars under ``logs/data``
(``logs/data{i}``). After each epoch: ``history.tsv`` (one row per epoch and dataset) and
``resume.h5``, which holds every model and optimizer variable plus the loop state.

Resume: running the same command again after a crash or SIGKILL restarts from the last
completed epoch. Every file is written under a temporary name and renamed, so a kill
never leaves a half-written one. In multi-worker training only the chief writes.

Nothing is written before the run is accepted: :meth:`Checkpointer.load_state` (which
refuses a ``resume.h5`` of another model) comes before :meth:`Checkpointer.open`, which
writes ``params.json`` and creates the TensorBoard logs, so a refused rerun leaves the
directory as it was.

Differences from the original: resume state is one ``resume.h5`` file instead of tf.train
``ckpt-N`` checkpoints.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import h5py
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_h5, atomic_path, read_h5, write_text_atomic

log = logging.getLogger(__name__)

RESUME_FILE = "resume.h5"
PARAMS_FILE = "params.json"
HISTORY_FILE = "history.tsv"
HISTORY_COLUMNS = (
    "epoch",
    "data",
    "seconds",
    "train_loss",
    "train_r",
    "train_r2",
    "valid_loss",
    "valid_r",
    "valid_r2",
    "best",
)
_SUMMARY_KEYS = ("train_loss", "train_r", "train_r2", "valid_loss", "valid_r", "valid_r2")


def output_names(num_datasets: int) -> list[dict[str, str]]:
    """Per dataset: file names of its check and best models."""
    if num_datasets == 1:
        return [{"check": "model_check.h5", "best": "model_best.h5"}]
    return [
        {"check": f"model{i}_check.h5", "best": f"model{i}_best.h5"} for i in range(num_datasets)
    ]


class Checkpointer:
    """Writes (and reads back) the files of one training run.

    Args:
        out_dir: the run's output directory.
        num_datasets: datasets trained, one head each.
        save_model: ``save_model(path, i)`` writes the model of dataset ``i`` to ``path``
            (legacy HDF5); called with a temporary name that is then renamed.
        chief: whether this worker writes files (False: every write is skipped).
        params_text: the params JSON, written to ``params.json`` by :meth:`open`
            (None: not written).
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        num_datasets: int,
        save_model: Callable[[str, int], None],
        chief: bool = True,
        params_text: str | None = None,
    ):
        self.out_dir = Path(out_dir)
        self.params_text = params_text
        self.names = output_names(num_datasets)
        self.save_model = save_model
        self.chief = chief
        self._writers: list | None = None

    def open(self) -> None:
        """Create the output directory; on the chief, write params.json and open TensorBoard.

        Call once the run is accepted (after :meth:`load_state`).
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.chief and self.params_text is not None:
            write_text_atomic(self.out_dir / PARAMS_FILE, self.params_text)
        if self.chief:
            suffixes = [""] if len(self.names) == 1 else [str(i) for i in range(len(self.names))]
            self._writers = [
                tf.summary.create_file_writer(str(self.out_dir / "logs" / f"data{s}"))
                for s in suffixes
            ]

    def save_epoch(self, i: int, row: dict) -> None:
        """After validating dataset ``i``: summaries, check model, best model if it improved.

        Args:
            i: dataset index.
            row: the history row (:data:`HISTORY_COLUMNS`).
        """
        if not self.chief:
            return
        if self._writers:
            _write_summaries(self._writers[i], row)
        self._save_model(i, "check")
        if row["best"]:
            self._save_model(i, "best")

    def _save_model(self, i: int, kind: str) -> None:
        with atomic_path(self.out_dir / self.names[i][kind]) as tmp:
            self.save_model(tmp, i)

    def save_state(
        self,
        variables: Sequence[tf.Variable],
        optimizer_variables: Sequence[tf.Variable],
        state: dict,
    ) -> None:
        """Write ``resume.h5`` (every variable and ``state``) and ``history.tsv``.

        Args:
            variables: every model variable, in a fixed order.
            optimizer_variables: the optimizer's variables.
            state: the loop state, JSON-serializable; its ``history`` rows become
                history.tsv.
        """
        if not self.chief:
            return
        with atomic_h5(self.out_dir / RESUME_FILE) as h5:
            for group, group_variables in (
                ("model", variables),
                ("optimizer", optimizer_variables),
            ):
                grp = h5.create_group(group)
                for k, var in enumerate(group_variables):
                    grp.create_dataset(str(k), data=np.asarray(var.numpy()))
                grp.attrs["paths"] = json.dumps([v.path for v in group_variables])
            h5.attrs["state"] = json.dumps(state)
        text = (
            "\t".join(HISTORY_COLUMNS)
            + "\n"
            + "".join(
                "\t".join(str(row[c]) for c in HISTORY_COLUMNS) + "\n" for row in state["history"]
            )
        )
        write_text_atomic(self.out_dir / HISTORY_FILE, text)

    def load_state(
        self, variables: Sequence[tf.Variable], optimizer_variables: Sequence[tf.Variable]
    ) -> dict | None:
        """Assign the variables from ``resume.h5`` if it exists.

        Returns:
            the loop state saved with them, or None without a resume file.

        Raises:
            InputError: the file holds other variables (another model or settings), or is
                corrupt or truncated.
        """
        path = self.out_dir / RESUME_FILE
        if not path.is_file():
            return None
        with read_h5(path, "resume file") as h5:
            try:
                for group, group_variables in (
                    ("model", variables),
                    ("optimizer", optimizer_variables),
                ):
                    _assign_group(h5[group], group_variables, path, group)
                state = json.loads(h5.attrs["state"])
            except InputError:
                raise
            except (KeyError, ValueError) as err:
                raise InputError(
                    f"{path}: not a resume file of this program ({err}); delete it to start "
                    "again, or use another -o directory"
                ) from None
        log.info("resuming from %s after epoch %d", path, state["epoch"] - 1)
        return state


def _assign_group(
    grp: h5py.Group, variables: Sequence[tf.Variable], path: Path, group: str
) -> None:
    if len(grp) != len(variables):
        raise InputError(
            f"{path}: holds {len(grp)} {group} variables but this run has "
            f"{len(variables)}; it belongs to another model or settings - use "
            "another -o directory or delete the file"
        )
    for k, var in enumerate(variables):
        value = grp[str(k)][()]
        if tuple(value.shape) != tuple(var.shape):
            raise InputError(
                f"{path}: {group} variable {k} ({var.path}) has shape "
                f"{value.shape}, the model {tuple(var.shape)}; use another -o "
                "directory or delete the file"
            )
        var.assign(value)


def _write_summaries(writer, row: dict) -> None:
    # tf.summary.scalar needs the tensorboard package; the core op with the scalars
    # plugin's metadata writes the same event records without it.
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    with writer.as_default():
        for key in _SUMMARY_KEYS:
            tf.summary.write(
                key,
                tf.constant(row[key], tf.float32),
                step=row["epoch"],
                metadata=metadata.SerializeToString(),
            )
    writer.flush()
