"""Attribution of each VCF variant's REF and ALT windows (``basenji_grad_vcf.py``).

For every SNV (or same-length substitution) of a VCF, the model window centred on it
(:func:`basenji_tf.scoring.vcf.variant_windows`: the variant's first base at index
``L/2 - 1``, as basenji_sad.py) is attributed with REF and with ALT by
:func:`basenji_tf.interpret.attribution.attribute`, the objective the same for both: the
predictions summed over the chosen targets and bins (default: the bin holding the
variant, :func:`basenji_tf.scoring.grad.objective_bins`). The difference ALT - REF of the
contributions, summed over bases, shows where the allele changes what the model reads.

Both alleles are explained against the *same* references: REF's dinucleotide shuffles
(:func:`~basenji_tf.interpret.attribution.shuffled_references`), so ALT's equal what
``attribute`` would give REF, and the difference away from the variant is the model's
response to the allele, not a second random draw.

Only a ``window``-bp slice of each model window around the variant is kept (the variant
at index ``window/2 - 1`` of it), to keep files small; shard tasks
(:func:`grad_vcf_task`) cover ranges of variants and their files merge into the bytes a
single run writes.

Differences from the other variant commands: indels are refused (their REF and ALT
windows are length-normalised around the centre, so their flanks do not line up base for
base and a difference track would compare unrelated bases); a REF matching neither the
genome nor an ALT is an error, not a skipped row.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from basenji_tf import seqnn
from basenji_tf.dna import hot1_shift
from basenji_tf.errors import InputError
from basenji_tf.execute import Executor
from basenji_tf.files import atomic_h5, read_h5
from basenji_tf.genome import Genome
from basenji_tf.interpret.attribution import Attributions, attribute, shuffled_references
from basenji_tf.params import read_params
from basenji_tf.progress import track
from basenji_tf.scoring.bed import Region, Site
from basenji_tf.scoring.grad import GradOptions, objective_bins
from basenji_tf.scoring.grad_vcf_plot import write_variant_plots
from basenji_tf.scoring.shards import check_shardable, run_shards, shard_ranges
from basenji_tf.scoring.vcf import Variant, VcfCounts, read_vcf, ref_window_start, variant_windows
from basenji_tf.textio import display_name

log = logging.getLogger(__name__)

WINDOW = 1000
"""Default bp of each model window kept around the variant (``--window``)."""

ALLELE_ARRAYS = ("seqs", "contributions", "hypothetical")
"""Per-allele datasets of scores.h5, each ``ref_<name>`` and ``alt_<name>`` [V, W, 4]."""


def read_snvs(
    vcf_file: str, genome: Genome, row_range: tuple[int, int] | None = None
) -> list[Variant]:
    """The VCF's ALT alleles (one row each), refusing indels and REF mismatches.

    Args:
        vcf_file: VCF (text, gzip/bgzip, BCF) or ``-``.
        genome: chromosome names resolve to the FASTA's (``chr`` added or removed).
        row_range: only rows ``[first, last)`` (a shard), counted over ALT alleles.

    Raises:
        InputError: a chromosome absent from the FASTA, a bad record, an indel, or a REF
            that matches neither the genome nor an ALT.
    """
    counts = VcfCounts()
    variants = list(read_vcf(vcf_file, genome, counts))
    for v in variants:
        where = f"{display_name(vcf_file)}: line {v.line} {v.id}"
        if not v.is_snv:
            raise InputError(
                f"{where}: {v.ref}>{v.alt} is an indel; basenji_grad_vcf.py attributes SNVs "
                "only: drop indels from the VCF (bcftools view -V indels) or score them with "
                "basenji_sad.py"
            )
        # as variant_windows checks it (an ALT in the genome: REF is put in), before the
        # model loads
        allele = genome.fetch(v.chrom, v.pos - 1, v.pos - 1 + len(v.ref))
        if allele != v.ref and allele not in v.site_alts:
            raise InputError(
                f"{where}: REF {v.ref} does not match the genome ({allele}) at "
                f"{v.chrom}:{v.pos}; check the genome build of the VCF and the FASTA, or "
                "remove the record"
            )
    log.info("%s", counts.summary())
    first, last = row_range or (0, None)
    return variants[first:last]


def slice_bounds(seq_length: int, window: int) -> tuple[int, int]:
    """(offset, width) of the kept slice of an ``L``-bp window.

    The variant's first base (window index ``L/2 - 1``) is at ``(width - 1) // 2`` of the
    slice (``width/2 - 1`` for an even width, as in the window); ``window`` of at least
    ``L`` keeps the whole window.
    """
    width = min(window, seq_length)
    return seq_length // 2 - 1 - (width - 1) // 2, width


def variant_sites(variants: Sequence[Variant], seq_length: int) -> list[Site]:
    """Each variant's model window and REF span as a :class:`Site` (for objective bins)."""
    sites = []
    for v in variants:
        start = ref_window_start(v, seq_length)
        window = Region(v.chrom, start, start + seq_length, "+", v.id)
        sites.append(Site(window, v.pos - 1, v.pos - 1 + len(v.ref)))
    return sites


