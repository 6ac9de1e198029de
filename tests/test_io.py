"""The container under model files: a checked header plus named float arrays, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchnn import ModelFileError
from scratchnn.io import ALIGNMENT, FORMAT_VERSION, MAGIC, read_file, write_file

HEADER = {"content": "parameters", "parameters": [], "state": []}


def sample_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "a": rng.standard_normal((3, 5)).astype(np.float32),
        "b": rng.standard_normal((1, 7)),  # float64
        "empty": np.zeros((0, 4), dtype=np.float32),
        "c": np.asfortranarray(rng.standard_normal((4, 3)).astype(np.float32)),
    }


def test_round_trip_keeps_values_dtypes_and_shapes(tmp_path):
    path = tmp_path / "m.snn"
    arrays = sample_arrays()
    write_file(path, HEADER, arrays)
    header, loaded = read_file(path)
    assert header["content"] == "parameters"
    assert header["format"] == "scratchnn"
    assert list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype
        assert loaded[name].shape == array.shape
        assert np.array_equal(loaded[name], array)
        assert loaded[name].flags.writeable


def test_layout_is_the_documented_one(tmp_path):
    """Prefix, header hash, 64-byte aligned little-endian arrays, exact file size."""
    path = tmp_path / "m.snn"
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3)}
    write_file(path, HEADER, arrays)
    data = path.read_bytes()
    magic, version, header_length, header_hash = struct.unpack_from("<8sIQ32s", data)
    assert magic == MAGIC == b"\x89SNN\r\n\x1a\n"
    assert version == FORMAT_VERSION == 2
    header_bytes = data[52 : 52 + header_length]
    assert hashlib.sha256(header_bytes).digest() == header_hash
    header = json.loads(header_bytes)
    data_start = -(-(52 + header_length) // ALIGNMENT) * ALIGNMENT
    assert len(data) == data_start + header["data_bytes"]
    for entry, (name, array) in zip(header["arrays"], arrays.items(), strict=True):
        assert entry["name"] == name and entry["offset"] % ALIGNMENT == 0
        start = data_start + entry["offset"]
        raw = data[start : start + entry["nbytes"]]
        assert raw == array.astype(array.dtype.newbyteorder("<")).tobytes()
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"]


def test_refuses_to_write_other_dtypes(tmp_path):
    with pytest.raises(TypeError, match="float32 or float64"):
        write_file(tmp_path / "m.snn", HEADER, {"x": np.arange(3)})
    with pytest.raises(TypeError, match="float32 or float64"):
        write_file(tmp_path / "m.snn", HEADER, {"x": np.array([object()])})
    assert not list(tmp_path.iterdir())


class Payload:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_bare_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "m.snn"
    path.write_bytes(pickle.dumps({"weights": Payload(marker)}))
    with pytest.raises(ModelFileError, match="pickle"):
        read_file(path)
    assert not marker.exists()


def test_npz_with_object_arrays_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "m.npz"
    with open(path, "wb") as file:
        np.savez(file, weights=np.array([Payload(marker)], dtype=object))
    assert not marker.exists()
    with pytest.raises(ModelFileError, match="npz"):
        read_file(path)
    assert not marker.exists()


def test_object_dtype_inside_a_valid_container_is_refused(tmp_path):
    """A hand-made file with a correct header hash that declares an object array."""
    marker = tmp_path / "pwned"
    payload = pickle.dumps(np.array([Payload(marker)], dtype=object))
    header = {
        "format": "scratchnn",
        **HEADER,
        "arrays": [
            {"name": "w", "dtype": "object", "shape": [1], "offset": 0, "nbytes": len(payload),
             "sha256": hashlib.sha256(payload).hexdigest()}
        ],
        "data_bytes": len(payload),
    }
    header_bytes = json.dumps(header).encode()
    digest = hashlib.sha256(header_bytes).digest()
    prefix = struct.pack("<8sIQ32s", MAGIC, FORMAT_VERSION, len(header_bytes), digest)
    start = -(-(len(prefix) + len(header_bytes)) // ALIGNMENT) * ALIGNMENT
    blob = prefix + header_bytes
    path = tmp_path / "m.snn"
    path.write_bytes(blob + b"\0" * (start - len(blob)) + payload)
    with pytest.raises(ModelFileError, match="object arrays are refused"):
        read_file(path)
    assert not marker.exists()


def test_empty_file_folder_and_missing_file(tmp_path):
    empty = tmp_path / "empty.snn"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        read_file(empty)
    with pytest.raises(ModelFileError, match="folder"):
        read_file(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "missing.snn")
    with pytest.raises(IsADirectoryError):
        write_file(tmp_path, HEADER, {})


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ModelFileError) as info:
        read_file(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_newer_format_version_is_refused_with_advice(tmp_path):
    path = tmp_path / "m.snn"
    write_file(path, HEADER, sample_arrays())
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 8, FORMAT_VERSION + 1)
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="format version is 3.*reads versions 1 and 2.*"
                                             "upgrade"):
        read_file(path)


def write_container(path: Path, fields: dict, version: int) -> None:
    """A container without arrays: ``fields`` as its header, of ``version``, checksum right."""
    header = {"format": "scratchnn", **fields, "arrays": [], "data_bytes": 0}
    header_bytes = json.dumps(header).encode()
    digest = hashlib.sha256(header_bytes).digest()
    blob = struct.pack("<8sIQ32s", MAGIC, version, len(header_bytes), digest) + header_bytes
    path.write_bytes(blob + b"\0" * (-len(blob) % ALIGNMENT))


def test_versions_1_and_2_are_read_and_no_other(tmp_path):
    """Version 2 added the layers' state: required there, refused in a version-1 header."""
    path = tmp_path / "m.snn"
    old = {"content": "parameters", "parameters": []}
    write_container(path, old, 1)
    assert read_file(path) == ({"format": "scratchnn", **old, "arrays": [], "data_bytes": 0}, {})
    write_container(path, {**old, "state": []}, 1)
    with pytest.raises(ModelFileError, match="a version-1 file has no state entry"):
        read_file(path)
    write_container(path, {**old, "state": []}, 2)
    assert read_file(path)[0]["state"] == []
    write_container(path, old, 2)
    with pytest.raises(ModelFileError, match=r"malformed \(KeyError: 'state'\)"):
        read_file(path)
    for state in (None, {}, [None], [{"layer": 0, "class": "X", "arrays": {}}]):
        write_container(path, {**old, "state": state}, 2)
        with pytest.raises(ModelFileError, match="malformed"):
            read_file(path)
    write_container(path, {**old, "state": []}, 0)
    with pytest.raises(ModelFileError, match=r"format version is 0 but this scratchnn \(.*\) "
                                             "reads versions 1 and 2$"):
        read_file(path)


