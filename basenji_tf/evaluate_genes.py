"""Gene-level accuracy: ``basenji_test_genes.py``.

Per gene, the bins holding its TSSs in the split's sequences are summed (predictions and
targets), transformed with log2(x+1) and correlated across genes, per track.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from basenji_tf import metrics, seqnn
from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError
from basenji_tf.evaluate import (
    assay_of,
    check_shapes,
    ensembled_predictor,
    full_targets_table,
    target_channels,
    target_descriptions,
    write_table,
)
from basenji_tf.files import atomic_h5
from basenji_tf.genome import read_gtf_tss
from basenji_tf.progress import track
from basenji_tf.targets import read_targets
from basenji_tf.tfrecords import read_sequences_bed

log = logging.getLogger(__name__)


def gene_bins(
    tss: Sequence[dict],
    seqs_bed: pd.DataFrame,
    pool_width: int,
    target_length: int,
) -> dict[str, list[tuple[int, int]]]:
    """The (sequence, bin) pairs holding each gene's TSSs, every genomic bin once.

    Args:
        tss: records of :func:`basenji_tf.genome.read_gtf_tss` (``gene_id``, ``chrom``,
            ``tss`` in 0-based bp).
        seqs_bed: the split's target intervals in dataset order (chrom, start, end).
        pool_width: bp per bin.
        target_length: bins per sequence.

    Returns:
        gene_id -> sorted list of (sequence index, bin index). A TSS inside several
        overlapping sequences is taken from the first one; genes with no TSS inside any
        sequence are absent. Chromosome names match with or without a 'chr' prefix.
    """

    def norm(chrom: str) -> str:
        return chrom[3:] if chrom.startswith("chr") else chrom

    by_chrom: dict[str, list[tuple[int, int, int]]] = {}
    for si, row in enumerate(seqs_bed.itertuples(index=False)):
        by_chrom.setdefault(norm(row.chrom), []).append((row.start, row.end, si))
    for intervals in by_chrom.values():
        intervals.sort()
    genes: dict[str, dict[tuple[str, int], tuple[int, int]]] = {}
    for record in tss:
        chrom, pos = norm(record["chrom"]), record["tss"]
        for start, end, si in by_chrom.get(chrom, ()):
            if start > pos:
                break
            if pos < end:
                bin_i = (pos - start) // pool_width
                if bin_i < target_length:
                    genomic_bin = (chrom, start + bin_i * pool_width)
                    genes.setdefault(record["gene_id"], {}).setdefault(genomic_bin, (si, bin_i))
                break
    return {g: sorted(bins.values()) for g, bins in genes.items()}


def gene_values(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    dataset: tf.data.Dataset,
    bins: dict[str, list[tuple[int, int]]],
    channels: Sequence[int],
    total: int | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per gene, predictions and targets summed over its TSS bins.

    Returns:
        (gene ids, preds [G, T], targets [G, T]) for the selected channels, float64.
    """
    genes = sorted(bins)
    index = {g: i for i, g in enumerate(genes)}
    by_seq: dict[int, list[tuple[int, int]]] = {}
    for gene, pairs in bins.items():
        for si, bi in pairs:
            by_seq.setdefault(si, []).append((index[gene], bi))
    channels = list(channels)
    preds = np.zeros((len(genes), len(channels)))
    targets = np.zeros((len(genes), len(channels)))
    seq_i = 0
    for x, y in track(dataset, total=total, desc="genes", unit="batches"):
        batch_seqs = range(seq_i, seq_i + len(y))
        seq_i += len(y)
        if not any(s in by_seq for s in batch_seqs):
            continue
        pred = np.asarray(predict_fn(x.numpy()), np.float64)[..., channels]
        target = y.numpy().astype(np.float64)[..., channels]
        for bi_seq, si in enumerate(batch_seqs):
            for gi, bin_i in by_seq.get(si, ()):
                preds[gi] += pred[bi_seq, bin_i]
                targets[gi] += target[bi_seq, bin_i]
    return genes, preds, targets


