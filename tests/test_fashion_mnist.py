"""Fashion-MNIST: the shared copy loads, damaged files are refused, preprocessing as the book."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from scratchnn.datasets import (
    FASHION_MNIST_CLASSES,
    fashion_mnist_dir,
    flatten,
    load_fashion_mnist,
    preprocess_images,
    read_idx,
    scale_images,
)
from scratchnn.datasets import fashion_mnist as fm
from scratchnn.errors import DatasetError

IMAGES, LABELS = 2051, 2049
UNREACHABLE = "http://127.0.0.1:1/"  # loading must never need the network in these tests


def idx_bytes(magic: int, shape: tuple[int, ...], data: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(side.to_bytes(4, "big") for side in shape)
    return header + data


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


def tiny_set(folder: Path, n: int = 5, *, gz: bool = True, **override: bytes) -> dict[str, Path]:
    """A valid little Fashion-MNIST folder; ``override`` replaces a file's (uncompressed) bytes."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8).tobytes()
    labels = (np.arange(n) % 10).astype(np.uint8).tobytes()
    contents = {
        "train-images-idx3-ubyte": idx_bytes(IMAGES, (n, 28, 28), images),
        "train-labels-idx1-ubyte": idx_bytes(LABELS, (n,), labels),
        "t10k-images-idx3-ubyte": idx_bytes(IMAGES, (n, 28, 28), images),
        "t10k-labels-idx1-ubyte": idx_bytes(LABELS, (n,), labels),
    }
    contents.update({stem.replace("_", "-"): value for stem, value in override.items()})
    suffix = ".gz" if gz else ""
    return {
        stem: write(folder / f"{stem}{suffix}", content) for stem, content in contents.items()
    }


def test_shared_copy_loads(data_dir):
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist(
        data_dir / "fashion-mnist", download=False
    )
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    for array in (X_train, y_train, X_test, y_test):
        assert array.dtype == np.uint8 and array.flags.writeable
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
    # The README's statistics of the real data: pixel mean 0.2860 on the training set.
    assert abs(X_train.mean() / 255 - 0.2860) < 5e-4
    assert X_train.max() == 255 and X_train.min() == 0