def test_every_truncation_is_refused(tmp_path):
    path = tmp_path / "m.snn"
    write_file(path, HEADER, sample_arrays())
    data = path.read_bytes()
    damaged = tmp_path / "d.snn"
    for length in range(len(data)):
        damaged.write_bytes(data[:length])
        with pytest.raises(ModelFileError):
            read_file(damaged)


def test_every_single_byte_change_is_detected(tmp_path):
    """Checksums or zero-padding cover every byte, so no change loads silently."""
    path = tmp_path / "m.snn"
    write_file(path, HEADER, sample_arrays())
    data = path.read_bytes()
    damaged = tmp_path / "d.snn"
    for position in range(len(data)):
        changed = bytearray(data)
        changed[position] ^= 0x10
        damaged.write_bytes(bytes(changed))
        with pytest.raises(ModelFileError):
            read_file(damaged)
    damaged.write_bytes(data + b"\0")
    with pytest.raises(ModelFileError, match="extended"):
        read_file(damaged)


def test_save_replaces_atomically_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "m.snn"
    write_file(path, HEADER, {"x": np.zeros(3)})
    old_bytes = path.read_bytes()
    calls = []
    real_replace, real_fsync = os.replace, os.fsync

    def spy_replace(source, target):
        # At the moment of the rename: the new bytes are complete in another file of the same
        # folder, and the target still holds the old model.
        calls.append(("replace", Path(source), Path(target), Path(source).read_bytes(),
                      Path(target).read_bytes()))
        real_replace(source, target)

    def spy_fsync(descriptor):
        calls.append(("fsync", descriptor))
        real_fsync(descriptor)

    import scratchnn.io as io_module

    monkeypatch.setattr(io_module.os, "replace", spy_replace)
    monkeypatch.setattr(io_module.os, "fsync", spy_fsync)
    write_file(path, HEADER, {"x": np.ones(3)})
    kinds = [call[0] for call in calls]
    # The temp file is flushed to disk before the rename, and (POSIX) the folder after it.
    assert kinds[:2] == ["fsync", "replace"]
    if os.name == "posix":
        assert kinds == ["fsync", "replace", "fsync"]
    _, source, target, new_bytes, target_bytes = calls[1]
    assert source != target and source.parent == target.parent == tmp_path
    assert target_bytes == old_bytes and new_bytes == path.read_bytes() != old_bytes
    assert [p.name for p in tmp_path.iterdir()] == ["m.snn"]
    assert np.array_equal(read_file(path)[1]["x"], np.ones(3))


