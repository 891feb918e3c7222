"""The 2018 Basenji formats: TF1 text params and the HDF5 training-data layout.

* :func:`convert_params_txt`: a TF1 ``params.txt`` (``key value`` lines; a per-layer key
  repeats once per layer) -> a params dict that :class:`basenji_tf.seqnn.SeqNN` builds.
  Unknown keys, wrong values and settings the current blocks cannot express are errors
  naming the line. The mapping table is in docs/legacy2018.md.
* :func:`hdf5_to_data_dir`: the HDF5 of the 2018 data scripts (``{split}_in`` one-hot
  [N, seq_length, 4], ``{split}_out`` float16 [N, bins, targets], ``{split}_na`` bool
  [N, bins], ``pool_width``, ``target_ids``/``target_labels``) -> a data directory
  (:mod:`basenji_tf.tfrecords`).

Defaults are those of the code the paper ran (the original's pre-release 0.1): Adam, no
gradient clipping, constant learning rate, ``exp_linear`` link, 64 bp ``batch_buffer``.

Differences from the original:
* ``batch_buffer`` (bp cut from each end of predictions and targets before the loss) is a
  ``Cropping1D`` block; convert the data with the same crop so records hold scored bins.
* ``cnn_l2_scale`` is halved: TF1's ``l2_regularizer(s)`` adds s * sum(w^2) / 2, Keras'
  ``L2(l)`` adds l * sum(w^2).
* ``adam_eps`` (Keras' 1e-7 is used) and learning-rate decay are dropped with a warning.
* HDF5 records go to TFRecords in file order, ``seqs_per_tfr`` consecutive records per file
  (the original's ``h5_tfr.py`` dealt them round-robin), so the HDF5 writer's BED lines up.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from basenji_tf.dna import N_INDEX, hot1_index
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path, write_text_atomic
from basenji_tf.tfrecords import DEFAULT_COMPRESSION_LEVEL, write_statistics, write_tfrecords

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# params.txt

_INT, _NUMBER, _WORD, _FLAG = "an integer", "a number", "a word", "0 or 1"

# key -> kind of value. Per-layer keys (cnn_*) repeat once per layer, or appear once for all.
PARAMS_TXT_KEYS: dict[str, str] = {
    **dict.fromkeys(
        (
            "seq_length",
            "seq_depth",
            "num_targets",
            "target_classes",
            "target_pool",
            "batch_buffer",
            "batch_size",
            "cnn_filters",
            "cnn_filter_sizes",
            "cnn_stride",
            "cnn_pool",
            "cnn_dilation",
            "cnn_skip",
        ),
        _INT,
    ),
    **dict.fromkeys(
        (
            "target_clip",
            "cnn_l2_scale",
            "final_l1_scale",
            "cnn_dropout",
            "non_dilated_cnn_dropout",
            "dilated_cnn_dropout",
            "learning_rate",
            "momentum",
            "adam_beta1",
            "adam_beta2",
            "grad_clip",
        ),
        _NUMBER,
    ),
    **dict.fromkeys(("nonlinearity", "link", "loss", "architecture", "optimizer"), _WORD),
    **dict.fromkeys(("batch_norm", "batch_renorm", "target_sqrt", "cnn_dense"), _FLAG),
}
# Other spellings the original read, -> the key above.
PARAMS_TXT_ALIASES = {
    "optimization": "optimizer",
    "link_function": "link",
    "loss_name": "loss",
    "cnn_strides": "cnn_stride",
    "renorm": "batch_renorm",
}
# Keys read by the original that change nothing here, -> why they are dropped.
_DROPPED = {
    "cnn_l2": "read but never applied by the 2018 code",
    "final_l1": "read but never applied by the 2018 code",
    "save_reprs": "a debugging switch",
    "decay": "RMSProp's decay (RMSProp is not supported)",
    "adam_eps": "Adam uses Keras' epsilon 1e-7",
    "learning_decay_steps": "there is no learning-rate decay schedule",
    "learning_decay_rate": "there is no learning-rate decay schedule",
    "augment_mutation": "mutation augmentation is not supported",
}
_LINKS = {
    "exp_linear": "exp_linear",
    "softplus": "softplus",
    "exp": "exp",
    "relu": "relu",
    "identity": "linear",
    "linear": "linear",
}
_LOSSES = {"poisson": "poisson", "gaussian": "mse"}
_OPTIMIZERS = {"adam": "adam", "sgd": "sgd", "momentum": "sgd"}
_NONLINEARITIES = {"relu": "relu", "gelu": "gelu_sigmoid"}  # TF1 gelu: x * sigmoid(1.702 x)


def _typed(text: str) -> int | float | str:
    """The original's value typing: with an 'e' or a '.' a float, else an int, else text."""
    convert = float if ("e" in text or "." in text) else int
    try:
        return convert(text)
    except ValueError:
        return text


