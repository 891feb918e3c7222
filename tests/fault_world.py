"""Valid inputs for every command, written once, for the fault matrix (test_fault_matrix.py).

`build_world(root)` writes a small, consistent set of inputs (genome, model, VCF, BED, GTF,
data directories, a BAM, ...) under `root` and returns their paths by name; the matrix runs
each command on them with one input or option spoiled at a time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pysam
from test_legacy import write_2018_hdf5
from test_train import TINY_PARAMS, write_data_dir, write_params

CHROM = "chrG"
CHROM_BP = 131072


def build_world(root: Path, reference_dir: Path) -> dict[str, Path]:
    """Write the inputs under `root`; returns name -> path."""
    from basenji_tf import seqnn

    world: dict[str, Path] = {}
    sad = reference_dir / "sad_small"
    small = reference_dir / "basenji2_small"
    for name, source in {
        "fasta": sad / "gata4_locus.fa",
        "fai": sad / "gata4_locus.fa.fai",
        "params": small / "params.json",
        "model": small / "model0_best.h5",
        "vcf": sad / "snps.vcf",
        "targets": sad / "targets_sad.txt",
        "sad_h5": sad / "sad_out" / "sad.h5",
        "params_txt": reference_dir / "basenji_published" / "genome_research2018_params.txt",
    }.items():
        world[name] = root / "in" / source.name
        world[name].parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, world[name])

    data_inputs = root / "data_inputs"
    shutil.copytree(reference_dir / "basenji_data_small" / "inputs", data_inputs / "inputs")
    world["data_fasta"] = data_inputs / "inputs" / "genome.fa"
    world["data_targets"] = data_inputs / "inputs" / "targets.txt"
    # Name the BigWigs beside the table (resolved there), so a copy of the folder works.
    table = world["data_targets"].read_text().replace("inputs/", "")
    world["data_targets"].write_text(table)
    world["data_bigwig"] = data_inputs / "inputs" / "t0_smooth.bw"

    world["bed"] = _write(root / "in" / "regions.bed", "chrG\t60000\t60010\tr1\t0\t+\n")
    world["gtf"] = _write(
        root / "in" / "genes.gtf",
        'chrG\ttest\tgene\t74000\t76000\t.\t+\t.\tgene_id "G1"; gene_name "GENE1";\n',
    )
    world["tss_bed"] = _write(root / "in" / "tss.bed", "chrG\t74000\t74001\tG1\t0\t+\n")
    world["bam"] = _write_bam(root / "in" / "reads.bam")
    world["legacy_h5"] = root / "in" / "legacy.h5"
    write_2018_hdf5(world["legacy_h5"])

    tiny = root / "tiny"
    world["tiny_data"] = write_data_dir(tiny / "data")
    world["tiny_params"] = write_params(tiny / "params.json")
    world["tiny_model"] = tiny / "model.h5"
    seqnn.SeqNN(TINY_PARAMS["model"]).save(world["tiny_model"], head_i=0)
    return world


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _write_bam(path: Path) -> Path:
    """A sorted, indexed BAM of 200 single-end 50 bp reads on chrG."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": CHROM, "LN": CHROM_BP}]}
    starts = np.sort(np.random.default_rng(0).integers(1000, CHROM_BP - 1000, size=200))
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i, start in enumerate(starts):
            read = pysam.AlignedSegment()
            read.query_name = f"r{i}"
            read.query_sequence = "A" * 50
            read.flag = 16 if i % 2 else 0
            read.reference_id = 0
            read.reference_start = int(start)
            read.mapping_quality = 60
            read.cigartuples = [(0, 50)]
            read.query_qualities = pysam.qualitystring_to_array("I" * 50)
            read.set_tag("NH", 1)
            out.write(read)
    pysam.index(str(path))
    return path
