"""Gene-level variant effects (``basenji_sed.py``).

The change of the summed prediction at the TSS bins of every gene whose TSS lies in a
variant's predicted window.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from basenji_tf.errors import InputError
from basenji_tf.genome import Genome, read_gtf_tss
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec, load_predictor
from basenji_tf.scoring.outputs import write_sed_h5
from basenji_tf.scoring.target_set import TargetSet
from basenji_tf.scoring.vcf import (
    Variant,
    VcfCounts,
    read_vcf,
    ref_window_start,
    variant_windows,
    window_bounds,
)

log = logging.getLogger(__name__)


class TssIndex:
    """TSS positions per chromosome, for range queries.

    Args:
        genes: records from :func:`basenji_tf.genome.read_gtf_tss`.
        genome: chromosome names are resolved to the FASTA's; genes on chromosomes the FASTA
            lacks are dropped with a count in the log.
    """

    def __init__(self, genes: Sequence[dict], genome: Genome):
        by_chrom: dict[str, list[dict]] = {}
        dropped = 0
        for gene in genes:
            try:
                chrom = genome.resolve(gene["chrom"])
            except InputError:
                dropped += 1
                continue
            by_chrom.setdefault(chrom, []).append(gene)
        if dropped:
            log.warning("%d genes on chromosomes missing from the FASTA were dropped", dropped)
        self.genes = {c: sorted(g, key=lambda x: x["tss"]) for c, g in by_chrom.items()}
        self.tss = {c: np.array([x["tss"] for x in g]) for c, g in self.genes.items()}

    def query(self, chrom: str, start: int, end: int) -> list[dict]:
        """Genes with TSS in [start, end) bp."""
        if chrom not in self.tss:
            return []
        i0, i1 = np.searchsorted(self.tss[chrom], [start, end])
        return self.genes[chrom][i0:i1]


@dataclass(frozen=True)
class GeneWindow:
    """Where a variant's predicted bins lie in the genome and which bins a TSS covers.

    Attributes:
        seq_length: model input, bp.
        stride: bp per output bin.
        crop: bins cropped on each side of the output.
        tss_bins: bins summed at a TSS: its bin and ``(tss_bins - 1) // 2`` either side.
    """

    seq_length: int
    stride: int
    crop: int
    tss_bins: int = 1

    def first_bp(self, variant: Variant) -> int:
        """Genome bp where the variant's first predicted bin starts.

        That is its centred window's start (:func:`~basenji_tf.scoring.vcf.window_bounds`)
        plus the crop.
        """
        return window_bounds(variant.pos, self.seq_length)[0] + self.crop * self.stride

    def tss_slice(self, pred0: int, tss: int, num_bins: int) -> slice:
        """Bins summed for a TSS at bp ``tss``, clipped to the prediction."""
        b = (tss - pred0) // self.stride
        half = (self.tss_bins - 1) // 2
        return slice(max(0, b - half), min(num_bins, b + half + 1))


def score_genes(
    predictor: EnsemblePredictor,
    genome: Genome,
    vcf_file: str,
    tss_index: TssIndex,
    window: GeneWindow,
    batch_variants: int = 16,
    strict: bool = False,
    targets: TargetSet | None = None,
) -> Iterator[tuple[Variant, dict, np.ndarray, np.ndarray]]:
    """REF and ALT predictions summed over the TSS bins of each gene near each variant.

    Genes are those with their TSS in the variant's predicted window
    (:meth:`GeneWindow.first_bp`; a deletion's REF window is shifted by half its length,
    which moves the TSS bins by at most that much). With ``targets``, predictions are
    un-transformed and strand-collapsed first (as SAD).

    Yields:
        (variant, gene record, ref sums [T], alt sums [T]) in VCF order, genes by TSS.
    """
    counts = VcfCounts()
    batch: list[Variant] = []
    for v in read_vcf(vcf_file, genome, counts):
        batch.append(v)
        if len(batch) >= batch_variants:
            yield from _score_batch(
                batch, predictor, genome, tss_index, window, counts, strict, targets
            )
            batch = []
    yield from _score_batch(batch, predictor, genome, tss_index, window, counts, strict, targets)
    log.info("%s", counts.summary())


def _score_batch(
    batch: list[Variant],
    predictor: EnsemblePredictor,
    genome: Genome,
    tss_index: TssIndex,
    window: GeneWindow,
    counts: VcfCounts,
    strict: bool,
    targets: TargetSet | None,
) -> Iterator[tuple[Variant, dict, np.ndarray, np.ndarray]]:
    rows, refs, alts = [], [], []
    for v in batch:
        windows = variant_windows(genome, v, window.seq_length, counts, strict)
        if windows is not None:
            rows.append(v)
            refs.append(windows[0])
            alts.append(windows[1])
    if not rows:
        return
    starts = [(v.chrom, ref_window_start(v, window.seq_length)) for v in rows]
    ref_p, alt_p = predictor.predict_pairs(
        np.stack(refs), np.stack(alts), np.arange(len(rows)), starts, genome
    )
    if targets is not None:
        ref_p, alt_p = targets.transform(ref_p), targets.transform(alt_p)
    num_bins = ref_p.shape[1]
    for k, v in enumerate(rows):
        pred0 = window.first_bp(v)
        for gene in tss_index.query(v.chrom, pred0, pred0 + num_bins * window.stride):
            sl = window.tss_slice(pred0, gene["tss"], num_bins)
            yield v, gene, ref_p[k, sl].sum(axis=0), alt_p[k, sl].sum(axis=0)


def run_sed(
    model: ModelSpec,
    fasta: str,
    vcf_file: str,
    gtf_file: str,
    out_dir: str,
    feature: str = "gene",
    tss_bins: int = 1,
    strict: bool = False,
) -> int:
    """Score every variant against the genes near it into ``out_dir/sed.h5``.

    Args:
        model: the model, targets (un-transformed and strand-collapsed) and ensemble.
        fasta: genome FASTA.
        vcf_file: plain or bgzipped VCF.
        gtf_file: gene annotation.
        out_dir: output directory.
        feature: GTF feature whose start (by strand) is the TSS: gene or transcript.
        tss_bins: bins summed at each TSS.
        strict: fail on a REF mismatch.

    Returns:
        the number of (variant, gene) rows written
        (:func:`~basenji_tf.scoring.outputs.write_sed_h5`).
    """
    if tss_bins < 1:
        raise InputError(f"--tss_bins {tss_bins}: must be at least 1")
    head, predictor, targets = load_predictor(model)
    window = GeneWindow(head.seq_length, head.stride, head.crop, tss_bins)
    with Genome(fasta) as genome:
        tss_index = TssIndex(read_gtf_tss(gtf_file, feature), genome)
        results = score_genes(
            predictor, genome, vcf_file, tss_index, window, strict=strict, targets=targets
        )
        return write_sed_h5(os.path.join(out_dir, "sed.h5"), results, targets.ids, targets.labels)
