"""Temporary files beside their target, and cleaning up those a killed process left behind.

A file is written under a temporary name in the target's folder (so that :func:`os.replace`
is an atomic rename) and renamed into place once complete. The temporary name embeds the
writer's process id, ``.<name>.<pid>.<random hex><suffix>``, so that a later writer can tell
a file still being written (its process is alive) from one abandoned by a killed process.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

__all__ = ["process_alive", "remove_stale_temps", "temp_name", "temp_stem"]


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
