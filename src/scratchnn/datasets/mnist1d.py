"""MNIST-1D: 5,000 one-dimensional signals of length 40 in 10 classes (Greydanus & Kobak).

The dataset is generated, not downloaded: the ``mnist1d`` package writes it, and scratchnn
reads the ``.npz`` file it was saved to (see :func:`load_mnist1d` for the recipe). The
package's own ready-made copy is a pickle, which scratchnn never reads: unpickling a file runs
whatever code the file names.

The file is untrusted input. It is opened with ``allow_pickle=False``, and every array's
``.npy`` header (dtype, rank, shape) is read and checked through NumPy's lazy ``NpzFile``
before a byte of data is decompressed, so a crafted file cannot unpickle an object array nor
make the loader allocate more than the sizes below allow.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from scratchnn._validation import all_finite, describe
from scratchnn.datasets.fashion_mnist import DatasetNotFoundError
from scratchnn.errors import DatasetError

__all__ = ["load_mnist1d"]

_FILE_NAME = "mnist1d.npz"
_KEYS = ("x", "y", "x_test", "y_test")
_N_CLASSES = 10
# Bounds checked against the .npy headers before any data is read. The default dataset has
# 4,000 + 1,000 samples of length 40 (200,000 values); these leave room for much larger
# generated sets while keeping one array at most 256 MiB as float64.
_MAX_SAMPLES = 1_000_000
_MAX_LENGTH = 10_000
_MAX_VALUES = 1 << 25
_MAX_HEADER_SIZE = 10_000  # bytes of one .npy header: NumPy's own default limit
_MAX_ARRAYS = 16          # the four above plus a few extras (the package's 't', say)
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")   # a zip's first entry, or an empty zip

_RECIPE = (
    "pip install mnist1d, then in Python:\n"
    "    import numpy\n"
    "    from mnist1d.data import make_dataset, get_dataset_args\n"
    "    d = make_dataset(get_dataset_args())\n"
    '    numpy.savez("mnist1d.npz", x=d["x"], y=d["y"], x_test=d["x_test"], '
    'y_test=d["y_test"])'
)


def load_mnist1d(
    path: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST-1D from an ``.npz`` file made with the ``mnist1d`` package.

    MNIST-1D (Greydanus & Kobak, "Scaling Down Deep Learning with MNIST-1D", 2020; ICML 2024,
    arXiv:2011.14439) turns each of the ten digits into a 1-D template of 12 points, then
    pads, shifts, shears and scales it and adds correlated and independent noise, ending with
    a signal of 40 values. It is small enough to train on a laptop CPU in seconds, yet models
    tell apart clearly: logistic regression reaches about 32% test accuracy, an MLP 68%, a
    CNN 94%.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The ``.npz`` file, or a folder holding ``mnist1d.npz``. Default:
        ``$SCRATCHNN_DATA_DIR/mnist1d/mnist1d.npz``, else the per-user cache
        ``$XDG_CACHE_HOME/scratchnn/mnist1d/mnist1d.npz``
        (``~/.cache/scratchnn/mnist1d/mnist1d.npz``).

    Returns
    -------
    (x, y), (x_test, y_test)
        Signals as float32 arrays of shape (n, length); labels as int64 arrays of shape
        (n,) with values 0..9, the digit each signal was made from. The default dataset
        has 4,000 training and 1,000 test samples of length 40, already centred with
        standard deviation 1. A ``Dense`` layer takes ``x`` as it is; a 1-D convolution
        wants (n, channels, length), i.e. ``x[:, None, :]`` of shape (n, 1, 40).

    Raises
    ------
    TypeError
        If ``path`` is not a str, an os.PathLike or None.
    DatasetNotFoundError
        If the file is missing (there is nothing to download); the message says where it
        looked and how to make the file.
    DatasetError
        If the file is not a zip (.npz) file, is damaged, lacks one of ``x``, ``y``,
        ``x_test``, ``y_test``, holds an object array or a member that is not a ``.npy``
        array, has the wrong dtypes (``x`` real floats, ``y`` integers), ranks or lengths,
        NaN or infinite signals, labels outside 0..9, or more than 1,000,000 samples, a
        length over 10,000 or 2**25 values in one array; the message names the file and the
        problem.

    Notes
    -----
    There is no download for MNIST-1D: generate the data with the ``mnist1d`` package
    (Apache-2.0; ``pip install mnist1d``) and save the four arrays without pickle::

        import numpy
        from mnist1d.data import make_dataset, get_dataset_args
        d = make_dataset(get_dataset_args())
        numpy.savez("mnist1d.npz", x=d["x"], y=d["y"], x_test=d["x_test"], y_test=d["y_test"])

    then move ``mnist1d.npz`` to ``$SCRATCHNN_DATA_DIR/mnist1d/`` (or pass its path).
    ``get_dataset_args()`` gives the paper's settings (5,000 samples, 80/20 split, seed 42);
    change its fields (``num_samples``, ``final_seq_length``, ...) for other variants. The
    package's ready-made ``mnist1d_data.pkl`` is a pickle and is not read here.

    Examples
    --------
    >>> from scratchnn.datasets import load_mnist1d
    >>> (x, y), (x_test, y_test) = load_mnist1d()   # $SCRATCHNN_DATA_DIR/mnist1d/
    >>> x.shape, x.dtype, y.shape, y.dtype
    ((4000, 40), dtype('float32'), (4000,), dtype('int64'))
    >>> x_test[:, None, :].shape                     # for a Conv1D: (n, channels, length)
    (1000, 1, 40)
    """
    file = _resolve(path)
    arrays = _read_npz(file)
    x, y = _split(file, arrays, "x", "y")
    x_test, y_test = _split(file, arrays, "x_test", "y_test")
    return (x, y), (x_test, y_test)


