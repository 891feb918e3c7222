"""bam: alignments -> coverage tracks (bam_cov.py): events, EM, clipping, GC, CRAM, errors."""

import csv

import h5py
import numpy as np
import pyBigWig
import pysam
import pytest

from basenji_tf.bam_reads import CoverageOptions, learn_shift_single, read_alignments
from basenji_tf.cli.bam_cov import build_parser, main

CHROM_LEN = 10_000


def _read(name, start, length=10, reverse=False, nh=1, pair=None, tlen=0, mate=0, secondary=False):
    read = pysam.AlignedSegment()
    read.query_name = name
    read.reference_id = 0
    read.reference_start = start
    read.cigarstring = f"{length}M"
    read.query_sequence = "A" * length
    read.query_qualities = pysam.qualitystring_to_array("I" * length)
    read.mapping_quality = 30
    flag = (16 if reverse else 0) | (256 if secondary else 0)
    if pair is not None:
        flag |= 1 | 2 | (64 if pair == 1 else 128) | (0 if reverse else 32)
        read.next_reference_id = 0
        read.next_reference_start = mate
        read.template_length = tlen
    read.flag = flag
    read.set_tag("NH", nh)
    return read


def _write_bam(path, reads, length=CHROM_LEN, order="coordinate", index=True):
    header = {"HD": {"VN": "1.6", "SO": order}, "SQ": [{"SN": "chr1", "LN": length}]}
    raw = path.with_suffix(".raw.bam")
    with pysam.AlignmentFile(str(raw), "wb", header=header) as out:
        for read in reads:
            out.write(read)
    if order == "coordinate":
        pysam.sort("-o", str(path), str(raw))
        if index:
            pysam.index(str(path))
    else:
        raw.rename(path)
    return path


def _values(path, chrom="chr1"):
    if str(path).endswith(".bw"):
        bw = pyBigWig.open(str(path))
        return np.nan_to_num(bw.values(chrom, 0, bw.chroms(chrom), numpy=True))
    with h5py.File(path) as handle:
        return handle[chrom][:].astype(np.float64)


def _run(bam, out, *options):
    assert main([*map(str, options), str(bam), str(out)]) == 0
    return _values(out)


@pytest.fixture(scope="module")
def bam(tmp_path_factory):
    reads = [
        _read("u1", 100),  # unique, + strand
        _read("m1", 100, nh=2),  # multi-mapped: here and (secondary) at 700
        _read("m1", 700, nh=2, secondary=True),
        _read("r1", 300, 20, reverse=True),  # unique, - strand: 5' end at 319
        # a proper pair: read 1 at 500 (+), read 2 at 580 (-), fragment 500-600, centre 550
        _read("p1", 500, 20, pair=1, tlen=100, mate=580),
        _read("p1", 580, 20, reverse=True, pair=2, tlen=-100, mate=500),
    ]
    return _write_bam(tmp_path_factory.mktemp("bam") / "a.bam", reads)


def test_one_event_per_read_at_its_5_prime_end_by_default(bam, tmp_path):
    values = _run(bam, tmp_path / "cov.bw")
    events = {int(i): float(values[i]) for i in np.flatnonzero(values)}
    # u1 + half of m1 at 100; the other half at 700; r1's 5' end 319; both pair reads' ends
    assert events == {100: 1.5, 319: 1.0, 500: 1.0, 599: 1.0, 700: 0.5}
    shifted = _run(bam, tmp_path / "shift.bw", "-v", 3, "-w", 2)
    assert np.flatnonzero(shifted).tolist() == [103, 317, 503, 597, 703]


def test_all_overlap_counts_every_aligned_base(bam, tmp_path):
    values = _run(bam, tmp_path / "cov.bw", "-a")
    assert values[100:110].tolist() == [1.5] * 10 and values[99] == 0 and values[110] == 0
    assert values[700:710].tolist() == [0.5] * 10
    assert values[300:320].tolist() == [1] * 20
    assert values[500:520].tolist() == [1] * 20 and values[580:600].tolist() == [1] * 20
    assert values.sum() == 20 + 20 + 40