def read_params_txt(path: str | os.PathLike) -> dict[str, list[tuple[int, Any]]]:
    """Read a TF1 ``params.txt`` into key -> [(line number, typed value), ...].

    Aliases are resolved to the keys of :data:`PARAMS_TXT_KEYS`.

    Raises:
        InputError: a line without exactly two fields, an unknown key, or a key and its
            alias both given.
    """
    entries: dict[str, list[tuple[int, Any]]] = {}
    spelled: dict[str, str] = {}
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise InputError(
                    f"{path}: line {number}: expected 'key value', got "
                    f"{len(fields)} fields; write one key and one value per line"
                )
            name, value = fields
            key = PARAMS_TXT_ALIASES.get(name, name)
            if key not in PARAMS_TXT_KEYS and key not in _DROPPED:
                valid = sorted([*PARAMS_TXT_KEYS, *PARAMS_TXT_ALIASES, *_DROPPED])
                raise InputError(
                    f"{path}: line {number}: unknown key {name!r}; valid keys: {', '.join(valid)}"
                )
            if spelled.setdefault(key, name) != name:
                raise InputError(
                    f"{path}: line {number}: {name!r} repeats {spelled[key]!r} "
                    "under another name; keep one spelling"
                )
            entries.setdefault(key, []).append((number, _typed(value)))
    return entries


class _Job:
    """Typed access to the entries of one params.txt, with errors naming the line."""

    def __init__(self, path: str, entries: dict[str, list[tuple[int, Any]]]):
        self.path = path
        self.entries = entries

    def where(self, key: str, index: int = 0) -> str:
        return f"{self.path}: line {self.entries[key][index][0]}: {key}"

    def has(self, key: str) -> bool:
        return key in self.entries

    def _check(self, key: str, index: int) -> Any:
        value = self.entries[key][index][1]
        kind = PARAMS_TXT_KEYS[key]
        ok = {
            _INT: isinstance(value, int),
            _NUMBER: isinstance(value, (int, float)),
            _WORD: isinstance(value, str),
            _FLAG: value in (0, 1) and isinstance(value, int),
        }[kind]
        if not ok:
            raise InputError(f"{self.where(key, index)} is {value!r}; it must be {kind}")
        return bool(value) if kind == _FLAG else value

    def one(self, key: str, default: Any) -> Any:
        """The value of a once-only key (``default`` when absent)."""
        if key not in self.entries:
            return default
        if len(self.entries[key]) > 1:
            raise InputError(
                f"{self.where(key, 1)} is given {len(self.entries[key])} times; give it once"
            )
        return self._check(key, 0)

    def per_layer(self, key: str, default: Any, layers: int) -> list:
        """One value per layer, as the original extended them.

        A key given once applies to every layer; a shorter list ends with ``default``.
        """
        values = [self._check(key, i) for i in range(len(self.entries.get(key, ())))]
        if len(values) > layers:
            raise InputError(
                f"{self.where(key, layers)}: {len(values)} values for "
                f"{layers} layers (one per cnn_filters line); remove the extra"
            )
        if len(values) == 1:
            default = values[0]
        return values + [default] * (layers - len(values))