def needs_references(options: GradOptions) -> bool:
    """Whether the method reads shuffled references."""
    return options.method in ("deepshap", "expected_gradients") or (
        options.method == "integrated_gradients" and options.baseline == "shuffle"
    )


@dataclass(frozen=True)
class GradVcfTask:
    """One :func:`grad_vcf_task`: a VCF's variants, or a shard of them.

    Attributes:
        window: bp kept around each variant (:func:`slice_bounds`).
        shifts: input shifts (bp) whose attributions, shifted back, are averaged.
        row_range: only variant rows ``[first, last)`` (a shard; None: all).
    """

    params_file: str
    model_file: str
    fasta: str
    vcf_file: str
    out_dir: str
    options: GradOptions
    head: int = 0
    batch_size: int = 4
    precision: str = "float32"
    window: int = WINDOW
    shifts: tuple[int, ...] = (0,)
    row_range: tuple[int, int] | None = None


def attribute_alleles(
    head: seqnn.Head,
    ref: np.ndarray,
    alt: np.ndarray,
    bins: np.ndarray,
    options: GradOptions,
    batch_size: int,
    shifts: Sequence[int] = (0,),
) -> tuple[Attributions, Attributions]:
    """Attributions of REF and ALT windows [n, L, 4] against REF's references.

    Args:
        head: the model head.
        ref: REF one-hot windows [n, L, 4] (N = 0.25 per channel).
        alt: ALT windows, the same shape.
        bins: int64 [n, 2] objective bins of each pair.
        options: method and objective.
        batch_size: sequences per model call (fixed shape).
        shifts: bp; each shift's attributions of the shifted windows (references shifted
            alike, bins kept) are shifted back, with zeros where bases left the window,
            and averaged.

    Returns:
        (REF, ALT) :class:`Attributions` of [n, L, 4]; ``delta_violation`` the worst over
        shifts.
    """
    refs = None
    if needs_references(options):
        refs = np.stack([shuffled_references(r, options.references, options.seed) for r in ref])
    alleles = []
    for seqs in (ref, alt):
        parts = []
        for shift in shifts:
            shifted_refs = options.references if refs is None else hot1_shift(refs, shift)
            a = attribute(
                head.model, hot1_shift(seqs, shift), options.method, options.targets, bins,
                options.rc, batch_size, shifted_refs, options.steps, options.seed,
                options.baseline, head.strand_pair,
            )  # fmt: skip
            parts.append(a)
        alleles.append(_mean_unshifted(parts, shifts))
    return alleles[0], alleles[1]


def _mean_unshifted(parts: list[Attributions], shifts: Sequence[int]) -> Attributions:
    if len(parts) == 1 and shifts[0] == 0:
        return parts[0]
    contributions = np.mean([hot1_shift(a.contributions, -s) for a, s in zip(parts, shifts)], 0)
    hypothetical = np.mean([hot1_shift(a.hypothetical, -s) for a, s in zip(parts, shifts)], 0)
    violation = None
    if parts[0].delta_violation is not None:
        violation = np.max([a.delta_violation for a in parts], axis=0)
    return Attributions(contributions.astype(np.float32), hypothetical.astype(np.float32),
                        violation)  # fmt: skip


