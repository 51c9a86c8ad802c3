"""a2m_core.files: every output is written whole or not at all; output folders are checked before the work."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from a2m_core.errors import InputError
from a2m_core.files import atomic_dir, atomic_path, check_writable, remove_stale_temp_files, save_npy, write_text


def test_atomic_path_replaces_only_when_complete(tmp_path):
    target = tmp_path / "out.npy"
    save_npy(target, np.arange(3))
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npy" and tmp.name.startswith(".out.npy.")
        tmp.write_bytes(b"half a file")
        raise RuntimeError("killed mid-write")
    np.testing.assert_array_equal(np.load(target), np.arange(3))  # the previous file, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy"]  # no temporary file left


def test_interrupt_removes_the_temporary_file_and_keeps_nothing_new(tmp_path):
    target = tmp_path / "video.mp4"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"\0" * 100)
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_finished_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = write_text(tmp_path / "report.json", "{}\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_atomic_dir_swaps_a_whole_folder(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as staging:
        (staging / "a.txt").write_text("one")
    with pytest.raises(ValueError), atomic_dir(target) as staging:
        (staging / "a.txt").write_text("two, half written")
        raise ValueError
    assert (target / "a.txt").read_text() == "one"
    with atomic_dir(target) as staging:
        (staging / "b.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_stale_temporary_files_are_found(tmp_path):
    (tmp_path / ".clip.wav.abc123.tmp.wav").write_bytes(b"x")
    (tmp_path / "clip.wav").write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["clip.wav"]


def test_check_writable_names_the_option(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="--out x: cannot create folder"):
        check_writable(tmp_path / "file" / "sub", "--out x")
