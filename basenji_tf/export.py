"""SavedModel export: a serving signature over float32 one-hot [batch, seq_length, 4].

The exported directory loads with ``tf.saved_model.load`` (no basenji_tf needed) and
serves through ``loaded.serve(x)`` or
``loaded.signatures["serving_default"](sequence=x)["output_0"]``, returning predictions
[batch, target_length, num_targets], ensembled if asked at export time.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from basenji_tf.files import atomic_path
from basenji_tf.seqnn import SeqNN


def export_saved_model(model: SeqNN, out_dir: str | os.PathLike, head_i: int | None = None,
                       ensemble_rc: bool = False, ensemble_shifts=(0,)) -> None:
    """Write ``model`` (head ``head_i``, optionally ensembled) as a TF SavedModel.

    Args:
        model: a SeqNN with weights restored.
        out_dir: the SavedModel directory; replaced atomically if it exists.
        head_i: head to export (None: the current model).
        ensemble_rc, ensemble_shifts: ensembling baked into the graph.
    """
    if head_i is not None and head_i != model.head_i:
        model.model = model.models[head_i]
        model.head_i = head_i
    model.build_ensemble(ensemble_rc, ensemble_shifts)
    predictor = model.predictor()
    spec = tf.TensorSpec([None, model.seq_length, model.seq_depth], tf.float32, name="sequence")
    archive = keras.export.ExportArchive()
    archive.track(predictor)
    archive.add_endpoint(name="serve", fn=lambda x: predictor(x, training=False),
                         input_signature=[spec])
    with atomic_path(out_dir, is_dir=True) as tmp:
        archive.write_out(tmp, verbose=False)


def load_saved_model(path: str | os.PathLike):
    """Reload an exported model; call ``.serve(x)`` on float32 [batch, seq_length, 4]."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: SavedModel directory not found")
    return tf.saved_model.load(os.fspath(path))
