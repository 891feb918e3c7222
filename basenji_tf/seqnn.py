"""SeqNN: a params ``model`` section -> a shared trunk and one Keras model per head.

Graph (REFERENCE 2.1): ``sequence`` [B, seq_length, 4] -> [StochasticReverseComplement]
-> [StochasticShift] -> trunk blocks in order -> the model activation once more ->
per head: head blocks -> [SwitchReverse when augmenting RC] -> [B, target_length, T].
Heads are the natsorted ``head*`` keys; ``models[i]`` shares every trunk layer, so
training one head moves the trunk of all.

Usage::

    from basenji_tf import seqnn
    model = seqnn.SeqNN(params["model"])
    model.restore("model_human.h5")            # head 0
    model.build_ensemble(ensemble_rc=True, ensemble_shifts=[0, 1, -1])
    preds = model.predict(x)                   # [batch, 896, 5313]
"""

from __future__ import annotations

import json
import logging
import os
import weakref
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from basenji_tf import blocks, layers
from basenji_tf.errors import InputError
from basenji_tf.params import ModelParams, parse_model_params, read_params
from basenji_tf.weights import check_and_assign, read_weight_file, save_legacy_h5, weighted_layers

log = logging.getLogger(__name__)


class SeqNN:
    """A Basenji sequence-to-coverage model built from params.

    Args:
        params_model: the ``model`` dict of a params JSON (or parsed ModelParams).
        source: name of the params file, for error messages.

    Attributes:
        seq_length: input length in bp.
        models: one keras.Model per head (natsorted head keys), shared trunk.
        model: the current model (head 0, the restored head, or its slice).
        model_trunk: sequence -> trunk output (after the model activation).
        model_strides: bp per output bin, per head.
        target_lengths: output length in bins, per head.
        target_crops: bins cropped from each side relative to seq_length / stride.
        ensemble: the ensembling model once :meth:`build_ensemble` made one, else None.
    """

    def __init__(self, params_model: dict | ModelParams, source: str = "params"):
        if isinstance(params_model, ModelParams):
            self.params = params_model
            self._raw_params = None
        else:
            self.params = parse_model_params(params_model, source)
            self._raw_params = params_model
        self.seq_length = self.params.seq_length
        self.seq_depth = self.params.seq_depth
        self.strand_pair = list(self.params.strand_pair)
        self.ensemble = None
        self.head_i = 0
        try:
            self._build()
        except ValueError as err:
            raise InputError(f"{source}: {err}") from None

    # -- construction -------------------------------------------------------------------

    def _build(self) -> None:
        params = self.params
        sequence = keras.Input((self.seq_length, self.seq_depth), name="sequence")
        current, reverse_bool = sequence, None
        if params.augment_rc:
            current, reverse_bool = layers.StochasticReverseComplement(
                name="stochastic_reverse_complement")(current)
        if params.augment_shift:
            current = layers.StochasticShift(params.augment_shift, name="stochastic_shift")(current)
        for bi, block in enumerate(params.trunk):
            current = blocks.build_block(
                current, block, params.block_globals, name=f"trunk{bi}_{block.get('name')}")
        current = blocks.activate(current, params.activation, "trunk_act")
        self.model_trunk = keras.Model(sequence, current, name="trunk")

        self.models = []
        for hi, key in enumerate(params.head_keys):
            head = current
            for bi, block in enumerate(params.heads[key]):
                head = blocks.build_block(
                    head, block, params.block_globals, name=f"{key}{bi}_{block.get('name')}")
            if params.augment_rc:
                pair = self.strand_pair[hi] if hi < len(self.strand_pair) else None
                head = layers.SwitchReverse(pair, name=f"{key}_switch_reverse")(
                    [head, reverse_bool])
            self.models.append(keras.Model(sequence, head, name=f"model_{key}"))
        self.model = self.models[0]

        self.model_strides = [_model_stride(m) for m in self.models]
        self.target_lengths = [int(m.output.shape[1]) for m in self.models]
        self.target_crops = [
            (self.seq_length // stride - length) // 2
            for stride, length in zip(self.model_strides, self.target_lengths)
        ]

    def num_targets(self, head_i: int = 0) -> int:
        """Output channels of head ``head_i``."""
        return int(self.models[head_i].output.shape[-1])

    # -- weights ------------------------------------------------------------------------

    def restore(self, model_file: str | os.PathLike, head_i: int = 0, trunk: bool = False) -> None:
        """Load weights from an original Keras-2 ``.h5`` file, ours, or a ``.keras`` archive.

        Args:
            model_file: the weight file.
            head_i: head whose model the file holds (becomes ``self.model``).
            trunk: load into the trunk only. Unlike the original this also accepts a full
                model file, taking its leading (trunk) layers.

        Raises:
            InputError: the file does not match the architecture (count or shape).
        """
        file_layers = read_weight_file(model_file)
        if trunk:
            check_and_assign(self.model_trunk, file_layers, os.fspath(model_file),
                             what="trunk", allow_extra=True)
            return
        self._check_head(head_i)
        trunk_count = len(weighted_layers(self.model_trunk))
        hint = ("it holds a trunk only: restore it with trunk=True (--trunk)"
                if len(file_layers) == trunk_count else
                "build the model from the params file the weights were trained with")
        check_and_assign(self.models[head_i], file_layers, os.fspath(model_file),
                         what=f"head {head_i} model", hint=hint)
        self.model = self.models[head_i]
        self.head_i = head_i
        self.ensemble = None

    def save(self, model_file: str | os.PathLike, trunk: bool = False,
             head_i: int | None = None) -> None:
        """Write the trunk or a head model in the legacy Keras-2 HDF5 layout."""
        if trunk:
            model = self.model_trunk
        elif head_i is None:
            model = self.models[self.head_i]
        else:
            self._check_head(head_i)
            model = self.models[head_i]
        extra = {"basenji_tf_params": json.dumps(self._raw_params)} if self._raw_params else {}
        save_legacy_h5(model, model_file, extra)

    def _check_head(self, head_i: int) -> None:
        if not 0 <= head_i < len(self.models):
            raise InputError(
                f"head {head_i} does not exist; the params define {len(self.models)} head(s): "
                f"{', '.join(self.params.head_keys)}")

    # -- wrappers -----------------------------------------------------------------------

    def build_slice(self, target_slice: Sequence[int] | None = None,
                    target_sum: bool = False) -> None:
        """Keep only ``target_slice`` output channels (optionally summed) in ``self.model``."""
        if target_slice is None and not target_sum:
            return
        sliced = layers.TargetSlice(target_slice, target_sum, name="target_slice")(
            self.model.output)
        self.model = keras.Model(self.model.input, sliced, name=f"{self.model.name}_slice")
        self.ensemble = None

    def build_ensemble(self, ensemble_rc: bool = False, ensemble_shifts: Sequence[int] = (0,),
                       strand_pair: Sequence[int] | None = None) -> None:
        """Average predictions over shifted and reverse-complemented inputs.

        Members, in the original's order: for each shift, the shifted input, then its
        reverse complement when ``ensemble_rc``. RC predictions are flipped back (with
        ``strand_pair`` swapping, default: the current head's strand pairs); shifted
        predictions are not shifted back. As in the original, nothing is built unless
        ``ensemble_rc`` or more than one shift. All members run as one batch.
        """
        ensemble_shifts = [int(s) for s in ensemble_shifts]
        if not ensemble_rc and len(ensemble_shifts) <= 1:
            self.ensemble = None
            return
        if strand_pair is None and self.head_i < len(self.strand_pair):
            strand_pair = self.strand_pair[self.head_i]
        sequence = keras.Input((self.seq_length, self.seq_depth), name="sequence")
        members = layers.EnsembleInputs(ensemble_shifts, ensemble_rc,
                                        name="ensemble_inputs")(sequence)
        preds = self.model(members)
        average = layers.EnsembleAverage(len(ensemble_shifts), ensemble_rc, strand_pair,
                                         name="ensemble_average")(preds)
        self.ensemble = keras.Model(sequence, average, name="ensemble")

    # -- prediction ---------------------------------------------------------------------

    def predictor(self, head_i: int | None = None) -> keras.Model:
        """The model that :meth:`predict` uses for ``head_i`` (None: the current one)."""
        if head_i is None or head_i == self.head_i:
            return self.ensemble or self.model
        self._check_head(head_i)
        return self.models[head_i]

    def predict(self, x, head_i: int | None = None, batch_size: int | None = None) -> np.ndarray:
        """Predict coverage.

        Args:
            x: float32 [batch, seq_length, 4] array, or a tf.data dataset of batched
                sequences or (sequences, targets) pairs.
            head_i: head to use (None: the current model, ensembled if built).
            batch_size: sequences per model call for arrays (default 4).

        Returns:
            float32 [batch, target_length, num_targets].
        """
        forward = traced_inference(self.predictor(head_i))
        if isinstance(x, tf.data.Dataset):
            batches = (batch[0] if isinstance(batch, tuple) else batch for batch in x)
        else:
            x = np.asarray(x, dtype=np.float32)
            if x.ndim != 3 or x.shape[1:] != (self.seq_length, self.seq_depth):
                raise InputError(
                    f"input has shape {x.shape}; the model needs [batch, {self.seq_length}, "
                    f"{self.seq_depth}] one-hot sequences")
            size = batch_size or 4
            batches = (x[i : i + size] for i in range(0, len(x), size))
        outputs = [forward(batch).numpy() for batch in batches]
        if not outputs:
            return np.zeros((0,) + tuple(self.predictor(head_i).output.shape[1:]), np.float32)
        return np.concatenate(outputs)

    def __call__(self, x) -> np.ndarray:
        """One eager model call on a batch, as the original's ``SeqNN.__call__``."""
        return np.asarray(self.predictor()(x, training=False))


_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def traced_inference(model: keras.Model):
    """``model(x, training=False)`` as a traced function, cached per model.

    Keras' ``model.predict`` builds a data pipeline on every call (~80 ms) and
    ``predict_on_batch`` has its own overhead; a traced function costs a few ms, which
    matters for the many small calls of variant scoring. Returns a callable taking a
    float32 batch and returning a tensor.
    """
    function = _TRACED.get(model)
    if function is None:
        function = _TRACED[model] = tf.function(
            lambda batch: model(batch, training=False), autograph=False, reduce_retracing=True
        )
    return function


def _model_stride(model: keras.Model) -> int:
    """bp per output bin: the product of the strides of pooling and strided layers."""
    stride = 1.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.UpSampling1D):
            stride /= layer.size
        elif hasattr(layer, "strides") and not isinstance(layer, keras.Model):
            stride *= layer.strides[0]
    return int(round(stride))


def load_seqnn(params_file: str | os.PathLike, model_file: str | os.PathLike | None = None,
               head_i: int = 0, trunk: bool = False) -> tuple[SeqNN, dict]:
    """Build a SeqNN from a params file and optionally restore weights.

    Returns:
        (the model, the whole params dict).
    """
    params = read_params(params_file)
    model = SeqNN(params["model"], source=os.fspath(params_file))
    if model_file is not None:
        model.restore(model_file, head_i=head_i, trunk=trunk)
    return model, params