def evaluate_genes(
    params_file: str | os.PathLike,
    model_file: str | os.PathLike,
    data_dir: str | os.PathLike,
    gtf_file: str | os.PathLike,
    out_dir: str | os.PathLike = "test_genes_out",
    head_i: int = 0,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    split: str = "test",
    targets_file: str | os.PathLike | None = None,
    all_tracks: bool = False,
    feature: str = "gene",
) -> dict:
    """Gene-level accuracy: Pearson r across genes of log2(sum over TSS bins + 1).

    Args:
        params_file: params JSON of the model.
        model_file: its weights (head ``head_i``).
        data_dir: data directory.
        gtf_file: GTF whose ``feature`` records give the TSSs.
        out_dir: where acc_genes.txt and genes.h5 go.
        head_i: the head the model file holds.
        rc: ensemble over reverse complements.
        shifts: ensemble over these shifts (bp).
        split: the data directory's split to evaluate.
        targets_file: labels (default ``data_dir/targets.txt``); its index column selects
            the output channels.
        all_tracks: evaluate every track, not only those whose description starts with CAGE.
        feature: "gene" or "transcript" (every transcript's TSS).

    Returns:
        dict with ``acc`` (the acc_genes.txt table: index, pearsonr, spearmanr, identifier,
        description), ``pearsonr`` (mean) and ``num_genes``. Also writes ``genes.h5``
        (gene ids, summed preds and targets).
    """
    targets_file = targets_file or Path(data_dir) / "targets.txt"
    targets_df = read_targets(targets_file)
    if not all_tracks:
        assays = pd.Series(target_descriptions(targets_df)).map(assay_of).to_numpy()
        targets_df = targets_df[assays == "CAGE"]
        if targets_df.empty:
            raise InputError(
                f"{targets_file}: no track's description starts with 'CAGE'; use --all to "
                "evaluate every track"
            )
    channels = target_channels(targets_df, str(targets_file))
    model = seqnn.load(params_file, model_file, head_i)
    predict = ensembled_predictor(
        model.head, full_targets_table(data_dir, read_targets(targets_file)), rc, shifts
    )
    batch_size = int(model.params_json.get("train", {}).get("batch_size", 4))
    data = SeqDataset(data_dir, split, batch_size, mode="eval")
    check_shapes(model.head, data, data_dir)
    seqs_bed = read_sequences_bed(data_dir, split)
    bins = gene_bins(read_gtf_tss(gtf_file, feature), seqs_bed, data.pool_width, data.target_length)
    if len(bins) < 3:
        raise InputError(
            f"{gtf_file}: only {len(bins)} {feature}(s) have a TSS inside the {split} "
            f"sequences of {data_dir}; check the genome build and chromosome names"
        )
    log.info("%d genes have a TSS inside the %d %s sequences", len(bins), len(seqs_bed), split)
    genes, preds, targets = gene_values(
        predict, data.batches(), bins, channels, total=-(-data.num_seqs // batch_size)
    )
    log_preds, log_targets = np.log2(preds + 1), np.log2(targets + 1)
    table = pd.DataFrame(
        {
            "index": targets_df.index.to_numpy(),
            "pearsonr": metrics.pearsonr(log_targets, log_preds),
            "spearmanr": metrics.spearmanr(log_targets, log_preds),
            "identifier": targets_df["identifier"].to_numpy(),
            "description": target_descriptions(targets_df),
        }
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out / "acc_genes.txt")
    with atomic_h5(out / "genes.h5") as h5:
        h5.create_dataset("genes", data=np.array(genes, dtype="S"))
        h5.create_dataset("preds", data=preds.astype(np.float32))
        h5.create_dataset("targets", data=targets.astype(np.float32))
    return {"acc": table, "pearsonr": float(np.nanmean(table["pearsonr"])), "num_genes": len(genes)}