def _layers(job: _Job) -> list[dict]:
    """Per-layer settings of the 'cnn' architecture, checked."""
    if not job.has("cnn_filters"):
        raise InputError(
            f"{job.path}: no cnn_filters lines; the 2018 'cnn' architecture "
            "needs one per convolution layer"
        )
    filters = job.per_layer("cnn_filters", 16, len(job.entries["cnn_filters"]))
    n = len(filters)
    columns = {
        "filters": filters,
        "size": job.per_layer("cnn_filter_sizes", 1, n),
        "stride": job.per_layer("cnn_stride", 1, n),
        "pool": job.per_layer("cnn_pool", 1, n),
        "dense": job.per_layer("cnn_dense", False, n),
        "dilation": job.per_layer("cnn_dilation", 1, n),
        "skip": job.per_layer("cnn_skip", 0, n),
        "dropout": job.per_layer("cnn_dropout", 0.0, n),
    }
    layers = [{name: column[i] for name, column in columns.items()} for i in range(n)]
    if job.has("non_dilated_cnn_dropout") and job.has("dilated_cnn_dropout"):
        for layer in layers:
            which = "dilated_cnn_dropout" if layer["dilation"] > 1 else "non_dilated_cnn_dropout"
            layer["dropout"] = job.one(which, 0.0)
    for i, layer in enumerate(layers):
        _check_layer(job, i, layer)
    return layers


def _check_layer(job: _Job, i: int, layer: dict) -> None:
    where = f"{job.path}: layer {i} (cnn_filters line {job.entries['cnn_filters'][i][0]})"
    for name in ("filters", "size", "stride", "pool", "dilation"):
        if layer[name] < 1:
            raise InputError(f"{where}: {name} {layer[name]} must be at least 1")
    if not 0 <= layer["dropout"] < 1:
        raise InputError(f"{where}: dropout {layer['dropout']} must be in [0, 1)")
    if layer["skip"]:
        raise InputError(
            f"{where}: cnn_skip (residual) layers are not supported; "
            "write the model as a params JSON with dilated_residual blocks"
        )
    if layer["dense"] and (layer["pool"] > 1 or layer["stride"] > 1):
        raise InputError(
            f"{where}: a cnn_dense layer with pooling or stride cannot be "
            "converted; use cnn_pool 1 and cnn_stride 1 on dense layers"
        )


def _conv_block(layer: dict) -> dict:
    block = {"name": "conv_block", "filters": layer["filters"], "kernel_size": layer["size"]}
    optional = (
        ("stride", "stride", 1),
        ("dilation_rate", "dilation", 1),
        ("pool_size", "pool", 1),
        ("dropout", "dropout", 0),
    )
    block.update({key: layer[name] for key, name, unset in optional if layer[name] != unset})
    return block


def _dense_run_length(layers: list[dict], start: int) -> int:
    """How many dense layers from ``start`` form one dilated_dense block.

    They share filters, width and dropout, and their dilations are d0 * m**i (integer m).
    """
    first = layers[start]
    length, mult = 1, None
    while start + length < len(layers):
        layer = layers[start + length]
        if not layer["dense"] or any(layer[k] != first[k] for k in ("filters", "size", "dropout")):
            break
        if mult is None:
            mult, rest = divmod(layer["dilation"], first["dilation"])
            if rest or mult < 1:
                break
        if layer["dilation"] != first["dilation"] * mult**length:
            break
        length += 1
    return length


def _dilated_dense(run: list[dict]) -> dict:
    first = run[0]
    block = {
        "name": "dilated_dense",
        "filters": first["filters"],
        "kernel_size": first["size"],
        "rate_init": first["dilation"],
    }
    if len(run) > 1:
        block["rate_mult"] = run[1]["dilation"] // first["dilation"]
    block["repeat"] = len(run)
    if first["dropout"]:
        block["dropout"] = first["dropout"]
    return block


def trunk_blocks(layers: list[dict]) -> list[dict]:
    """Block dicts of the 2018 conv layers.

    A conv_block per plain layer; one dilated_dense per run of densely connected layers
    (output = concat of input and conv) sharing filters, width and dropout with dilations
    growing by an integer factor.
    """
    blocks, i = [], 0
    while i < len(layers):
        if not layers[i]["dense"]:
            blocks.append(_conv_block(layers[i]))
            i += 1
            continue
        length = _dense_run_length(layers, i)
        blocks.append(_dilated_dense(layers[i : i + length]))
        i += length
    return blocks


def _mapped(job: _Job, key: str, default: str, table: dict[str, str]) -> str:
    value = job.one(key, default)
    if value.lower() not in table:
        raise InputError(
            f"{job.where(key)} {value!r} is not supported; use one of {', '.join(sorted(table))}"
        )
    return table[value.lower()]


