"""Files of a simulation: FASTA, BED, GTF, targets table, BigWig tracks, VCF, effects, net.

Every file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyBigWig

from basenji_tf.dna import N_INDEX
from basenji_tf.files import atomic_path, write_text_atomic
from basenji_tf.sim.config import CHROMS, Track
from basenji_tf.sim.effects import PlantedVariant
from basenji_tf.sim.genomes import Chromosome, Gene, Segment, Site, SpeciesGenome

FASTA_LINE_BP = 60


def write_fasta(path: str | os.PathLike, chroms: Sequence[Chromosome]) -> None:
    """FASTA with 60-bp lines and its samtools-style ``.fai`` index, both atomically."""
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    fai, offset = [], 0
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        for chrom in chroms:
            header = f">{chrom.name}\n".encode()
            handle.write(header)
            offset += len(header)
            fai.append(
                f"{chrom.name}\t{chrom.length}\t{offset}\t{FASTA_LINE_BP}\t{FASTA_LINE_BP + 1}\n"
            )
            seq = letters[chrom.index]
            full = chrom.length // FASTA_LINE_BP * FASTA_LINE_BP
            lines = seq[:full].reshape(-1, FASTA_LINE_BP)
            body = np.concatenate([lines, np.full((len(lines), 1), ord("\n"), np.uint8)], axis=1)
            handle.write(body.tobytes())
            if full < chrom.length:
                handle.write(seq[full:].tobytes() + b"\n")
            offset += chrom.length + -(-chrom.length // FASTA_LINE_BP)
    write_text_atomic(f"{path}.fai", "".join(fai))


def n_runs(index: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, end) runs of N (index 4) in bp."""
    is_n = np.concatenate([[False], index == N_INDEX, [False]])
    edges = np.flatnonzero(np.diff(is_n.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _write_lines(path: str | os.PathLike, lines: Iterable[str]) -> None:
    write_text_atomic(path, "".join(line + "\n" for line in lines))


def write_gaps(path: str | os.PathLike, chroms: Sequence[Chromosome]) -> None:
    """BED of the runs of N (telomeres and assembly gaps) of every chromosome."""
    _write_lines(path, [f"{c.name}\t{s}\t{e}" for c in chroms for s, e in n_runs(c.index)])


def write_elements(path: str | os.PathLike, sites: Sequence[Site]) -> None:
    """BED6 of the planted motif sites (name ``element:motif``), by chromosome and start."""
    ordered = sorted(sites, key=lambda s: (CHROMS.index(s.chrom), s.start, s.motif))
    _write_lines(
        path,
        [f"{s.chrom}\t{s.start}\t{s.end}\t{s.element}:{s.motif}\t0\t{s.strand}" for s in ordered],
    )


def write_gtf(path: str | os.PathLike, genes: Sequence[Gene]) -> None:
    """Gene records (1-based inclusive, as GTF says) with gene_id and gene_name."""
    lines = []
    for g in sorted(genes, key=lambda g: (CHROMS.index(g.chrom), g.start, g.gene_id)):
        attrs = f'gene_id "{g.gene_id}"; gene_name "{g.gene_name}"; program "{g.program}";'
        if g.ortholog:
            attrs += f' ortholog "{g.ortholog}";'
        lines.append(
            f"{g.chrom}\tbasenji_sim\tgene\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\t{attrs}"
        )
    _write_lines(path, lines)


def write_targets(path: str | os.PathLike, tracks: Sequence[Track]) -> None:
    """Targets table in the original column order; files relative to the table's folder."""
    lines = ["index\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tdescription"]
    for i, t in enumerate(tracks):
        lines.append(
            f"{i}\t{t.identifier}\ttracks/{t.identifier}.bw\t{t.clip:g}\t{t.clip_soft:g}"
            f"\t{t.scale:g}\t{t.sum_stat}\t{t.description}"
        )
    _write_lines(path, lines)


def _bigwig_entries(values: np.ndarray) -> tuple[list[int], list[int], list[float]]:
    """Run-length encode per-bp values as bedGraph-like (start, end, value) entries."""
    change = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(values)]])
    return starts.tolist(), ends.tolist(), values[starts].astype(np.float64).tolist()


