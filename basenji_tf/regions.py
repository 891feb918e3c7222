"""Region-level interpretation: saturation mutagenesis, predictions to BigWig, gradients,
and gene-level variant effects.

* :func:`read_bed_windows` centres a model window on each BED region (REFERENCE 7.3, 7.5).
* :func:`sat_mutagenesis` scores every single-base substitution of a central region
  (``basenji_sat_bed.py``, ``basenji_sat_vcf.py``); :func:`write_sat_h5` writes scores.h5.
* :func:`predict_regions` and :func:`write_bigwigs` (``basenji_predict_bed.py``).
* :func:`input_gradients` (``basenji_grad_bed.py``): input x gradient attribution.
* :func:`score_genes` (``basenji_sed.py``): change of the summed prediction at the TSS bins
  of every gene whose TSS lies in a variant's predicted window.

Differences from the original:

* saturation mutagenesis keeps one explicit (position, base) index per mutant, so a
  reference N (which has four mutants, not three) no longer shifts every later score onto
  the wrong position and base as in the original's ``1 + 3 * mut_len`` bookkeeping; at an N
  position all four slots hold mutant scores;
* the ``js`` statistic of ``basenji_sat_bed.py`` (which always failed in the original) is
  not offered;
* BigWig bp covered by two overlapping BED windows keep the value from the first window
  in (chromosome, start) order, since a BigWig cannot hold overlapping intervals; the
  original writes one BigWig per sequence and target (``s{si}_t{ti}.bw``), we write one
  per target (``t{ti}.bw``) holding every region, which a genome browser can show whole.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import h5py
import numpy as np
from natsort import natsorted
from tqdm import tqdm

from basenji_tf.dna import dna_1hot, hot1_rc
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path
from basenji_tf.genome import Genome
from basenji_tf.variants import (
    EnsemblePredictor,
    TargetSet,
    VcfCounts,
    read_vcf,
    ref_window_start,
    variant_windows,
)

log = logging.getLogger(__name__)

SAT_STATS = ("sum", "center", "scd")


# ---------------------------------------------------------------------------------------
# BED windows
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """A model window centred on a BED record.

    Attributes:
        chrom: FASTA chromosome name.
        start, end: the window, 0-based half-open bp (may run off the chromosome).
        strand: '+' or '-' (BED column 6; '+' when absent).
        name: BED column 4, or ``chrom:start-end`` of the record.
    """

    chrom: str
    start: int
    end: int
    strand: str
    name: str


def read_bed_windows(
    bed_file: str, genome: Genome, seq_length: int, stranded: bool = True
) -> list[Region]:
    """Windows of ``seq_length`` bp centred on each BED record (mid = (start + end) // 2).

    With ``stranded`` False every window is '+' (basenji_predict_bed ignores strands).

    Raises:
        InputError: a line with fewer than 3 columns or non-integer coordinates.
    """
    regions = []
    with open(bed_file) as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                chrom, start, end = fields[0], int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                raise InputError(
                    f"{bed_file}:{line_no}: a BED line needs chrom, start and end (integers) "
                    "separated by tabs"
                ) from None
            chrom = genome.resolve(chrom, source=f"{bed_file}:{line_no}")
            strand = fields[5] if stranded and len(fields) > 5 and fields[5] in "+-" else "+"
            name = fields[3] if len(fields) > 3 else f"{chrom}:{start}-{end}"
            mid = (start + end) // 2
            w0 = mid - seq_length // 2
            regions.append(Region(chrom, w0, w0 + seq_length, strand, name))
    return regions


def region_1hot(genome: Genome, region: Region, n_uniform: bool = False) -> np.ndarray:
    """One-hot [L, 4] of a window (N-padded off the chromosome; minus strand: RC)."""
    seq_1hot = dna_1hot(genome.fetch(region.chrom, region.start, region.end), n_uniform)
    return hot1_rc(seq_1hot).copy() if region.strand == "-" else seq_1hot


# ---------------------------------------------------------------------------------------
# Saturation mutagenesis
# ---------------------------------------------------------------------------------------


def mutation_region(
    seq_length: int, mut_len: int, mut_up: int = 0, mut_down: int = 0
) -> tuple[int, int]:
    """(first bp, length) of the mutated region in sequence coordinates.

    As in the original: with ``mut_up``/``mut_down`` the length is their sum, otherwise
    ``mut_up = mut_len // 2``; the region starts at ``L // 2 - mut_up``.
    """
    if mut_up or mut_down:
        mut_len = mut_up + mut_down
    else:
        mut_up = mut_len // 2
    if mut_len <= 0 or mut_len > seq_length:
        raise InputError(f"mutation length {mut_len} must be in 1..{seq_length}")
    return seq_length // 2 - mut_up, mut_len


def sat_mutagenesis(
    predictor: EnsemblePredictor,
    seq_1hot: np.ndarray,
    mut_start: int,
    mut_len: int,
    stats: Sequence[str] = ("sum",),
    chunk: int = 64,
) -> dict[str, np.ndarray]:
    """Scores of every single-base substitution in ``[mut_start, mut_start + mut_len)``.

    Args:
        predictor: ensemble predictor (its ``splice`` makes each mutant cheap).
        seq_1hot: reference [L, 4].
        mut_start, mut_len: mutated region, bp in sequence coordinates.
        stats: ``sum`` (summed prediction over bins, mean-centred over the four bases at
            each position), ``center`` (the same over the central 1-2 bins), ``scd``
            (sqrt of the summed squared difference from the reference, not centred).
        chunk: mutants per prediction call.

    Returns:
        stat -> float32 [mut_len, 4, T]; reference slots hold the reference's value
        (0 for ``scd``).
    """
    for stat in stats:
        if stat not in SAT_STATS:
            raise InputError(
                f"--stats: unknown statistic {stat!r}; choose from {', '.join(SAT_STATS)}"
            )
    ref = np.asarray(seq_1hot, dtype=np.float32)
    mutants: list[tuple[int, int]] = []
    for p in range(mut_start, mut_start + mut_len):
        for base in range(4):
            if ref[p, base] != 1:
                mutants.append((p, base))
    ref_pred = predictor.predict(ref[None])[0]
    num_bins, num_targets = ref_pred.shape
    c0 = num_bins // 2
    centre = slice(c0, c0 + (2 if num_bins % 2 == 0 else 1))
    out = {s: np.zeros((mut_len, 4, num_targets), np.float32) for s in stats}
    ref_values = {"sum": ref_pred.sum(axis=0), "center": ref_pred[centre].sum(axis=0)}
    for stat in ("sum", "center"):
        if stat in out:
            out[stat][:] = ref_values[stat]
    for c in range(0, len(mutants), chunk):
        part = mutants[c : c + chunk]
        seqs = np.repeat(ref[None], len(part), axis=0)
        for k, (p, base) in enumerate(part):
            seqs[k, p] = 0
            seqs[k, p, base] = 1
        _, preds = predictor.predict_pairs(ref[None], seqs, np.zeros(len(part), dtype=int))
        for k, (p, base) in enumerate(part):
            i = p - mut_start
            if "sum" in out:
                out["sum"][i, base] = preds[k].sum(axis=0)
            if "center" in out:
                out["center"][i, base] = preds[k, centre].sum(axis=0)
            if "scd" in out:
                out["scd"][i, base] = np.sqrt(((preds[k] - ref_pred) ** 2).sum(axis=0))
    for stat in ("sum", "center"):
        if stat in out:
            out[stat] -= out[stat].mean(axis=1, keepdims=True)
    return out


def write_sat_h5(
    path: str,
    seqs: np.ndarray,
    scores: dict[str, np.ndarray],
    extra: dict[str, np.ndarray],
) -> None:
    """Write ``scores.h5``: ``seqs`` bool [N, mut_len, 4], each stat float16
    [N, mut_len, 4, T], plus ``extra`` datasets (chr/start/end/strand or label)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("seqs", data=seqs.astype(bool))
        for name, values in extra.items():
            h5.create_dataset(name, data=values)
        for stat, values in scores.items():
            h5.create_dataset(stat, data=np.clip(values, -65504, 65504).astype(np.float16))


def sat_bed(
    predictor: EnsemblePredictor,
    genome: Genome,
    regions: Sequence[Region],
    mut_start: int,
    mut_len: int,
    stats: Sequence[str],
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Saturation mutagenesis of each BED window's central region.

    Returns:
        (seqs [N, mut_len, 4], stat -> [N, mut_len, 4, T], coordinate datasets ``chr``,
        ``start``, ``end`` (the mutated region in genome bp; for '-' windows measured from
        the window end) and ``strand``).
    """
    seqs, scores = [], {s: [] for s in stats}
    starts, ends = [], []
    for region in tqdm(regions, desc="regions", disable=None):
        seq_1hot = region_1hot(genome, region)
        seqs.append(seq_1hot[mut_start : mut_start + mut_len])
        for stat, values in sat_mutagenesis(predictor, seq_1hot, mut_start, mut_len, stats).items():
            scores[stat].append(values)
        if region.strand == "-":
            ends.append(region.end - mut_start)
            starts.append(region.end - mut_start - mut_len)
        else:
            starts.append(region.start + mut_start)
            ends.append(region.start + mut_start + mut_len)
    coords = {
        "chr": np.array([r.chrom for r in regions], dtype="S"),
        "start": np.array(starts, dtype=np.int64),
        "end": np.array(ends, dtype=np.int64),
        "strand": np.array([r.strand for r in regions], dtype="S"),
    }
    return np.stack(seqs), {s: np.stack(v) for s, v in scores.items()}, coords


def vcf_sequences(
    genome: Genome, vcf_file: str, seq_length: int
) -> Iterator[tuple[str, np.ndarray]]:
    """(label, one-hot [L, 4]) of each VCF record's REF and of each ALT, as the original
    ``snps_seq1``: labels ``{id}_{allele}`` with alleles over 5 bp cut to 5 + ``*``."""
    counts = VcfCounts()
    last = None
    for v in read_vcf(vcf_file, genome, counts):
        windows = variant_windows(genome, v, seq_length, counts)
        if windows is None:
            continue
        if (v.line, v.ref) != last:
            last = (v.line, v.ref)
            yield _allele_label(v.id, v.ref), windows[0]
        yield _allele_label(v.id, v.alt), windows[1]
    log.info("%s", counts.summary())


def _allele_label(rsid: str, allele: str) -> str:
    return f"{rsid}_{allele if len(allele) <= 5 else allele[:5] + '*'}"


# ---------------------------------------------------------------------------------------
# Predictions to HDF5 and BigWig
# ---------------------------------------------------------------------------------------


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


def write_bigwigs(
    out_dir: str,
    regions: Sequence[Region],
    values: np.ndarray,
    first_bp: Sequence[int],
    bin_bp: int,
    chrom_sizes: dict[str, int],
    names: Sequence[str],
) -> list[str]:
    """One BigWig per track of ``values`` at the genomic bins of each region.

    Args:
        out_dir: directory for ``{name}.bw``.
        regions: the windows (chromosome used).
        values: [N, bins, tracks], float.
        first_bp: per region, genome bp where its first bin starts.
        bin_bp: bin width in bp.
        chrom_sizes: chromosome lengths for the header; bins past an end are dropped.
        names: one file name stem per track.

    Returns:
        the paths written.
    """
    import pyBigWig

    order = natsorted(range(len(regions)), key=lambda i: (regions[i].chrom, first_bp[i]))
    chroms = natsorted({r.chrom for r in regions})
    missing = [c for c in chroms if c not in chrom_sizes]
    if missing:
        raise InputError(
            f"chromosome {missing[0]} has no size in the chromosome sizes given; use the "
            "sizes file of the FASTA's genome"
        )
    paths = []
    for ti, name in enumerate(names):
        path = os.path.join(out_dir, f"{name}.bw")
        with atomic_path(path) as tmp:
            bw = pyBigWig.open(tmp, "w")
            bw.addHeader([(c, int(chrom_sizes[c])) for c in chroms])
            for chrom in chroms:
                written_to = 0
                for i in order:
                    if regions[i].chrom != chrom:
                        continue
                    starts = first_bp[i] + bin_bp * np.arange(values.shape[1], dtype=np.int64)
                    ends = np.minimum(starts + bin_bp, chrom_sizes[chrom])
                    # a bin straddling the previous window's end is written from there on
                    starts = np.maximum(starts, max(written_to, 0))
                    keep = ends > starts
                    if not keep.any():
                        continue
                    bw.addEntries(
                        [chrom] * int(keep.sum()), starts[keep].tolist(), ends=ends[keep].tolist(),
                        values=values[i, keep, ti].astype(np.float64).tolist(),
                    )  # fmt: skip
                    written_to = int(ends[keep][-1])
            bw.close()
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------


def input_gradients(
    model,
    seqs: np.ndarray,
    target_index: Sequence[int] | None = None,
    bins: slice | None = None,
    rc: bool = False,
) -> np.ndarray:
    """Gradient of the summed prediction with respect to the one-hot input.

    The objective is the prediction summed over ``bins`` (default all) and over the
    ``target_index`` outputs (default all). With ``rc`` the gradient of the reverse
    complement (objective on bins flipped back) is averaged in, flipped to the forward
    strand.

    Args:
        model: ``keras.Model`` [batch, L, 4] -> [batch, bins, T].
        seqs: [N, L, 4] float32.

    Returns:
        float32 [N, L, 4]; input x gradient is ``seqs * grads`` summed over channels.
    """
    import tensorflow as tf

    def grad(x: np.ndarray) -> np.ndarray:
        x = tf.constant(x, dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            preds = model(x, training=False)
            if target_index is not None:
                preds = tf.gather(preds, list(target_index), axis=-1)
            if bins is not None:
                preds = preds[:, bins]
            objective = tf.reduce_sum(preds)
        return tape.gradient(objective, x).numpy()

    seqs = np.asarray(seqs, dtype=np.float32)
    grads = grad(seqs)
    if rc:
        # bins of the RC prediction flipped back = bins reversed, so the objective slice
        # is mirrored; for the default (all bins) it is the same sum.
        if bins is not None:
            raise InputError("--rc with a bin range is not supported; use all bins")
        grads = (grads + hot1_rc(grad(hot1_rc(seqs).copy()))) / 2
    return grads


# ---------------------------------------------------------------------------------------
# Gene-level variant effects
# ---------------------------------------------------------------------------------------


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


def score_genes(
    predictor: EnsemblePredictor,
    genome: Genome,
    vcf_file: str,
    tss_index: TssIndex,
    seq_length: int,
    stride_bp: int,
    crop_bins: int,
    tss_bins: int = 1,
    batch_variants: int = 16,
    strict: bool = False,
    targets: TargetSet | None = None,
) -> Iterator[tuple[object, dict, np.ndarray, np.ndarray]]:
    """For each variant and each gene with its TSS in the predicted window: the REF and
    ALT predictions summed over the TSS bins.

    With ``targets``, predictions are un-transformed and strand-collapsed first (as SAD).
    The predicted window of a variant starts ``crop_bins * stride_bp`` bp after the input
    window (variant at index ``L/2 - 1``). The TSS bins are the bin holding the TSS and
    ``(tss_bins - 1) // 2`` bins either side (clipped to the window).

    Yields:
        (variant, gene record, ref sums [T], alt sums [T]) in VCF order, genes by TSS.
    """
    counts = VcfCounts()
    batch: list = []

    def flush():
        rows, refs, alts = [], [], []
        for v in batch:
            windows = variant_windows(genome, v, seq_length, counts, strict)
            if windows is not None:
                rows.append(v)
                refs.append(windows[0])
                alts.append(windows[1])
        if not rows:
            return
        starts = [(v.chrom, ref_window_start(v, seq_length)) for v in rows]
        ref_p, alt_p = predictor.predict_pairs(
            np.stack(refs), np.stack(alts), np.arange(len(rows)), starts, genome
        )
        if targets is not None:
            ref_p, alt_p = targets.transform(ref_p), targets.transform(alt_p)
        num_bins = ref_p.shape[1]
        half = (tss_bins - 1) // 2
        for k, v in enumerate(rows):
            pred0 = v.pos - 1 - (seq_length // 2 - 1) + crop_bins * stride_bp
            for gene in tss_index.query(v.chrom, pred0, pred0 + num_bins * stride_bp):
                b = (gene["tss"] - pred0) // stride_bp
                sl = slice(max(0, b - half), min(num_bins, b + half + 1))
                yield v, gene, ref_p[k, sl].sum(axis=0), alt_p[k, sl].sum(axis=0)

    for v in read_vcf(vcf_file, genome, counts):
        batch.append(v)
        if len(batch) >= batch_variants:
            yield from flush()
            batch = []
    yield from flush()
    log.info("%s", counts.summary())


def write_sed_h5(
    path: str, results: Iterator, target_ids: Sequence[str], target_labels: Sequence[str],
    chunk: int = 1024,
) -> int:
    """Write gene-level scores, one row per (variant, gene) pair, streaming in chunks.

    Datasets: ``snp``, ``chr``, ``pos`` (uint32, VCF 1-based), ``ref_allele``,
    ``alt_allele``, ``gene_id``, ``gene_name``, ``tss`` (int64, 0-based bp),
    ``tss_dist`` (int64, TSS minus the variant's 0-based position), ``SED`` = ALT - REF,
    ``REF``, ``ALT`` (float16 [rows, T]: predictions summed over the TSS bins),
    ``target_ids``, ``target_labels``.

    Returns:
        the number of rows.
    """
    num_targets = len(target_ids)
    strings = ("snp", "chr", "ref_allele", "alt_allele", "gene_id", "gene_name")
    ints = {"pos": np.uint32, "tss": np.int64, "tss_dist": np.int64}
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        for k in strings:
            h5.create_dataset(k, (0,), dtype=h5py.string_dtype("ascii"), maxshape=(None,))
        for k, dtype in ints.items():
            h5.create_dataset(k, (0,), dtype=dtype, maxshape=(None,))
        for k in ("SED", "REF", "ALT"):
            h5.create_dataset(k, (0, num_targets), dtype=np.float16, maxshape=(None, num_targets),
                              chunks=(64, num_targets))
        h5.create_dataset("target_ids", data=np.array(target_ids, dtype="S"))
        h5.create_dataset("target_labels", data=np.array(target_labels, dtype="S"))
        rows = 0
        pending: list = []

        def flush() -> None:
            nonlocal rows
            if not pending:
                return
            end = rows + len(pending)
            columns = {
                "snp": [v.id for v, *_ in pending], "chr": [v.chrom for v, *_ in pending],
                "ref_allele": [v.ref for v, *_ in pending],
                "alt_allele": [v.alt for v, *_ in pending],
                "gene_id": [g["gene_id"] for _, g, *_ in pending],
                "gene_name": [g["gene_name"] for _, g, *_ in pending],
                "pos": [v.pos for v, *_ in pending], "tss": [g["tss"] for _, g, *_ in pending],
                "tss_dist": [g["tss"] - (v.pos - 1) for v, g, *_ in pending],
            }  # fmt: skip
            ref = np.array([r for *_, r, _ in pending], dtype=np.float32)
            alt = np.array([a for *_, a in pending], dtype=np.float32)
            values = {"SED": alt - ref, "REF": ref, "ALT": alt}
            for k, column in columns.items():
                h5[k].resize((end,))
                h5[k][rows:] = column
            for k, array in values.items():
                h5[k].resize((end, num_targets))
                h5[k][rows:] = np.clip(array, -65504, 65504).astype(np.float16)
            rows = end
            pending.clear()

        for result in results:
            pending.append(result)
            if len(pending) >= chunk:
                flush()
        flush()
    return rows
