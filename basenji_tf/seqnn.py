"""SeqNN: a params ``model`` section -> a shared trunk and one Keras model per head.

Graph (REFERENCE 2.1): ``sequence`` [B, seq_length, 4] -> [StochasticReverseComplement]
-> [StochasticShift] -> trunk blocks in order -> the model activation once more ->
per head: head blocks -> [SwitchReverse when augmenting RC] -> [B, target_length, T].
Heads are the natsorted ``head*`` keys; ``models[i]`` shares every trunk layer, so
training one head moves the trunk of all.

Usage::

    from basenji_tf import seqnn
    model = seqnn.load("params.json", "model_human.h5")   # head 0, inference graph
    head = model.head
    preds = head.predict(x, rc=True, shifts=(0, 1, -1))  # [batch, 896, 5313]

The original's API works too::

    model = seqnn.SeqNN(params["model"])
    model.restore("model_human.h5")            # head 0
    model.build_ensemble(ensemble_rc=True, ensemble_shifts=[0, 1, -1])
    preds = model.predict(x)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import weakref
from collections.abc import Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from basenji_tf import adapters, blocks, fold, hardware, layers
from basenji_tf.errors import InputError
from basenji_tf.params import ModelParams, parse_model_params, read_params
from basenji_tf.weights import check_and_assign, read_weight_file, save_legacy_h5, weighted_layers

log = logging.getLogger(__name__)

# --precision -> the Keras dtype policy the model is built under: reduced types compute in
# that type, keep float32 variables (weights load unchanged) and cast outputs to float32.
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`.

    Raises:
        InputError: naming ``--precision`` and the valid choices.
    """
    if precision not in PRECISIONS:
        raise InputError(
            f"--precision {precision!r}: unknown precision; choose from {', '.join(PRECISIONS)}"
        )
    return precision


def precision_of_policy(policy: str | None) -> str:
    """The precision (a :data:`PRECISIONS` key) built under Keras policy ``policy``.

    None means float32. Training under a mixed policy passes this to :func:`load`: the
    model is built under its own precision's policy, whatever the global one is.
    """
    by_policy = {name: precision for precision, name in PRECISIONS.items()}
    return by_policy[policy or "float32"]


