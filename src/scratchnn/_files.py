"""Atomic writes: temporary files beside their target, and cleaning up those a killed
process left behind.

A file is written under a temporary name in the target's folder (so that :func:`os.replace`
is an atomic rename), flushed to disk and renamed into place once complete. Model files
(:mod:`scratchnn.io`) and downloads share this.

Telling a write in progress from one a killed process left behind: the writer holds an
exclusive :func:`fcntl.flock` lock on its temp file from the moment it creates it until the
file is renamed into place or deleted. The kernel drops the lock when the process dies, however
it dies, so a cleaner that can take the lock knows the writer is gone. Process ids cannot tell
this: a container sharing a cache volume numbers its processes on its own (its Python is often
PID 1 on every run), so an id may belong to no one here while its writer is alive, or be ours
while its writer is long dead. Where ``fcntl`` is missing the name's process id decides (see
:func:`remove_stale_temps`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:           # Windows; some WebAssembly builds
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "atomic_write", "commit_temp", "discard_temp", "fsync_folder", "open_locked_temp",
    "process_alive", "remove_stale_temps", "temp_name", "temp_stem",
]

# Fresh names tried when a cleaner removes each new temp file before its lock is taken: two
# in a row already need a cleaner to hit the microseconds between create and lock twice.
_CREATE_ATTEMPTS = 8


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


def open_locked_temp(target: Path, suffix: str) -> tuple[int, Path]:
    """Create a new temp file for ``target`` and lock it; return its descriptor and path.

    The lock lasts as long as the descriptor is open: pass the file to :func:`commit_temp`
    or :func:`discard_temp`, which rename or delete it before closing it. A cleaner may take
    the file in the instant between its creation and its lock (it is not locked yet, so it
    looks abandoned): the writer then finds another file, or none, under its name once it
    holds the lock, and starts again under a fresh name.

    Raises
    ------
    OSError
        If the folder cannot take a new file, or each of 8 new files was removed by a
        cleaner before it could be locked.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_CREATE_ATTEMPTS):
        temp = temp_name(target, suffix)
        descriptor = os.open(temp, flags, 0o666)
        if fcntl is None:
            return descriptor, temp
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)         # a cleaner holds it and is deleting it
            continue
        except OSError:
            # No locks on this file system (some network mounts): the file is written
            # unlocked, and cleaners that cannot lock either fall back to the process id.
            return descriptor, temp
        if _still_named(descriptor, temp):
            return descriptor, temp
        os.close(descriptor)
    raise OSError(errno.EAGAIN, f"each new temporary file for {str(target)!r} was removed by "
                  "another process before it could be locked")


def commit_temp(file: IO[bytes], temp: Path, target: Path) -> None:
    """Flush ``file`` (written to ``temp``), rename it over ``target``, then close it.

    Renamed while still open, hence still locked: a cleaner cannot take it in between.
    Windows cannot rename an open file, and has no such cleaner: closed first there.
    """
    file.flush()
    if os.name == "nt":
        file.close()
    os.replace(temp, target)
    file.close()


def discard_temp(file: IO[bytes], temp: Path) -> None:
    """Delete ``temp`` and close ``file``, quietly: used while another error is raised."""
    if os.name == "nt":
        _close_quietly(file)       # Windows cannot delete an open file
    try:
        os.unlink(temp)
    except OSError:
        pass
    _close_quietly(file)


def _close_quietly(file: IO[bytes]) -> None:
    try:
        file.close()               # may flush buffered bytes into a full disk
    except OSError:
        pass


def _still_named(descriptor: int, path: Path) -> bool:
    """Whether ``path`` is still the file open as ``descriptor`` (not deleted, not replaced)."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_ino, named.st_dev) == (opened.st_ino, opened.st_dev)


def remove_stale_temps(target: Path, suffix: str, *, legacy: Iterable[str] = ()) -> None:
    """Delete the temp files for ``target`` whose writer is gone.

    A write killed midway leaves its temp file; the next write to the same path removes it.
    A temp file nobody holds locked is abandoned, whatever process id its name carries (see
    the module's docstring). ``legacy``: regular expressions for names that earlier versions
    gave their temp files, cleaned by the same rule. Without ``fcntl`` a file is abandoned
    when the process its name gives has ended (legacy names carry none and stay); on Windows,
    where no cheap "is this process alive" exists, temp files are left in place.
    """
    if fcntl is None and os.name != "posix":
        return
    patterns = [
        re.compile(rf"\.{re.escape(temp_stem(target))}\.(\d+)\.[0-9a-f]+{re.escape(suffix)}"),
        *(re.compile(pattern) for pattern in legacy),
    ]
    folder = target.parent
    try:
        candidates = os.listdir(folder)
    except OSError:
        return
    for candidate in candidates:
        for pattern in patterns:
            match = pattern.fullmatch(candidate)
            if match is not None:
                pid = int(match.group(1)) if pattern.groups else None
                _remove_if_abandoned(folder / candidate, pid)
                break


def _remove_if_abandoned(path: Path, pid: int | None) -> None:
    """Delete ``path`` if nobody holds it locked (nor, without locks, its process ``pid`` runs)."""
    if fcntl is None:
        if pid is not None and not process_alive(pid):
            _unlink_quietly(path)
        return
    # O_NONBLOCK: a FIFO under a temp file's name must not hang the open; O_NOFOLLOW: a link
    # is not followed to a file elsewhere.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return                   # gone already, a link, or not ours to read: left alone
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return               # its writer is alive
        except OSError:
            # No locks here (some network mounts): the process id decides, as without fcntl.
            if pid is not None and not process_alive(pid):
                _unlink_quietly(path)
            return
        # Locked by us now, so its writer is gone. Deleted only if the name still is this
        # file: another cleaner may have deleted it meanwhile and a writer made a new one.
        if _still_named(descriptor, path):
            _unlink_quietly(path)
    finally:
        os.close(descriptor)     # drops our lock


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
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
    try:
        descriptor, temp = open_locked_temp(target, suffix)
    except OSError as error:
        # Name the user's path and its folder, not the hidden temp file.
        raise type(error)(
            error.errno,
            f"cannot {action} {str(target)!r}: cannot create a file in the folder "
            f"{str(target.parent)!r} ({error.strerror})",
        ) from error
    file = os.fdopen(descriptor, "wb")
    try:
        if mode is not None:
            _set_mode(descriptor, temp, mode)
        for chunk in chunks:
            file.write(chunk)
        file.flush()
        os.fsync(descriptor)
        commit_temp(file, temp, target)
    except BaseException:
        discard_temp(file, temp)
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
