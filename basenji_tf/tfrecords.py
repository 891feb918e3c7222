"""The data-directory contract (TFRecords, statistics.json, sequences.bed), TensorFlow-free.

A data directory (written by ``basenji_data.py``) holds:

* ``statistics.json``: ``seq_length`` (bp, full input), ``pool_width`` (bp per bin),
  ``crop_bp``, ``target_length`` (bins), ``num_targets``, ``seq_1hot`` (true = sequences
  stored as base indexes; the name is inverted, kept for compatibility; absent in pre-2022
  data, which stores one-hot bytes) and ``<split>_seqs`` per split label.
* ``sequences.bed``: ``chrom start end split`` of each record's *target* region (the DNA
  extends ``crop_bp`` further on each side), in TFRecord order.
* ``tfrecords/{split}-{i}.tfr``: ZLIB-compressed TFRecord files in natural order; each
  record a ``tf.train.Example`` with bytes features ``sequence`` (uint8 [seq_length] codes
  A0 C1 G2 T3 N4, or legacy uint8 one-hot [seq_length, 4] with N all zero) and ``target``
  (float16 [target_length, num_targets], row-major, little-endian); optional ``umap``
  (bool [target_length]).

Writing::

    write_tfrecords("out/tfrecords/train-0.tfr", seqs_index, targets)  # index encoding
    write_tfrecords(path, seqs_index, targets, encoding="onehot")       # legacy encoding

``seqs_index`` is uint8 [n, seq_length] (or a list of DNA strings), ``targets`` float
[n, target_length, num_targets]; ``compression_level`` trades speed for size (see
docs/data.md for measurements). ``write_statistics`` writes statistics.json. Writing
needs no TensorFlow (the framing, CRC32C and protobuf encoding are done here).

Reading: :class:`basenji_tf.dataset.SeqDataset` builds the tf.data pipeline of one split;
this module (the contract, the writer and the small text files) never imports TensorFlow,
so basenji_data.py and its worker processes start in a second.

Differences from the original: the writer's zlib stream is Python's, so a file's
compressed bytes differ from TensorFlow's for the same records; the decompressed
records (and TensorFlow's reading of them) are the same.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import google_crc32c
import numpy as np
import pandas as pd
from natsort import natsorted

from basenji_tf.dna import dna_index, index_1hot
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path

log = logging.getLogger(__name__)


# zlib level 1 writes ~5x faster than the default level 6 for files ~9% larger
# (measurements in docs/data.md); decompression speed is the same.
DEFAULT_COMPRESSION_LEVEL = 1
ENCODINGS = ("index", "onehot")


# ---------------------------------------------------------------------------------------
# Writing, without TensorFlow: the record framing and the two-field protobuf are simple
# enough to write here (CRC-32C comes from google-crc32c), and then writer processes start
# in a second instead of importing TensorFlow (seconds and ~500 MB each). The reader is
# TensorFlow's, which checks every CRC, so the tests prove the files.


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, the checksum of TFRecord framing."""
    return google_crc32c.value(data)


def _masked_crc(data: bytes) -> bytes:
    crc = crc32c(data)
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    return struct.pack("<I", masked)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def example_bytes(
    seq_index: np.ndarray, targets: np.ndarray, encoding: str = "index", umap=None
) -> bytes:
    """Serialize one record as a ``tf.train.Example``.

    Args:
        seq_index: uint8 [seq_length] codes 0-4.
        targets: [target_length, num_targets]; stored as float16.
        encoding: "index" (current) or "onehot" (pre-2022 data: uint8 [seq_length, 4]).
        umap: optional bool [target_length] unmappable-bin mask.

    Returns:
        the same bytes as TensorFlow's deterministic serialization (features sorted by
        name): Example.features(1) -> map entries(1) {key(1), Feature(2) -> BytesList(1)
        -> value(1)}.
    """
    if encoding == "index":
        seq_bytes = np.asarray(seq_index, dtype=np.uint8).tobytes()
    elif encoding == "onehot":
        seq_bytes = index_1hot(seq_index, dtype=np.uint8).tobytes()
    else:
        raise ValueError(f"encoding {encoding!r} is not one of {ENCODINGS}")
    targets16 = np.asarray(targets, dtype="<f2")
    if not np.isfinite(targets16).all():
        raise InputError("targets contain inf or NaN after float16 conversion; clip them")
    features = {"sequence": seq_bytes, "target": targets16.tobytes()}
    if umap is not None:
        features["umap"] = np.asarray(umap, dtype=bool).tobytes()
    entries = b"".join(
        _field(1, _field(1, key.encode()) + _field(2, _field(1, _field(1, value))))
        for key, value in sorted(features.items())
    )
    return _field(1, entries)


