"""MNIST-1D: the shared copy loads, paths resolve, and crafted bad files are refused clearly."""

from __future__ import annotations

import doctest
import io
import os
import pickle
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from scratchnn.datasets import DatasetNotFoundError, load_mnist1d
from scratchnn.datasets import mnist1d as mnist1d_module
from scratchnn.errors import DatasetError

RECIPE_LINES = (
    "pip install mnist1d",
    "from mnist1d.data import make_dataset, get_dataset_args",
    "d = make_dataset(get_dataset_args())",
    'numpy.savez("mnist1d.npz", x=d["x"], y=d["y"], x_test=d["x_test"], y_test=d["y_test"])',
)


def valid_arrays(n: int = 20, n_test: int = 10, length: int = 40) -> dict[str, np.ndarray]:
    """A little valid MNIST-1D: what the recipe writes, in miniature."""
    rng = np.random.default_rng(0)
    return {
        "x": rng.standard_normal((n, length)).astype(np.float32),
        "y": np.arange(n, dtype=np.int64) % 10,
        "x_test": rng.standard_normal((n_test, length)).astype(np.float32),
        "y_test": np.arange(n_test, dtype=np.int64) % 10,
    }


def save(folder: Path, **override: np.ndarray | None) -> Path:
    """``mnist1d.npz`` in ``folder`` written by np.savez; an override of None drops a key."""
    arrays = {**valid_arrays(), **override}
    file = folder / "mnist1d.npz"
    np.savez(file, **{key: value for key, value in arrays.items() if value is not None})
    return file


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """A .npy header alone: an array that claims ``shape`` and holds no data yet."""
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def zip_members(folder: Path, members: dict[str, bytes], *, valid: bool = True) -> Path:
    """An .npz written member by member, for files np.savez cannot write (bare headers,
    members that are not .npy, two names for one key): the valid arrays unless ``valid`` is
    false, with ``members`` added or put in their place."""
    file = folder / "mnist1d.npz"
    entries = {f"{key}.npy": npy_bytes(value) for key, value in valid_arrays().items()}
    entries = {**(entries if valid else {}), **members}
    with zipfile.ZipFile(file, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return file


# --- the shared copy --------------------------------------------------------------------------


def test_shared_copy_loads_from_the_data_dir(data_dir, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA_DIR", str(data_dir))
    (x, y), (x_test, y_test) = load_mnist1d()
    assert x.shape == (4000, 40) and x_test.shape == (1000, 40)
    assert y.shape == (4000,) and y_test.shape == (1000,)
    assert x.dtype == np.float32 and x_test.dtype == np.float32
    assert y.dtype == np.int64 and y_test.dtype == np.int64
    assert x.flags.c_contiguous and x_test.flags.c_contiguous
    assert np.isfinite(x).all() and np.isfinite(x_test).all()
    # Centred with standard deviation 1 by make_dataset (over both splits together).
    assert abs(float(x.mean())) < 0.1 and 0.9 < float(x.std()) < 1.1
    for labels in (y, y_test):
        assert labels.min() == 0 and labels.max() == 9
        # 500 samples per class before the 80/20 shuffle split: roughly a tenth each.
        shares = np.bincount(labels, minlength=10) / len(labels)
        assert np.all((shares > 0.08) & (shares < 0.12)), shares


def test_folder_and_file_paths_load_the_same_arrays(data_dir):
    folder = data_dir / "mnist1d"
    (x, y), (x_test, y_test) = load_mnist1d(folder)
    (x2, y2), (x_test2, y_test2) = load_mnist1d(str(folder / "mnist1d.npz"))
    for first, second in ((x, x2), (y, y2), (x_test, x_test2), (y_test, y_test2)):
        np.testing.assert_array_equal(first, second)


def test_docstring_example_runs(data_dir, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA_DIR", str(data_dir))
    results = doctest.testmod(mnist1d_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.attempted >= 3 and results.failed == 0


def test_conv1d_layout_is_a_view_with_one_channel(data_dir):
    (x, _), _ = load_mnist1d(data_dir / "mnist1d")
    signals = x[:, None, :]
    assert signals.shape == (4000, 1, 40) and np.shares_memory(signals, x)


# --- where the file is looked for ---------------------------------------------------------------


def test_missing_file_says_how_to_make_it(tmp_path):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_mnist1d(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "mnist1d.npz") in message and "no download" in message
    for line in RECIPE_LINES:
        assert line in message
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, DatasetError)


def test_default_is_the_data_dir_then_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(DatasetNotFoundError, match="data/mnist1d/mnist1d.npz"):
        load_mnist1d()
    monkeypatch.delenv("SCRATCHNN_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "scratchnn" / "mnist1d"
    with pytest.raises(DatasetNotFoundError, match="cache/scratchnn/mnist1d/mnist1d.npz"):
        load_mnist1d()
    folder.mkdir(parents=True)
    save(folder)
    (x, y), _ = load_mnist1d()
    assert x.shape == (20, 40) and y.shape == (20,)


def test_a_path_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        load_mnist1d(3)  # type: ignore[arg-type]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "mnist1d.npz"
    os.mkfifo(fifo)    # opening it for reading would wait for a writer forever
    with pytest.raises(DatasetError, match="not a regular file"):
        load_mnist1d(fifo)


# --- files that load ---------------------------------------------------------------------------


def test_other_real_dtypes_and_layouts_are_converted(tmp_path):
    arrays = valid_arrays(length=32)
    file = save(
        tmp_path,
        x=np.asfortranarray(arrays["x"].astype(">f8")),
        y=arrays["y"].astype(np.uint8),
        x_test=arrays["x_test"].astype(np.float16),
        y_test=arrays["y_test"].astype(np.int32),
        t=np.linspace(-1, 1, 32),                 # an extra numeric array is ignored
    )
    (x, y), (x_test, y_test) = load_mnist1d(file)
    assert x.dtype == x_test.dtype == np.float32 and y.dtype == y_test.dtype == np.int64
    assert x.shape == (20, 32) and x.flags.c_contiguous
    np.testing.assert_array_equal(x, arrays["x"])
    np.testing.assert_array_equal(y, arrays["y"])


def test_a_compressed_file_loads(tmp_path):
    file = tmp_path / "mnist1d.npz"
    np.savez_compressed(file, **valid_arrays())
    (x, _), (_, y_test) = load_mnist1d(file)
    assert x.shape == (20, 40) and y_test.shape == (10,)


# --- files that are refused --------------------------------------------------------------------

unpickled: list[str] = []


def _record_unpickling() -> str:
    unpickled.append("sprung")
    return "sprung"


class Trap:
    """Unpickling one records it: proof that a refused object array was never unpickled."""

    def __reduce__(self):
        return (_record_unpickling, ())


def object_array() -> np.ndarray:
    array = np.empty(20, dtype=object)
    array[:] = [Trap() for _ in range(20)]
    return array


def rng_x(n: int = 20, length: int = 40) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((n, length)).astype(np.float32)


def with_value(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    array = array.copy()
    array[index] = value
    return array


BAD_FILES = {
    # name: (writes the file into a folder, words the message must hold)
    "not_a_zip": (lambda d: _write(d, b"x,y\n1,2\n"), "is not a zip (.npz) file"),
    "empty_file": (lambda d: _write(d, b""), "is not a zip (.npz) file"),
    "single_npy": (lambda d: _write(d, npy_bytes(rng_x())), "a single .npy array"),
    "pickle": (lambda d: _write(d, pickle.dumps({"x": Trap()})), "pickle"),
    "truncated_zip": (lambda d: _write(d, save(d).read_bytes()[:3000]), "damaged .npz file"),
    "truncated_array": (
        lambda d: zip_members(d, {"x_test.npy": npy_header((10, 40)) + b"\0" * 100}),
        "damaged .npz file",
    ),
    "unknown_compression": (lambda d: with_zip_field(save(d), 8, 99), "damaged .npz file"),
    "encrypted": (lambda d: with_zip_field(save(d), 6, 1), "encrypted"),
    "npy_version_3": (
        lambda d: zip_members(d, {"x.npy": b"\x93NUMPY\x03\x00" + npy_header((20, 40))[8:]}),
        "format version (3, 0)",
    ),
    "member_not_npy": (lambda d: zip_members(d, {"t.npy": b"hello"}), "'t.npy' is not a .npy"),
    "empty_zip": (lambda d: zip_members(d, {}, valid=False), "has no 'x', 'y', 'x_test'"),
    "missing_key": (lambda d: save(d, y_test=None), "has no 'y_test'"),
    "wrong_names": (lambda d: save(d, y=None, labels=np.zeros(20, int)), "has no 'y'"),
    "duplicate_name": (lambda d: zip_members(d, {"x": npy_bytes(rng_x())}), "two arrays named"),
    "too_many_arrays": (
        lambda d: save(d, **{f"extra{i}": np.zeros(1) for i in range(13)}), "17 arrays",
    ),
    "object_x": (lambda d: save(d, x=object_array()), "'x' holds Python objects"),
    "object_extra": (lambda d: save(d, templates=object_array()), "'templates' holds Python"),
    "int_x": (lambda d: save(d, x=np.zeros((20, 40), np.int64)), "'x' must hold real floats"),
    "complex_x": (lambda d: save(d, x=rng_x() + 0j), "'x' must hold real floats"),
    "string_x": (lambda d: save(d, x=np.full((20, 40), "a")), "'x' must hold real floats"),
    "float_y": (lambda d: save(d, y=np.zeros(20)), "'y' must hold integers"),
    "bool_y": (lambda d: save(d, y=np.zeros(20, bool)), "'y' must hold integers"),
    "x_1d": (lambda d: save(d, x=rng_x().ravel()[:20]), "'x' must be 2-d (n, length)"),
    "x_3d": (lambda d: save(d, x=rng_x()[:, None, :]), "'x' must be 2-d (n, length)"),
    "y_2d": (lambda d: save(d, y=np.zeros((20, 1), int)), "'y' must be 1-d (n,)"),
    "fewer_labels": (lambda d: save(d, y=np.zeros(19, int)), "'x' holds 20 signals but 'y'"),
    "other_test_length": (
        lambda d: save(d, x_test=rng_x(10, 39)), "length 40 but those in 'x_test' 39",
    ),
    "no_samples": (
        lambda d: save(d, x=np.zeros((0, 40), np.float32), y=np.zeros(0, int)), "is empty",
    ),
    "no_length": (lambda d: save(d, x=np.zeros((20, 0), np.float32)), "is empty"),
    "nan_x": (lambda d: save(d, x=with_value(rng_x(), (3, 7), np.nan)), "1 NaN or infinite"),
    "inf_x_test": (
        lambda d: save(d, x_test=with_value(rng_x(10), (0, 0), np.inf)), "'x_test' holds 1 NaN",
    ),
    "too_large_for_float32": (
        lambda d: save(d, x=with_value(rng_x().astype(np.float64), (0, 0), 1e300)),
        "too large for float32",
    ),
    "negative_label": (
        lambda d: save(d, y=with_value(np.zeros(20, int), (4,), -1)),
        "label -1 at index 4 of 'y' is outside 0..9",
    ),
    "label_10": (
        lambda d: save(d, y_test=with_value(np.zeros(10, int), (9,), 10)), "label 10 at index 9",
    ),
    "huge_unsigned_label": (
        lambda d: save(d, y=with_value(np.zeros(20, np.uint64), (0,), 2**64 - 1)),
        f"label {2**64 - 1} at index 0",
    ),
}


def with_zip_field(file: Path, local_offset: int, value: int) -> Path:
    """``file`` with a 2-byte field of every member's local and central header set to
    ``value``: the compression method (local offset 8) or the flags (offset 6; bit 0 means
    encrypted). A central header holds the same field 2 bytes further on."""
    data = bytearray(file.read_bytes())
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", local_offset + 2)):
        at = data.find(signature)
        while at != -1:
            data[at + offset : at + offset + 2] = value.to_bytes(2, "little")
            at = data.find(signature, at + 4)
    file.write_bytes(bytes(data))
    return file


def _write(folder: Path, content: bytes) -> Path:
    file = folder / "mnist1d.npz"
    file.write_bytes(content)
    return file


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_refused_naming_file_and_problem(tmp_path, case):
    make, words = BAD_FILES[case]
    file = make(tmp_path)
    with pytest.raises(DatasetError) as caught:
        load_mnist1d(file)
    assert not isinstance(caught.value, FileNotFoundError)
    assert str(file) in str(caught.value) and words in str(caught.value), str(caught.value)
    assert unpickled == []


@pytest.mark.parametrize(
    "key, shape",
    [
        ("x", (10**9, 40)),               # 40 billion values: 160 GB as float32
        ("x", (10**6 + 1, 1)),            # more samples than accepted
        ("x_test", (10, 10**4 + 1)),      # longer signals than accepted
        ("x", (2**19, 2**7)),             # 2**26 values: each side fine, the product not
        ("y", (2**62,)),                  # a size whose bytes overflow int64
    ],
)
def test_absurd_sizes_are_refused_before_reading(tmp_path, key, shape):
    dtype = "<f4" if key.startswith("x") else "<i8"
    file = zip_members(tmp_path, {f"{key}.npy": npy_header(shape, dtype)})
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="beyond what this loader accepts") as caught:
            load_mnist1d(file)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(file) in str(caught.value) and "its data was not read" in str(caught.value)
    assert peak < 1 << 20      # under 1 MiB: nothing the size of the claimed array


def test_a_header_claiming_gigabytes_is_refused_before_reading_it(tmp_path):
    # Version 2.0 gives the header's length in 4 bytes; behind it, 16 MiB of spaces deflate
    # to a few kB. The loader must not read what the length claims.
    file = tmp_path / "mnist1d.npz"
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in valid_arrays().items():
            if key != "x":
                archive.writestr(f"{key}.npy", npy_bytes(value))
        with archive.open("x.npy", "w") as member:
            member.write(b"\x93NUMPY\x02\x00" + (2**32 - 1).to_bytes(4, "little"))
            for _ in range(16):
                member.write(b" " * (1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="a .npy header of 4294967295 bytes") as caught:
            load_mnist1d(file)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(file) in str(caught.value)
    assert peak < 1 << 20


def test_negative_shape_in_a_header_is_refused(tmp_path):
    file = zip_members(tmp_path, {"x.npy": npy_header((-20, 40))})
    with pytest.raises(DatasetError, match=str(file)):
        load_mnist1d(file)