@contextlib.contextmanager
def _dtype_policy(precision: str) -> Iterator[None]:
    """Build layers under the dtype policy of ``precision``, then restore the global one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@dataclasses.dataclass(frozen=True, eq=False)
class Head:
    """One head of a SeqNN: its Keras model and its coordinates.

    Attributes:
        index: head index (natsorted ``head*`` key order).
        model: sequence [B, seq_length, 4] -> [B, target_length, num_targets]; shares the
            trunk layers with every other head.
        seq_length: input length in bp.
        stride: bp per output bin.
        crop: bins cropped from each side relative to ``seq_length / stride``.
        target_length: output length in bins.
        num_targets: output channels.
        strand_pair: per output, the output it becomes on the opposite strand (None: no
            swapping when reverse complementing).
    """

    index: int
    model: keras.Model
    seq_length: int
    stride: int
    crop: int
    target_length: int
    num_targets: int
    strand_pair: tuple[int, ...] | None = None
    _ensembles: dict = dataclasses.field(default_factory=dict, init=False, repr=False)

    def ensemble(
        self,
        rc: bool = False,
        shifts: Sequence[int] = (0,),
        strand_pair: Sequence[int] | None = None,
    ) -> keras.Model:
        """The model averaging predictions over shifted and reverse-complemented inputs.

        Members, in the original's order: for each shift (bp), the shifted input, then its
        reverse complement when ``rc``. RC predictions are flipped back (with
        ``strand_pair`` swapping, default: this head's); shifted predictions are not
        shifted back. All members run as one batch. As in the original, nothing is built
        unless ``rc`` or more than one shift: then this is :attr:`model` itself. Cached:
        the same arguments give the same keras.Model.

        Returns:
            sequence [B, seq_length, 4] -> [B, target_length, num_targets].

        Raises:
            InputError: a shift not shorter than ``seq_length``.
        """
        shifts = tuple(int(s) for s in shifts)
        layers.check_shifts(shifts, self.seq_length)
        if not rc and len(shifts) <= 1:
            return self.model
        if strand_pair is None:
            strand_pair = self.strand_pair
        key = (bool(rc), shifts, None if strand_pair is None else tuple(strand_pair))
        if key not in self._ensembles:
            self._ensembles[key] = _ensemble_model(self.model, *key)
        return self._ensembles[key]

    def predict(
        self,
        x,
        batch_size: int | None = None,
        rc: bool = False,
        shifts: Sequence[int] = (0,),
        strand_pair: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Predict coverage, ensembled as :meth:`ensemble` describes.

        Args:
            x: float32 [batch, seq_length, 4] array, or a tf.data dataset of batched
                sequences or (sequences, targets) pairs.
            batch_size: sequences per model call for arrays (default 4).
            rc: average with reverse complements, as :meth:`ensemble`.
            shifts: ensemble shifts (bp).
            strand_pair: outputs swapped in RC members (None: this head's).

        Returns:
            float32 [batch, target_length, num_targets].
        """
        return predict_model(self.ensemble(rc, shifts, strand_pair), x, batch_size)


def _ensemble_model(
    model: keras.Model, rc: bool, shifts: tuple[int, ...], strand_pair: tuple[int, ...] | None
) -> keras.Model:
    sequence = keras.Input(tuple(model.input.shape[1:]), name="sequence")
    members = layers.EnsembleInputs(shifts, rc, name="ensemble_inputs")(sequence)
    average = layers.EnsembleAverage(len(shifts), rc, strand_pair, name="ensemble_average")(
        model(members)
    )
    return keras.Model(sequence, average, name="ensemble")


class SeqNN:
    """A Basenji sequence-to-coverage model built from params.

    Args:
        params_model: the ``model`` dict of a params JSON (or parsed ModelParams).
        source: name of the params file, for error messages.
        augment: build the training augmentation layers the params ask for (False: none;
            they are the identity at inference).
        params_json: the whole params file (default: ``{"model": params_model}``).
        precision: one of :data:`PRECISIONS`. ``bfloat16`` and ``float16`` build every
            layer under Keras' mixed policy: computations in that type, variables float32
            (weight files load unchanged), each head's output cast back to float32 by a
            last layer without weights (``{head}_float32``). For inference.
        initialize: draw random initial weights. False: every kernel starts at zero, for
            a model whose weights a file overwrites at once (:func:`load`): Basenji2's
            30 M truncated-normal draws are ~0.9 s of CPU time at start-up.

    Attributes:
        seq_length: input length in bp.
        heads: one :class:`Head` per ``head*`` key (natsorted), sharing the trunk.
        models: the heads' keras.Models.
        model: the current head's model (head 0 or the restored head).
        head_i: the current head's index.
        model_trunk: sequence -> trunk output (after the model activation).
        model_strides: bp per output bin, per head.
        target_lengths: output length in bins, per head.
        target_crops: bins cropped from each side relative to seq_length / stride.
        ensemble: the ensembling model once :meth:`build_ensemble` made one, else None.
        params_json: the params file as read ("train" and "model" sections).
        precision: the compute precision the model was built with.
        folded: :meth:`fold_batch_norm` made this an inference-only model.
    """

    def __init__(
        self,
        params_model: dict | ModelParams,
        source: str = "params",
        *,
        augment: bool = True,
        params_json: dict | None = None,
        precision: str = "float32",
        initialize: bool = True,
    ):
        self.precision = check_precision(precision)
        hardware.warn_precision(self.precision)  # reduced without native support: slower
        if isinstance(params_model, ModelParams):
            self.params = params_model
            self._raw_params = None
        else:
            self.params = parse_model_params(params_model, source)
            self._raw_params = params_model
        if not augment:
            self.params = dataclasses.replace(self.params, augment_rc=False, augment_shift=0)
        if not initialize:
            zeros = {**self.params.block_globals, "kernel_initializer": "zeros"}
            self.params = dataclasses.replace(self.params, block_globals=zeros)
        self.params_json = params_json if params_json is not None else {"model": params_model}
        self.seq_length = self.params.seq_length
        self.seq_depth = self.params.seq_depth
        self.strand_pair = list(self.params.strand_pair)
        self.ensemble = None
        self.head_i = 0
        self.folded = False
        try:
            with _dtype_policy(self.precision):
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
                name="stochastic_reverse_complement"
            )(current)
        if params.augment_shift:
            current = layers.StochasticShift(params.augment_shift, name="stochastic_shift")(current)
        for bi, block in enumerate(params.trunk):
            current = blocks.build_block(
                current, block, params.block_globals, name=f"trunk{bi}_{block.get('name')}"
            )
        current = blocks.activate(current, params.activation, "trunk_act")
        trunk = keras.Model(sequence, current, name="trunk")

        models = []
        for hi, key in enumerate(params.head_keys):
            head = current
            for bi, block in enumerate(params.heads[key]):
                head = blocks.build_block(
                    head, block, params.block_globals, name=f"{key}{bi}_{block.get('name')}"
                )
            if params.augment_rc:
                # dtype: pass the head's type through (a float32 output layer stays float32)
                head = layers.SwitchReverse(
                    self._head_strand_pair(hi), name=f"{key}_switch_reverse", dtype=head.dtype
                )([head, reverse_bool])
            if self.precision != "float32":
                head = keras.layers.Activation("linear", dtype="float32", name=f"{key}_float32")(
                    head
                )
            models.append(keras.Model(sequence, head, name=f"model_{key}"))
        if params.adapter is not None:
            plan = adapters.model_plan(
                trunk, params.adapter, params.adapter_latent, params.conv_select, params.se_rank
            )
            trunk, models = adapters.insert_adapters(trunk, models, plan)
        self._set_models(trunk, models)

    def insert_adapters(self, plan: adapters.AdapterPlan) -> None:
        """Rebuild the trunk and every head with the adapter layers of ``plan``.

        Weights are kept; the adapters start at their initial values. The current head
        stays current.
        """
        self._check_unfolded("insert adapters into")
        with _dtype_policy(self.precision):
            self._set_models(*adapters.insert_adapters(self.model_trunk, self.models, plan))
        self._use_head(self.head_i)

    def _set_models(self, trunk: keras.Model, models: list[keras.Model]) -> None:
        self.model_trunk = trunk
        self.models = list(models)
        self.model = self.models[0]

        self.model_strides = [_model_stride(m) for m in self.models]
        self.target_lengths = [int(m.output.shape[1]) for m in self.models]
        self.target_crops = [
            (self.seq_length // stride - length) // 2
            for stride, length in zip(self.model_strides, self.target_lengths)
        ]
        self.heads = tuple(
            Head(
                index=hi,
                model=m,
                seq_length=self.seq_length,
                stride=self.model_strides[hi],
                crop=self.target_crops[hi],
                target_length=self.target_lengths[hi],
                num_targets=int(m.output.shape[-1]),
                strand_pair=_as_pair(self._head_strand_pair(hi)),
            )
            for hi, m in enumerate(self.models)
        )

    def fold_batch_norm(self) -> None:
        """Make this an inference-only model: each Conv1D -> BatchNormalization folded.

        The trunk and every head are rebuilt as one graph by
        :func:`basenji_tf.fold.fold_batch_norm` (outputs within float32 rounding of the
        unfolded model at inference; docs/precision.md). Afterwards :meth:`restore`,
        :meth:`save` and adapters are refused: the weights no longer match the params'
        layers. Never for training (the moving statistics are gone).
        """
        if self.folded:
            return
        whole = keras.Model(
            self.model_trunk.input, [self.model_trunk.output] + [m.output for m in self.models]
        )
        with _dtype_policy(self.precision):
            folded = fold.fold_batch_norm(whole)
        trunk_out, *head_outs = folded.outputs
        trunk = keras.Model(folded.input, trunk_out, name=self.model_trunk.name)
        models = [keras.Model(folded.input, o, name=m.name) for o, m in zip(head_outs, self.models)]
        self._set_models(trunk, models)
        self.folded = True
        self._use_head(self.head_i)

    def _check_unfolded(self, action: str) -> None:
        if self.folded:
            raise InputError(
                f"cannot {action} a folded (inference-only) model: load it with fold=False"
            )

    def _head_strand_pair(self, head_i: int) -> list[int] | None:
        return self.strand_pair[head_i] if head_i < len(self.strand_pair) else None

    @property
    def head(self) -> Head:
        """The current head."""
        return self.heads[self.head_i]

    def num_targets(self, head_i: int = 0) -> int:
        """Output channels of head ``head_i``."""
        return self.heads[head_i].num_targets

    # -- weights ------------------------------------------------------------------------

    def restore(self, model_file: str | os.PathLike, head_i: int = 0, trunk: bool = False) -> None:
        """Load weights from an original Keras-2 ``.h5`` file, ours, or a ``.keras`` archive.

        Args:
            model_file: the weight file.
            head_i: head whose model the file holds (becomes the current head).
            trunk: load into the trunk only. Unlike the original this also accepts a full
                model file, taking its leading (trunk) layers.

        Raises:
            InputError: the file does not match the architecture (count or shape), or
                this model is folded.
        """
        self._check_unfolded("restore weights into")
        file_layers = read_weight_file(model_file)
        if trunk:
            check_and_assign(
                self.model_trunk, file_layers, os.fspath(model_file), what="trunk", allow_extra=True
            )
            return
        self._check_head(head_i)
        trunk_count = len(weighted_layers(self.model_trunk))
        hint = (
            "it holds a trunk only: restore it with trunk=True (--trunk)"
            if len(file_layers) == trunk_count
            else "build the model from the params file the weights were trained with"
        )
        check_and_assign(
            self.models[head_i],
            file_layers,
            os.fspath(model_file),
            what=f"head {head_i} model",
            hint=hint,
        )
        self._use_head(head_i)

    def _use_head(self, head_i: int) -> None:
        self._check_head(head_i)
        self.model = self.models[head_i]
        self.head_i = head_i
        self.ensemble = None

    def save(
        self, model_file: str | os.PathLike, trunk: bool = False, head_i: int | None = None
    ) -> None:
        """Write the trunk or a head model in the legacy Keras-2 HDF5 layout (not folded)."""
        self._check_unfolded("save")
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
                f"{', '.join(self.params.head_keys)}"
            )

    # -- the original's ensembling and prediction ---------------------------------------

    def build_ensemble(
        self,
        ensemble_rc: bool = False,
        ensemble_shifts: Sequence[int] = (0,),
        strand_pair: Sequence[int] | None = None,
    ) -> None:
        """Make :meth:`predict` use the current head's :meth:`Head.ensemble`."""
        ensemble = self.head.ensemble(ensemble_rc, ensemble_shifts, strand_pair)
        self.ensemble = None if ensemble is self.head.model else ensemble

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
        return predict_model(self.predictor(head_i), x, batch_size)

    def __call__(self, x) -> np.ndarray:
        """One eager model call on a batch, as the original's ``SeqNN.__call__``."""
        return np.asarray(self.predictor()(x, training=False))