def _resolve(path: str | os.PathLike[str] | None) -> Path:
    """The file to read: ``path`` itself, ``mnist1d.npz`` in it, or the default location."""
    if path is None:
        data_dir = os.environ.get("SCRATCHNN_DATA_DIR")
        if data_dir:
            folder = Path(data_dir).expanduser() / "mnist1d"
        else:
            cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
            folder = Path(cache).expanduser() / "scratchnn" / "mnist1d"
        file = folder / _FILE_NAME
    elif isinstance(path, (str, os.PathLike)):
        file = Path(path).expanduser()
        if file.is_dir():
            file = file / _FILE_NAME
    else:
        raise TypeError(
            f"path must be a str or os.PathLike (the .npz file or its folder) or None; "
            f"got {describe(path)}"
        )
    if not file.exists():
        raise DatasetNotFoundError(
            f"MNIST-1D file {file} not found, and MNIST-1D has no download: make the file "
            f"with the mnist1d package\n{_RECIPE}\nthen put it at {file}, set "
            "SCRATCHNN_DATA_DIR to the folder holding mnist1d/, or pass path= the file or its "
            "folder"
        )
    if not file.is_file():
        # A FIFO or a device would block or never end: only regular files are opened.
        raise DatasetError(f"{file} is not a regular file; pass the mnist1d.npz file")
    return file


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    """The four arrays of ``file``, after every member's header has been checked."""
    # The file is opened here, not by np.load: np.load leaks its own handle when the zip
    # turns out to be damaged (NumPy 2.4), and one handle serves the magic check too.
    with open(file, "rb") as stream:
        magic = stream.read(4)
        if magic not in _ZIP_MAGICS:
            raise DatasetError(
                f"{file} is not a zip (.npz) file{_format_hint(magic)}; MNIST-1D is read "
                "from the .npz that numpy.savez writes"
            )
        stream.seek(0)
        try:
            with np.load(stream, allow_pickle=False) as npz:
                archive = npz.zip
                assert archive is not None             # open until the with block ends
                members = _members(file, archive)
                headers = {
                    key: _header(file, archive, key, member) for key, member in members.items()
                }
                _check_headers(file, headers)
                # Every header is within bounds: read_array allocates exactly what it says.
                return {key: npz[key] for key in _KEYS}
        except DatasetError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
                NotImplementedError) as error:
            # RuntimeError: an encrypted member; NotImplementedError: an unknown compression;
            # ValueError: NumPy's word for a truncated array.
            raise DatasetError(f"{file} is a damaged .npz file: {error}") from error


def _format_hint(magic: bytes) -> str:
    if magic.startswith(b"\x93NUM"):
        return " but a single .npy array"
    if magic.startswith(b"\x80"):
        return " but a pickle (mnist1d's mnist1d_data.pkl?), which is never loaded: it can run code"
    return ""


def _members(file: Path, archive: zipfile.ZipFile) -> dict[str, str]:
    """Array name -> zip member name, refusing files that are too many or ambiguous."""
    names = archive.namelist()
    if len(names) > _MAX_ARRAYS:
        raise DatasetError(
            f"{file} holds {len(names)} arrays, more than the {_MAX_ARRAYS} an MNIST-1D file "
            "may hold; its data was not read"
        )
    members: dict[str, str] = {}
    for name in names:
        key = name.removesuffix(".npy")
        if key in members:
            raise DatasetError(f"{file} holds two arrays named {key!r}")
        members[key] = name
    missing = [key for key in _KEYS if key not in members]
    if missing:
        found = ", ".join(repr(key) for key in members) or "nothing"
        raise DatasetError(
            f"{file} is not an MNIST-1D file: it has no {', '.join(map(repr, missing))} "
            f"(it holds {found}); expected 'x', 'y', 'x_test', 'y_test' as the recipe in "
            "load_mnist1d's docstring writes them"
        )
    return members


