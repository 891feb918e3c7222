"""Faults: a full disk, corrupt inputs, two runs on one directory, progress in a log file."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_train import write_data_dir, write_params

from basenji_tf import files, progress
from basenji_tf.checkpoint import Checkpointer
from basenji_tf.cli._common import DEBUG_ENV, make_parser, run_main
from basenji_tf.errors import InputError
from basenji_tf.scoring.outputs import SadWriter
from basenji_tf.weights import read_weight_file

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# -- a full disk -------------------------------------------------------------------------


def test_injected_enospc_in_an_hdf5_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(OSError) as caught:
        with files.atomic_h5(target) as h5:
            h5.create_dataset("x", data=np.arange(10))
            raise ENOSPC
    assert caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_injected_enospc_in_the_sad_writer_names_the_output(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "Can't write data (file write failed: errno = 28 ...)")

    monkeypatch.setattr("basenji_tf.scoring.outputs.write_percentiles", full)
    with pytest.raises(OSError) as caught:
        with files.atomic_path(tmp_path / "sad.h5") as tmp:
            SadWriter(tmp, ["SAD"], ["t0"], ["T0"], 4).close()
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(tmp_path / "sad.h5"))
    assert list(tmp_path.iterdir()) == []


def test_enospc_reaches_the_user_as_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)

    def body():
        with files.atomic_h5(tmp_path / "o" / "x.h5"):
            raise OSError(errno.ENOSPC, "Driver write request failed (errno = 28, ...)")

    assert run_main("prog.py", body, out_dir=tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert err == (
        f"prog.py: error: {tmp_path / 'o' / 'x.h5'}: No space left on device; free space on "
        "that file system or write the output elsewhere (-o)\n"
    )
    assert not (tmp_path / "o").exists()  # created by the run, empty: removed


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs (root only; skipped where mount fails)."""
    mount = tmp_path / "full"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.slow
@pytest.mark.subprocess
def test_full_disk_sad_ends_in_one_line_without_a_half_file(full_disk, small_model, reference_dir):
    out = full_disk / "sad"
    vcf = reference_dir / "sad_small" / "snps.vcf"
    cmd = [sys.executable, "-m", "basenji_tf.cli.basenji_sad", "-f", small_model["fasta"]]
    cmd += ["-o", str(out), "--stats", "SAD,REF,ALT", small_model["params"]]
    cmd += [small_model["model"], str(vcf)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", BASENJI_LOG_LEVEL="ERROR")
    env.pop(DEBUG_ENV, None)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    stderr = [line for line in done.stderr.splitlines() if "basenji_sad.py" in line]
    assert done.returncode == 1, done.stderr
    assert stderr == [
        f"basenji_sad.py: error: {out / 'sad.h5'}: No space left on device; free space on "
        "that file system or write the output elsewhere (-o)"
    ]
    assert "Traceback" not in done.stderr
    assert not out.exists() or list(out.iterdir()) == []


# -- corrupt and truncated files ---------------------------------------------------------


def test_truncated_model_file_is_one_line_naming_it(tmp_path, small_model):
    model = tmp_path / "model.h5"
    data = Path(small_model["model"]).read_bytes()
    model.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"^{model}: not a readable Keras HDF5 model file"):
        read_weight_file(model)


def test_corrupt_keras_archive_is_one_line_naming_it(tmp_path):
    archive = tmp_path / "model.keras"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("config.json", "{not json")
    with pytest.raises(InputError, match=rf"^{archive}: cannot load the \.keras archive"):
        read_weight_file(archive)
    archive.write_bytes(b"PK garbage")
    with pytest.raises(InputError, match=rf"^{archive}: not a \.keras archive"):
        read_weight_file(archive)


@pytest.mark.parametrize("content", [b"garbage" * 50, None])
def test_corrupt_resume_file_is_one_line_naming_it(tmp_path, content):
    resume = tmp_path / "resume.h5"
    if content is None:  # an HDF5 file, but not ours
        with h5py.File(resume, "w") as h5:
            h5.create_dataset("x", data=[1])
    else:
        resume.write_bytes(content)
    checkpoints = Checkpointer(tmp_path, 1, save_model=lambda path, i: None)
    with pytest.raises(InputError, match=rf"^{resume}: not a"):
        checkpoints.load_state([], [])


def test_read_h5_keeps_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        with files.read_h5(tmp_path / "missing.h5"):
            pass
    assert caught.value.filename == str(tmp_path / "missing.h5")


@pytest.mark.slow
def test_corrupt_tfrecord_names_the_file(tmp_path):
    from basenji_tf.dataset import SeqDataset

    data = write_data_dir(tmp_path / "data")
    bad = sorted((data / "tfrecords").glob("valid-*.tfr"))[0]
    raw = bad.read_bytes()
    bad.write_bytes(raw[:20] + bytes(b ^ 0xFF for b in raw[20:40]) + raw[40:])
    dataset = SeqDataset(data, "train", 4)
    list(dataset.batches())  # intact split
    with pytest.raises(InputError, match=rf"^{bad}: corrupt or truncated TFRecord file"):
        dataset = SeqDataset(data, "valid", 4)
        list(dataset.batches())