def load(
    params_file: str | os.PathLike,
    model_file: str | os.PathLike | None = None,
    head: int = 0,
    *,
    trunk: bool = False,
    augment: bool = False,
    strand_pair: Sequence[Sequence[int] | None] | None = None,
    precision: str = "float32",
    fold: bool = False,
) -> SeqNN:
    """Build the SeqNN of a params file, restore its weights, select a head.

    Args:
        params_file: params JSON ("model" section, usually "train" too).
        model_file: weights of head ``head`` (or of the trunk with ``trunk``); None: keep
            the initial weights.
        head: the head the file holds; it becomes the current head (:attr:`SeqNN.head`).
        trunk: ``model_file`` is loaded into the trunk only.
        augment: keep the training augmentation layers (training). Without them
            (inference) the graph has no stochastic layers and can be cut for cone
            splicing; predictions are the same.
        strand_pair: per head, the opposite-strand output of each output, replacing the
            params' ``strand_pair`` (training takes them from the data's targets tables).
        precision: compute precision of the model (:data:`PRECISIONS`; see :class:`SeqNN`).
        fold: inference only: fold each Conv1D -> BatchNormalization pair after restoring
            (:meth:`SeqNN.fold_batch_norm`); not with ``augment`` (training).

    Returns:
        the SeqNN, with ``params_json`` the whole params file.

    Raises:
        InputError: bad params, a weight file that does not match, no such head, or
            ``fold`` with ``augment``.
    """
    if fold and augment:
        raise InputError(
            f"{os.fspath(params_file)}: a folded model is for inference only; "
            "load it with augment=False (or fold=False to train)"
        )
    params = read_params(params_file)
    params_model = params["model"]
    if strand_pair is not None:
        params_model = {**params_model, "strand_pair": list(strand_pair)}
    parsed = parse_model_params(params_model, os.fspath(params_file))
    # every weight comes from the file: a whole head's file, one head, no adapters
    overwritten = (
        model_file is not None
        and not trunk
        and len(parsed.head_keys) == 1
        and parsed.adapter is None
    )
    model = SeqNN(
        params_model,
        source=os.fspath(params_file),
        augment=augment,
        params_json=params,
        precision=precision,
        initialize=not overwritten,
    )
    if model_file is not None:
        model.restore(model_file, head_i=head, trunk=trunk)
    model._use_head(head)
    if fold:
        model.fold_batch_norm()
    return model


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
        # A partial, not a closure: TensorFlow counts traces per code object, so closures
        # of several models would add up to "triggered tf.function retracing" warnings.
        function = _TRACED[model] = tf.function(
            functools.partial(_infer, model), autograph=False, reduce_retracing=True
        )
    return function