def _reject_unsupported(job: _Job) -> None:
    checks = (
        ("architecture", "cnn", ("cnn",)),
        ("target_classes", 1, (1,)),
        ("batch_renorm", False, (False,)),
        ("target_sqrt", False, (False,)),
    )
    for key, default, allowed in checks:
        value = job.one(key, default)
        if value not in allowed:
            raise InputError(
                f"{job.where(key)} {value!r} is not supported; the converter "
                f"reads {key} {allowed[0]!r} only"
            )
    if job.has("target_clip"):
        raise InputError(
            f"{job.where('target_clip')}: clipping targets inside the loss is "
            "not supported; clip them when making the data and remove the line"
        )
    for key, why in _DROPPED.items():
        if job.has(key):
            log.warning("%s: dropped (%s)", job.where(key), why)


def _required(job: _Job, key: str, override: int | None) -> int:
    value = override if override is not None else job.one(key, None)
    if value is None:
        raise InputError(f"{job.path}: no {key} line; add '{key} N' or pass --{key}")
    if value < 1:
        raise InputError(f"{job.path}: {key} {value} must be positive")
    return value


def _model_section(job: _Job, num_targets: int | None, seq_length: int | None) -> dict:
    layers = _layers(job)
    seq_length = _required(job, "seq_length", seq_length)
    pool_bp = math.prod(layer["stride"] * layer["pool"] for layer in layers)
    if seq_length % pool_bp:
        raise InputError(
            f"{job.path}: seq_length {seq_length} is not a multiple of the "
            f"layers' total pooling {pool_bp} bp"
        )
    if job.one("target_pool", pool_bp) != pool_bp:
        raise InputError(
            f"{job.where('target_pool')} {job.one('target_pool', 0)} disagrees "
            f"with the layers' total pooling {pool_bp} bp; fix one of them"
        )
    buffer_bp = job.one("batch_buffer", 64)
    crop, remainder = divmod(buffer_bp, pool_bp)
    target_length = seq_length // pool_bp - 2 * crop
    if remainder or buffer_bp < 0 or target_length < 1:
        raise InputError(
            f"{job.path}: batch_buffer {buffer_bp} bp (the original's default is "
            f"64) must be a multiple of the {pool_bp} bp bins leaving bins to "
            f"predict; add or fix the batch_buffer line"
        )
    trunk = trunk_blocks(layers)
    if crop:
        trunk.append({"name": "Cropping1D", "cropping": crop})
    model: dict[str, Any] = {"seq_length": seq_length}
    if job.has("seq_depth"):
        model["seq_depth"] = job.one("seq_depth", 4)
    model["target_length"] = target_length
    model["activation"] = _mapped(job, "nonlinearity", "relu", _NONLINEARITIES)
    if job.one("batch_norm", True):
        model.update(norm_type="batch", bn_momentum=0.9)
    head = {
        "name": "final",
        "units": _required(job, "num_targets", num_targets),
        "activation": _mapped(job, "link", "exp_linear", _LINKS),
    }
    l2_scale = job.one("cnn_l2_scale", 0.0) / 2
    if l2_scale:
        model["l2_scale"] = l2_scale
        head["l2_scale"] = 0  # TF1 regularized only the convolutions with it
    if job.one("final_l1_scale", 0.0):
        head["l1_scale"] = job.one("final_l1_scale", 0.0)
    model["trunk"] = trunk
    model["head"] = head
    return model


def _train_section(job: _Job) -> dict:
    train: dict[str, Any] = {"batch_size": job.one("batch_size", 64)}
    optimizer = _mapped(job, "optimizer", "adam", _OPTIMIZERS)
    train.update(optimizer=optimizer, learning_rate=job.one("learning_rate", 0.001))
    if optimizer == "sgd":
        train["momentum"] = job.one("momentum", 0.0)
    else:
        train.update(adam_beta1=job.one("adam_beta1", 0.9), adam_beta2=job.one("adam_beta2", 0.999))
    if job.has("grad_clip"):
        train["global_clipnorm"] = job.one("grad_clip", None)
    train["loss"] = _mapped(job, "loss", "poisson", _LOSSES)
    return train


