"""Atomic outputs: nothing under the final name until complete; normal permissions."""

import os
import stat

import pytest

from basenji_tf.files import atomic_path, write_text_atomic


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as handle:
                handle.write("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_success_replaces_with_umask_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_directory_replaced_whole(tmp_path):
    target = tmp_path / "saved"
    target.mkdir()
    (target / "stale").write_text("x")
    with atomic_path(target, is_dir=True) as tmp:
        open(os.path.join(tmp, "fresh"), "w").close()
    assert [p.name for p in target.iterdir()] == ["fresh"]