def _infer(model: keras.Model, batch):
    return model(batch, training=False)


def predict_model(model: keras.Model, x, batch_size: int | None = None) -> np.ndarray:
    """Run ``model`` at inference over an array or a dataset, in calls of one shape.

    Every call has ``batch_size`` sequences: a dataset's batches are cut to that size and
    the last call of an array or batch is padded with zero sequences, whose outputs are
    dropped. A sequence's prediction thus never depends on which others share its call
    (oneDNN picks kernels by shape; docs/architecture.md, "fixed-shape calls").

    Args:
        model: sequence [B, seq_length, 4] -> [B, target_length, T].
        x: float32 [batch, seq_length, 4] array, or a tf.data dataset of batched
            sequences or (sequences, targets) pairs.
        batch_size: sequences per model call (default 4).

    Returns:
        float32 [batch, target_length, T].
    """
    forward = traced_inference(model)
    size = batch_size or 4
    if isinstance(x, tf.data.Dataset):
        batches = (
            np.asarray(batch[0] if isinstance(batch, tuple) else batch, np.float32) for batch in x
        )
    else:
        x = np.asarray(x, dtype=np.float32)
        seq_length, seq_depth = model.input.shape[1:]  # None: any length
        if x.ndim != 3 or seq_length not in (None, x.shape[1]) or x.shape[2] != seq_depth:
            raise InputError(
                f"input has shape {x.shape}; the model needs [batch, {seq_length}, "
                f"{seq_depth}] one-hot sequences"
            )
        batches = iter([x])
    outputs = [
        np.asarray(forward(pad_rows(chunk, size)), np.float32)[: len(chunk)]
        for batch in batches
        for chunk in (batch[i : i + size] for i in range(0, len(batch), size))
    ]
    if not outputs:
        return np.zeros((0,) + tuple(model.output.shape[1:]), np.float32)
    return np.concatenate(outputs)


def pad_rows(x: np.ndarray, rows: int) -> np.ndarray:
    """``x`` [n, ...] with zero rows appended up to ``rows`` rows (unchanged if n >= rows)."""
    if len(x) >= rows:
        return x
    return np.concatenate([x, np.zeros((rows - len(x), *x.shape[1:]), x.dtype)])


def _as_pair(pair: Sequence[int] | None) -> tuple[int, ...] | None:
    """A strand pair as a tuple; None for none or an empty one (nothing to swap)."""
    return tuple(int(i) for i in pair) if pair else None


def _model_stride(model: keras.Model) -> int:
    """Base pairs per output bin: the product of the strides of pooling and strided layers."""
    stride = 1.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.UpSampling1D):
            stride /= layer.size
        elif hasattr(layer, "strides") and not isinstance(layer, keras.Model):
            stride *= layer.strides[0]
    return int(round(stride))
