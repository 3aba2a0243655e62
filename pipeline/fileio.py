"""Atomic file writing: an output path holds either the old file or the complete new one.

Every output is written to a temporary file beside it, flushed to disk and renamed over the output
only when complete. The temporary name is ``.<name>.<random>.tmp``: hidden, and ignored by git and DVC
(``.gitignore``, ``.dvcignore``), so the one a SIGKILL can leave is neither committed nor hashed into an
output folder such as ``data/cache``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.errors import InputError, PipelineError

log = logging.getLogger(__name__)

_UMASK = os.umask(0)
os.umask(_UMASK)
TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")


class OutputError(PipelineError, OSError):
    """An output could not be written; the message names the output, not its hidden temporary file."""


def output_path(path: Path) -> Path:
    """The output a (possibly nested) temporary path stands for: ``models/.uni.k2j4h5g6.tmp/spec.json`` is
    ``models/uni/spec.json``."""
    parts = []
    for part in path.parts:
        while (match := TEMP_PATTERN.match(part)) is not None:
            part = match["name"]
        parts.append(part)
    return Path(*parts)


def _cannot_write(path: Path, exc: OSError) -> OSError:
    """``exc`` (raised on a hidden temporary file) as an error that names the output the user asked for."""
    path = output_path(path)
    with contextlib.suppress(ValueError):  # as the user named it: relative to the project
        path = path.absolute().relative_to(Path.cwd())
    reason = exc.strerror or str(exc)
    hint = ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "; free some space (or raise the file size limit) and rerun"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = f"; make {path.parent} writable and rerun"
    error = OutputError(f"cannot write {path}: {reason}{hint}; its previous version is kept")
    error.errno = exc.errno
    return error


_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO)


def _about_writing(exc: OSError, temps: list[str]) -> bool:
    """Whether ``exc`` is a failure to write one of ``temps`` (a write error often names no file)."""
    if isinstance(exc, OutputError):  # already names its output
        return False
    if exc.filename is not None:
        return any(os.path.abspath(exc.filename).startswith(os.path.abspath(t)) for t in temps)
    return exc.errno in _WRITE_ERRNOS


def _new_temp(path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual mode
    return Path(tmp)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse to sync a directory
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Yield one temporary path beside each of ``paths``; rename them all only if the block succeeds.

    Nothing is renamed until the whole block has run, so an error while producing the second file
    leaves the first output untouched too. A crash, an exception or a signal inside the block leaves
    every output as it was. Each temporary file is flushed to disk before its rename, so a power
    failure right after the rename cannot leave an empty output.
    """
    targets = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for target in targets:
            temps.append(_new_temp(target))
        try:
            yield temps
            for tmp in temps:
                if tmp.exists():
                    _fsync_file(tmp)
        except OSError as exc:  # a full disk or a file size limit while writing: name the output, not the temp
            target = next((t for tmp, t in zip(temps, targets, strict=True) if exc.filename == str(tmp)),
                          targets[0])
            if _about_writing(exc, [str(t) for t in temps]):
                raise _cannot_write(target, exc) from None
            raise
        for tmp, target in zip(temps, targets, strict=True):
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise _cannot_write(target, exc) from None
        for directory in {t.parent for t in targets}:
            _fsync_dir(directory)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    A crash, an exception or a SIGKILL inside the block leaves ``path`` untouched, so DVC never sees a
    half-written output (a SIGKILL can leave the hidden, ignored temporary file).
    """
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[BinaryIO]:
    """Open a temporary file for writing that replaces ``path`` when closed without error."""
    encoding = None if "b" in mode else "utf-8"
    newline = None if "b" in mode else ""
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding, newline=newline) as fh:
        yield fh


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # file system or kernel without the flag
        return False
    raise OSError(err, os.strerror(err), str(b))


def sha256_file(path: str | os.PathLike) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``path``; swap it in for ``path`` only if the block succeeds.

    The files of the folder (a checkpoint's weights and spec) change as one: on Linux the two folders trade
    places in one ``renameat2(RENAME_EXCHANGE)``, so ``path`` always holds the complete old set or the
    complete new one. Elsewhere the old folder is renamed aside first, and a kill between the two renames
    leaves no ``path`` (never a mix); the old folder is then the hidden ``.<name>.*.tmp`` beside it.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)
        try:
            yield tmp
            for child in tmp.iterdir():
                _fsync_file(child)
        except OSError as exc:
            if _about_writing(exc, [str(tmp)]):  # name the file in the folder when the error does
                raise _cannot_write(Path(exc.filename) if exc.filename else target, exc) from None
            raise
        try:
            if not target.exists():
                os.rename(tmp, target)
            elif not _exchange(tmp, target):
                aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
                os.rename(target, aside / target.name)
                os.rename(tmp, target)
                shutil.rmtree(aside, ignore_errors=True)
        except OSError as exc:
            raise _cannot_write(target, exc) from None
        _fsync_dir(target.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the new folder on failure, the old one after a swap


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_open(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path) as fh:
        fh.write(text)


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found (has the stage that writes it run?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); the file is "
                         "corrupt, rerun the stage that writes it") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg}); the file is "
                         "truncated or corrupt, rerun the stage that writes it") from exc