def test_unique_skip_strand_and_centre(bam, tmp_path):
    out = tmp_path / "cov.w5"
    assert main(["-a", "-u", "--strand", str(bam), str(out)]) == 0
    plus, minus = _values(tmp_path / "cov+.w5"), _values(tmp_path / "cov-.w5")
    assert plus[100] == 2 and minus[100] == 0 and plus[700] == 1  # -u: every alignment 1
    assert minus[300:320].sum() == 20 and plus[300:320].sum() == 0
    # read 2 of a pair counts on read 1's strand (the fragment's)
    assert plus[580:600].sum() == 20 and minus[580:600].sum() == 0
    values = _run(bam, tmp_path / "c.bw", "-c", "--fragment_length", 50, "--skip_multi")
    # single + read: 5' end 100 + 25; single - read: 5' end 319 - 25; pair: centre 550
    assert np.flatnonzero(values).tolist() == [125, 294, 550]
    assert values[[125, 294, 550]].tolist() == [1, 1, 1]


def test_output_smoothing_keeps_the_total(bam, tmp_path):
    for flag in ("--smooth_out", "--smooth"):
        values = _run(bam, tmp_path / "s.bw", "-c", "--fragment_length", 50, flag, 5)
        assert values.sum() == pytest.approx(4, rel=1e-4) and values.max() < 0.2


def _em_reads(rng):
    """30 unique reads near 2,000; 20 reads aligned at 2,000 and 7,000; 4 at 4,000/9,000."""
    reads = [_read(f"u{i}", int(x)) for i, x in enumerate(rng.integers(1980, 2020, 30))]
    for i in range(20):
        home, away = int(rng.integers(1990, 2010)), int(rng.integers(6990, 7010))
        primary_home = i % 2 == 0
        reads.append(_read(f"m{i}", home, nh=2, secondary=not primary_home))
        reads.append(_read(f"m{i}", away, nh=2, secondary=primary_home))
    for i in range(4):
        reads.append(_read(f"e{i}", 4000 + i, nh=2))
        reads.append(_read(f"e{i}", 9000 + i, nh=2, secondary=True))
    return reads


@pytest.fixture(scope="module")
def em_bam(tmp_path_factory):
    path = tmp_path_factory.mktemp("em") / "em.bam"
    return _write_bam(path, _em_reads(np.random.default_rng(0)))


def test_em_moves_multi_reads_to_unique_support_and_keeps_the_total(em_bam, tmp_path):
    shared = _run(em_bam, tmp_path / "shared.bw")
    em = _run(em_bam, tmp_path / "em.bw", "-m", 10)
    for values in (shared, em):
        assert values.sum() == pytest.approx(30 + 20 + 4, abs=1e-3)
    assert shared[6900:7100].sum() == pytest.approx(10, abs=1e-4)
    assert em[6900:7100].sum() < 1  # the weight moved to the locus with unique reads
    assert em[1900:2100].sum() == pytest.approx(50 - em[6900:7100].sum(), abs=1e-3)
    # reads whose loci have no unique support stay split evenly
    assert em[3990:4010].sum() == pytest.approx(2, abs=0.05)
    assert em[8990:9010].sum() == pytest.approx(2, abs=0.05)
    # -t: reads aligned to more loci than this are dropped
    assert _run(em_bam, tmp_path / "t.bw", "-t", 1).sum() == pytest.approx(30)


