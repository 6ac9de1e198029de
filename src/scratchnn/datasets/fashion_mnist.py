"""Fashion-MNIST: 70,000 greyscale 28x28 pictures of clothes in 10 classes (Zalando Research).

Files are looked for in a folder (see :func:`fashion_mnist_dir`); those already there are read
as they are, strictly parsed but not checksummed, so a local copy with another sample order
loads too. Missing files are downloaded from the public release and must match its published
MD5 checksums before they are kept.

Neither a server nor a file in the folder is trusted: a download may not pass the published
file's size nor take longer than its deadline, and an IDX header's dimensions are checked
against Fashion-MNIST's known sizes before a byte of data is decompressed (a small gzip
"bomb" cannot expand to gigabytes in memory).
"""

from __future__ import annotations

import gzip
import math
import os
import time
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from scratchnn._validation import check_positive_int, check_real, describe
from scratchnn.datasets._download import (
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    download_file,
    seconds_or_unlimited,
)
from scratchnn.errors import DatasetError

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_MD5",
    "FASHION_MNIST_SIZES",
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

FASHION_MNIST_SIZES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 26421880,
    "train-labels-idx1-ubyte.gz": 29515,
    "t10k-images-idx3-ubyte.gz": 4422102,
    "t10k-labels-idx1-ubyte.gz": 5148,
}
"""Sizes in bytes of the public release's files: a download may not be larger (a larger file
cannot have the published checksum, so its bytes are refused as they arrive)."""

# (images, labels) file stems per split; the files are "<stem>.gz" or plain "<stem>".
_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_SIDE = 28
# Most values a file may hold: the public release's 60,000 + 10,000 samples. A header asking
# for more is refused before anything is decompressed.
_MAX_SIZE = {
    "train-images-idx3-ubyte": 60000 * _SIDE * _SIDE,
    "train-labels-idx1-ubyte": 60000,
    "t10k-images-idx3-ubyte": 10000 * _SIDE * _SIDE,
    "t10k-labels-idx1-ubyte": 10000,
}
_READ_CHUNK = 1 << 20
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
    deadline: float | None = DEFAULT_DEADLINE,
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
        Address of the folder holding the ``.gz`` files (``http``, ``https``, or ``file``
        naming a folder of regular files).
    timeout : float, default 60
        Seconds to wait for the server to connect or send more data; from
        ``threading.TIMEOUT_MAX`` (about 292 years) up, no limit.
    deadline : float or None, default 900
        Seconds all the downloads of this call may take together (15 minutes: the 30 MB of
        the four files at 35 kB/s); a slower or stalled server is cut off then. ``None``, or
        ``threading.TIMEOUT_MAX`` and up: no limit, only ``timeout`` for each read.
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
        If a file is damaged, inconsistent or larger than Fashion-MNIST's, or a download
        fails, is malformed, passes the published size or the deadline, or has the wrong
        checksum.
    """
    train, test = _load_splits(
        path, ("train", "test"), download=download, base_url=base_url, timeout=timeout,
        deadline=deadline, progress=progress,
    )
    return train, test


def _load_splits(
    path: str | os.PathLike[str] | None,
    splits: tuple[str, ...],
    *,
    download: bool = True,
    base_url: str = FASHION_MNIST_URL,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = DEFAULT_DEADLINE,
    progress: bool = True,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The named splits ("train", "test") as (images, labels); only their files are needed."""
    if not isinstance(download, (bool, np.bool_)):
        raise TypeError(f"download must be True or False; got {describe(download)}")
    if not isinstance(base_url, str) or not base_url:
        raise TypeError(f"base_url must be a non-empty str (a URL); got {describe(base_url)}")
    timeout = check_real(timeout, "timeout", low=0, low_inclusive=False)
    if deadline is not None:
        deadline = check_real(deadline, "deadline", low=0, low_inclusive=False)
    # From threading.TIMEOUT_MAX up, no limit: Python's timers cannot wait that long.
    deadline = seconds_or_unlimited(deadline)
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
    # One deadline for all the files: each download gets the time the earlier ones left.
    end = None if deadline is None else time.monotonic() + deadline
    for stem in missing:
        try:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise DatasetError(
                    f"downloading {stem}.gz not started: the deadline of {deadline:g} s for "
                    "all downloads has passed; pass a larger deadline= (deadline=None: no limit)"
                )
            files[stem] = _download(
                folder, f"{stem}.gz", base_url, timeout=timeout, deadline=left,
                progress=progress,
            )
        except DatasetError as error:
            raise DatasetError(
                f"{error} (to use copies you already have, put the .gz files in "
                f"{folder}, set SCRATCHNN_DATA_DIR to the folder holding fashion-mnist/, or "
                "pass path= their folder)"
            ) from error
    return [_load_split(files, *_SPLITS[split]) for split in splits]


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _download(
    folder: Path,
    name: str,
    base_url: str,
    *,
    timeout: float,
    deadline: float | None,
    progress: bool,
) -> Path:
    checksum = FASHION_MNIST_MD5.get(name)
    if checksum is None:
        # Never fall back to an unverified download.
        raise DatasetError(f"no published checksum for {name}; refusing to download it")
    url = base_url if base_url.endswith("/") else base_url + "/"
    return download_file(
        url + name, folder / name, md5=checksum, timeout=timeout, deadline=deadline,
        max_bytes=FASHION_MNIST_SIZES.get(name), progress=progress,
    )


