"""Atomic writes: temporary files beside their target, and cleaning up those a killed
process left behind.

A file is written under a temporary name in the target's folder (so that :func:`os.replace`
is an atomic rename), flushed to disk and renamed into place once complete. The temporary
name embeds the writer's process id, ``.<name>.<pid>.<random hex><suffix>``, so that a later
writer can tell a file still being written (its process is alive) from one abandoned by a
killed process. Model files (:mod:`scratchnn.io`) and downloads share this.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "atomic_write", "fsync_folder", "process_alive", "remove_stale_temps", "temp_name",
    "temp_stem",
]


def temp_stem(target: Path) -> str:
    """``target``'s name, shortened with a hash when the temp name would pass 255 bytes.

    Measured and cut in the file system's bytes (any name, even one that is not valid UTF-8).
    """
    name = target.name
    raw = os.fsencode(name)
    if len(raw) <= 180:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:16]
    # 60 bytes of the name, never half a character: undecodable bytes stay as surrogates.
    head = os.fsdecode(raw[:60])
    while len(os.fsencode(head)) > 60:
        head = head[:-1]
    return f"{head}~{digest}"


def temp_name(target: Path, suffix: str) -> Path:
    """``.<name>.<pid>.<random hex><suffix>`` beside ``target`` (same file system)."""
    token = os.urandom(4).hex()
    return target.with_name(f".{temp_stem(target)}.{os.getpid()}.{token}{suffix}")


def remove_stale_temps(target: Path, suffix: str) -> None:
    """Delete temp files for ``target`` whose writing process has died (POSIX only).

    A write killed midway leaves its temp file; the next write to the same path removes it.
    On Windows, where no cheap "is this process alive" exists, they are left in place.
    """
    if os.name != "posix":
        return
    pattern = re.compile(rf"\.{re.escape(temp_stem(target))}\.(\d+)\.[0-9a-f]+{re.escape(suffix)}")
    folder = target.parent
    try:
        candidates = os.listdir(folder)
    except OSError:
        return
    for candidate in candidates:
        match = pattern.fullmatch(candidate)
        if match is None or process_alive(int(match.group(1))):
            continue
        try:
            os.unlink(folder / candidate)
        except OSError:
            pass


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists; True when that cannot be told (leave its files alone)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)          # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, AttributeError):
        # No permission, or no process table at all (WebAssembly builds such as Pyodide):
        # when in doubt the temp file is someone's write in progress, and is left alone.
        return True
    return True


def atomic_write(
    target: Path, chunks: Iterable[bytes | memoryview], suffix: str, *, action: str
) -> None:
    """Write ``chunks`` to a temp file beside ``target``, fsync it, rename it over ``target``,
    fsync the folder: a crash at any point leaves either the old file or the new one.

    The file keeps the permission bits of the file it replaces (a private 0600 file stays
    private); a new file gets the usual ``0o666 & ~umask``. ``action`` ("save") names what
    failed in the error when the folder cannot take a new file.
    """
    remove_stale_temps(target, suffix)
    mode = _permission_bits(target)
    temp = temp_name(target, suffix)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(temp, flags, 0o666)
    except OSError as error:
        # Name the user's path and its folder, not the hidden temp file.
        raise type(error)(
            error.errno,
            f"cannot {action} {str(target)!r}: cannot create a file in the folder "
            f"{str(target.parent)!r} ({error.strerror})",
        ) from error
    try:
        if mode is not None:
            _set_mode(descriptor, temp, mode)
        with os.fdopen(descriptor, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    fsync_folder(target.parent)


def _permission_bits(target: Path) -> int | None:
    """The rwx bits of the file ``target`` replaces, or None for a new file.

    The rename puts a new file in place, which would otherwise get the default mode: a
    private 0600 model would become world-readable.
    """
    try:
        return stat.S_IMODE(os.stat(target).st_mode) & 0o777
    except OSError:
        return None


def _set_mode(descriptor: int, temp: Path, mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, mode)
    else:   # Windows (before Python 3.13): only the read-only flag exists
        os.chmod(temp, mode)


def fsync_folder(folder: Path) -> None:
    """Make a rename durable; not possible on Windows or some file systems (skipped there)."""
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
