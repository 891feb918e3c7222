"""Predictions for BED regions (``basenji_predict_bed.py``) to HDF5 and BigWig.

Differences from the original: the original writes one BigWig per sequence and target
(``s{si}_t{ti}.bw``); we write one per target (``t{ti}.bw``) holding every region, which a
genome browser can show whole. Bins covered by two overlapping windows keep the value of
the first window in (chromosome, start) order.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from basenji_tf.errors import InputError
from basenji_tf.genome import Genome, read_chrom_sizes
from basenji_tf.scoring.bed import Region, read_bed_windows, region_1hot
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec, load_predictor
from basenji_tf.scoring.outputs import write_bigwigs, write_predict_h5


def predict_regions(
    predictor: EnsemblePredictor,
    genome: Genome,
    regions: Sequence[Region],
    site_bins: int,
    batch: int = 8,
    sum_bins: bool = False,
) -> np.ndarray:
    """Ensemble predictions of the central ``site_bins`` bins of each window.

    Returns:
        float32 [N, site_bins, T], or [N, T] summed over the site with ``sum_bins``.
    """
    outs = []
    for b0 in tqdm(range(0, len(regions), batch), desc="regions", disable=None):
        seqs = np.stack([region_1hot(genome, r) for r in regions[b0 : b0 + batch]])
        preds = predictor.predict(seqs)
        first = preds.shape[1] // 2 - site_bins // 2
        preds = preds[:, first : first + site_bins]
        outs.append(preds.sum(axis=1) if sum_bins else preds)
    return np.concatenate(outs)


@dataclass(frozen=True)
class PredictOptions:
    """Options of ``basenji_predict_bed.py``.

    Attributes:
        site_length: bp of the central site kept (a multiple of the bin width; None: the
            whole prediction).
        sum_bins: sum the site's bins.
        bigwig_indexes: reported targets written as BigWigs.
        genome_file: chromosome sizes for the BigWig header (None: the FASTA's).
    """

    site_length: int | None = None
    sum_bins: bool = False
    bigwig_indexes: tuple[int, ...] = ()
    genome_file: str | None = None


def run_predict_bed(
    model: ModelSpec, fasta: str, bed_file: str, out_dir: str, options: PredictOptions
) -> str:
    """Predict the window centred on each BED region into ``out_dir/predict.h5``.

    ``predict.h5`` holds the central site's bins; with ``bigwig_indexes``,
    ``out_dir/bigwig/t{i}.bw`` holds target i of every region at the genome coordinates
    of its bins (window start + crop + bin x stride). Returns the path of predict.h5.

    Raises:
        InputError: a site that is not a whole number of bins within the prediction,
            ``sum_bins`` with BigWigs, or a BigWig target that does not exist.
    """
    # whole-window predictions: no ALT to splice
    head, predictor, _ = load_predictor(dataclasses.replace(model, splice=False))
    stride, preds_len = head.stride, head.target_length
    site_length = options.site_length or stride * preds_len
    if site_length % stride or not 0 < site_length <= stride * preds_len:
        raise InputError(
            f"-l {site_length}: the site must be a multiple of the {stride} bp bins and at "
            f"most {stride * preds_len} bp"
        )
    site_bins = site_length // stride
    if options.sum_bins and options.bigwig_indexes:
        raise InputError("-s sums the bins away; drop -s to write BigWigs with -b")
    with Genome(fasta) as genome:
        regions = read_bed_windows(bed_file, genome, head.seq_length, False)
        preds = predict_regions(
            predictor, genome, regions, site_bins, model.batch_size, options.sum_bins
        )
        sizes = read_chrom_sizes(options.genome_file) if options.genome_file else genome.sizes
    first_bin = preds_len // 2 - site_bins // 2
    site_start = head.crop * stride + first_bin * stride
    starts = np.array([r.start + site_start for r in regions], np.int64)
    out_file = os.path.join(out_dir, "predict.h5")
    write_predict_h5(out_file, preds, regions, starts, site_length)
    if options.bigwig_indexes:
        bad = [t for t in options.bigwig_indexes if not 0 <= t < preds.shape[-1]]
        if bad:
            raise InputError(f"-b {bad[0]}: there are {preds.shape[-1]} targets")
        write_bigwigs(
            os.path.join(out_dir, "bigwig"),
            regions,
            preds[..., list(options.bigwig_indexes)],
            starts,
            stride,
            sizes,
            [f"t{t}" for t in options.bigwig_indexes],
        )
    return out_file