def _header(
    file: Path, archive: zipfile.ZipFile, key: str, member: str
) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a member's .npy header gives; its data is not read."""
    with archive.open(member) as stream:
        try:
            version = np.lib.format.read_magic(stream)
        except ValueError:
            raise DatasetError(f"{file}: member {member!r} is not a .npy array") from None
        if version not in ((1, 0), (2, 0)):
            raise DatasetError(
                f"{file}: array {key!r} has .npy format version {version}, which is not read "
                "here (numpy.savez writes 1.0 or 2.0)"
            )
        # NumPy reads the header's whole claimed length (up to 4 GiB in version 2.0) before
        # it compares it with its limit, so the length is checked here first.
        length_size = 2 if version == (1, 0) else 4
        length = int.from_bytes(stream.read(length_size), "little")
        if length > _MAX_HEADER_SIZE:
            raise DatasetError(
                f"{file}: array {key!r} has a .npy header of {length} bytes, more than the "
                f"{_MAX_HEADER_SIZE} one may have; its data was not read"
            )
        stream.seek(-length_size, os.SEEK_CUR)     # back to the length, for NumPy to parse
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(stream, max_header_size=_MAX_HEADER_SIZE)
    if dtype.hasobject:
        raise DatasetError(
            f"{file}: array {key!r} holds Python objects (dtype {dtype}); it was not loaded, "
            "since reading it would mean unpickling untrusted data"
        )
    return shape, dtype


def _check_headers(file: Path, headers: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    """Dtypes, ranks and sizes of the four arrays, from their headers alone."""
    for key in _KEYS:
        shape, dtype = headers[key]
        is_signal = key.startswith("x")
        rank, kinds = (2, "f") if is_signal else (1, "iu")
        what = "real floats" if is_signal else "integers (labels 0..9)"
        if dtype.kind not in kinds:
            raise DatasetError(f"{file}: array {key!r} must hold {what}; its dtype is {dtype}")
        if len(shape) != rank:
            layout = "(n, length)" if is_signal else "(n,)"
            hint = ""
            if is_signal and len(shape) == 3 and shape[1] == 1:
                hint = f" (a Conv1D layout: save {key}[:, 0, :] instead)"
            raise DatasetError(
                f"{file}: array {key!r} must be {rank}-d {layout}; its shape is {shape}{hint}"
            )
        if any(side < 0 for side in shape):
            raise DatasetError(f"{file}: array {key!r} has an impossible shape {shape}")
        n = shape[0]
        if n == 0 or (is_signal and shape[1] == 0):
            raise DatasetError(f"{file}: array {key!r} is empty (shape {shape})")
        # math.prod on Python ints: no int64 wrap-around for a crafted header.
        too_big = (n > _MAX_SAMPLES or math.prod(shape) > _MAX_VALUES
                   or (is_signal and shape[1] > _MAX_LENGTH))
        if too_big:
            raise DatasetError(
                f"{file}: array {key!r} has shape {shape}, beyond what this loader accepts "
                f"(at most {_MAX_SAMPLES} samples, length {_MAX_LENGTH}, {_MAX_VALUES} "
                "values); its data was not read"
            )
    for x_key, y_key in (("x", "y"), ("x_test", "y_test")):
        n_x, n_y = headers[x_key][0][0], headers[y_key][0][0]
        if n_x != n_y:
            raise DatasetError(
                f"{file}: {x_key!r} holds {n_x} signals but {y_key!r} holds {n_y} labels"
            )
    length, test_length = headers["x"][0][1], headers["x_test"][0][1]
    if length != test_length:
        raise DatasetError(
            f"{file}: signals in 'x' have length {length} but those in 'x_test' {test_length}; "
            "both splits must come from one make_dataset call"
        )


def _split(
    file: Path, arrays: dict[str, np.ndarray], x_key: str, y_key: str
) -> tuple[np.ndarray, np.ndarray]:
    """One split's signals as float32 and labels as int64, after checking their values."""
    x, y = arrays[x_key], arrays[y_key]
    if not all_finite(x):
        bad = int(x.size - np.count_nonzero(np.isfinite(x)))
        raise DatasetError(f"{file}: {x_key!r} holds {bad} NaN or infinite value(s)")
    # Checked in the file's own dtype: a uint64 label of 2**64 - 1 must not wrap to -1.
    outside = (y < 0) | (y >= _N_CLASSES)
    if outside.any():
        index = int(np.argmax(outside))
        raise DatasetError(
            f"{file}: label {y[index]} at index {index} of {y_key!r} is outside "
            f"0..{_N_CLASSES - 1}"
        )
    try:
        with np.errstate(over="raise"):
            x = x.astype(np.float32, copy=False)
    except FloatingPointError:
        raise DatasetError(
            f"{file}: {x_key!r} holds values too large for float32 (beyond +-3.4e38); "
            "MNIST-1D's signals have standard deviation 1"
        ) from None
    return np.ascontiguousarray(x), y.astype(np.int64)
