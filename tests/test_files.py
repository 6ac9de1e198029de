"""Temp files of atomic writes: a write in progress is told from an abandoned one by its lock.

Each test arranges who holds which lock before the cleaner looks, and hands locks over
through pipes: nothing depends on timing.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scratchnn import _files
from scratchnn._files import (
    atomic_write,
    commit_temp,
    open_locked_temp,
    remove_stale_temps,
)

fcntl = pytest.importorskip("fcntl", reason="temp files are locked where fcntl exists")

SUFFIX = ".scratchnn-tmp"
# Above every system's largest process id (Linux's limit is 2**22): no process here has it,
# as for a writer in another PID namespace (a container sharing the folder).
DEAD_PID = 2**22 + 1

HOLDER = """
import fcntl, os, sys
descriptor = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()      # holds the lock until the parent closes the pipe
"""


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def locked_elsewhere(path: Path) -> bool:
    """Whether someone holds ``path`` locked (tried through a new open file, not kept)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def test_a_temp_locked_by_a_live_process_stays_whatever_pid_its_name_carries(tmp_path):
    target = tmp_path / "m.snn"
    temp = tmp_path / f".m.snn.{DEAD_PID}.0badc0de{SUFFIX}"
    temp.write_bytes(b"being written in another PID namespace")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(temp)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline() == "locked\n"
        remove_stale_temps(target, SUFFIX)
        assert temp.exists()              # the PID rule would have deleted it
    finally:
        holder.stdin.close()              # the holder reads an end of file and exits
        assert holder.wait() == 0
        holder.stdout.close()
    remove_stale_temps(target, SUFFIX)    # its lock died with it: now abandoned
    assert names(tmp_path) == []


def test_a_temp_locked_through_another_open_file_of_this_process_stays(tmp_path):
    target = tmp_path / "m.snn"
    temp = tmp_path / f".m.snn.{DEAD_PID}.0badc0de{SUFFIX}"
    temp.write_bytes(b"being written by another thread")
    descriptor = os.open(temp, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        remove_stale_temps(target, SUFFIX)
        assert temp.exists()
    finally:
        os.close(descriptor)
    remove_stale_temps(target, SUFFIX)
    assert not temp.exists()


def test_an_unlocked_temp_with_our_own_pid_is_removed(tmp_path):
    # A container's Python is often PID 1 on every run: the file of a killed earlier run
    # carries the id this process has now.
    target = tmp_path / "m.snn"
    ours = tmp_path / f".m.snn.{os.getpid()}.0badc0de{SUFFIX}"
    dead = tmp_path / f".m.snn.{DEAD_PID}.0badc0de{SUFFIX}"
    other = tmp_path / f".other.snn.{DEAD_PID}.0badc0de{SUFFIX}"   # another target's
    for path in (ours, dead, other):
        path.write_bytes(b"half a model")
    atomic_write(target, [b"new model"], SUFFIX, action="save")
    assert names(tmp_path) == [other.name, "m.snn"]
    assert target.read_bytes() == b"new model"


def test_the_writer_holds_its_temp_locked_until_the_rename(tmp_path):
    target = tmp_path / "m.snn"
    descriptor, temp = open_locked_temp(target, SUFFIX)
    file = os.fdopen(descriptor, "wb")
    file.write(b"content")
    assert temp.parent == tmp_path and temp.name.startswith(f".m.snn.{os.getpid()}.")
    assert locked_elsewhere(temp)
    remove_stale_temps(target, SUFFIX)            # another save to the same path starting
    assert temp.exists()
    commit_temp(file, temp, target)
    assert file.closed and names(tmp_path) == ["m.snn"]
    assert target.read_bytes() == b"content"


def test_a_failed_write_removes_its_temp(tmp_path):
    target = tmp_path / "m.snn"

    def chunks():
        yield b"half"
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(target, chunks(), SUFFIX, action="save")
    assert names(tmp_path) == []


# ------------------------------------------- a cleaner between the writer's create and lock


def cleaner_strikes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, times: int,
                    how: str) -> list[Path]:
    """Make the next ``times`` temp files created be taken by a "cleaner" right after their
    creation, before the writer locks them: deleted, replaced by another file, or held
    locked (while the cleaner would delete it). Returns the paths created."""
    created: list[Path] = []
    real_open = os.open

    def racing_open(path, flags, *args, **kwargs):
        descriptor = real_open(path, flags, *args, **kwargs)
        if flags & os.O_EXCL and len(created) < times:
            created.append(Path(path))
            if how in ("deleted", "replaced"):
                os.unlink(path)
                if how == "replaced":
                    Path(path).write_bytes(b"another file under the same name")
            else:
                cleaner = real_open(path, os.O_RDONLY)
                fcntl.flock(cleaner, fcntl.LOCK_EX)
                request.addfinalizer(lambda: os.close(cleaner))
        return descriptor

    monkeypatch.setattr(os, "open", racing_open)
    return created


