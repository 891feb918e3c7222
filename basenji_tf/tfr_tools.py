"""``tfr_bw.py`` and ``tfr_qc.py``: look at a data directory's TFRecords.

:func:`tfr_to_bigwig` writes one target of a split as a BigWig at the bins' genomic
coordinates (from ``sequences.bed``), to eyeball training data in a genome browser;
:func:`tfr_quality` summarises every target of a split (table and histograms).

Differences from the original:

* the genome and chromosome sizes are not read from ``$HG38``: chromosome sizes come from
  ``-g``, else the FASTA's index (``-f``), else the largest end in ``sequences.bed``; the
  bin length (``-l``) comes from ``statistics.json`` (a different ``-l`` is an error);
* bins are placed at ``start + b * pool_width`` of each target region of
  ``sequences.bed``, so cropped data (``crop_bp``) lands where it belongs (the original
  spread each record's targets over the whole record and read ``sequences0.bed``);
  where two records overlap, the first record's bins are kept;
* ``tfr_qc.py`` writes its table with a header and also std, min, zero fraction and
  NaN count, and draws the per-target histograms the original skipped (an early
  ``exit()``).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from basenji_tf import plots
from basenji_tf.dataset import SeqDataset
from basenji_tf.dna import hot1_dna
from basenji_tf.errors import InputError
from basenji_tf.execute import make_executor
from basenji_tf.files import atomic_path
from basenji_tf.genome import Genome, read_chrom_sizes
from basenji_tf.scoring.bed import Region
from basenji_tf.scoring.outputs import write_bigwigs
from basenji_tf.targets import read_targets
from basenji_tf.tfrecords import read_sequences_bed, read_statistics

log = logging.getLogger(__name__)

BATCH_SIZE = 16


def resolve_data_dir(path: str) -> str:
    """The data directory of ``path``: itself, or its parent when given ``tfrecords/``."""
    here = Path(path)
    if not (here / "statistics.json").is_file() and (here.parent / "statistics.json").is_file():
        return str(here.parent)
    return str(here)


def _split_batches(
    data_dir: str, split: str, with_seqs: bool = False
) -> Iterator[tuple[np.ndarray | None, np.ndarray]]:
    """(one-hot [B, L, 4] or None, targets float32 [B, bins, T]) of a split, in order."""
    dataset = SeqDataset(data_dir, split, batch_size=BATCH_SIZE, mode="eval")
    for seqs, targets in dataset.dataset:
        yield (seqs.numpy() if with_seqs else None), targets.numpy()


def _chrom_sizes(bed: pd.DataFrame, genome_file: str | None, fasta: str | None) -> dict:
    if genome_file:
        return read_chrom_sizes(genome_file)
    if fasta:
        with Genome(fasta) as genome:
            return dict(genome.sizes)
    return bed.groupby("chrom")["end"].max().to_dict()


def tfr_to_bigwig(
    tfr_dir: str,
    out_bw: str,
    split: str = "train",
    target_i: int = 0,
    fasta: str | None = None,
    genome_file: str | None = None,
    target_length: int | None = None,
) -> int:
    """Write target ``target_i`` of a split's records as a BigWig.

    Args:
        tfr_dir: the data directory (or its ``tfrecords/``).
        out_bw: BigWig to write.
        split: split label.
        target_i: target index (column of the records' targets).
        fasta: genome FASTA: records whose sequence differs from it are reported (and its
            index gives chromosome sizes when ``genome_file`` is not given).
        genome_file: chromosome sizes (``chrom<TAB>length``).
        target_length: bins per record; must agree with ``statistics.json``.

    Returns:
        the number of records written.

    Raises:
        InputError: a target index, bin length or split the data directory does not have.
    """
    data_dir = resolve_data_dir(tfr_dir)
    stats = read_statistics(data_dir)
    num_bins, num_targets = int(stats["target_length"]), int(stats["num_targets"])
    if target_length is not None and target_length != num_bins:
        raise InputError(
            f"-l {target_length}: {data_dir}/statistics.json has target_length {num_bins}; "
            "drop -l or give that"
        )
    if not 0 <= target_i < num_targets:
        raise InputError(f"-t {target_i}: the data has targets 0..{num_targets - 1}")
    bed = read_sequences_bed(data_dir, split)
    values = [t[..., target_i] for _, t in _checked_batches(data_dir, split, bed, fasta, stats)]
    values = np.concatenate(values) if values else np.zeros((0, num_bins), np.float32)
    if len(values) != len(bed):
        raise InputError(
            f"{data_dir}/sequences.bed: {len(bed)} {split} rows but {len(values)} records; "
            "the data directory is incomplete"
        )
    bin_bp = int(stats.get("pool_width", (bed["end"][0] - bed["start"][0]) // num_bins))
    rows = bed[["chrom", "start", "end"]].itertuples(index=False)
    regions = [Region(c, s, e, "+", f"{c}:{s}-{e}") for c, s, e in rows]
    stem = out_bw[: -len(".bw")] if out_bw.endswith(".bw") else out_bw
    written = write_bigwigs(
        os.path.dirname(stem) or ".",
        regions,
        values[..., None],
        bed["start"].tolist(),
        bin_bp,
        _chrom_sizes(bed, genome_file, fasta),
        [os.path.basename(stem)],
    )
    if written[0] != out_bw:
        os.replace(written[0], out_bw)
    return len(regions)


def _checked_batches(
    data_dir: str, split: str, bed: pd.DataFrame, fasta: str | None, stats: dict
) -> Iterator[tuple[np.ndarray | None, np.ndarray]]:
    """The split's batches; with ``fasta``, warn about records whose DNA differs from it."""
    if fasta is None:
        yield from _split_batches(data_dir, split)
        return
    crop_bp = int(stats.get("crop_bp", 0))
    row = 0
    with Genome(fasta) as genome:
        for seqs, targets in _split_batches(data_dir, split, with_seqs=True):
            for seq in seqs:
                chrom, start, end = bed.loc[row, ["chrom", "start", "end"]]
                expected = genome.fetch(chrom, start - crop_bp, end + crop_bp).upper()
                diff = sum(a != b for a, b in zip(hot1_dna(seq), expected))
                if diff:
                    log.warning("%s:%d-%d differs from the FASTA at %d bp", chrom, start, end, diff)
                row += 1
            yield seqs, targets


# ---------------------------------------------------------------------------------------
# tfr_qc.py


@dataclass
class _TargetSums:
    """Streamed per-target sums of a split's bins."""

    num_targets: int
    sample_per_record: int
    seed: int = 0

    def __post_init__(self) -> None:
        t = self.num_targets
        self.count, self.nan = np.zeros(t), np.zeros(t)
        self.total, self.squares, self.zeros = np.zeros(t), np.zeros(t), np.zeros(t)
        self.max, self.min = np.full(t, -np.inf), np.full(t, np.inf)
        self.samples: list[np.ndarray] = []
        self.rng = np.random.default_rng(self.seed)

    def add(self, targets: np.ndarray) -> None:
        """Add a batch [B, bins, T]."""
        values = targets.astype(np.float64).reshape(-1, self.num_targets)
        finite = np.isfinite(values)
        self.nan += (~finite).sum(axis=0)
        clean = np.where(finite, values, 0.0)
        self.count += finite.sum(axis=0)
        self.total += clean.sum(axis=0)
        self.squares += (clean**2).sum(axis=0)
        self.zeros += ((values == 0) & finite).sum(axis=0)
        self.max = np.maximum(self.max, np.where(finite, values, -np.inf).max(axis=0))
        self.min = np.minimum(self.min, np.where(finite, values, np.inf).min(axis=0))
        bins = self.rng.choice(targets.shape[1], size=self.sample_per_record, replace=False)
        self.samples.append(targets[:, bins].reshape(-1, self.num_targets))

    def table(self, targets_table: pd.DataFrame) -> pd.DataFrame:
        """One row per target: identifier, description and the statistics."""
        count = np.maximum(self.count, 1)
        mean = self.total / count
        return pd.DataFrame(
            {
                "index": np.arange(self.num_targets),
                "identifier": _column(targets_table, "identifier", self.num_targets),
                "mean": mean,
                "std": np.sqrt(np.maximum(self.squares / count - mean**2, 0)),
                "min": self.min,
                "max": self.max,
                "zero_frac": self.zeros / count,
                "nan": self.nan.astype(np.int64),
                "description": _column(targets_table, "description", self.num_targets),
            }
        )


def _column(table: pd.DataFrame, name: str, num_targets: int) -> list[str]:
    if name not in table or len(table) != num_targets:
        return [""] * num_targets
    return [str(x) for x in table[name].fillna("")]


def _plot_distribution(task: tuple[np.ndarray, str, str]) -> None:
    """Histogram of one target's sampled bins (a task of the plot executor)."""
    values, stem, title = task
    plots.histogram(values, stem, xlabel="target value", title=title)


def tfr_quality(
    data_dir: str, out_dir: str, split: str = "test", processes: int = 1, sample: int = 10000
) -> pd.DataFrame:
    """Write ``out_dir/table.txt`` (per-target statistics) and ``out_dir/distr/t{i}``.

    Args:
        data_dir: the data directory (or its ``tfrecords/``).
        out_dir: output directory.
        split: split label.
        processes: processes drawing the histograms.
        sample: bins per target drawn at random for the histograms.

    Returns:
        the table written: index, identifier, mean, std, min, max, zero_frac, nan,
        description.
    """
    data_dir = resolve_data_dir(data_dir)
    stats = read_statistics(data_dir)
    num_targets, num_bins = int(stats["num_targets"]), int(stats["target_length"])
    num_seqs = max(1, int(stats.get(f"{split}_seqs", 1)))
    per_record = min(num_bins, math.ceil(sample / num_seqs))
    sums = _TargetSums(num_targets, per_record)
    for _, targets in _split_batches(data_dir, split):
        sums.add(targets)
    targets_file = Path(data_dir) / "targets.txt"
    targets_table = read_targets(targets_file) if targets_file.is_file() else pd.DataFrame()
    table = sums.table(targets_table)
    with atomic_path(Path(out_dir) / "table.txt") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    samples = np.concatenate(sums.samples) if sums.samples else np.zeros((0, num_targets))
    tasks = [
        (samples[:, ti], str(Path(out_dir) / "distr" / f"t{ti}"), f"{ti} {ident}")
        for ti, ident in enumerate(table["identifier"])
    ]
    with make_executor(min(processes, max(1, num_targets))) as executor:
        executor.map(_plot_distribution, tasks, progress="histograms")
    return table