# -- output directories ------------------------------------------------------------------


def test_second_claim_is_refused_at_once(tmp_path):
    with files.claim_output_dir(tmp_path / "out"):
        started = time.monotonic()
        with pytest.raises(InputError, match=rf"^{tmp_path / 'out'}: in use by pid {os.getpid()}"):
            with files.claim_output_dir(tmp_path / "out"):
                pass
        assert time.monotonic() - started < 1
    assert not (tmp_path / "out").exists()  # created by the claim and left empty


def test_claim_removes_stale_temporaries_and_its_lock(tmp_path):
    out = tmp_path / "out"
    (out / "tracks" / ".t0.bw.abcd1234.tmp.bw").parent.mkdir(parents=True)
    stale = [out / ".sad.h5.k2j4_x9q.tmp.h5", out / "tracks" / ".t0.bw.abcd1234.tmp.bw"]
    for path in stale:
        path.write_text("half")
    (out / ".export.zz99aa00.tmp").mkdir()
    keep = [out / "sad.h5", out / ".hidden", out / "notes.tmp"]
    for path in keep:
        path.write_text("mine")
    with files.claim_output_dir(out):
        assert (out / files.LOCK_FILE).read_text() == str(os.getpid())
        assert not any(p.exists() for p in stale) and not (out / ".export.zz99aa00.tmp").exists()
    assert sorted(p.name for p in out.rglob("*")) == sorted(["tracks"] + [p.name for p in keep])


@pytest.mark.subprocess
def test_two_runs_on_one_directory(tmp_path):
    holder = (
        "import sys, time\n"
        "from basenji_tf.cli._common import run_main\n"
        "def body():\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        f"sys.exit(run_main('first.py', body, out_dir={str(tmp_path / 'out')!r}))\n"
    )
    first = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline() == "ready\n"
        second = subprocess.run(
            [sys.executable, "-c", holder.replace("first.py", "second.py")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 1
    assert second.stderr == (
        f"second.py: error: {tmp_path / 'out'}: in use by pid {first.pid}; wait for it or use "
        "another -o\n"
    )


@pytest.mark.slow
def test_refused_resume_leaves_the_directory_as_it_was(tmp_path):
    from basenji_tf.train import train_model

    data = write_data_dir(tmp_path / "data")
    params = write_params(tmp_path / "params.json", train_epochs_max=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "params.json").write_text('{"model": "of another run"}')
    with h5py.File(out / "resume.h5", "w") as h5:  # another model's state: one variable
        h5.create_group("model").create_dataset("0", data=[1.0])
        h5.create_group("optimizer")
        h5.attrs["state"] = "{}"
    before = _tree(out)
    with pytest.raises(InputError, match="resume.h5: holds 1 model variables"):
        train_model(params, [data], out)
    assert _tree(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["params.json", "resume.h5"]


# -- --debug and progress ----------------------------------------------------------------


def test_debug_option_prints_the_traceback(capsys, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    args = make_parser("prog.py", "test").parse_args(["--debug"])
    assert args.debug and os.environ[DEBUG_ENV] == "1"

    def body():
        raise InputError("bad")

    assert run_main("prog.py", body) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("prog.py: error: bad\n")


def test_progress_is_a_bar_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert type(progress.track(range(3))).__name__ == "tqdm"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(progress.track(range(3)), progress.LogProgress)


def test_progress_in_a_log_is_whole_lines_every_n_seconds(monkeypatch, caplog, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.setenv(progress.SECONDS_ENV, "10")
    clock = iter(np.arange(0, 1000, 3.0))  # 3 s per item
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    with caplog.at_level(logging.INFO, logger="basenji_tf.progress"):
        items = list(progress.track(range(10), desc="variants", unit=" variants"))
    assert items == list(range(10))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "variants: 40% (4/10 variants), 0.333 variants/s, 0:00:18 left",
        "variants: 80% (8/10 variants), 0.333 variants/s, 0:00:06 left",
    ]
    assert capsys.readouterr().err == ""  # no bar, no carriage returns


def test_progress_without_a_total_and_disabled(monkeypatch, caplog):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.setenv(progress.SECONDS_ENV, "0.000001")
    with caplog.at_level(logging.INFO, logger="basenji_tf.progress"):
        counter = progress.track(desc="records", unit="records")
        time.sleep(0.01)
        counter.update(5)
        counter.close()
        quiet = progress.track(range(3), enabled=False)
        time.sleep(0.01)
        list(quiet)
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith("records: 5 records done, ")
