"""basenji_data_align.py: the cross-species split on a generated two-genome case."""

import numpy as np
import pyBigWig
import pysam
import pytest

from basenji_tf.cli.basenji_data_align import main
from basenji_tf.data_align import align_components, divide_components, read_net_fills
from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError
from basenji_tf.tfrecords import read_statistics

SIZES = [
    {"h1": 40000, "h2": 40000, "h3": 40000, "h4": 30000},
    {"m1": 30000, "m2": 40000, "m3": 40000},
]
NET = """net h1 40000
 fill 0 20000 m1 + 0 20000 id 1 score 100 ali 19000
  gap 5000 100 m1 + 5000 90
   fill 5020 50 m3 - 100 50 id 2 score 10 ali 50
net h2 40000
 fill 5000 10000 m2 + 25000 10000 id 3 score 50 ali 9000
net h3 40000
 fill 30000 8000 m2 - 0 8000 id 4 score 40 ali 7000
"""


def _genome(tmp_path, name, sizes, rng):
    fasta = tmp_path / f"{name}.fa"
    with open(fasta, "w") as out:
        for chrom, size in sizes.items():
            out.write(f">{chrom}\n{''.join(rng.choice(list('ACGT'), size))}\n")
    pysam.faidx(str(fasta))
    bw_file = tmp_path / f"{name}.bw"
    bw = pyBigWig.open(str(bw_file), "w")
    bw.addHeader(list(sizes.items()))
    for chrom, size in sizes.items():
        starts = list(range(0, size, 100))
        bw.addEntries(
            chrom, starts[0], values=rng.gamma(1, 2, len(starts)).tolist(), span=100, step=100
        )
    bw.close()
    table = tmp_path / f"{name}_targets.txt"
    table.write_text(
        f"index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n"
        f"0\t{name}0\t{bw_file}\t32\t1\tsum\ttrack\n"
    )
    return str(fasta), str(table)