def convert_params_txt(
    path: str | os.PathLike, num_targets: int | None = None, seq_length: int | None = None
) -> dict:
    """Convert a 2018 TF1 ``params.txt`` to a params dict (mapping: docs/legacy2018.md).

    Args:
        path: the text params file.
        num_targets: outputs per bin, instead of the file's (the original's training took
            it from the data).
        seq_length: input bp, instead of the file's (also taken from the data).

    Returns:
        ``{"train": {...}, "model": {...}}`` with one ``head``.

    Raises:
        InputError: naming the file, line or layer, for unknown keys, wrong value types,
            and settings the current model cannot express.
    """
    job = _Job(str(path), read_params_txt(path))
    _reject_unsupported(job)
    return {"train": _train_section(job), "model": _model_section(job, num_targets, seq_length)}


def write_params_json(params: dict, path: str | os.PathLike) -> None:
    """Write a params dict as JSON (indent 4, as the files in models/), atomically."""
    write_text_atomic(path, json.dumps(params, indent=4) + "\n")


# ---------------------------------------------------------------------------------------
# HDF5 training data

SPLITS = ("train", "valid", "test")
_READ_BLOCK = 16  # records read from HDF5 at a time (a 2018 record holds ~9 MB of targets)


def onehot_codes(seqs: np.ndarray, where: str, first: int = 0) -> np.ndarray:
    """Base codes of 2018 one-hot sequences.

    Args:
        seqs: bool, uint8 or float [n, L, 4], A C G T channels. A row of zeros is N, as is
            a row of four equal values (N as 0.25 each, or those cast to bool).
        where: file and dataset, for the error message.
        first: record number of ``seqs[0]`` in the dataset, for the error message.

    Returns:
        uint8 [n, L] codes 0-3, N 4.

    Raises:
        InputError: a row that is neither one-hot nor N.
    """
    codes = hot1_index(seqs)
    bad = (codes == N_INDEX) & ~np.all(seqs == seqs[..., :1], axis=-1)
    if bad.any():
        i, pos = np.argwhere(bad)[0]
        raise InputError(
            f"{where}: record {first + i} position {pos} is "
            f"{seqs[i, pos].tolist()}, "
            "neither one-hot nor N; the dataset is not one-hot DNA"
        )
    return codes


class _Records(Sequence):
    """Rows ``start:end`` of an HDF5 dataset, transformed a block at a time on demand."""

    def __init__(
        self,
        dataset: h5py.Dataset,
        start: int,
        end: int,
        transform: Callable[[np.ndarray, int], np.ndarray],
    ):
        self.dataset, self.start, self.end, self.transform = dataset, start, end, transform
        self._block_start, self._block = -1, None

    def __len__(self) -> int:
        return self.end - self.start

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < len(self):
            raise IndexError(i)
        first = self.start + i - i % _READ_BLOCK
        if first != self._block_start:
            rows = self.dataset[first : min(first + _READ_BLOCK, self.end)]
            self._block, self._block_start = self.transform(rows, first), first
        return self._block[self.start + i - self._block_start]


