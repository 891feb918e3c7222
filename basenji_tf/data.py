"""The basenji_data.py pipeline: contigs -> splits -> windows -> coverage -> TFRecords.

Steps (the data directory layout is described in :mod:`basenji_tf.tfrecords`):

1. check every input before anything is written: the targets table (``sum_stat``
   required), that each coverage file exists and names the FASTA's chromosomes, lengths;
2. contigs = FASTA chromosomes minus ``gaps_file``, limited to ``limit_bed``, kept when
   at least one target region long (``seq_length - 2 * crop_bp`` bp), halved until no
   longer than ``break_bp``;
3. split: K folds, nucleotide fractions (``-t/-v 0.1``) or chromosome lists (``-v chr2``);
   pieces of one broken contig that land in one split are joined again (contigs.bed);
4. windows: target regions of ``seq_length - 2 * crop_bp`` bp stepping by the split's
   stride from the (snapped) contig start, shuffled per split with ``random.Random(seed)``,
   optionally down-sampled and filtered for mappability; written as sequences.bed (splits
   in order train, valid, test or fold0, fold1, ...);
5. coverage: one ``seqs_cov/{ti}.h5`` per target (:func:`basenji_tf.targets.read_coverage`),
   in parallel over targets;
6. TFRecords: ``tfrecords/{split}-{i}.tfr`` with ``seqs_per_tfr`` records, in parallel over
   files; the DNA of each record spans its target region plus ``crop_bp`` on each side;
7. targets.txt, then statistics.json last: a directory without statistics.json is
   unfinished, and ``--restart`` completes it, reusing sequences.bed and every finished
   file (each file is written under a temporary name and renamed when complete).

The random draws follow the original so that the same contigs give the same splits and
the same window order: ``numpy.random.RandomState(seed)`` for fraction and fold splits,
``random.Random(seed)`` for the per-split shuffles and sampling.

Differences from the original:
  * contig breaking keeps every piece (the original loses one contig, see
    :func:`basenji_tf.genome.break_large_contigs`);
  * no empty TFRecord file when a split fills its last file exactly;
  * an empty split, a chromosome name missing from a coverage file or from the FASTA,
    and a targets table without ``sum_stat`` are errors instead of a crash or silent
    zeros; nothing is written before the inputs are checked;
  * coverage file paths that do not exist relative to the working directory are looked up
    relative to the targets table's folder;
  * the mappability annotation is done in Python (no bedtools), on the target regions.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from basenji_tf.data_peaks import curate_peaks
from basenji_tf.data_write import write_chunk
from basenji_tf.errors import InputError
from basenji_tf.execute import Executor, make_executor
from basenji_tf.files import atomic_path
from basenji_tf.genome import (
    Contig,
    Genome,
    break_large_contigs,
    chromosome_contigs,
    intersect_intervals,
    read_bed_intervals,
    rejoin_contigs,
    subtract_intervals,
    write_bed_rows,
)
from basenji_tf.targets import check_tracks, read_coverage_h5, read_target_options
from basenji_tf.tfrecords import (
    DEFAULT_COMPRESSION_LEVEL,
    ENCODINGS,
    read_sequences_bed,
    write_statistics,
)

log = logging.getLogger(__name__)

Window = tuple[str, int, int, str]  # chrom, start, end (target region, bp), split label
UNMAP_NPY = "mseqs_unmap.npy"  # the unmappable-bin mask of sequences.bed, for --restart
UNMAP_MINOR_OVERLAP = 0.1  # fraction of a bin; smaller overlaps at either end are ignored


def _as_fraction(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value <= 1 else None


@dataclass(frozen=True)
class DataOptions:
    """Settings of one basenji_data.py run (the CLI's options; lengths in bp).

    ``test`` and ``valid`` are a fraction of the nucleotides ("0.05") or a comma list of
    chromosomes ("chr8,chr10"). Strides <= 1 are fractions of ``seq_length``.
    """

    seq_length: int = 131072
    pool_width: int = 128
    crop_bp: int = 0
    test: str = "0.05"
    valid: str = "0.05"
    folds: int | None = None
    gaps_file: str | None = None
    limit_bed: str | None = None
    umap_bed: str | None = None
    umap_t: float = 0.5
    umap_clip: float = 1.0
    umap_tfr: bool = False
    blacklist_bed: str | None = None
    break_bp: int = 786432
    stride_train: float = 1.0
    stride_test: float = 1.0
    snap: int = 1
    seqs_per_tfr: int = 256
    sample_pct: float = 1.0
    seed: int = 44
    decimals: int | None = None
    interp_nan: bool = False
    encoding: str = "index"
    compression_level: int = DEFAULT_COMPRESSION_LEVEL
    processes: int = 1
    scheduler: str | None = None
    scheduler_file: str | None = None
    restart: bool = False
    split_test: bool = False
    allow_missing_chroms: bool = False
    peaks_only: bool = False

    @property
    def target_bp(self) -> int:
        """The length of a target region (a sequences.bed row) in bp."""
        return self.seq_length - 2 * self.crop_bp

    @property
    def target_length(self) -> int:
        """The number of bins of a target region."""
        return self.target_bp // self.pool_width

    def labels(self) -> list[str]:
        if self.folds is not None:
            return [f"fold{k}" for k in range(self.folds)]
        return ["train", "valid", "test"]

    def split_fractions(self) -> tuple[float, float] | None:
        """(test, valid) as nucleotide fractions, or None when either names chromosomes."""
        test, valid = _as_fraction(self.test), _as_fraction(self.valid)
        return None if test is None or valid is None else (test, valid)

    def stride_bp(self, label: str) -> int:
        """The original rule: <= 1 is a fraction of the full seq_length, rounded."""
        stride = self.stride_test if label in ("valid", "test") else self.stride_train
        return int(np.round(stride * self.seq_length if stride <= 1 else stride))

    def check(self) -> None:
        """Raise InputError on inconsistent lengths (before any file is read)."""
        if self.seq_length <= 0 or self.pool_width <= 0:
            raise InputError("-l seq_length and -w pool_width must be positive")
        if self.seq_length % self.pool_width:
            raise InputError(
                f"-l {self.seq_length}: seq_length must be a multiple of the pool width "
                f"-w {self.pool_width}"
            )
        if not 0 <= 2 * self.crop_bp < self.seq_length or self.crop_bp % self.pool_width:
            raise InputError(
                f"--crop {self.crop_bp}: must be a multiple of -w {self.pool_width} and leave "
                f"a target region inside -l {self.seq_length}"
            )
        for label in self.labels()[:1] + (["valid"] if self.folds is None else []):
            stride = self.stride_bp(label)
            if stride <= 0 or stride % self.snap:
                raise InputError(
                    f"stride {stride} bp of {label} must be positive and a multiple of "
                    f"--snap {self.snap}"
                )
        if self.seq_length % self.snap:
            raise InputError(f"-l {self.seq_length} must be a multiple of --snap {self.snap}")
        if self.break_bp < self.seq_length:
            raise InputError(f"--break {self.break_bp} must be at least -l {self.seq_length}")
        if self.seqs_per_tfr <= 0:
            raise InputError("-r seqs_per_tfr must be positive")
        if self.encoding not in ENCODINGS:
            raise InputError(f"--encoding {self.encoding!r} is not one of {ENCODINGS}")
        if not 0 <= self.compression_level <= 9:
            raise InputError("--zlib_level must be 0-9")
        if self.folds is not None and self.folds < 1:
            raise InputError("-f folds must be at least 1")


# ---------------------------------------------------------------------------------------
# Contigs and splits


def _check_bed_names(path: str, intervals: dict, sizes: dict[str, int], what: str) -> None:
    if intervals and not set(intervals) & set(sizes):
        raise InputError(
            f"{path}: no chromosome of this {what} is in the FASTA (BED names look like "
            f"{', '.join(list(intervals)[:3])}; FASTA names like {', '.join(list(sizes)[:3])});"
            " make the chromosome names agree"
        )


def define_contigs(
    sizes: dict[str, int],
    opts: DataOptions,
    peaks: dict[str, list[tuple[int, int]]] | None = None,
) -> list[Contig]:
    """Chromosomes minus gaps, limited (``--limit``, ``--peaks``), long enough, broken."""
    contigs = chromosome_contigs(sizes)
    if opts.gaps_file:
        gaps = read_bed_intervals(opts.gaps_file)
        _check_bed_names(opts.gaps_file, gaps, sizes, "gaps file")
        contigs = subtract_intervals(contigs, gaps)
    if opts.limit_bed:
        limit = read_bed_intervals(opts.limit_bed)
        _check_bed_names(opts.limit_bed, limit, sizes, "--limit BED")
        contigs = intersect_intervals(contigs, limit)
    if peaks is not None:
        _check_bed_names("--peaks", peaks, sizes, "targets' peak files")
        contigs = intersect_intervals(contigs, peaks)
    contigs = [c for c in contigs if c[2] - c[1] >= opts.target_bp]
    if not contigs:
        longest = max(sizes.values(), default=0)
        raise InputError(
            f"no contig is long enough for a {opts.target_bp}-bp target region (-l "
            f"{opts.seq_length} minus 2 x --crop {opts.crop_bp}; longest chromosome "
            f"{longest} bp, before removing gaps); use a shorter -l"
        )
    return break_large_contigs(contigs, opts.break_bp)


def divide_contigs_pct(
    contigs: list[Contig], test_pct: float, valid_pct: float, rng: np.random.RandomState
) -> list[list[Contig]]:
    """Assign contigs to train/valid/test, aiming at nucleotide fractions.

    Contigs go longest first (ties by descending chrom, start, end); each split's chance
    is its remaining nucleotide deficit, and a contig longer than 20% of the valid or test
    deficit is never put there (the original's rule, and its random draws).
    """
    ordered = sorted(contigs, key=lambda c: (c[2] - c[1], c), reverse=True)
    total = sum(c[2] - c[1] for c in ordered)
    aims = [total * (1 - valid_pct - test_pct), valid_pct * total, test_pct * total]
    nts = [0, 0, 0]
    folds: list[list[Contig]] = [[], [], []]
    for ctg in ordered:
        length = ctg[2] - ctg[1]
        gaps = [max(1, aims[0] - nts[0]), max(0, aims[1] - nts[1]), max(0, aims[2] - nts[2])]
        for fi in (1, 2):
            if length > 0.2 * gaps[fi]:
                gaps[fi] = 0
        probs = [g / sum(gaps) for g in gaps]
        fi = int(rng.choice(range(3), 1, p=probs)[0])
        folds[fi].append(ctg)
        nts[fi] += length
    return folds


def divide_contigs_folds(
    contigs: list[Contig], num_folds: int, rng: np.random.RandomState
) -> list[list[Contig]]:
    """Assign contigs (longest first) to K folds with chance ∝ each fold's deficit."""
    ordered = sorted(contigs, key=lambda c: (c[2] - c[1], c), reverse=True)
    total = sum(c[2] - c[1] for c in ordered)
    aim = int(np.ceil(total / num_folds))
    fold_nt = np.zeros(num_folds)
    folds: list[list[Contig]] = [[] for _ in range(num_folds)]
    for ctg in ordered:
        gap = np.clip(aim - fold_nt, 0, np.inf)
        fi = int(rng.choice(num_folds, p=gap / gap.sum()))
        folds[fi].append(ctg)
        fold_nt[fi] += ctg[2] - ctg[1]
    return folds


def divide_contigs_chr(
    contigs: list[Contig], test_chrs: Sequence[str], valid_chrs: Sequence[str]
) -> list[list[Contig]]:
    """Test and valid contigs by chromosome name, the rest train (contig order kept)."""
    folds: list[list[Contig]] = [[], [], []]
    for ctg in contigs:
        fi = 2 if ctg[0] in test_chrs else 1 if ctg[0] in valid_chrs else 0
        folds[fi].append(ctg)
    return folds


def split_contigs(contigs: list[Contig], genome: Genome, opts: DataOptions) -> list[list[Contig]]:
    """Contigs per split label (``opts.labels()`` order), broken pieces rejoined."""
    rng = np.random.RandomState(opts.seed)
    if opts.folds is not None:
        folds = divide_contigs_folds(contigs, opts.folds, rng)
    else:
        fractions = opts.split_fractions()
        if fractions is not None:
            test_pct, valid_pct = fractions
            if test_pct + valid_pct >= 1:
                raise InputError(f"-t {opts.test} and -v {opts.valid} leave nothing to train on")
            folds = divide_contigs_pct(contigs, test_pct, valid_pct, rng)
        else:
            test_chrs = [genome.resolve(c, "-t") for c in opts.test.split(",") if c]
            valid_chrs = [genome.resolve(c, "-v") for c in opts.valid.split(",") if c]
            folds = divide_contigs_chr(contigs, test_chrs, valid_chrs)
    folds = [rejoin_contigs(f) for f in folds]
    for label, fold in zip(opts.labels(), folds):
        if not fold:
            raise InputError(
                f"split {label!r} has no contig (contigs: {len(contigs)}, "
                f"-t {opts.test} -v {opts.valid} -f {opts.folds}); with small genomes name "
                "chromosomes with -t/-v, since a fraction split never puts a contig longer "
                "than 20% of a split's share there"
            )
    return folds


def contig_windows(
    contigs: list[Contig], length_bp: int, stride_bp: int, snap: int, label: str
) -> list[Window]:
    """Target regions of ``length_bp`` from each snapped contig start, ``stride_bp`` apart."""
    windows = []
    for chrom, ctg_start, ctg_end in contigs:
        start = int(math.ceil(ctg_start / snap) * snap)
        while start + length_bp <= ctg_end:
            windows.append((chrom, start, start + length_bp, label))
            start += stride_bp
    return windows


def define_windows(folds: list[list[Contig]], opts: DataOptions) -> list[Window]:
    """Windows of every split, each split shuffled (and sampled) with ``random.Random(seed)``.

    Returns:
        windows of all splits concatenated in ``opts.labels()`` order.
    """
    rng = random.Random(opts.seed)
    windows: list[Window] = []
    for label, fold in zip(opts.labels(), folds):
        fold_windows = contig_windows(fold, opts.target_bp, opts.stride_bp(label), opts.snap, label)
        rng.shuffle(fold_windows)
        if opts.sample_pct < 1.0:
            fold_windows = rng.sample(fold_windows, int(opts.sample_pct * len(fold_windows)))
        if not fold_windows:
            raise InputError(
                f"split {label!r} has contigs but no window of {opts.target_bp} bp fits them "
                "at this stride and --snap; use a smaller -l or stride, or other chromosomes"
            )
        windows += fold_windows
    return windows


def annotate_unmap(windows: Sequence[Window], umap_bed: str, pool_width: int) -> np.ndarray:
    """Unmappable bins of each target region.

    A bin is marked when an unmappable interval overlaps it, except that an overlap of
    less than 10% of a bin in the first or last bin an interval touches is ignored.

    Returns:
        bool [num_windows, target_length].
    """
    intervals = read_bed_intervals(umap_bed)
    target_length = (windows[0][2] - windows[0][1]) // pool_width
    unmap = np.zeros((len(windows), target_length), dtype=bool)
    for i, (chrom, start, end, _) in enumerate(windows):
        for iv_start, iv_end in intervals.get(chrom, []):
            lo, hi = max(start, iv_start), min(end, iv_end)
            if lo >= hi:
                continue
            first = (lo - start) // pool_width
            last = -(-(hi - start) // pool_width)
            if start + (first + 1) * pool_width - lo < UNMAP_MINOR_OVERLAP * pool_width:
                first += 1
            if hi - (start + (last - 1) * pool_width) < UNMAP_MINOR_OVERLAP * pool_width:
                last -= 1
            unmap[i, first:last] = True
    return unmap


# ---------------------------------------------------------------------------------------
# Running the coverage and record jobs


def _run_jobs(fn: Callable, jobs: list[dict], executor: Executor, desc: str) -> None:
    """Run ``fn(**job)`` for each job on ``executor``, with a progress bar."""
    start = time.perf_counter()
    executor.map(functools.partial(_call_with_kwargs, fn), jobs, progress=desc)
    log.info("%s: %d jobs in %.1f s", desc, len(jobs), time.perf_counter() - start)


def _call_with_kwargs(fn: Callable, job: dict):
    return fn(**job)


# ---------------------------------------------------------------------------------------
# The whole pipeline


@dataclass
class _Plan:
    """What a run writes: the windows of every split and what goes with them."""

    windows: list[Window]  # sequences.bed rows, splits in ``labels`` order
    labels: list[str]
    unmap: np.ndarray | None  # bool [num_windows, target_length] with --umap_bed
    contig_rows: list[tuple] | None  # contigs.bed rows; None when restarting


def _reuse_plan(out: Path, opts: DataOptions) -> _Plan:
    """The plan of an unfinished directory (``--restart``): its sequences.bed and mask."""
    log.info("restart: reusing %s", out / "sequences.bed")
    bed = read_sequences_bed(out)
    windows = list(bed.itertuples(index=False, name=None))
    labels = [lab for lab in opts.labels() if lab in set(bed["split"])] or opts.labels()
    unmap_npy = out / UNMAP_NPY
    unmap = np.load(unmap_npy) if unmap_npy.is_file() else None
    return _Plan(windows, labels, unmap, None)


def _drop_unmappable(
    windows: list[Window], labels: list[str], opts: DataOptions
) -> tuple[list[Window], np.ndarray]:
    """Windows with less than ``umap_t`` unmappable bins, and their unmappable-bin mask."""
    unmap = annotate_unmap(windows, opts.umap_bed, opts.pool_width)
    keep = unmap.mean(axis=1, dtype=np.float64) < opts.umap_t
    windows = [w for w, k in zip(windows, keep) if k]
    for label in labels:
        if not any(w[3] == label for w in windows):
            raise InputError(
                f"{opts.umap_bed}: every window of split {label!r} is at least "
                f"{opts.umap_t:.0%} unmappable; raise --umap_t"
            )
    return windows, unmap[keep]


def _plan(
    out: Path,
    genome: Genome,
    opts: DataOptions,
    folds: list[list[Contig]] | None,
    peaks: dict[str, list[tuple[int, int]]] | None = None,
) -> _Plan:
    """Contigs, splits and windows of a run (or those of an earlier, unfinished one)."""
    if opts.restart and (out / "sequences.bed").is_file():
        return _reuse_plan(out, opts)
    if folds is None:
        folds = split_contigs(define_contigs(genome.sizes, opts, peaks), genome, opts)
    labels = opts.labels()
    contig_rows = [c + (label,) for label, fold in zip(labels, folds) for c in fold]
    windows = define_windows(folds, opts) if not opts.split_test else []
    unmap = None
    if opts.umap_bed and windows:
        windows, unmap = _drop_unmappable(windows, labels, opts)
    return _Plan(windows, labels, unmap, contig_rows)


def _coverage_jobs(
    options: list[dict], out: Path, cov_files: list[str], opts: DataOptions
) -> list[dict]:
    """Arguments of :func:`basenji_tf.targets.read_coverage_h5` per unfinished target."""
    return [
        dict(
            cov_file=os.path.abspath(opt["file"]),
            seqs_bed=str(out / "sequences.bed"),
            out_h5=cov_files[ti],
            pool_width=opts.pool_width,
            sum_stat=opt["sum_stat"],
            clip=opt["clip"],
            clip_soft=opt["clip_soft"],
            scale=opt["scale"],
            interp=opts.interp_nan,
            blacklist_bed=opts.blacklist_bed and os.path.abspath(opts.blacklist_bed),
            allow_missing_chroms=opts.allow_missing_chroms,
        )
        for ti, opt in enumerate(options)
        if not Path(cov_files[ti]).is_file()
    ]


def _record_jobs(
    fasta_file: str, plan: _Plan, cov_files: list[str], tfr_dir: Path, opts: DataOptions
) -> list[dict]:
    """Arguments of :func:`basenji_tf.data_write.write_chunk` per unfinished TFRecord file."""
    plain_windows = [w[:3] for w in plan.windows]
    jobs = []
    for label in plan.labels:
        index = [i for i, w in enumerate(plan.windows) if w[3] == label]
        for k, first in enumerate(range(index[0], index[-1] + 1, opts.seqs_per_tfr)):
            tfr_file = tfr_dir / f"{label}-{k}.tfr"
            if tfr_file.is_file():
                continue
            jobs.append(
                dict(
                    fasta_file=fasta_file,
                    windows=plain_windows,
                    cov_files=cov_files,
                    start_i=first,
                    end_i=min(first + opts.seqs_per_tfr, index[-1] + 1),
                    out_file=str(tfr_file),
                    extend_bp=opts.crop_bp,
                    encoding=opts.encoding,
                    compression_level=opts.compression_level,
                    decimals=opts.decimals,
                    unmap=plan.unmap,
                    umap_clip=opts.umap_clip,
                    umap_tfr=opts.umap_tfr,
                )
            )
    return jobs


def _statistics(num_targets: int, plan: _Plan, opts: DataOptions) -> dict:
    """statistics.json, keys in the original's order."""
    stats = {"num_targets": num_targets, "seq_length": opts.seq_length}
    if opts.encoding == "index":
        stats["seq_1hot"] = True
    stats.update(
        pool_width=opts.pool_width,
        crop_bp=opts.crop_bp,
        target_length=opts.target_length,
    )
    stats.update({f"{lab}_seqs": sum(w[3] == lab for w in plan.windows) for lab in plan.labels})
    return stats


def make_data_dir(
    fasta_file: str,
    targets_file: str | None,
    out_dir: str,
    opts: DataOptions,
    folds: list[list[Contig]] | None = None,
) -> dict:
    """Write a complete data directory (see the module docstring).

    Args:
        fasta_file: indexed genome FASTA (plain or bgzipped).
        targets_file: targets table with ``file`` and ``sum_stat`` columns; None: stop
            after contigs.bed and sequences.bed (the split only).
        out_dir: output directory; must not exist unless ``opts.restart``.
        opts: the run's settings.
        folds: contigs of each split (``opts.labels()`` order) decided by the caller
            (the cross-species split); None: from ``opts``.

    Returns:
        the statistics.json contents (empty if ``opts.split_test`` stopped after contigs.bed).
    """
    opts.check()
    out = Path(out_dir)
    if out.exists() and not opts.restart:
        raise InputError(f"{out_dir}: output directory exists; remove it or pass --restart")
    options = read_target_options(targets_file) if targets_file else []
    for path in (opts.blacklist_bed, opts.umap_bed):
        if path and not Path(path).is_file():
            raise FileNotFoundError(f"{path}: BED file not found")
    peaks = None
    if opts.peaks_only:
        peaks = curate_peaks([o["file"] for o in options], opts.pool_width, opts.crop_bp)
    with Genome(fasta_file) as genome:
        plan = _plan(out, genome, opts, folds, peaks)
        if plan.windows:
            chroms = {w[0] for w in plan.windows}
            check_tracks(options, genome, chroms, opts.allow_missing_chroms)

    # inputs are good: from here on, files are written
    out.mkdir(parents=True, exist_ok=True)
    if plan.contig_rows is not None:
        write_bed_rows(out / "contigs.bed", plan.contig_rows)
        if opts.split_test:
            return {}
        write_bed_rows(out / "sequences.bed", plan.windows)
        if plan.unmap is not None:
            with atomic_path(out / UNMAP_NPY) as tmp:
                np.save(tmp, plan.unmap)
    if targets_file is None:
        return {f"{lab}_seqs": sum(w[3] == lab for w in plan.windows) for lab in plan.labels}
    # Jobs may run in other processes with another working directory (Dask workers).
    absolute = out.resolve()
    cov_dir, tfr_dir = absolute / "seqs_cov", absolute / "tfrecords"
    cov_dir.mkdir(exist_ok=True)
    tfr_dir.mkdir(exist_ok=True)
    cov_files = [str(cov_dir / f"{ti}.h5") for ti in range(len(options))]
    read_jobs = _coverage_jobs(options, absolute, cov_files, opts)
    write_jobs = _record_jobs(os.path.abspath(fasta_file), plan, cov_files, tfr_dir, opts)
    # Local workers are spawned (forking is unsafe once a caller has imported TensorFlow)
    # and import only numpy-level modules.
    with make_executor(opts.processes, opts.scheduler, opts.scheduler_file) as executor:
        _run_jobs(read_coverage_h5, read_jobs, executor, "coverage")
        _run_jobs(write_chunk, write_jobs, executor, "tfrecords")

    with atomic_path(out / "targets.txt") as tmp:
        shutil.copyfile(targets_file, tmp)
    stats = _statistics(len(options), plan, opts)
    write_statistics(out, stats)
    return stats