@contextlib.contextmanager
def track_bigwigs(
    folder: str | os.PathLike, tracks: Sequence[Track], sizes: dict[str, int]
) -> Iterator[Callable[[str, np.ndarray], None]]:
    """One BigWig per track, ``folder/<identifier>.bw``, each renamed into place when complete.

    Args:
        folder: output folder.
        tracks: the tracks, in the column order of the values added.
        sizes: chromosome lengths (bp) for the header, in the order chromosomes are added.

    Yields:
        ``add(chrom, values)``, which appends float32 [L, num_tracks] per-bp coverage of one
        chromosome to every track's file.
    """
    with contextlib.ExitStack() as stack:
        handles = []
        for track in tracks:
            tmp = stack.enter_context(atomic_path(Path(folder) / f"{track.identifier}.bw"))
            bw = pyBigWig.open(tmp, "w")
            bw.addHeader(list(sizes.items()))
            handles.append(bw)

        def add(chrom: str, values: np.ndarray) -> None:
            for ti, bw in enumerate(handles):
                starts, ends, entries = _bigwig_entries(values[:, ti])
                bw.addEntries([chrom] * len(starts), starts, ends=ends, values=entries)

        yield add
        for bw in handles:
            bw.close()


def write_vcf(
    path: str | os.PathLike, variants: Sequence[PlantedVariant], sizes: dict[str, int]
) -> None:
    """VCF 4.2 with contig lines; INFO CLASS and MOTIF; POS 1-based as VCF says."""
    lines = ["##fileformat=VCFv4.2", "##source=basenji_sim", "##reference=genome.fa"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in sizes.items()]
    lines += [
        '##INFO=<ID=CLASS,Number=1,Type=String,Description="motif_break, motif_create or neutral">',
        '##INFO=<ID=MOTIF,Number=1,Type=String,Description="Most affected motif (. if none)">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for v in variants:
        lines.append(
            f"{v.chrom}\t{v.pos}\t{v.vid}\t{v.ref}\t{v.alt}\t.\tPASS"
            f"\tCLASS={v.vclass};MOTIF={v.motif}"
        )
    _write_lines(path, lines)


def write_effects(
    path: str | os.PathLike, variants: Sequence[PlantedVariant], tracks: Sequence[Track]
) -> None:
    """The true-effects table: variant columns, then one column per track identifier."""
    header = ["id", "chrom", "pos", "ref", "alt", "class"] + [t.identifier for t in tracks]
    lines = ["\t".join(header)]
    for v in variants:
        fields = [v.vid, v.chrom, str(v.pos), v.ref, v.alt, v.vclass]
        # 4 decimals of coverage x bp: smaller differences come from the tails of the
        # occupancy sigmoid and FFT round-off (adding 0.0 turns -0.0 into 0.0).
        lines.append("\t".join(fields + [f"{round(e, 4) + 0.0:.4f}" for e in v.effects]))
    _write_lines(path, lines)


def write_net(path: str | os.PathLike, human: SpeciesGenome, segments: Sequence[Segment]) -> None:
    """UCSC net text: per human chromosome, top-level fills with nested gaps.

    Query (mouse) starts are 0-based on the forward strand for both strands, which is
    how basenji_data_align.py reads them.
    """
    lines, fill_id = [], 0
    for chrom in human.chroms:
        lines.append(f"net {chrom.name} {chrom.length}")
        for s in sorted(
            (s for s in segments if s.orthologous and s.chrom == chrom.name), key=lambda s: s.start
        ):
            fill_id += 1
            aligned = sum(size for _, _, size in s.blocks)
            lines.append(
                f" fill {s.start} {s.end - s.start} {s.q_chrom} {s.strand} {s.q_start} "
                f"{s.q_size} id {fill_id} score {aligned} ali {aligned}"
            )
            for t, human_bp, offset, mouse_bp in s.gaps:
                q0, _ = s.q_interval(offset, mouse_bp)
                lines.append(f"  gap {t} {human_bp} {s.q_chrom} {s.strand} {q0} {mouse_bp}")
    _write_lines(path, lines)
