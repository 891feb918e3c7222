"""basenji_predict_genome: tiling, N gaps, chromosome ends, restart, untransform, hg38.

The BigWig values are checked against SeqNN.predict on the windows the tiling rule defines;
a run killed (in-process and by SIGKILL) and restarted equals an uninterrupted run byte for
byte; a real bgzipped FASTA (1 Mb of hg38 with its N gaps) is tiled as the rule says.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pyBigWig
import pytest

from basenji_tf import seqnn, targets
from basenji_tf.cli import basenji_predict_genome
from basenji_tf.dna import dna_1hot
from basenji_tf.genome import Genome
from basenji_tf.scoring import genome_tracks as G
from basenji_tf.scoring.track_writer import Untransform

BATCH = 4
# params_tiny: 2,048 bp inputs, 16 bp bins, 120 output bins, 4 bins cropped each side
SPAN, CROP_BP, SEQ_LENGTH, STRIDE = 1920, 64, 2048, 16
# chromosome lengths none a multiple of the span; chrB's N gap makes windows 1 and 2
# all N (inputs [1856, 3904) and [3776, 5824)) and windows 0 and 3 partly N
SIZES = {"chrB": 9000, "chrA": 5000, "chrC": 700}
GAP = (1800, 6000)


@pytest.fixture(scope="module")
def files(tmp_path_factory, repo):
    root = tmp_path_factory.mktemp("genome_tracks")
    params = json.loads((repo / "models" / "params_tiny.json").read_text())
    params["model"].update(augment_rc=False, augment_shift=0)
    (root / "params.json").write_text(json.dumps(params))
    keras.utils.set_random_seed(7)
    seqnn.SeqNN(params["model"]).save(root / "model.h5")
    rng = np.random.default_rng(7)
    with open(root / "genome.fa", "w") as fasta:
        for chrom, size in SIZES.items():
            seq = "".join(rng.choice(list("ACGT"), size))
            if chrom == "chrB":
                seq = seq[: GAP[0]] + "N" * (GAP[1] - GAP[0]) + seq[GAP[1] :]
            fasta.write(f">{chrom}\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, size, 60)))
    return {
        "params": str(root / "params.json"),
        "model": str(root / "model.h5"),
        "fasta": str(root / "genome.fa"),
    }


def expected_windows(files, chrom, ks):
    """SeqNN.predict of the windows the tiling rule defines, in batches of BATCH."""
    with Genome(files["fasta"]) as genome:
        x = np.stack(
            [
                dna_1hot(genome.fetch(chrom, k * SPAN - CROP_BP, k * SPAN - CROP_BP + SEQ_LENGTH))
                for k in ks
            ]
        )
    pad = -len(x) % BATCH
    x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), np.float32)])
    model = seqnn.load(files["params"], files["model"])
    return model.predict(x, batch_size=BATCH)[: len(ks)]


def run(files, out, *extra):
    argv = ["-o", str(out), "--batch_size", str(BATCH), "--chunk_windows", "3", *extra,
            files["params"], files["model"], files["fasta"]]  # fmt: skip
    return basenji_predict_genome.main(argv)


def bigwig_values(path, chrom):
    with pyBigWig.open(str(path)) as bw:
        return bw.intervals(chrom) or ()


@pytest.mark.slow
def test_tiling_rule_ends_and_gaps(tmp_path, files):
    assert run(files, tmp_path / "out") == 0
    bigwig = tmp_path / "out" / "bigwig"
    with pyBigWig.open(str(bigwig / "t1.bw")) as bw:
        assert bw.chroms() == SIZES
    for chrom, size in SIZES.items():
        ks = [k for k in range(-(-size // SPAN)) if not (chrom == "chrB" and k in (1, 2))]
        preds = expected_windows(files, chrom, ks)
        for ti in range(3):
            intervals = bigwig_values(bigwig / f"t{ti}.bw", chrom)
            got = {start: (end, value) for start, end, value in intervals}
            for w, k in enumerate(ks):
                for j in range(preds.shape[1]):
                    start = k * SPAN + j * STRIDE
                    if start >= size:
                        assert start not in got
                        continue
                    # float32 values, exactly the model's
                    assert got.pop(start) == (min(start + STRIDE, size), preds[w, j, ti])
            assert not got  # nothing else: the all-N windows left no data
    # chrB around the gap: data up to the end of window 0, none in windows 1-2, from window 3
    chrb = bigwig_values(bigwig / "t0.bw", "chrB")
    assert max(e for _, e, _ in chrb if e <= 3 * SPAN) == SPAN
    assert min(s for s, _, _ in chrb if s >= SPAN) == 3 * SPAN
    # chrC (700 bp, one window): the last bin is cut at the chromosome end
    assert bigwig_values(bigwig / "t0.bw", "chrC")[-1][:2] == (688, 700)
    index = (bigwig / "targets.txt").read_text().splitlines()
    assert index[0] == "index\tidentifier\tdescription\tfile" and index[2] == "1\tt1\t\tt1.bw"
    assert not (tmp_path / "out" / "chunks").exists()


@pytest.mark.slow
@pytest.mark.subprocess
def test_restart_after_interruption_equals_uninterrupted_run(tmp_path, files, monkeypatch):
    assert run(files, tmp_path / "whole", "-p", "2") == 0
    calls = []
    real = G.predict_chunk

    def stop_after_two(task):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(task.path)
        return real(task)

    monkeypatch.setattr(G, "predict_chunk", stop_after_two)
    assert run(files, tmp_path / "part") == 130
    assert sorted(p.name for p in (tmp_path / "part" / "chunks").iterdir()) == [
        "chunk000000.h5",
        "chunk000001.h5",
    ]
    assert not (tmp_path / "part" / "bigwig").exists()
    calls.clear()
    monkeypatch.setattr(G, "predict_chunk", lambda task: calls.append(task.path) or real(task))
    assert run(files, tmp_path / "part", "--restart") == 0
    assert [Path(p).name for p in calls] == ["chunk000002.h5"]
    for ti in range(3):
        name = f"bigwig/t{ti}.bw"
        assert (tmp_path / "part" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    # a restart with other settings is refused
    assert run(files, tmp_path / "part", "--restart", "--rc") == 1


@pytest.mark.slow
@pytest.mark.subprocess
def test_sigkill_then_restart_equals_uninterrupted_run(tmp_path, files):
    argv = [sys.executable, "-m", "basenji_tf.cli.basenji_predict_genome", "-o",
            str(tmp_path / "killed"), "--batch_size", "1", "--chunk_windows", "1",
            files["params"], files["model"], files["fasta"]]  # fmt: skip
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    chunks = tmp_path / "killed" / "chunks"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if chunks.is_dir() and any(chunks.glob("chunk*.h5")):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    killed = proc.returncode == -signal.SIGKILL
    assert subprocess.run(argv + ["--restart"], stderr=subprocess.DEVNULL).returncode == 0
    whole = tmp_path / "whole"
    assert basenji_predict_genome.main(["-o", str(whole)] + argv[5:]) == 0
    for ti in range(3):
        name = f"bigwig/t{ti}.bw"
        assert (tmp_path / "killed" / name).read_bytes() == (whole / name).read_bytes()
    if not killed:
        pytest.skip("the run finished before it could be killed (only the rerun was checked)")


def test_regions_targets_and_untransform(tmp_path, files):
    table = tmp_path / "targets.txt"
    table.write_text(
        "index\tidentifier\tfile\tclip_soft\tscale\tsum_stat\tdescription\n"
        "0\tT0\tx.bw\t0.75\t2.0\tsum_sqrt\tCAGE:zero\n"
        "2\tT2\tx.bw\t\t1.0\tmean\tDNASE:two\n"
    )
    bed = tmp_path / "r.bed"
    bed.write_text("A\t4000\t4001\nchrB\t100\t200\n")  # 'A' resolves to chrA
    assert run(files, tmp_path / "raw", "-b", str(bed), "-t", str(table)) == 0
    assert run(files, tmp_path / "un", "-b", str(bed), "-t", str(table), "--untransform",
               "--ti", "2,0") == 0  # fmt: skip
    raw, un = tmp_path / "raw" / "bigwig", tmp_path / "un" / "bigwig"
    assert sorted(p.name for p in raw.glob("*.bw")) == ["t0.bw", "t2.bw"]
    assert (un / "targets.txt").read_text().splitlines()[1:] == [
        "2\tT2\tDNASE:two\tt2.bw",
        "0\tT0\tCAGE:zero\tt0.bw",
    ]
    # only window 2 of chrA (output [3840, 5000)) and window 0 of chrB
    assert [(s, e) for s, e, _ in bigwig_values(raw / "t0.bw", "chrA")][::40] == [
        (3840 + 16 * j, 3856 + 16 * j) for j in range(0, 73, 40)
    ]
    assert bigwig_values(raw / "t0.bw", "chrB")[-1][1] == SPAN
    assert bigwig_values(raw / "t0.bw", "chrC") == ()
    preds = expected_windows(files, "chrA", [2])[0]
    raw0 = np.array([v for *_, v in bigwig_values(raw / "t0.bw", "chrA")], np.float32)
    np.testing.assert_array_equal(raw0, preds[:73, 0])
    un0 = np.array([v for *_, v in bigwig_values(un / "t0.bw", "chrA")], np.float32)
    over = raw0 > 0.75
    assert over.any() and (~over).any()
    expect = np.where(over, 0.75 - 1 + (raw0.astype(np.float64) - 0.75 + 1) ** 2, raw0)
    np.testing.assert_allclose(un0, ((expect + 1) ** 2 - 1) / 2, rtol=1e-6)
    un2 = [v for *_, v in bigwig_values(un / "t2.bw", "chrA")]
    assert un2 == [v for *_, v in bigwig_values(raw / "t2.bw", "chrA")]


def test_rc_ensemble_swaps_the_tables_strand_pairs(tmp_path, files):
    table = tmp_path / "targets.txt"
    table.write_text(
        "index\tidentifier\tfile\tstrand_pair\n0\tC+\tx.bw\t1\n1\tC-\tx.bw\t0\n2\tD\tx.bw\t2\n"
    )
    assert run(files, tmp_path / "rc", "--chroms", "chrC", "--rc", "--shifts", "0,1",
               "-t", str(table)) == 0  # fmt: skip
    with Genome(files["fasta"]) as genome:
        x = dna_1hot(genome.fetch("chrC", -CROP_BP, SEQ_LENGTH - CROP_BP))
    batch = np.zeros((BATCH, SEQ_LENGTH, 4), np.float32)
    batch[0] = x
    head = seqnn.load(files["params"], files["model"]).head
    paired = head.predict(batch, BATCH, rc=True, shifts=(0, 1), strand_pair=(1, 0, 2))[0]
    unpaired = head.predict(batch, BATCH, rc=True, shifts=(0, 1))[0]
    got = [v for *_, v in bigwig_values(tmp_path / "rc" / "bigwig" / "t0.bw", "chrC")]
    assert got == paired[:44, 0].tolist() and got != unpaired[:44, 0].tolist()


def test_untransform_inverts_coverage_processing():
    rng = np.random.default_rng(0)
    cov = rng.gamma(0.5, 20, size=(4, 1024)).astype(np.float16)
    pooled = cov.astype(np.float32).reshape(4, 32, 32).sum(axis=2) * 0.5
    binned = np.stack(
        [targets.window_targets(c, 32, "sum_sqrt", clip_soft=3.0, scale=0.5) for c in cov]
    )
    inverse = Untransform((3.0,), (True,), (0.5,))(binned[..., None])[..., 0]
    np.testing.assert_allclose(inverse * 0.5, pooled, rtol=2e-3)
    assert (
        Untransform((np.nan,), (False,), (1.0,))(binned[..., None])[..., 0].tolist()
        == binned.tolist()
    )


def test_bad_options_are_one_line_errors(tmp_path, files, capsys):
    assert run(files, tmp_path / "o", "--ti", "3") == 1
    assert "target 3 is not an output of the head (3 outputs)" in capsys.readouterr().err
    assert run(files, tmp_path / "o", "--untransform") == 1
    assert "--untransform needs the targets table (-t)" in capsys.readouterr().err
    assert run(files, tmp_path / "o", "--chroms", "chrZ") == 1
    assert "chromosome 'chrZ' is not in" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        basenji_predict_genome.main(["--help"])
    assert exit_info.value.code == 0


def test_real_bgzipped_hg38(tmp_path, files, baskerville_dir):
    hg38_1m = baskerville_dir / "hg38_1m.fa.gz"
    argv = ["-o", str(tmp_path / "hg38"), "--batch_size", "8", "--ti", "1",
            files["params"], files["model"], str(hg38_1m)]  # fmt: skip
    assert basenji_predict_genome.main(argv) == 0
    with Genome(hg38_1m) as genome:
        ((chrom, size),) = genome.sizes.items()
        sequence = genome.fetch(chrom, 0, size)
    intervals = bigwig_values(tmp_path / "hg38" / "bigwig" / "t1.bw", chrom)
    predicted = [
        k
        for k in range(-(-size // SPAN))
        if sequence[max(0, k * SPAN - CROP_BP) : k * SPAN - CROP_BP + SEQ_LENGTH].strip("N")
    ]
    assert 400 < len(predicted) < 521  # the first 10 kb and some gaps are N
    assert [s for s, _, _ in intervals] == [
        k * SPAN + j * STRIDE for k in predicted for j in range(120) if k * SPAN + j * STRIDE < size
    ]
    assert intervals[-1][1] == size
    # a window by the first gap's end, batched by eight as the run did
    k = predicted[0]
    with Genome(hg38_1m) as genome:
        x = dna_1hot(genome.fetch(chrom, k * SPAN - CROP_BP, k * SPAN - CROP_BP + SEQ_LENGTH))
    batch = np.zeros((8, SEQ_LENGTH, 4), np.float32)
    batch[0] = x
    preds = seqnn.load(files["params"], files["model"]).predict(batch, batch_size=8)
    assert [v for _, _, v in intervals[:120]] == preds[0, :, 1].tolist()
