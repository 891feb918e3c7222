"""SavedModel export: a serving signature over float32 one-hot [batch, seq_length, 4].

The exported directory loads with ``tf.saved_model.load`` (no basenji_tf needed) and
serves through ``loaded.serve(x)`` or
``loaded.signatures["serving_default"](sequence=x)["output_0"]``, returning predictions
[batch, target_length, num_targets], ensembled if asked at export time.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence

import keras
import tensorflow as tf

from basenji_tf import seqnn
from basenji_tf.files import atomic_path


def export_saved_model(
    head: seqnn.Head,
    out_dir: str | os.PathLike,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    strand_pair: Sequence[int] | None = None,
) -> None:
    """Write one head of a model, optionally ensembled, as a TF SavedModel.

    Args:
        head: the head to export (weights restored), e.g. ``seqnn.load(...).head``.
        out_dir: the SavedModel directory; replaced atomically if it exists.
        rc: average with reverse complements (baked into the graph).
        shifts: ensemble shifts in bp.
        strand_pair: outputs swapped in RC members (None: the head's own).
    """
    predictor = head.ensemble(rc, shifts, strand_pair)
    depth = int(head.model.input.shape[-1])
    spec = tf.TensorSpec([None, head.seq_length, depth], tf.float32, name="sequence")
    archive = keras.export.ExportArchive()
    archive.track(predictor)
    archive.add_endpoint(
        name="serve", fn=lambda x: predictor(x, training=False), input_signature=[spec]
    )
    with atomic_path(out_dir, is_dir=True) as tmp, _tensorflow_info_quiet():
        archive.write_out(tmp, verbose=False)


@contextlib.contextmanager
def _tensorflow_info_quiet() -> Iterator[None]:
    """TensorFlow's logger at WARNING for the block.

    Saving logs "Assets written to: <dir>/assets" at INFO, naming the temporary directory
    that :func:`~basenji_tf.files.atomic_path` renames a moment later (and twice where
    TensorFlow's own handler prints it besides ours).
    """
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def export_model(
    params_file: str | os.PathLike,
    model_file: str | os.PathLike,
    out_dir: str | os.PathLike,
    head: int = 0,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    trunk: bool = False,
) -> None:
    """Everything ``basenji_export.py`` does: load a trained head and export it.

    Args:
        params_file: params JSON the model was trained with.
        model_file: its weights (head ``head``, or the trunk with ``trunk``).
        out_dir: the SavedModel directory.
        head: head index.
        rc: average with reverse complements.
        shifts: ensemble shifts in bp.
        trunk: ``model_file`` holds the trunk only.
    """
    model = seqnn.load(params_file, model_file, head, trunk=trunk)
    export_saved_model(model.head, out_dir, rc, shifts)


def load_saved_model(path: str | os.PathLike):
    """Reload an exported model; call ``.serve(x)`` on float32 [batch, seq_length, 4]."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: SavedModel directory not found")
    return tf.saved_model.load(os.fspath(path))