def test_clipping_caps_per_bp_coverage(tmp_path):
    reads = [_read(f"d{i}", 5000) for i in range(10)]  # PCR duplicates
    reads += [_read("m", 3000, nh=2), _read("m", 8000, nh=2, secondary=True)]
    reads += [_read("n", 3000, nh=2), _read("n", 8000, nh=2, secondary=True)]
    bam = _write_bam(tmp_path / "clip.bam", reads)
    plain = _run(bam, tmp_path / "plain.bw")
    assert plain[5000] == 10 and plain[3000] == 1 and plain[8000] == 1
    clipped = _run(bam, tmp_path / "clip.bw", "--clip_max", 2, "--clip_multi", 0.25)
    assert clipped[5000] == 2 and clipped[3000] == 0.25 and clipped[8000] == 0.25
    assert np.flatnonzero(clipped).tolist() == [3000, 5000, 8000]


def test_bwa_xa_alternative_hits_are_loci(tmp_path):
    read = _read("x", 1000)
    read.set_tag("NH", None)
    read.set_tag("XA", "chr1,-5001,10M,0;chrUn,+7,10M,1;")  # a locus off the header is ignored
    values = _run(_write_bam(tmp_path / "xa.bam", [read]), tmp_path / "xa.bw")
    assert {int(i): float(values[i]) for i in np.flatnonzero(values)} == {1000: 0.5, 5009: 0.5}


GC_BLOCK = 3_000
GC_LEN = 120_000