def read_hdf5_layout(h5: h5py.File, path: str) -> dict:
    """Check a 2018 training HDF5 and describe it.

    Returns:
        dict with seq_length (bp), target_length (bins), num_targets, pool_width (bp),
        splits (present split names, in train/valid/test order) and counts (records each).

    Raises:
        InputError: missing or inconsistent datasets, naming the file and dataset.
    """
    splits = [s for s in SPLITS if f"{s}_in" in h5 or f"{s}_out" in h5]
    if not splits:
        raise InputError(
            f"{path}: no train_in/train_out, valid_* or test_* datasets; "
            "is this a 2018 Basenji training HDF5?"
        )
    imag = [name for name in h5 if name.endswith("_out_imag")]
    if imag:
        raise InputError(f"{path}: {imag[0]}: Fourier-compressed targets are not supported")
    shapes = {}
    for split in splits:
        for part in ("in", "out"):
            if f"{split}_{part}" not in h5:
                raise InputError(
                    f"{path}: {split}_{part} is missing beside the other {split}_* datasets"
                )
        seqs, targets = h5[f"{split}_in"], h5[f"{split}_out"]
        if seqs.ndim != 3 or seqs.shape[2] != 4 or targets.ndim != 3:
            raise InputError(
                f"{path}: {split}_in {seqs.shape} / {split}_out {targets.shape} "
                "must be [N, seq_length, 4] / [N, bins, targets]"
            )
        if seqs.shape[0] != targets.shape[0]:
            raise InputError(
                f"{path}: {split}_in has {seqs.shape[0]} records but {split}_out {targets.shape[0]}"
            )
        na = h5.get(f"{split}_na")
        if na is not None and na.shape != targets.shape[:2]:
            raise InputError(f"{path}: {split}_na {na.shape} must be {targets.shape[:2]}")
        shapes[split] = (seqs.shape[1], *targets.shape[1:])
    if len(set(shapes.values())) > 1:
        raise InputError(f"{path}: splits disagree on (seq_length, bins, targets): {shapes}")
    seq_length, target_length, num_targets = shapes[splits[0]]
    if target_length < 1 or num_targets < 1:
        raise InputError(f"{path}: {splits[0]}_out has no bins or no targets")
    pool_width = int(h5["pool_width"][()]) if "pool_width" in h5 else seq_length // target_length
    if pool_width * target_length != seq_length:
        raise InputError(
            f"{path}: {target_length} bins of {pool_width} bp do not cover seq_length {seq_length}"
        )
    return {
        "seq_length": seq_length,
        "target_length": target_length,
        "num_targets": num_targets,
        "pool_width": pool_width,
        "splits": splits,
        "counts": {s: int(h5[f"{s}_in"].shape[0]) for s in splits},
    }


def _strings(h5: h5py.File, name: str, count: int, path: str) -> list[str] | None:
    if name not in h5:
        return None
    values = [v.decode() if isinstance(v, bytes) else str(v) for v in h5[name][()]]
    if len(values) != count:
        raise InputError(f"{path}: {name} has {len(values)} entries for {count} targets")
    return [" ".join(v.split()) for v in values]


def _targets_table(h5: h5py.File, path: str, num_targets: int) -> str:
    """targets.txt text: identifiers from target_ids (else target_labels).

    The 2018 HDF5 does not record each track's coverage file: ``file`` names the HDF5.
    """
    labels = _strings(h5, "target_labels", num_targets, path)
    ids = _strings(h5, "target_ids", num_targets, path) or labels
    ids = ids or [f"t{i}" for i in range(num_targets)]
    labels = labels or ids
    rows = [f"{i}\t{ids[i]}\t{Path(path).name}\t{labels[i]}" for i in range(num_targets)]
    return "\n".join(["index\tidentifier\tfile\tdescription", *rows]) + "\n"


def _sequences_bed(bed_file: str, layout: dict, crop_bp: int) -> str:
    """sequences.bed text from the BED the 2018 HDF5 writer printed (its ``-o``).

    That BED has one ``chrom start end split`` line per record, train then valid then test.
    """
    expected = [s for s in layout["splits"] for _ in range(layout["counts"][s])]
    lines = [line.split() for line in Path(bed_file).read_text().splitlines() if line.strip()]
    if len(lines) != len(expected):
        raise InputError(
            f"{bed_file}: {len(lines)} lines but the HDF5 has {len(expected)} "
            "records; give the BED written with this HDF5"
        )
    out = []
    for number, (fields, split) in enumerate(zip(lines, expected), start=1):
        try:
            chrom, start, end, label = fields[0], int(fields[1]), int(fields[2]), fields[3]
        except (IndexError, ValueError):
            raise InputError(
                f"{bed_file}: line {number}: expected 'chrom start end split'"
            ) from None
        if label != split or end - start != layout["seq_length"]:
            raise InputError(
                f"{bed_file}: line {number}: {label} {end - start} bp, but record "
                f"{number - 1} is {split} {layout['seq_length']} bp"
            )
        out.append(f"{chrom}\t{start + crop_bp}\t{end - crop_bp}\t{label}\n")
    return "".join(out)