def record_bytes(data: bytes) -> bytes:
    """TFRecord framing: length (uint64), its masked CRC32C, data, the data's masked CRC."""
    length = struct.pack("<Q", len(data))
    return length + _masked_crc(length) + data + _masked_crc(data)


def write_tfrecords(
    path: str | os.PathLike,
    sequences: Sequence[np.ndarray] | Sequence[str] | np.ndarray,
    targets: np.ndarray,
    encoding: str = "index",
    compression_level: int = DEFAULT_COMPRESSION_LEVEL,
    umap: np.ndarray | None = None,
) -> int:
    """Write one ZLIB TFRecord file atomically (one zlib stream, as TensorFlow writes).

    Args:
        path: output ``.tfr``.
        sequences: n DNA strings, or uint8 index arrays [n, seq_length] (codes 0-4).
        targets: [n, target_length, num_targets] (stored as float16).
        encoding: "index" or "onehot" (legacy).
        compression_level: zlib level 0-9.
        umap: optional bool [n, target_length].

    Returns:
        the number of records written.
    """
    if len(sequences) != len(targets):
        raise ValueError(f"{len(sequences)} sequences but {len(targets)} target arrays")
    compressor = zlib.compressobj(compression_level)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        for i, seq in enumerate(sequences):
            codes = dna_index(seq) if isinstance(seq, str) else seq
            example = example_bytes(codes, targets[i], encoding, None if umap is None else umap[i])
            handle.write(compressor.compress(record_bytes(example)))
        handle.write(compressor.flush())
    return len(sequences)


def write_statistics(data_dir: str | os.PathLike, stats: dict) -> None:
    """Write ``statistics.json`` (indent 4, as the original)."""
    with atomic_path(Path(data_dir) / "statistics.json") as tmp, open(tmp, "w") as handle:
        json.dump(stats, handle, indent=4)


# ---------------------------------------------------------------------------------------
# Reading the text files and listing the TFRecord files (the records: basenji_tf.dataset)


def read_statistics(data_dir: str | os.PathLike) -> dict:
    """Read ``data_dir/statistics.json`` and check the keys every reader needs."""
    path = Path(data_dir) / "statistics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: statistics.json not found; is {data_dir} a data dir?")
    try:
        stats = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    for key in ("seq_length", "target_length", "num_targets"):
        if key not in stats:
            raise InputError(f"{path}: key {key!r} is missing")
    return stats


def read_sequences_bed(data_dir: str | os.PathLike, split: str | None = None) -> pd.DataFrame:
    """Read ``sequences.bed`` (target regions in TFRecord order).

    Returns:
        DataFrame with columns chrom, start, end (bp) and split, in file order (index reset),
        restricted to ``split`` if given.
    """
    path = Path(data_dir) / "sequences.bed"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sequences.bed not found")
    bed = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "split"],
        usecols=[0, 1, 2, 3],
        dtype={"chrom": str, "start": np.int64, "end": np.int64, "split": str},
    )
    if split is not None:
        bed = bed[bed["split"] == split].reset_index(drop=True)
    return bed


def split_files(
    data_dir: str | os.PathLike, split_label: str, tfr_pattern: str | None = None
) -> list[str]:
    """TFRecord files of a split in natural order (train-2 before train-10)."""
    pattern = tfr_pattern or f"{split_label}-*.tfr"
    return natsorted(str(p) for p in (Path(data_dir) / "tfrecords").glob(pattern))