def test_failed_save_keeps_the_old_file_and_removes_its_temp(tmp_path):
    path = tmp_path / "m.snn"
    write_file(path, HEADER, {"x": np.zeros(3)})
    with pytest.raises(TypeError):
        write_file(path, {"content": "parameters", "parameters": [], "bad": object()}, {})
    assert [p.name for p in tmp_path.iterdir()] == ["m.snn"]
    assert np.array_equal(read_file(path)[1]["x"], np.zeros(3))


@pytest.mark.skipif(os.name != "posix", reason="stale temp files are cleaned on POSIX only")
def test_temp_files_nobody_holds_are_cleaned_on_next_save(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    path = tmp_path / "m.snn"
    # A writer holds a lock on its temp file until the rename: one nobody holds was left by
    # a killed save, whatever process id its name carries (another PID namespace's, ours).
    dead = 2**22 + 1
    stale = tmp_path / f".m.snn.{dead}.0badc0de.scratchnn-tmp"
    stale.write_bytes(b"half a model")
    ours = tmp_path / f".m.snn.{os.getpid()}.0badc0de.scratchnn-tmp"
    ours.write_bytes(b"left by an earlier run with our pid")
    alive = tmp_path / f".m.snn.{dead}.1badc0de.scratchnn-tmp"   # a save in progress elsewhere
    alive.write_bytes(b"being written")
    other = tmp_path / f".other.snn.{dead}.0badc0de.scratchnn-tmp"
    other.write_bytes(b"another file's")
    holder = os.open(alive, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        write_file(path, HEADER, {"x": np.zeros(3)})
    finally:
        os.close(holder)
    assert not stale.exists() and not ours.exists()
    assert alive.exists() and other.exists()


def test_saving_into_a_missing_folder_names_the_folder_not_a_temp_file(tmp_path):
    target = tmp_path / "missing" / "m.snn"
    with pytest.raises(FileNotFoundError) as caught:
        write_file(target, {"content": "parameters", "parameters": []}, {})
    message = str(caught.value)
    assert repr(str(target)) in message
    assert f"the folder {str(tmp_path / 'missing')!r} does not exist" in message
    assert "scratchnn-tmp" not in message


@pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")
def test_saving_to_a_symlink_writes_through_it(tmp_path):
    real = tmp_path / "real.snn"
    write_file(real, HEADER, {"x": np.zeros(3)})
    link = tmp_path / "link.snn"
    link.symlink_to(real)
    write_file(link, HEADER, {"x": np.ones(3)})
    assert link.is_symlink()
    assert np.array_equal(read_file(real)[1]["x"], np.ones(3))


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs a device file")
def test_saving_over_a_device_is_refused():
    with pytest.raises(OSError, match="is not a regular file"):
        write_file("/dev/null", HEADER, {"x": np.zeros(3)})
    assert not os.path.isfile("/dev/null")


def test_a_long_file_name_still_saves_and_cleans_its_temps(tmp_path):
    path = tmp_path / ("a" * 240 + ".snn")     # 244 bytes: the file system allows 255
    write_file(path, HEADER, {"x": np.zeros(3)})
    write_file(path, HEADER, {"x": np.ones(3)})
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert np.array_equal(read_file(path)[1]["x"], np.ones(3))


def test_an_unwritable_folder_is_named_not_the_temp_file(tmp_path, monkeypatch):
    # Running as root, chmod cannot make a folder unwritable; make os.open refuse instead.
    import scratchnn.io as io_module

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(io_module.os, "open", refuse)
    target = tmp_path / "m.snn"
    with pytest.raises(PermissionError) as caught:
        write_file(target, HEADER, {"x": np.zeros(3)})
    message = str(caught.value)
    assert repr(str(target)) in message and "Permission denied" in message
    assert "scratchnn-tmp" not in message


@pytest.mark.parametrize("length", [8, 10, 51])
def test_a_file_cut_inside_its_prefix_is_called_truncated(tmp_path, length):
    path = tmp_path / "m.snn"
    write_file(path, HEADER, {"x": np.zeros(3)})
    path.write_bytes(path.read_bytes()[:length])
    with pytest.raises(ModelFileError, match=f"truncated \\({length} bytes"):
        read_file(path)


@pytest.mark.skipif(os.name != "posix", reason="byte file names are a POSIX matter")
@pytest.mark.parametrize(
    "name",
    [os.fsdecode(b"m\xff.snn"), "\U0001F600" * 62 + ".snn", "\u00e9" * 120 + ".snn"],
    ids=["not-utf8", "emoji-252-bytes", "accents-244-bytes"],
)
def test_any_name_the_file_system_takes_can_be_saved_twice(tmp_path, name):
    path = tmp_path / name
    write_file(path, HEADER, {"x": np.zeros(3)})
    write_file(path, HEADER, {"x": np.ones(3)})
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert np.array_equal(read_file(path)[1]["x"], np.ones(3))


# ---------------------------------------------------------------------------- permissions


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o600, 0o444, 0o640, 0o755])
def test_saving_over_a_file_keeps_its_permission_bits(tmp_path, mode):
    path = tmp_path / "m.snn"
    write_file(path, HEADER, {"x": np.zeros(3)})
    os.chmod(path, mode)
    write_file(path, HEADER, {"x": np.ones(3)})
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert np.array_equal(read_file(path)[1]["x"], np.ones(3))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umask_mode(tmp_path, umask):
    previous = os.umask(umask)
    try:
        write_file(tmp_path / "m.snn", HEADER, {"x": np.zeros(3)})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "m.snn").st_mode) == 0o666 & ~umask


@pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")
def test_saving_through_a_symlink_keeps_the_target_mode(tmp_path):
    real = tmp_path / "real.snn"
    write_file(real, HEADER, {"x": np.zeros(3)})
    os.chmod(real, 0o600)
    link = tmp_path / "link.snn"
    link.symlink_to(real)
    write_file(link, HEADER, {"x": np.ones(3)})
    assert link.is_symlink() and stat.S_IMODE(os.stat(real).st_mode) == 0o600


@pytest.mark.skipif(os.name != "posix", reason="hard links")
def test_a_hard_link_keeps_the_old_contents(tmp_path):
    """The rename replaces one directory entry: other names of the old file still see it."""
    path = tmp_path / "m.snn"
    write_file(path, HEADER, {"x": np.zeros(3)})
    other = tmp_path / "other-name.snn"
    os.link(path, other)
    write_file(path, HEADER, {"x": np.ones(3)})
    assert np.array_equal(read_file(path)[1]["x"], np.ones(3))
    assert np.array_equal(read_file(other)[1]["x"], np.zeros(3))


# ---------------------------------------------------------------------------- paths


@pytest.mark.parametrize("bad", [None, 123, b"m.snn", 1.5, ["m.snn"]])
def test_a_path_that_is_not_a_file_path_is_a_type_error_naming_path(tmp_path, bad):
    got = type(bad).__name__
    with pytest.raises(TypeError, match=f"path must be a str or os.PathLike file path.*{got}"):
        read_file(bad)
    with pytest.raises(TypeError, match=f"path must be a str or os.PathLike.*{got}"):
        write_file(bad, HEADER, {})
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------- special files


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    """open() on a FIFO waits for a writer forever; loading refuses it before opening."""
    fifo = tmp_path / "pipe.snn"
    os.mkfifo(fifo)
    code = (
        "import sys\n"
        "from scratchnn.io import read_file\n"
        "try:\n"
        "    read_file(sys.argv[1])\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    # In a child with a generous timeout, so that a regression fails instead of hanging the run.
    done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.startswith("ModelFileError") and "not a regular file" in done.stdout
    assert str(fifo) in done.stdout


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs a device file")
def test_a_device_is_refused_without_reading_it():
    with pytest.raises(ModelFileError, match="not a regular file"):
        read_file("/dev/zero")