@pytest.fixture(scope="module")
def gc_data(tmp_path_factory):
    """A genome of 3-kb blocks alternating 30% and 70% GC; 3x more reads in GC-rich ones."""
    tmp = tmp_path_factory.mktemp("gc")
    rng = np.random.default_rng(1)
    rich = (np.arange(GC_LEN) // GC_BLOCK) % 2 == 1
    gc_prob = np.where(rich, 0.7, 0.3)
    is_gc = rng.random(GC_LEN) < gc_prob
    bases = np.where(is_gc, rng.choice(list("GC"), GC_LEN), rng.choice(list("AT"), GC_LEN))
    fasta = tmp / "genome.fa"
    fasta.write_text(">chr1\n" + "".join(bases) + "\n")
    pysam.faidx(str(fasta))
    rate = np.where(rich, 3.0, 1.0)
    starts = rng.choice(GC_LEN - 50, size=9000, p=rate[: GC_LEN - 50] / rate[: GC_LEN - 50].sum())
    reads = [_read(f"r{i}", int(s), 36) for i, s in enumerate(starts)]
    bam = _write_bam(tmp / "gc.bam", reads, length=GC_LEN)
    return {"fasta": fasta, "bam": bam, "rich": rich}


def _block_ratio(values, rich):
    """Mean coverage of GC-rich over GC-poor block interiors (300 bp from the edges)."""
    inner = (np.arange(GC_LEN) % GC_BLOCK >= 300) & (np.arange(GC_LEN) % GC_BLOCK < GC_BLOCK - 300)
    return values[inner & rich].mean() / values[inner & ~rich].mean()


def test_gc_correction_flattens_an_injected_gc_bias(gc_data, tmp_path):
    raw = _run(gc_data["bam"], tmp_path / "raw.bw", "-a")
    out_dir = tmp_path / "model"
    fasta = gc_data["fasta"]
    fixed = _run(gc_data["bam"], tmp_path / "gc.bw", "-a", "-g", "-f", fasta, "-o", out_dir)
    assert 2.5 < _block_ratio(raw, gc_data["rich"]) < 3.5
    assert 0.85 < _block_ratio(fixed, gc_data["rich"]) < 1.15
    table = np.loadtxt(out_dir / "gc_table.txt")
    assert table.shape == (100, 2)
    assert table[70, 1] - table[30, 1] == pytest.approx(np.log2(3), abs=0.3)


def test_gc_needs_the_genome(gc_data, tmp_path, capsys):
    assert main(["-g", str(gc_data["bam"]), str(tmp_path / "o.bw")]) == 1
    assert "-g: GC correction needs the genome; add -f genome.fa" in capsys.readouterr().err


def test_cram_equals_bam(gc_data, em_bam, tmp_path):
    cram = tmp_path / "gc.cram"
    pysam.view(
        "-C", "-T", str(gc_data["fasta"]), "-o", str(cram), str(gc_data["bam"]), catch_stdout=False
    )
    pysam.index(str(cram))
    from_bam = _run(gc_data["bam"], tmp_path / "bam.w5", "-a")
    from_cram = _run(cram, tmp_path / "cram.w5", "-a", "--reference", gc_data["fasta"])
    np.testing.assert_array_equal(from_bam, from_cram)
    assert from_bam.sum() > 0


def test_single_end_fragment_length_is_learned(tmp_path):
    rng = np.random.default_rng(2)
    reads = []
    for i, start in enumerate(rng.integers(0, 19_000, 400)):
        reads.append(_read(f"f{i}", int(start), 30))  # fragment [start, start + 200)
        reads.append(_read(f"g{i}", int(start) + 170, 30, reverse=True))
    bam = _write_bam(tmp_path / "se.bam", reads, length=20_000)
    options = CoverageOptions(shift_center=True)
    with pysam.AlignmentFile(str(bam)) as handle:
        segments = read_alignments(handle, options, ["chr1"])
    assert 97 <= learn_shift_single(segments, [20_000], 1) <= 101
    values = _run(bam, tmp_path / "c.bw", "-c")
    assert values.sum() == 800


def test_unsorted_input(bam, tmp_path, capsys):
    with pysam.AlignmentFile(str(bam)) as handle:
        reads = list(handle)[::-1]
    by_name = _write_bam(tmp_path / "n.bam", reads, order="queryname")
    assert main([str(by_name), str(tmp_path / "o.bw")]) == 1
    err = capsys.readouterr().err
    assert "n.bam: alignments are sorted by queryname, not by coordinate" in err
    assert "--unsorted" in err
    unsorted = _run(by_name, tmp_path / "u.bw", "--unsorted")
    np.testing.assert_array_equal(unsorted, _run(bam, tmp_path / "s.bw"))


@pytest.mark.parametrize(
    "setup, options, message",
    [
        ("garbage", [], "x.bam: cannot read as BAM/CRAM"),
        ("no_index", [], "x.bam: no index (.bai/.csi/.crai) found; run `samtools index"),
        ("cram", [], "x.cram: a CRAM needs its reference; add --reference genome.fa"),
        ("bam", ["-b"], "-b: the original's k-mer cut-bias normalisation was never finished"),
        ("bam", ["-a", "-c"], "-a: counting every aligned base cannot be combined"),
    ],
)
def test_bad_input_is_one_line(bam, tmp_path, capsys, setup, options, message):
    path = tmp_path / ("x.cram" if setup == "cram" else "x.bam")
    if setup == "garbage":
        path.write_bytes(b"not a bam")
    elif setup == "no_index":
        _write_bam(path, [_read("u1", 100)], index=False)
    elif setup == "cram":
        path.write_bytes(b"CRAM")
    else:
        path = bam
    assert main([*options, str(path), str(tmp_path / "o.bw")]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.bw").exists()


def test_every_original_option_parses_to_its_meaning(reference_dir):
    with open(reference_dir / "original_cli.tsv") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["script"] == "bam_cov"]
    actions = {a.dest: a for a in build_parser()._actions}
    for row in rows:
        if row["option"] == "usage":
            continue
        action = actions[row["dest"]]
        assert set(row["option"].split(",")) <= set(action.option_strings), row
        default = {"None": None, "False": False}.get(row["default"], row["default"].strip("'"))
        if row["action"] == "store_true":
            assert action.const is True and action.default is default, row
        else:
            parsed = build_parser().parse_args([row["option"].split(",")[0], "7", "b", "o"])
            assert float(getattr(parsed, row["dest"])) == 7, row
            assert (action.default is None) == (default is None), row
            if default is not None:
                assert str(action.default) in (default, default.removesuffix(".0")), row
