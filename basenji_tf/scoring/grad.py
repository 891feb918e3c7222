"""Input x gradient attribution of BED regions (``basenji_grad_bed.py``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from basenji_tf import seqnn
from basenji_tf.dna import hot1_rc
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.progress import track
from basenji_tf.scoring.bed import read_bed_windows, region_1hot
from basenji_tf.scoring.outputs import write_bigwigs, write_grad_h5


def input_gradients(
    model,
    seqs: np.ndarray,
    target_index: Sequence[int] | None = None,
    bins: slice | None = None,
    rc: bool = False,
    rows: int | None = None,
) -> np.ndarray:
    """Gradient of the summed prediction with respect to the one-hot input.

    The objective is the prediction summed over ``bins`` (default all) and over the
    ``target_index`` outputs (default all). With ``rc`` the gradient of the reverse
    complement (objective on bins flipped back) is averaged in, flipped to the forward
    strand.

    Args:
        model: ``keras.Model`` [batch, L, 4] -> [batch, bins, T].
        seqs: [N, L, 4] float32.
        target_index: outputs summed (None: all).
        bins: output bins summed (None: all).
        rc: average with the reverse complement's gradient.
        rows: sequences per model call: ``seqs`` is padded with zero sequences to this
            many (None: N), so that a sequence's gradient does not depend on the others
            (each row's objective depends on its own input only).

    Returns:
        float32 [N, L, 4]; input x gradient is ``seqs * grads`` summed over channels.
    """

    def grad(x: np.ndarray) -> np.ndarray:
        n = len(x)
        x = tf.constant(seqnn.pad_rows(x, rows or n), dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            preds = model(x, training=False)
            if target_index is not None:
                preds = tf.gather(preds, list(target_index), axis=-1)
            if bins is not None:
                preds = preds[:, bins]
            objective = tf.reduce_sum(preds)
        return tape.gradient(objective, x).numpy()[:n]

    seqs = np.asarray(seqs, dtype=np.float32)
    grads = grad(seqs)
    if rc:
        # bins of the RC prediction flipped back = bins reversed, so the objective slice
        # is mirrored; for the default (all bins) it is the same sum.
        if bins is not None:
            raise InputError("--rc with a bin range is not supported; use all bins")
        grads = (grads + hot1_rc(grad(hot1_rc(seqs).copy()))) / 2
    return grads


def run_grad_bed(
    params_file: str,
    model_file: str,
    fasta: str,
    bed_file: str,
    out_dir: str,
    head: int = 0,
    target_indexes: Sequence[int] | None = None,
    rc: bool = False,
    batch_size: int = 4,
    precision: str = "float32",
) -> str:
    """Input x gradient of the window centred on each BED region.

    Writes ``out_dir/scores.h5`` (:func:`~basenji_tf.scoring.outputs.write_grad_h5`) and
    ``out_dir/attr.bw`` (the attribution at bp resolution); returns the scores.h5 path.

    Args:
        params_file: params JSON.
        model_file: weights of head ``head``.
        fasta: genome FASTA.
        bed_file: regions (strands ignored).
        out_dir: output directory.
        head: head index.
        target_indexes: model outputs whose predictions are summed (None: all).
        rc: average with the reverse complement's gradient.
        batch_size: sequences per gradient call.
        precision: compute precision (:data:`basenji_tf.seqnn.PRECISIONS`).
    """
    model_head = seqnn.load(params_file, model_file, head, augment=False, precision=precision).head
    model, num_outputs = model_head.model, model_head.num_targets
    if target_indexes and not all(0 <= t < num_outputs for t in target_indexes):
        raise InputError(f"--targets: head {head} has outputs 0..{num_outputs - 1}")
    with Genome(fasta) as genome:
        regions = read_bed_windows(bed_file, genome, model_head.seq_length, False)
        seq_batches, grad_batches = [], []
        for b0 in track(range(0, len(regions), batch_size), desc="regions", unit="batches"):
            batch = regions[b0 : b0 + batch_size]
            seq_batches.append(np.stack([region_1hot(genome, r) for r in batch]))
            grad_batches.append(
                input_gradients(model, seq_batches[-1], target_indexes, rc=rc, rows=batch_size)
            )
        sizes = genome.sizes
    seqs = np.concatenate(seq_batches)
    grads = np.concatenate(grad_batches)
    attr = (grads * seqs).sum(axis=-1)
    out_file = os.path.join(out_dir, "scores.h5")
    write_grad_h5(out_file, seqs, grads, attr, regions)
    write_bigwigs(out_dir, regions, attr[..., None], [r.start for r in regions], 1, sizes, ["attr"])
    return out_file
