"""Outputs that cannot half-happen, and outputs that never overwrite an input.

Every file or directory a command produces is written to a temporary path beside its target
(same directory, so same file system), flushed to disk, then renamed into place: a kill, a
full disk or a crash leaves the old target (or none) and at most a hidden `.NAME.tmp-PID-*`
beside it, never a half-written target; the next write of the same target removes those whose
process is gone. `OSError`s while writing become `OutputError`s that name the
target, so the CLI can report them in one line.
"""
import contextlib
import ctypes
import errno
import glob
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Dict, Iterable, Iterator, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_UMASK = os.umask(0)  # reading the umask means setting it: done once, at import
os.umask(_UMASK)


class OutputError(OSError):
    """A command's output could not be written: `strerror` says what and why, `filename`
    is the target."""


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", *, encoding: Optional[str] = "utf8", newline: Optional[str] = None) -> Iterator[IO]:
    """Open a temporary file beside PATH for writing; when the block ends without an error,
    flush it to disk and rename it over PATH. On an error the temporary file is removed and
    PATH is left as it was. Missing parent directories are created.

    path (PathLike): The file to write. A symlink is followed: its target is replaced.
    mode (str): "w" (text) or "wb" (bytes).
    encoding (Optional[str]): The text encoding (text mode only).
    newline (Optional[str]): As for open() (text mode only; the csv module wants "").
    YIELDS (IO): The open temporary file.
    RAISES (OutputError): When the file can't be written (read-only location, a parent that
        is a file, permission denied, disk full...).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes new files: mode must be 'w' or 'wb', not {mode!r}.")
    target = _real(path)
    with _reported(target):
        _make_parents(target)
        _remove_stale(target)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_temporary_prefix(target, "tmp"))
        try:
            text: Dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
            with open(fd, mode, **text) as file_:
                yield file_
                file_.flush()
                os.fsync(file_.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give what open() would
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_directory(path: PathLike) -> Iterator[Path]:
    """Give a fresh temporary directory beside PATH to fill (e.g. with nlp.to_disk); when the
    block ends without an error, flush its files to disk and put it in PATH's place, replacing
    the directory there, whole. On an error the temporary directory is removed and PATH is left
    as it was.

    Replacing an existing directory is one atomic exchange (renameat2 RENAME_EXCHANGE) where
    the OS and file system offer it (Linux, most file systems), so PATH always holds a complete
    directory, old or new. Elsewhere it takes two renames: the old directory to a hidden
    `.NAME.old-*` beside PATH, then the new one to PATH. A kill between those two renames (a
    window of two system calls) leaves no PATH, with the old directory at `.NAME.old-*` and
    the complete new one at `.NAME.tmp-*`: rename either back to NAME. A kill at any other
    point leaves PATH complete, and perhaps a hidden `.NAME.tmp-*` or `.NAME.old-*` beside it,
    which the next write of PATH removes.

    path (PathLike): The directory to produce. A symlink is followed: its target is replaced.
    YIELDS (Path): The empty temporary directory.
    RAISES (OutputError): When the directory can't be written.
    """
    target = _real(path)
    with _reported(target):
        if target.exists() and not target.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "it is a file, not a directory", str(target))
        _make_parents(target)
        _remove_stale(target)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=_temporary_prefix(target, "tmp")))
        leftover: Optional[Path] = tmp  # the directory to remove at the end, if any
        try:
            yield tmp
            _fsync_tree(tmp)
            os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700
            if not target.exists():
                os.replace(tmp, target)
                leftover = None
            elif _exchange(tmp, target):
                pass  # tmp (leftover) now holds the old directory, removed below
            else:
                old = Path(tempfile.mkdtemp(dir=target.parent, prefix=_temporary_prefix(target, "old")))
                os.replace(target, old)
                os.replace(tmp, target)  # between these two renames there is no PATH
                leftover = old
            _fsync_dir(target.parent)
        finally:
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)


def check_not_input(output: PathLike, inputs: Iterable[Optional[PathLike]]) -> None:
    """Refuse an output path that is one of the inputs, lies inside an input directory, or
    would replace a directory holding an input. Paths are compared resolved (symlinks, "..")
    and, where both exist, by file identity (so a hard link to an input counts too).

    output (PathLike): The path a command will write.
    inputs (Iterable[Optional[PathLike]]): The paths it reads; None entries are ignored.
    RAISES (ValueError): If the output overlaps an input, saying which.
    """
    out = _real(output)
    for given in inputs:
        if given is None:
            continue
        source = _real(given)
        if out == source or _same_file(out, source):
            raise ValueError(f"The output {output} is the input {given}: writing it would destroy the input. Choose another output path.")
        if source in out.parents:
            raise ValueError(f"The output {output} is inside the input {given}. Choose an output path outside it.")
        if out in source.parents:
            raise ValueError(f"The output {output} contains the input {given}, which writing it would destroy. Choose another output path.")


def _temporary_prefix(target: Path, kind: str) -> str:
    """The name of a temporary beside TARGET starts with this: hidden, and with the PID of the
    process writing it, so that a later write can tell a stale one (see _remove_stale)."""
    return f".{target.name}.{kind}-{os.getpid()}-"


def _remove_stale(target: Path) -> None:
    """Remove the temporaries a killed write of TARGET left beside it: those named with the PID
    of a process that is gone. Only while TARGET exists: killed between the two renames of the
    fallback swap, the old and the new version are both kept for the user to choose."""
    if not target.exists():
        return
    for kind in ("tmp", "old"):
        for path in target.parent.glob(f".{glob.escape(target.name)}.{kind}-*-*"):
            pid = path.name[len(f".{target.name}.{kind}-"):].partition("-")[0]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _real(path: PathLike) -> Path:
    return Path(os.path.realpath(os.fspath(path)))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


@contextlib.contextmanager
def _reported(target: Path) -> Iterator[None]:
    """Turn an OSError into an OutputError that names the target and the cause."""
    try:
        yield
    except OutputError:
        raise
    except OSError as err:
        why = err.strerror or str(err)
        if err.filename is not None and _real(err.filename) != target:
            why += f": {err.filename}"
        raise OutputError(err.errno, f"Can't write {target}: {why}", str(target)) from err


def _make_parents(target: Path) -> None:
    for parent in reversed(target.parents):
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{parent} is a file, not a directory", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False where unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # old kernel or file system
        return False
    raise OSError(code, os.strerror(code), str(b))


def _libc() -> Optional[ctypes.CDLL]:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # no C library to load (Windows)
        return None


def _fsync_tree(root: Path) -> None:
    for folder, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
