"""Genome FASTA access through pysam: padded fetches and chromosome-name checks.

Coordinates are 0-based, half-open, in bp, like BED and pysam.
"""

from __future__ import annotations

import os
from pathlib import Path

import pysam

from basenji_tf.errors import InputError


class Genome:
    """An indexed FASTA (plain or bgzipped) with N-padded fetches.

    Args:
        fasta_file: path to the FASTA; a missing ``.fai`` index is built next to it.
    """

    def __init__(self, fasta_file: str | os.PathLike):
        self.path = str(fasta_file)
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"{self.path}: FASTA file not found")
        try:
            self._fasta = pysam.FastaFile(self.path)
        except (OSError, ValueError) as err:
            raise InputError(
                f"{self.path}: cannot open as an indexed FASTA ({err}); "
                "check the file, or index it with `samtools faidx`"
            ) from err
        self.sizes: dict[str, int] = dict(zip(self._fasta.references, self._fasta.lengths))

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self):
        # pysam handles cannot be pickled; worker processes reopen the file.
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def resolve(self, chrom: str, source: str = "input") -> str:
        """Map a chromosome name onto this FASTA's naming, adding or removing ``chr``.

        Raises:
            InputError: the name is unknown in either form; the message shows examples
                of the FASTA's names so a naming mismatch is obvious.
        """
        if chrom in self.sizes:
            return chrom
        alternative = chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"
        if alternative in self.sizes:
            return alternative
        examples = ", ".join(list(self.sizes)[:4])
        raise InputError(
            f"{source}: chromosome {chrom!r} is not in {self.path} (its names look like "
            f"{examples}); make the chromosome names of the two files agree"
        )

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Upper-case sequence of [start, end), with N where it runs off the chromosome.

        Args:
            chrom: a name of this FASTA.
            start, end: 0-based half-open bp; may lie outside the chromosome.

        Returns:
            a string of exactly ``end - start`` characters.
        """
        size = self.sizes[chrom]
        left_pad = max(0, -start)
        right_pad = max(0, end - size)
        inner = ""
        if min(end, size) > max(start, 0):
            inner = self._fasta.fetch(chrom, max(start, 0), min(end, size))
        return ("N" * left_pad + inner + "N" * right_pad).upper()


def read_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Read a ``chrom<TAB>length`` table (UCSC .genome / .chrom.sizes, or a .fai)."""
    sizes: dict[str, int] = {}
    with open(path) as handle:
        for line_no, line in enumerate(handle, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            try:
                sizes[fields[0]] = int(fields[1])
            except (IndexError, ValueError):
                raise InputError(
                    f"{path}:{line_no}: expected 'chrom length', got {line.strip()!r}"
                ) from None
    return sizes


def read_gtf_tss(gtf_file: str | os.PathLike, feature: str = "gene") -> list[dict]:
    """Transcription start sites of the ``feature`` records of a GTF.

    Args:
        gtf_file: GTF (plain text); 1-based inclusive coordinates as the format says.
        feature: third-column value to keep ('gene' or 'transcript').

    Returns:
        one dict per record, in file order: ``gene_id``, ``gene_name`` (gene_id if absent),
        ``chrom``, ``strand``, ``tss`` (0-based bp of the first transcribed base: start-1 on
        '+', end-1 on '-').
    """
    records = []
    with open(gtf_file) as handle:
        for line_no, line in enumerate(handle, 1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 9:
                raise InputError(f"{gtf_file}:{line_no}: a GTF line has 9 tab-separated columns")
            if fields[2] != feature:
                continue
            attrs = dict(
                (part.strip().split(" ", 1) + [""])[:2]
                for part in fields[8].split(";")
                if part.strip()
            )
            attrs = {k: v.strip('"') for k, v in attrs.items()}
            if "gene_id" not in attrs:
                raise InputError(f"{gtf_file}:{line_no}: record without a gene_id attribute")
            start, end, strand = int(fields[3]), int(fields[4]), fields[6]
            records.append(
                {
                    "gene_id": attrs["gene_id"],
                    "gene_name": attrs.get("gene_name", attrs["gene_id"]),
                    "chrom": fields[0],
                    "strand": strand,
                    "tss": end - 1 if strand == "-" else start - 1,
                }
            )
    return records
