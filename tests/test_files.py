"""Atomic outputs and refusing an output that is an input, on real file systems: a read-only
mount and a full tmpfs where the test may mount them (as root), a simulated fsync failure
everywhere."""
import errno
import os
from pathlib import Path
from typing import List

import pytest

from spacy_window_ner import files
from spacy_window_ner.files import OutputError, atomic_directory, atomic_write, check_not_input

from .util import fill, remount


def leftovers(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_files_atomic_write_replaces(tmp_path):
    target = tmp_path / "new" / "out.txt"
    with atomic_write(target) as file_:
        file_.write("one")
    with atomic_write(target, "wb") as file_:
        file_.write("two ü".encode("utf8"))
    assert target.read_text(encoding="utf8") == "two ü" and leftovers(target.parent) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~files._UMASK)


def test_files_atomic_write_error_keeps_old(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf8")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as file_:
            file_.write("half")
            raise RuntimeError("crash while writing")
    assert target.read_text(encoding="utf8") == "old" and leftovers(tmp_path) == []


def test_files_atomic_write_follows_symlink(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old", encoding="utf8")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with atomic_write(link) as file_:
        file_.write("new")
    assert link.is_symlink() and real.read_text(encoding="utf8") == "new"


def test_files_atomic_write_below_a_file(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder", encoding="utf8")
    with pytest.raises(OutputError, match="is a file, not a directory") as err:
        with atomic_write(blocker / "sub" / "out.txt") as file_:
            file_.write("x")
    assert err.value.errno == errno.ENOTDIR and str(blocker) in err.value.strerror
    with pytest.raises(OutputError, match="it is a file, not a directory"):
        with atomic_directory(blocker):
            pass


def test_files_atomic_write_disk_error_simulated(tmp_path, monkeypatch):
    """fsync reporting a full disk (as it can on NFS or with delayed allocation)."""
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf8")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OutputError, match="No space left on device") as err:
        with atomic_write(target) as file_:
            file_.write("new")
    assert err.value.filename == str(target)
    assert target.read_text(encoding="utf8") == "old" and leftovers(tmp_path) == []


def test_files_atomic_write_full_disk(mount_tmpfs):
    point = mount_tmpfs("size=64k")
    target = point / "out.txt"
    target.write_text("old", encoding="utf8")
    fill(point)
    with pytest.raises(OutputError, match="No space left on device"):
        with atomic_write(target) as file_:
            file_.write("y" * 100_000)
    assert target.read_text(encoding="utf8") == "old" and leftovers(point) == []


def test_files_atomic_write_read_only(mount_tmpfs):
    point = mount_tmpfs("size=64k")
    (point / "out.txt").write_text("old", encoding="utf8")
    remount(point, "ro")
    for make in (lambda: atomic_write(point / "out.txt"), lambda: atomic_directory(point / "dir")):
        with pytest.raises(OutputError, match="Read-only file system") as err:
            with make():
                pass
        assert err.value.errno == errno.EROFS
    assert (point / "out.txt").read_text(encoding="utf8") == "old"


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two renames"])
def test_files_atomic_directory(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    target = tmp_path / "pipeline"
    with atomic_directory(target) as new:
        (new / "sub").mkdir()
        (new / "sub" / "a.txt").write_text("first", encoding="utf8")
    assert (target / "sub" / "a.txt").read_text(encoding="utf8") == "first"
    with atomic_directory(target) as new:
        assert new.parent == tmp_path and not any(new.iterdir())
        (new / "b.txt").write_text("second", encoding="utf8")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"] and leftovers(tmp_path) == []
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as new:
            (new / "c.txt").write_text("half", encoding="utf8")
            raise RuntimeError("crash while writing")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"] and leftovers(tmp_path) == []


def test_files_check_not_input(tmp_path):
    source = tmp_path / "in.json"
    source.write_text("[]", encoding="utf8")
    folder = tmp_path / "model"
    folder.mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(source)
    hard = tmp_path / "hard.json"
    os.link(source, hard)
    for output, message in [
        (source, "is the input"), (tmp_path / "." / "in.json", "is the input"), (link, "is the input"),
        (hard, "is the input"), (folder, "is the input"), (folder / "config.cfg", "inside the input"),
        (tmp_path, "contains the input"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_not_input(output, [None, folder, source])
    check_not_input(tmp_path / "out.json", [source, folder, None])
    check_not_input(tmp_path / "model2", [folder])