@pytest.fixture(scope="module")
def aligned(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("align")
    rng = np.random.default_rng(3)
    (f0, t0), (f1, t1) = _genome(tmp, "human", SIZES[0], rng), _genome(tmp, "mouse", SIZES[1], rng)
    net = tmp / "human_mouse.net"
    net.write_text(NET)
    args = [
        "-l",
        "4096",
        "-w",
        "64",
        "--crop",
        "512",
        "--break",
        "10000",
        "--stride",
        "2048",
        "-t",
        "0.25",
        "-v",
        "0.25",
        "-r",
        "16",
        "-a",
        "human,mouse",
        "--nf",
        "0",
        "--no",
        "0",
        "-o",
        str(tmp / "out"),
        str(net),
        f"{f0},{f1}",
        f"{t0},{t1}",
    ]
    assert main(args) == 0
    return tmp


def _contig_labels(path):
    return [(c, int(s), int(e), lab) for c, s, e, lab in (line.split() for line in open(path))]


def test_aligned_contigs_share_a_split(aligned):
    human = _contig_labels(aligned / "out" / "human" / "contigs.bed")
    mouse = _contig_labels(aligned / "out" / "mouse" / "contigs.bed")
    assert {lab for *_, lab in human} == {lab for *_, lab in mouse} == {"train", "valid", "test"}
    for t_chrom, t_start, t_end, q_chrom, q_start, q_end in read_net_fills(
        aligned / "human_mouse.net"
    ):
        labels = {lab for c, s, e, lab in human if c == t_chrom and s < t_end and t_start < e}
        labels |= {lab for c, s, e, lab in mouse if c == q_chrom and s < q_end and q_start < e}
        assert len(labels) == 1, (t_chrom, t_start, q_chrom, q_start, labels)


@pytest.mark.slow
def test_both_directories_are_complete(aligned):
    for genome in ("human", "mouse"):
        data_dir = aligned / "out" / genome
        stats = read_statistics(data_dir)
        assert stats["target_length"] == 48 and stats["seq_length"] == 4096
        seqs = 0
        for split in ("train", "valid", "test"):
            data = SeqDataset(data_dir, split, 8)
            x, y = data.numpy(return_inputs=True)
            assert len(x) == stats[f"{split}_seqs"] > 0 and y.shape[1:] == (48, 1)
            seqs += len(x)
        assert seqs == len(open(data_dir / "sequences.bed").readlines())


def test_components_follow_the_net():
    contigs0 = [("h1", 0, 10000), ("h1", 10000, 20000), ("h2", 0, 10000), ("h3", 0, 10000)]
    contigs1 = [("m1", 0, 10000), ("m2", 0, 10000), ("m3", 0, 5000)]
    fills = [
        ("h1", 9000, 11000, "m1", 0, 2000),
        ("h2", 0, 100, "m2", 0, 100),
        ("h3", 0, 100, "m2", 9000, 9100),
    ]
    comps = align_components(contigs0, contigs1, fills)
    assert comps == [([0, 1], [0]), ([2, 3], [1]), ([], [2])]
    sizes = list(range(400, 100, -3))
    splits = divide_components(sizes, [0.5, 0.3, 0.2], np.random.RandomState(0))
    assert splits == divide_components(sizes, [0.5, 0.3, 0.2], np.random.RandomState(0))
    share = np.bincount(splits, weights=sizes) / sum(sizes)
    # a split stops receiving once it reaches its share, so none overshoots by an item
    assert (share - [0.5, 0.3, 0.2] < max(sizes) / sum(sizes)).all()


def test_chromosome_lists_are_refused(aligned, capsys):
    args = [
        "-t",
        "h1",
        "-v",
        "h2",
        "-l",
        "4096",
        "--break",
        "10000",
        "-o",
        str(aligned / "x"),
        str(aligned / "human_mouse.net"),
        "a.fa,b.fa",
        "a.txt,b.txt",
    ]
    assert main(args) == 1
    assert "needs fractions" in capsys.readouterr().err
    (aligned / "empty.net").write_text("net h1 100\n")
    with pytest.raises(InputError, match="no 'fill' lines"):
        list(read_net_fills(aligned / "empty.net"))
    # a net of other assemblies: its names match neither genome
    (aligned / "other.net").write_text("net chr1 100\n fill 0 50 chr2 + 0 50 id 1\n")
    args = [
        "-t",
        "0.25",
        "-v",
        "0.25",
        "-l",
        "4096",
        "--break",
        "10000",
        "-o",
        str(aligned / "x"),
        str(aligned / "other.net"),
        f"{aligned / 'human.fa'},{aligned / 'mouse.fa'}",
        f"{aligned / 'human_targets.txt'},{aligned / 'mouse_targets.txt'}",
    ]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert (
        "other.net: no alignment links contigs of the two genomes "
        "(names like h1, h2, h3 and m1, m2, m3)" in err
    )
    assert not (aligned / "x").exists()


def test_original_two_argument_form_writes_the_same_split(aligned):
    """``<net> <fa0,fa1>`` alone, as the original: contigs.bed and sequences.bed per genome."""
    fastas = f"{aligned / 'human.fa'},{aligned / 'mouse.fa'}"
    options = ["-l", "4096", "-w", "64", "--crop", "512", "--break", "10000",
               "--stride", "2048", "-t", "0.25", "-v", "0.25", "-r", "16", "--nf", "0",
               "--no", "0"]  # fmt: skip
    out = aligned / "two"
    net = str(aligned / "human_mouse.net")
    assert main([*options, "-a", "human,mouse", "-o", str(out), net, fastas]) == 0
    for genome in ("human", "mouse"):
        assert sorted(p.name for p in (out / genome).iterdir()) == ["contigs.bed", "sequences.bed"]
        for name in ("contigs.bed", "sequences.bed"):
            full = aligned / "out" / genome / name
            assert (out / genome / name).read_text() == full.read_text(), (genome, name)
        # the original's windows: seq_length - 2 * crop bp, inside a contig of their split
        contigs = _contig_labels(out / genome / "contigs.bed")
        for chrom, start, end, label in _contig_labels(out / genome / "sequences.bed"):
            assert end - start == 4096 - 2 * 512
            assert any(
                c == chrom and s <= start and end <= e and lab == label for c, s, e, lab in contigs
            )
    # the original's default labels
    assert main([*options, "-o", str(aligned / "default"), net, fastas]) == 0
    assert sorted(p.name for p in (aligned / "default").iterdir()) == ["genome1", "genome2"]