def test_shared_copy_found_through_environment(data_dir, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA_DIR", str(data_dir))
    _, (X_test, y_test) = load_fashion_mnist(download=False, base_url=UNREACHABLE)
    assert X_test.shape == (10000, 28, 28) and set(np.unique(y_test)) == set(range(10))


def test_class_names():
    assert FASHION_MNIST_CLASSES == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip


def test_folder_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA_DIR", str(tmp_path / "data"))
    assert fashion_mnist_dir(tmp_path / "mine") == tmp_path / "mine"
    assert fashion_mnist_dir() == tmp_path / "data" / "fashion-mnist"
    monkeypatch.delenv("SCRATCHNN_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert fashion_mnist_dir() == tmp_path / "cache" / "scratchnn" / "fashion-mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fashion_mnist_dir() == tmp_path / "home" / ".cache" / "scratchnn" / "fashion-mnist"


@pytest.mark.parametrize("gz", [True, False])
def test_tiny_local_set_loads_without_network(tmp_path, gz):
    tiny_set(tmp_path, n=5, gz=gz)
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist(tmp_path, base_url=UNREACHABLE)
    assert X_train.shape == (5, 28, 28) and X_train.dtype == np.uint8
    np.testing.assert_array_equal(y_test, [0, 1, 2, 3, 4])


GOOD_IMAGES = np.zeros((3, 28, 28), np.uint8).tobytes()
CORRUPT = {
    "magic": (
        {"train_images_idx3_ubyte": idx_bytes(LABELS, (3,), b"\0" * 3)},
        "train-images-idx3-ubyte",
        "not an IDX file of the expected kind: magic number 2049, expected 2051",
    ),
    "short file": (
        {"t10k_labels_idx1_ubyte": b"\0\0"},
        "t10k-labels-idx1-ubyte",
        "magic number none",
    ),
    "dims": (
        {"t10k_images_idx3_ubyte": idx_bytes(IMAGES, (3, 27, 28), b"\0" * (3 * 27 * 28))},
        "t10k-images-idx3-ubyte",
        "images are 27x28, expected 28x28",
    ),
    "header cut": (
        {"train_images_idx3_ubyte": idx_bytes(IMAGES, (3, 28), b"")},
        "train-images-idx3-ubyte",
        "truncated: 12 bytes, shorter than its header",
    ),
    "data cut": (
        {"train_images_idx3_ubyte": idx_bytes(IMAGES, (3, 28, 28), GOOD_IMAGES[:-100])},
        "train-images-idx3-ubyte",
        r"is truncated: header gives shape \(3, 28, 28\)",
    ),
    "data too long": (
        {"train_labels_idx1_ubyte": idx_bytes(LABELS, (3,), b"\0" * 4)},
        "train-labels-idx1-ubyte",
        "is longer than its header says",
    ),
    "label range": (
        {"t10k_labels_idx1_ubyte": idx_bytes(LABELS, (3,), bytes([1, 10, 2]))},
        "t10k-labels-idx1-ubyte",
        r"label 10 at index 1 is outside 0\.\.9",
    ),
    "count": (
        {"t10k_labels_idx1_ubyte": idx_bytes(LABELS, (2,), bytes([1, 2]))},
        "t10k-images-idx3-ubyte",
        r"holds 3 images but .*t10k-labels-idx1-ubyte(\.gz)? holds 2 labels",
    ),
    "too many images": (
        {"t10k_images_idx3_ubyte": idx_bytes(IMAGES, (10001, 28, 28), b"")},
        "t10k-images-idx3-ubyte",
        r"header gives shape \(10001, 28, 28\), i\.e\. 7840784 values, more than the 7840000 "
        "this file can hold; its data was not read",
    ),
    "too many labels": (
        {"train_labels_idx1_ubyte": idx_bytes(LABELS, (60001,), b"")},
        "train-labels-idx1-ubyte",
        "more than the 60000 this file can hold",
    ),
}


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
@pytest.mark.parametrize("case", CORRUPT, ids=list(CORRUPT))
def test_damaged_files_are_refused_by_name(tmp_path, case, gz):
    override, stem, message = CORRUPT[case]
    files = tiny_set(tmp_path, n=3, gz=gz, **override)
    with pytest.raises(DatasetError, match=message) as caught:
        load_fashion_mnist(tmp_path, base_url=UNREACHABLE)
    assert str(files[stem]) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_not_gzip_and_cut_gzip_are_refused(tmp_path):
    files = tiny_set(tmp_path, n=3)
    files["train-labels-idx1-ubyte"].write_bytes(idx_bytes(LABELS, (3,), b"\0" * 3))  # not gz
    with pytest.raises(DatasetError, match="is not a valid gzip file") as caught:
        load_fashion_mnist(tmp_path, base_url=UNREACHABLE)
    assert str(files["train-labels-idx1-ubyte"]) in str(caught.value)
    whole = gzip.compress(idx_bytes(IMAGES, (3, 28, 28), GOOD_IMAGES))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DatasetError, match="cut.gz is not a valid gzip file"):
        read_idx(cut, magic=IMAGES)


def test_read_idx_returns_the_header_shape(tmp_path):
    path = write(tmp_path / "x.idx", idx_bytes(IMAGES, (2, 3, 4), bytes(range(24))))
    array = read_idx(path, magic=IMAGES)
    assert array.shape == (2, 3, 4) and array.dtype == np.uint8
    np.testing.assert_array_equal(array.ravel(), np.arange(24))


def test_preprocessing_as_the_book():
    images = np.array([[[0, 255], [127, 128]]], dtype=np.uint8)
    flat = flatten(images)
    assert flat.shape == (1, 4) and flat.dtype == np.uint8
    X = preprocess_images(images)
    assert X.dtype == np.float32 and X.shape == (1, 4)
    book = (images.reshape(images.shape[0], -1).astype(np.float32) - 127.5) / 127.5
    np.testing.assert_array_equal(X, book)
    assert X[0, 0] == -1 and X[0, 1] == 1
    assert preprocess_images(images, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(scale_images(images), book.reshape(images.shape))
    assert flatten(np.zeros((0, 28, 28))).shape == (0, 784)


def test_preprocessing_errors():
    with pytest.raises(ValueError, match=r"images must have shape \(n, height, width\)"):
        flatten(np.zeros(5))
    with pytest.raises(TypeError, match="dtype must be numpy.float32 or numpy.float64"):
        scale_images(np.zeros(3), dtype=np.int32)
    wide = np.array([[[0, 65535]]], dtype=np.uint16)
    with pytest.raises(ValueError, match=r"pixel values 0\.\.255; got values from 0 to 65535"):
        preprocess_images(wide)
    with pytest.raises(ValueError, match=r"NaN or inf among them"):
        scale_images(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"got values from -1 to 2"):
        scale_images([-1, 2])
    # Floats and ints within 0..255 are accepted as they are.
    np.testing.assert_array_equal(scale_images([0.0, 255.0]), [-1.0, 1.0])


def test_read_idx_refuses_a_magic_that_is_not_an_int(tmp_path):
    path = write(tmp_path / "x.idx", idx_bytes(IMAGES, (2, 3, 4), bytes(range(24))))
    with pytest.raises(TypeError, match="magic must be"):
        read_idx(path, magic=str(IMAGES))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"download": "no"}, TypeError, "download must be True or False; got 'no'"),
        ({"base_url": None}, TypeError, "base_url must be a non-empty str"),
        ({"timeout": -1}, ValueError, r"timeout must be in \(0"),
    ],
)
def test_bad_loader_arguments(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        load_fashion_mnist(tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_header_sizes_that_wrap_around_int64_are_refused(tmp_path):
    """Dimensions 2**31 x 2**31 x 4 multiply to 2**64, which an int64 product wraps to 0."""
    path = tmp_path / "huge-idx3-ubyte"
    header = (2051).to_bytes(4, "big")
    for size in (2**31, 2**31, 4):
        header += size.to_bytes(4, "big")
    path.write_bytes(header)
    with pytest.raises(DatasetError, match=r"truncated: header gives shape \(2147483648, "):
        read_idx(path, magic=2051)


def write_bomb(path: Path, header: bytes, zeros: int) -> None:
    """``header`` then ``zeros`` zero bytes, gzipped block by block (never all in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    with path.open("wb") as out:
        out.write(compressor.compress(header))
        block = bytes(1 << 20)
        for _ in range(zeros >> 20):
            out.write(compressor.compress(block))
        out.write(compressor.flush())


def test_a_gzip_bomb_is_refused_without_decompressing_it(tmp_path):
    # 64 MiB of zeros behind a header for 3 images: a 64 kB file. Reading stops one byte past
    # the header's size, so memory stays near the 2 kB the header claims.
    files = tiny_set(tmp_path, n=3)
    bomb = files["train-images-idx3-ubyte"]
    write_bomb(bomb, idx_bytes(IMAGES, (3, 28, 28), b""), 64 << 20)
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="longer than its header says") as caught:
            load_fashion_mnist(tmp_path, base_url=UNREACHABLE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(bomb) in str(caught.value)
    assert peak < 8 << 20  # decompressing it all would take 64 MiB


def test_a_header_beyond_the_known_sizes_is_refused_before_decompressing(tmp_path):
    # The header claims 60,000 x 28 x 28 x 2 bytes (twice the real training set) and the
    # data that follows would fill it: refused from the header alone.
    files = tiny_set(tmp_path, n=3)
    bomb = files["train-images-idx3-ubyte"]
    write_bomb(bomb, idx_bytes(IMAGES, (120000, 28, 28), b""), 16 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=r"header gives shape \(120000, 28, 28\), i\.e\. "
                           "94080000 values, more than the 47040000 this file can hold; its "
                           "data was not read"):  # as quoted in docs/common-errors.md
            load_fashion_mnist(tmp_path, base_url=UNREACHABLE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_read_idx_max_size(tmp_path):
    path = write(tmp_path / "x.gz", idx_bytes(IMAGES, (2, 3, 4), bytes(range(24))))
    assert read_idx(path, magic=IMAGES, max_size=24).shape == (2, 3, 4)
    with pytest.raises(DatasetError, match=r"i\.e\. 24 values, more than the 23 this file"):
        read_idx(path, magic=IMAGES, max_size=23)
    with pytest.raises(ValueError, match="max_size must be a positive integer"):
        read_idx(path, magic=IMAGES, max_size=0)


def test_a_plain_file_is_measured_before_it_is_read(tmp_path, monkeypatch):
    # A plain IDX file whose header says 3 images but that holds 30: refused from its size,
    # and only the header is ever read.
    path = write(tmp_path / "x-idx3-ubyte", idx_bytes(IMAGES, (3, 28, 28), bytes(30 * 784)))
    reads: list[int] = []
    real_open = open

    class Recording:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def fileno(self):
            return self.file.fileno()

        def read(self, size):
            reads.append(size)
            return self.file.read(size)

    monkeypatch.setattr(fm, "open", lambda *args: Recording(real_open(*args)), raising=False)
    with pytest.raises(DatasetError, match=r"longer than its header says: header gives shape "
                       r"\(3, 28, 28\), i\.e\. 2368 bytes, but the file holds 23536"):
        read_idx(path, magic=IMAGES)
    assert reads == [16]


@pytest.mark.parametrize(("timeout", "deadline"), [(1e300, None), (60, 1e10), (1e10, 1e300)])
def test_limits_beyond_what_python_can_wait_mean_no_limit(tmp_path, timeout, deadline):
    # Were they passed on, a socket timeout of 1e300 raises OverflowError and a Timer of 1e10
    # seconds dies of one in its thread; without a limit the refused connection is the error.
    with pytest.raises(DatasetError, match=r"failed: \[Errno \d+\]"):
        load_fashion_mnist(tmp_path, base_url=UNREACHABLE, timeout=timeout, deadline=deadline,
                           progress=False)
    assert list(tmp_path.iterdir()) == []
