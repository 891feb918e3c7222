"""``save_model.py``: re-save a model file in another format, or its trunk only.

The output format follows the extension: ``.h5`` is the Keras-2 HDF5 layout of
:func:`basenji_tf.weights.save_legacy_h5` (what the original's ``load_weights`` and our
``SeqNN.restore`` read), ``.keras`` a Keras 3 archive of the model (read by
``SeqNN.restore`` and ``keras.saving.load_model``). With ``trunk`` the file holds the
trunk alone (sequence -> the trunk's output after the model activation): the file that
``SeqNN.restore(..., trunk=True)`` (``--trunk``) reads, with the weighted layers of the
original's ``SeqNN.save(trunk=True)``, in the same order and shapes.

Differences from the original: a missing input file is an error (the original then saved
the freshly initialised model without a word), and ``head`` picks the head of a
multi-head params file (the original saved head 0).
"""

from __future__ import annotations

import logging
import os

from basenji_tf import seqnn
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path

log = logging.getLogger(__name__)

MODEL_FORMATS = {".h5": "Keras-2 HDF5 weights", ".keras": "Keras 3 archive"}


def model_format(path: str | os.PathLike) -> str:
    """The extension of ``path`` if it is one of :data:`MODEL_FORMATS`, else InputError."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in MODEL_FORMATS:
        choices = ", ".join(f"{e} ({what})" for e, what in MODEL_FORMATS.items())
        raise InputError(f"{os.fspath(path)}: unknown model file extension; use {choices}")
    return ext


def save_model_file(model: seqnn.SeqNN, out_file: str | os.PathLike, trunk: bool = False) -> str:
    """Write the current head's model (or the trunk) of ``model`` to ``out_file``.

    Args:
        model: a built SeqNN with its weights.
        out_file: ``.h5`` or ``.keras``; written atomically.
        trunk: write the trunk only.

    Returns:
        the format written (the extension).
    """
    ext = model_format(out_file)
    if ext == ".h5":
        model.save(out_file, trunk=trunk)
    else:
        keras_model = model.model_trunk if trunk else model.model
        with atomic_path(out_file) as tmp:  # the temporary name ends in .keras too
            keras_model.save(tmp)
    return ext


def resave_model(
    params_file: str | os.PathLike,
    in_model_file: str | os.PathLike,
    out_model_file: str | os.PathLike,
    *,
    trunk: bool = False,
    head: int = 0,
) -> None:
    """Restore ``in_model_file`` into the model of ``params_file`` and save it again.

    Args:
        params_file: params JSON the model was trained with.
        in_model_file: a head model's weights (.h5, ours or the original's, or .keras).
        out_model_file: ``.h5`` or ``.keras`` (by extension).
        trunk: save the trunk only.
        head: the head ``in_model_file`` holds.

    Raises:
        InputError: a bad extension, params or a weight file that does not match them.
        FileNotFoundError: no ``in_model_file``.
    """
    model_format(out_model_file)
    if not os.path.isfile(in_model_file):
        raise FileNotFoundError(f"{os.fspath(in_model_file)}: model file not found")
    model = seqnn.load(params_file, in_model_file, head=head)
    ext = save_model_file(model, out_model_file, trunk=trunk)
    log.info(
        "wrote %s of %s to %s (%s)",
        "the trunk" if trunk else f"head {head}",
        os.fspath(in_model_file),
        os.fspath(out_model_file),
        MODEL_FORMATS[ext],
    )