def hdf5_to_data_dir(
    h5_file: str | os.PathLike,
    out_dir: str | os.PathLike,
    crop_bp: int = 0,
    seqs_per_tfr: int = 256,
    bed_file: str | os.PathLike | None = None,
    encoding: str = "index",
    compression_level: int = DEFAULT_COMPRESSION_LEVEL,
) -> dict:
    """Convert a 2018 training HDF5 into a data directory, atomically.

    Writes ``tfrecords/{split}-{k}.tfr`` (records in HDF5 order, ``umap`` from
    ``{split}_na`` where present), targets.txt, sequences.bed (only with ``bed_file``: the
    HDF5 holds no coordinates) and statistics.json.

    Args:
        h5_file: HDF5 with ``{split}_in`` / ``{split}_out`` for split in train, valid, test.
        out_dir: the data directory to create (must not exist).
        crop_bp: bp cut from each end of the targets (the params' ``batch_buffer``); a
            multiple of ``pool_width``. Sequences keep their full length.
        seqs_per_tfr: records per TFRecord file.
        bed_file: the record coordinates the HDF5 writer printed (its ``-o`` BED).
        encoding: "index" (current) or "onehot" sequence bytes.
        compression_level: zlib level of the TFRecords.

    Returns:
        the statistics.json contents.
    """
    path = str(h5_file)
    if Path(out_dir).exists():
        raise InputError(f"{out_dir}: already exists; remove it or choose another directory")
    if seqs_per_tfr < 1:
        raise InputError(f"seqs_per_tfr {seqs_per_tfr} must be positive")
    with h5py.File(path, "r") as h5:
        layout = read_hdf5_layout(h5, path)
        crop_bins, remainder = divmod(crop_bp, layout["pool_width"])
        target_length = layout["target_length"] - 2 * crop_bins
        if remainder or crop_bp < 0 or target_length < 1:
            raise InputError(
                f"crop {crop_bp} bp must be a non-negative multiple of the "
                f"{layout['pool_width']} bp bins leaving bins"
            )
        bed_text = _sequences_bed(str(bed_file), layout, crop_bp) if bed_file else None
        with atomic_path(out_dir, is_dir=True) as tmp:
            tfr_dir = Path(tmp) / "tfrecords"
            tfr_dir.mkdir()
            for split in layout["splits"]:
                _write_split(
                    h5,
                    path,
                    split,
                    tfr_dir,
                    crop_bins,
                    seqs_per_tfr,
                    encoding=encoding,
                    compression_level=compression_level,
                )
            write_text_atomic(
                Path(tmp) / "targets.txt", _targets_table(h5, path, layout["num_targets"])
            )
            if bed_text is not None:
                write_text_atomic(Path(tmp) / "sequences.bed", bed_text)
            stats = _statistics(layout, crop_bp, target_length, encoding)
            write_statistics(tmp, stats)
    return stats


def _write_split(
    h5: h5py.File,
    path: str,
    split: str,
    tfr_dir: Path,
    crop_bins: int,
    seqs_per_tfr: int,
    **write_options,
) -> None:
    """Write one split's records, ``seqs_per_tfr`` consecutive records per file."""
    bins = slice(crop_bins, h5[f"{split}_out"].shape[1] - crop_bins)

    def targets(rows, first):
        rows = rows[:, bins]
        bad = ~np.isfinite(rows.astype(np.float16))
        if bad.any():
            raise InputError(
                f"{path}: {split}_out record {first + np.argwhere(bad)[0][0]} "
                "has NaN or inf targets (as float16); clip or fill them"
            )
        return rows

    transforms = {
        "sequences": lambda rows, first: onehot_codes(rows, f"{path}: {split}_in", first),
        "targets": targets,
        "umap": lambda rows, first: rows[:, bins].astype(bool),
    }
    count = h5[f"{split}_in"].shape[0]
    for k, start in enumerate(range(0, count, seqs_per_tfr)):
        end = min(start + seqs_per_tfr, count)
        records = {
            name: _Records(h5[f"{split}_{part}"], start, end, transforms[name])
            for name, part in (("sequences", "in"), ("targets", "out"), ("umap", "na"))
            if f"{split}_{part}" in h5
        }
        write_tfrecords(tfr_dir / f"{split}-{k}.tfr", **records, **write_options)


def _statistics(layout: dict, crop_bp: int, target_length: int, encoding: str) -> dict:
    stats = {"num_targets": layout["num_targets"], "seq_length": layout["seq_length"]}
    if encoding == "index":
        stats["seq_1hot"] = True
    stats.update(pool_width=layout["pool_width"], crop_bp=crop_bp, target_length=target_length)
    stats.update({f"{split}_seqs": n for split, n in layout["counts"].items()})
    return stats