def _attribute_variants(task: GradVcfTask) -> dict[str, np.ndarray]:
    """The scores.h5 datasets of a task's variants (:func:`write_grad_vcf_h5`)."""
    with Genome(task.fasta) as genome:
        variants = read_snvs(task.vcf_file, genome, task.row_range)  # its errors come first
        head = seqnn.load(
            task.params_file, task.model_file, task.head, augment=False, precision=task.precision
        ).head
        sites = variant_sites(variants, head.seq_length)
        bins = objective_bins(task.options, sites, head)
        offset, width = slice_bounds(head.seq_length, task.window)
        kept = slice(offset, offset + width)
        out = {f"{a}_{n}": [] for a in ("ref", "alt") for n in ALLELE_ARRAYS}
        violations = {"ref": [], "alt": []}
        chunks = range(0, len(variants), task.batch_size)
        for c0 in track(chunks, desc="variants", unit="batches"):
            chunk = variants[c0 : c0 + task.batch_size]
            windows = [variant_windows(genome, v, head.seq_length, strict=True) for v in chunk]
            seqs = {
                "ref": np.stack([w[0] for w in windows]),
                "alt": np.stack([w[1] for w in windows]),
            }
            attrs = dict(zip(("ref", "alt"), attribute_alleles(
                head, seqs["ref"], seqs["alt"], bins[c0 : c0 + len(chunk)], task.options,
                task.batch_size, task.shifts,
            )))  # fmt: skip
            for allele, a in attrs.items():
                out[f"{allele}_seqs"].append(seqs[allele][:, kept] == 1)
                out[f"{allele}_contributions"].append(a.contributions[:, kept])
                out[f"{allele}_hypothetical"].append(a.hypothetical[:, kept])
                if a.delta_violation is not None:
                    violations[allele].append(a.delta_violation)
    arrays = {
        key: np.concatenate(v) if v else np.zeros((0, width, 4), np.float32)
        for key, v in out.items()
    }
    arrays["ref_seqs"] = arrays["ref_seqs"].astype(bool)
    arrays["alt_seqs"] = arrays["alt_seqs"].astype(bool)
    for allele, parts in violations.items():
        if parts:
            arrays[f"{allele}_delta_violation"] = np.concatenate(parts).astype(np.float32)
    arrays.update(_variant_columns(variants, sites, bins))
    return arrays


def _variant_columns(
    variants: Sequence[Variant], sites: Sequence[Site], bins: np.ndarray
) -> dict[str, np.ndarray]:
    return {
        "id": np.array([v.id for v in variants], dtype="S"),
        "chr": np.array([v.chrom for v in variants], dtype="S"),
        "pos": np.array([v.pos for v in variants], np.int64),
        "ref": np.array([v.ref for v in variants], dtype="S"),
        "alt": np.array([v.alt for v in variants], dtype="S"),
        "start": np.array([s.window.start for s in sites], np.int64),
        "bin_start": np.asarray(bins[:, 0], np.int64).reshape(-1),
        "bin_end": np.asarray(bins[:, 1], np.int64).reshape(-1),
    }


def write_grad_vcf_h5(path: str, arrays: dict[str, np.ndarray], attrs: dict[str, object]) -> None:
    """Write a basenji_grad_vcf.py scores.h5 (docs/interpretation.md, "Variants").

    ``arrays``: :data:`ALLELE_ARRAYS` per allele (``ref_seqs``/``alt_seqs`` bool, the rest
    float32 [V, W, 4]), the variant columns, optional ``{ref,alt}_delta_violation``
    float32 [V]; ``diff`` float32 [V, W] (ALT - REF contributions summed over bases) is
    computed here. ``attrs`` become file attributes.
    """
    diff = arrays["alt_contributions"].sum(-1, dtype=np.float32) - arrays["ref_contributions"].sum(
        -1, dtype=np.float32
    )
    with atomic_h5(path) as h5:
        for key in sorted(arrays):  # one order, so a merge of shards writes the same bytes
            values = arrays[key]
            if key.endswith("_seqs"):
                values = values.astype(bool)
            elif values.dtype.kind == "f":
                values = values.astype(np.float32)
            h5.create_dataset(key, data=values)
        h5.create_dataset("diff", data=diff)
        for key, value in attrs.items():
            h5.attrs[key] = value