def _load_split(
    files: dict[str, Path], images_stem: str, labels_stem: str
) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = files[images_stem], files[labels_stem]
    images = read_idx(images_path, magic=_IMAGE_MAGIC, max_size=_MAX_SIZE[images_stem])
    if images.shape[1:] != (_SIDE, _SIDE):
        raise DatasetError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
            f"expected {_SIDE}x{_SIDE}"
        )
    labels = read_idx(labels_path, magic=_LABEL_MAGIC, max_size=_MAX_SIZE[labels_stem])
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


def read_idx(
    path: str | os.PathLike[str], *, magic: int, max_size: int | None = None
) -> np.ndarray:
    """Read an IDX file of unsigned bytes (gzipped when its name ends in ``.gz``).

    The header is read first and checked (magic number, then the size its dimensions give
    against ``max_size`` and, for a plain file, against the file's size); the data is then
    read, or decompressed, in blocks and never past the header's size, so a damaged or
    malicious file costs no more memory than the array it claims to hold.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    magic : int
        Expected magic number: 2051 for images (3 dimensions), 2049 for labels (1 dimension).
    max_size : int, optional
        Most values (bytes) the dimensions may multiply to, e.g. 60000 * 28 * 28; a larger
        header is refused before its data is read. Default: no limit.

    Returns
    -------
    numpy.ndarray, uint8
        Writable array with the dimensions from the header, e.g. (n, 28, 28) or (n,).

    Raises
    ------
    DatasetError
        If the file is not valid gzip, has another magic number, its header gives more than
        ``max_size`` values, or its size does not match its header; the message names the
        file.
    """
    magic = check_positive_int(magic, "magic")
    if max_size is not None:
        max_size = check_positive_int(max_size, "max_size")
    path = Path(path)
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    try:
        with _open_idx(path) as stream:
            header = stream.read(header_size)
            shape = _parse_header(path, header, magic, header_size)
            # math.prod on Python ints: NumPy's int64 product would wrap around for a crafted
            # header (2**31 x 2**31 x 4 gives 0) and let a wrong size through to reshape.
            size = math.prod(shape)
            if max_size is not None and size > max_size:
                raise DatasetError(
                    f"{path}: header gives shape {shape}, i.e. {size} values, more than the "
                    f"{max_size} this file can hold; its data was not read"
                )
            if path.suffix != ".gz":
                # A plain file's size is known before reading it.
                _check_size(path, shape, header_size + size, os.fstat(stream.fileno()).st_size)
            data = _read_at_most(stream, size + 1)    # one byte more reveals a longer file
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DatasetError(f"{path} is not a valid gzip file: {error}") from error
    _check_size(path, shape, header_size + size, header_size + len(data))
    # frombuffer shares the bytearray (writable, owned by the array alone): no copy.
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _open_idx(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 (the caller's with closes it)


def _parse_header(path: Path, header: bytes, magic: int, header_size: int) -> tuple[int, ...]:
    """The dimensions an IDX header gives, after checking its magic number and length."""
    # Magic: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions.
    if len(header) < 4 or int.from_bytes(header[:4], "big") != magic:
        found = int.from_bytes(header[:4], "big") if len(header) >= 4 else "none (file too short)"
        raise DatasetError(
            f"{path} is not an IDX file of the expected kind: magic number {found}, "
            f"expected {magic}"
        )
    if len(header) < header_size:
        raise DatasetError(f"{path} is truncated: {len(header)} bytes, shorter than its header")
    return tuple(
        int.from_bytes(header[4 + 4 * axis : 8 + 4 * axis], "big")
        for axis in range(header_size // 4 - 1)
    )


def _check_size(path: Path, shape: tuple[int, ...], expected: int, actual: int) -> None:
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than its header says"
        raise DatasetError(
            f"{path} is {problem}: header gives shape {shape}, i.e. {expected} bytes, "
            f"but the file holds {actual}"
        )


def _read_at_most(stream: BinaryIO, size: int) -> bytearray:
    """Up to ``size`` bytes of ``stream``, read in blocks: memory grows with the data found,
    never with a size that a header merely claims."""
    data = bytearray()
    while len(data) < size:
        block = stream.read(min(size - len(data), _READ_CHUNK))
        if not block:
            break
        data += block
    return data