@pytest.mark.parametrize("how", ["deleted", "replaced", "held"])
def test_the_writer_starts_again_when_a_cleaner_took_its_new_file(request, tmp_path, monkeypatch,
                                                                  how):
    target = tmp_path / "m.snn"
    created = cleaner_strikes(request, monkeypatch, 2, how)
    descriptor, temp = open_locked_temp(target, SUFFIX)
    monkeypatch.undo()
    with os.fdopen(descriptor, "wb") as file:
        assert len(created) == 2 and temp not in created     # a third, fresh name
        assert locked_elsewhere(temp)
        # The file open is the one under the name: what is written lands in the target.
        assert os.fstat(file.fileno()).st_ino == os.stat(temp).st_ino
        file.write(b"content")
        commit_temp(file, temp, target)
    assert target.read_bytes() == b"content"


def test_the_writer_gives_up_after_eight_attempts(request, tmp_path, monkeypatch):
    target = tmp_path / "m.snn"
    created = cleaner_strikes(request, monkeypatch, 100, "deleted")
    with pytest.raises(OSError, match="was removed by another process") as caught:
        atomic_write(target, [b"content"], SUFFIX, action="save")
    monkeypatch.undo()
    assert caught.value.errno == errno.EAGAIN
    assert repr(str(target)) in str(caught.value) and "cannot save" in str(caught.value)
    assert len(created) == 8 and names(tmp_path) == []


# ------------------------------------------------------------ what the cleaner leaves alone


CLEAN_FIFO = """
import sys
from pathlib import Path
from scratchnn._files import remove_stale_temps
remove_stale_temps(Path(sys.argv[1]), ".scratchnn-tmp")
print("returned")
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_a_link_under_a_temp_name_is_left_alone(tmp_path):
    target = tmp_path / "m.snn"
    fifo = tmp_path / f".m.snn.{DEAD_PID}.0badc0de{SUFFIX}"
    os.mkfifo(fifo)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b"not a temp file")
    link = tmp_path / f".m.snn.{DEAD_PID}.1badc0de{SUFFIX}"
    link.symlink_to(elsewhere)
    # In a child: opening the FIFO for reading without O_NONBLOCK would never return.
    result = subprocess.run([sys.executable, "-c", CLEAN_FIFO, str(target)],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout == "returned\n", result.stderr
    assert names(tmp_path) == sorted([fifo.name, link.name, "elsewhere.txt"])


@pytest.mark.skipif(os.name != "posix", reason="the process-id rule is used on POSIX only")
def test_without_fcntl_the_process_id_decides(tmp_path, monkeypatch):
    monkeypatch.setattr(_files, "fcntl", None)
    target = tmp_path / "m.snn"
    dead = tmp_path / f".m.snn.{DEAD_PID}.0badc0de{SUFFIX}"
    ours = tmp_path / f".m.snn.{os.getpid()}.0badc0de{SUFFIX}"
    legacy = tmp_path / f".m.snn.abc_1234{SUFFIX}"    # no process id: cannot be told
    for path in (dead, ours, legacy):
        path.write_bytes(b"half a model")
    remove_stale_temps(target, SUFFIX, legacy=[rf"\.m\.snn\.[a-z0-9_]{{8}}{SUFFIX}"])
    assert names(tmp_path) == sorted([ours.name, legacy.name])
    atomic_write(target, [b"content"], SUFFIX, action="save")   # unlocked, still atomic
    assert names(tmp_path) == sorted([ours.name, legacy.name, "m.snn"])