def read_grad_vcf_h5(path: str) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """(datasets, attributes) of a basenji_grad_vcf.py scores.h5 (``diff`` included).

    Raises:
        InputError: not such a file.
    """
    with read_h5(path, "variant attribution scores file") as h5:
        if "ref_contributions" not in h5 or "diff" not in h5:
            raise InputError(
                f"{path}: no ref_contributions or diff dataset; give a scores.h5 of "
                "basenji_grad_vcf.py"
            )
        return {key: h5[key][()] for key in h5}, dict(h5.attrs)


def _file_attrs(task: GradVcfTask, seq_length: int) -> dict[str, object]:
    offset, width = slice_bounds(seq_length, task.window)
    attrs = task.options.settings()
    attrs.update(seq_length=seq_length, offset=offset, window=width, center=(width - 1) // 2,
                 shifts=np.array(task.shifts, np.int64))  # fmt: skip
    return attrs


def grad_vcf_task(task: GradVcfTask) -> str:
    """Attribute a shard's variants into ``scores.h5`` in its directory; returns its path."""
    seq_length = _seq_length(task.params_file)
    out_file = os.path.join(task.out_dir, "scores.h5")
    write_grad_vcf_h5(out_file, _attribute_variants(task), _file_attrs(task, seq_length))
    return out_file


def _seq_length(params_file: str) -> int:
    return int(read_params(params_file)["model"]["seq_length"])


def run_grad_vcf(
    task: GradVcfTask,
    plots: bool = True,
    shards: int | None = None,
    executor: Executor | None = None,
    keep_shards: bool = False,
) -> str:
    """Attribute every variant of ``task.vcf_file``; write ``task.out_dir/scores.h5``.

    Args:
        task: the run (``row_range`` ignored).
        plots: also write ``task.out_dir/plots/<id>.png`` per variant
            (:func:`~basenji_tf.scoring.grad_vcf_plot.write_variant_plots`).
        shards: split the variants into this many shard tasks (``job{i}``), cut at
            multiples of ``batch_size``, run on ``executor`` and merged: the result equals
            a single run byte for byte. None: this process.
        executor: where shard tasks run (default: local processes).
        keep_shards: keep the ``job{i}`` directories.

    Returns:
        the scores.h5 path.
    """
    out_file = os.path.join(task.out_dir, "scores.h5")
    ranges = []
    if shards is not None:
        check_shardable(task.vcf_file, "the VCF")
        with Genome(task.fasta) as genome:
            ranges = shard_ranges(len(read_snvs(task.vcf_file, genome)), shards, task.batch_size)
    if not ranges:
        grad_vcf_task(dataclasses.replace(task, row_range=None))
    else:
        task = dataclasses.replace(
            task,
            params_file=os.path.abspath(task.params_file),
            model_file=os.path.abspath(task.model_file),
            fasta=os.path.abspath(task.fasta),
            vcf_file=os.path.abspath(task.vcf_file),
        )

        def make_task(job_dir: str, shard: tuple[int, int]) -> GradVcfTask:
            return dataclasses.replace(task, out_dir=job_dir, row_range=shard)

        def merge(job_files: list[str]) -> None:
            parts = [read_grad_vcf_h5(job)[0] for job in job_files]
            joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "diff"}
            write_grad_vcf_h5(out_file, joined, _file_attrs(task, _seq_length(task.params_file)))
            log.info("merged %d shards into %s", len(job_files), out_file)

        run_shards(grad_vcf_task, make_task, ranges, task.out_dir, merge, executor, keep_shards)
    if plots:
        arrays, attrs = read_grad_vcf_h5(out_file)
        write_variant_plots(
            os.path.join(task.out_dir, "plots"), arrays, int(attrs["center"]), str(attrs["method"])
        )
    return out_file
