"""Fashion-MNIST: 70,000 greyscale 28x28 pictures of clothes in 10 classes (Zalando Research).

Files are looked for in a folder (see :func:`fashion_mnist_dir`); those already there are read
as they are, strictly parsed but not checksummed, so a local copy with another sample order
loads too. Missing files are downloaded from the public release and must match its published
MD5 checksums before they are kept.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from scratchnn._validation import check_positive_int, check_real, describe
from scratchnn.datasets._download import DEFAULT_TIMEOUT, download_file
from scratchnn.errors import DatasetError

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_MD5",
    "FASHION_MNIST_URL",
    "DatasetNotFoundError",
    "fashion_mnist_dir",
    "load_fashion_mnist",
    "read_idx",
]

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
"""Where the public release's files live."""

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Class names, indexed by label."""

FASHION_MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
"""Published MD5 checksums of the public release; every download is checked against them."""

# (images, labels) file stems per split; the files are "<stem>.gz" or plain "<stem>".
_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_SIDE = 28
_N_CLASSES = len(FASHION_MNIST_CLASSES)


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The dataset's files are not in the folder and downloading was not allowed."""


def fashion_mnist_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds (or will hold) the Fashion-MNIST files.

    ``path`` if given, else ``$SCRATCHNN_DATA_DIR/fashion-mnist``, else the per-user cache
    ``$XDG_CACHE_HOME/scratchnn/fashion-mnist`` (``~/.cache/scratchnn/fashion-mnist``).
    """
    if path is not None:
        return Path(path).expanduser()
    data_dir = os.environ.get("SCRATCHNN_DATA_DIR")
    if data_dir:
        return Path(data_dir).expanduser() / "fashion-mnist"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "scratchnn" / "fashion-mnist"


def load_fashion_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    base_url: str = FASHION_MNIST_URL,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST, downloading the files that are missing.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Folder of the IDX files. Default: see :func:`fashion_mnist_dir`.
    download : bool, default True
        Fetch missing files from ``base_url``; with ``False`` a missing file is an error.
    base_url : str, default the public release
        Address of the folder holding the ``.gz`` files.
    timeout : float, default 60
        Seconds to wait for the server to connect or send more data.
    progress : bool, default True
        Show a progress bar while downloading.

    Returns
    -------
    (X_train, y_train), (X_test, y_test)
        Images as uint8 arrays of shape (n, 28, 28), 0 = black background; labels as uint8
        arrays of shape (n,) with values 0..9 (see :data:`FASHION_MNIST_CLASSES`).
        The public release has 60,000 training and 10,000 test samples.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value.
    DatasetNotFoundError
        If files are missing and ``download`` is false; the message says where it looked.
    DatasetError
        If a file is damaged or inconsistent, or a download fails or has the wrong checksum.
    """
    train, test = _load_splits(
        path, ("train", "test"), download=download, base_url=base_url, timeout=timeout,
        progress=progress,
    )
    return train, test


def _load_splits(
    path: str | os.PathLike[str] | None,
    splits: tuple[str, ...],
    *,
    download: bool = True,
    base_url: str = FASHION_MNIST_URL,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The named splits ("train", "test") as (images, labels); only their files are needed."""
    if not isinstance(download, (bool, np.bool_)):
        raise TypeError(f"download must be True or False; got {describe(download)}")
    if not isinstance(base_url, str) or not base_url:
        raise TypeError(f"base_url must be a non-empty str (a URL); got {describe(base_url)}")
    timeout = check_real(timeout, "timeout", low=0, low_inclusive=False)
    folder = fashion_mnist_dir(path)
    files: dict[str, Path] = {}
    missing = []
    for stem in (stem for split in splits for stem in _SPLITS[split]):
        found = _find(folder, stem)
        if found is None:
            missing.append(stem)
        else:
            files[stem] = found
    if missing and not download:
        raise DatasetNotFoundError(
            f"Fashion-MNIST files {', '.join(f'{stem}.gz' for stem in missing)} not found in "
            f"{folder}; set SCRATCHNN_DATA_DIR to the folder holding fashion-mnist/, pass "
            "path= the folder holding the files, or allow download=True"
        )
    for stem in missing:
        try:
            files[stem] = _download(
                folder, f"{stem}.gz", base_url, timeout=timeout, progress=progress
            )
        except DatasetError as error:
            raise DatasetError(
                f"{error} (to use copies you already have, put the .gz files in "
                f"{folder}, set SCRATCHNN_DATA_DIR to the folder holding fashion-mnist/, or "
                "pass path= their folder)"
            ) from error
    return [_load_split(*(files[stem] for stem in _SPLITS[split])) for split in splits]


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _download(folder: Path, name: str, base_url: str, *, timeout: float, progress: bool) -> Path:
    checksum = FASHION_MNIST_MD5.get(name)
    if checksum is None:
        # Never fall back to an unverified download.
        raise DatasetError(f"no published checksum for {name}; refusing to download it")
    url = base_url if base_url.endswith("/") else base_url + "/"
    return download_file(
        url + name, folder / name, md5=checksum, timeout=timeout, progress=progress
    )


def _load_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, magic=_IMAGE_MAGIC)
    if images.shape[1:] != (_SIDE, _SIDE):
        raise DatasetError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
            f"expected {_SIDE}x{_SIDE}"
        )
    labels = read_idx(labels_path, magic=_LABEL_MAGIC)
    if labels.size and labels.max() >= _N_CLASSES:
        bad = int(np.argmax(labels >= _N_CLASSES))
        raise DatasetError(
            f"{labels_path}: label {int(labels[bad])} at index {bad} is outside 0..{_N_CLASSES - 1}"
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels"
        )
    return images, labels


def read_idx(path: str | os.PathLike[str], *, magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (gzipped when its name ends in ``.gz``).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    magic : int
        Expected magic number: 2051 for images (3 dimensions), 2049 for labels (1 dimension).

    Returns
    -------
    numpy.ndarray, uint8
        Writable array with the dimensions from the header, e.g. (n, 28, 28) or (n,).

    Raises
    ------
    DatasetError
        If the file is not valid gzip, has another magic number, or its size does not match
        its header; the message names the file.
    """
    magic = check_positive_int(magic, "magic")
    path = Path(path)
    data = _read_bytes(path)
    # Magic: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions.
    if len(data) < 4 or int.from_bytes(data[:4], "big") != magic:
        found = int.from_bytes(data[:4], "big") if len(data) >= 4 else "none (file too short)"
        raise DatasetError(
            f"{path} is not an IDX file of the expected kind: magic number {found}, "
            f"expected {magic}"
        )
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetError(f"{path} is truncated: {len(data)} bytes, shorter than its header")
    shape = tuple(
        int.from_bytes(data[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(ndim)
    )
    # math.prod on Python ints: NumPy's int64 product would wrap around for a crafted header
    # (2**31 x 2**31 x 4 gives 0) and let a wrong size through to reshape.
    expected_size = header_size + math.prod(shape)
    if len(data) != expected_size:
        problem = "truncated" if len(data) < expected_size else "longer than its header says"
        raise DatasetError(
            f"{path} is {problem}: header gives shape {shape}, i.e. {expected_size} bytes, "
            f"but the file holds {len(data)}"
        )
    # frombuffer avoids a per-byte Python loop; copy so callers get an ordinary writable array.
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                return stream.read()
        return path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DatasetError(f"{path} is not a valid gzip file: {error}") from error
