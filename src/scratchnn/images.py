"""Reading your own pictures so that a Fashion-MNIST model can classify them.

Each picture goes through the same steps as the book's chapter on predicting from images:
greyscale, resized to 28x28, inverted when it is dark-on-light (Fashion-MNIST garments are
light on a black background), flattened and scaled to -1..1 exactly like the training data.
Pillow is needed only here: ``pip install 'scratchnn[image]'``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from scratchnn.datasets.fashion_mnist import FASHION_MNIST_CLASSES
from scratchnn.datasets.preprocessing import preprocess_images

__all__ = ["load_image", "load_images", "predict_image"]

PathLike = str | os.PathLike[str]
Invert = bool | Literal["auto"]

_PILLOW_MISSING = "reading pictures needs Pillow: pip install 'scratchnn[image]'"
# Mean of the outermost pixel ring above which the background is taken to be light. On all
# 70,000 Fashion-MNIST images that mean is at most about 108, so none of them is flipped.
_LIGHT_BORDER = 127.5


class _Predictor(Protocol):
    def predict(self, X: np.ndarray) -> Any: ...


def load_image(
    path: PathLike, *, size: tuple[int, int] = (28, 28), invert: Invert = "auto"
) -> np.ndarray:
    """Read one picture as a network input row, prepared like Fashion-MNIST training data.

    Parameters
    ----------
    path : str or os.PathLike
        Any picture Pillow can open (PNG, JPEG, ...). Transparent areas count as white.
    size : (int, int), default (28, 28)
        ``(width, height)`` to resize to, with Lanczos resampling.
    invert : bool or "auto", default "auto"
        ``"auto"`` inverts a dark-on-light picture (mean of the outermost pixel ring above
        127.5) so that it becomes light-on-dark like Fashion-MNIST; ``True``/``False`` force it.

    Returns
    -------
    numpy.ndarray, shape (1, width * height), float32
        Pixels in -1..1, i.e. ``(x - 127.5) / 127.5``.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a picture, or ``size``/``invert`` is invalid.
    ModuleNotFoundError
        If Pillow is not installed.
    """
    return load_images([path], size=size, invert=invert)


def load_images(
    paths: Sequence[PathLike], *, size: tuple[int, int] = (28, 28), invert: Invert = "auto"
) -> np.ndarray:
    """Read several pictures as rows of one batch; see :func:`load_image`.

    Returns
    -------
    numpy.ndarray, shape (len(paths), width * height), float32
        One row per picture, in order; the automatic inversion is decided per picture.
    """
    if isinstance(paths, (str, os.PathLike)):
        raise TypeError("load_images takes a sequence of paths; use load_image for one path")
    width, height = _check_size(size)
    automatic = isinstance(invert, str) and invert == "auto"
    if not automatic and not isinstance(invert, (bool, np.bool_)):
        raise ValueError(f"invert must be True, False or 'auto'; got {invert!r}")
    pixels = np.empty((len(paths), height, width), dtype=np.uint8)
    for index, path in enumerate(paths):
        pixels[index] = _read_grey(Path(path), (width, height))
        flip = _looks_dark_on_light(pixels[index]) if automatic else bool(invert)
        if flip:
            pixels[index] = 255 - pixels[index]
    return preprocess_images(pixels)


def predict_image(
    model: _Predictor,
    path_or_paths: PathLike | Sequence[PathLike],
    *,
    class_names: Sequence[str] = FASHION_MNIST_CLASSES,
    size: tuple[int, int] = (28, 28),
    invert: Invert = "auto",
) -> list[tuple[str, float]]:
    """Classify pictures with a trained model; one ``(class name, confidence)`` per picture.

    Parameters
    ----------
    model : object with ``predict(X)``
        Returns class probabilities of shape ``(n, len(class_names))`` for inputs
        ``X`` of shape ``(n, width * height)``, e.g. a trained :class:`scratchnn.Model`; a
        model whose ``sample_shape`` is a picture's, such as ``(1, 28, 28)`` for a CNN, gets
        ``X`` shaped ``(n, *sample_shape)``.
    path_or_paths : path or sequence of paths
        One picture or several.
    class_names : sequence of str, default :data:`FASHION_MNIST_CLASSES`
        Name of each output column.
    size, invert
        As in :func:`load_image`.

    Returns
    -------
    list of (str, float)
        The most probable class of each picture and its probability, in input order.

    Raises
    ------
    ValueError
        If no path is given, or the model's output does not have one row per picture and one
        column per class; also the errors of :func:`load_image`.
    """
    if isinstance(path_or_paths, (str, os.PathLike)):
        paths: list[PathLike] = [path_or_paths]
    else:
        paths = list(path_or_paths)
    if not paths:
        raise ValueError("path_or_paths is empty: give one picture's path or a list of paths")
    _check_input_width(model, _check_size(size))
    X = load_images(paths, size=size, invert=invert)
    shape = getattr(model, "sample_shape", None)
    if isinstance(shape, tuple) and len(shape) > 1 and math.prod(shape) == X.shape[1]:
        X = X.reshape(len(X), *shape)   # pictures for a model that takes them, e.g. (1, 28, 28)
    probabilities = np.asarray(model.predict(X))
    if probabilities.shape != (len(paths), len(class_names)):
        raise ValueError(
            f"model.predict returned shape {probabilities.shape}; expected "
            f"({len(paths)}, {len(class_names)}): one row per picture, one column per class"
        )
    best = np.argmax(probabilities, axis=1)
    return [
        (class_names[label], float(probabilities[row, label])) for row, label in enumerate(best)
    ]


def _check_input_width(model: Any, size: tuple[int, int]) -> None:
    """A model that knows its input width (a scratchnn Model) must take width * height pixels."""
    finalize = getattr(model, "finalize", None)
    if callable(finalize):
        finalize()   # sets n_features from the first layer
    n_features = getattr(model, "n_features", None)
    width, height = size
    if isinstance(n_features, int) and n_features != width * height:
        raise ValueError(
            f"the model takes {n_features} input values per sample but a picture of size "
            f"{size} gives {width * height} pixels: pass the size the model was trained on "
            "(size=(width, height) with width * height == the model's input width)"
        )


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = (int(side) for side in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height), two positive ints; got {size!r}") from None
    if width < 1 or height < 1 or tuple(size) != (width, height):
        raise ValueError(f"size must be (width, height), two positive ints; got {size!r}")
    return width, height


def _import_image_module() -> Any:
    # Imported on use so that the rest of scratchnn works without the optional extra.
    try:
        from PIL import Image, ImageOps
    except ImportError as error:
        raise ModuleNotFoundError(_PILLOW_MISSING, name="PIL") from error
    return Image, ImageOps


def _read_grey(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Open ``path``, flatten transparency onto white, make it greyscale ``size`` uint8."""
    Image, ImageOps = _import_image_module()
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give the path of a picture file")
    if not path.is_file():
        raise FileNotFoundError(f"no picture at {path}")
    try:
        with warnings.catch_warnings():
            # Pictures over Pillow's size limit warn (or, far over it, raise); a huge picture
            # is read all the same and shrunk to ``size``.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                grey = _to_grey(picture, Image, ImageOps)
    except (Image.UnidentifiedImageError, Image.DecompressionBombError, SyntaxError) as error:
        raise ValueError(f"{path} is not a picture Pillow can read: {error}") from error
    except OSError as error:
        if error.errno is not None:
            raise  # a real file-system error (permissions, ...), not a damaged picture
        # Pillow reports damaged picture data as OSError ("image file is truncated", ...).
        raise ValueError(f"{path} could not be read as a picture: {error}") from error
    if grey.size != size:
        resampling = getattr(Image, "Resampling", Image).LANCZOS
        grey = grey.resize(size, resampling)
    return np.asarray(grey, dtype=np.uint8)


def _to_grey(picture: Any, Image: Any, ImageOps: Any) -> Any:
    """An 8-bit greyscale ("L") copy of an opened picture, transparency shown on white."""
    picture = ImageOps.exif_transpose(picture)  # phone photos store rotation in EXIF
    alpha = None
    if picture.mode in ("I", "F") or picture.mode.startswith("I;16"):
        # 16-bit or 32-bit greyscale, or floats (some PNGs and TIFFs): convert("L") and
        # convert("RGBA") would clip everything above 255, so work on the values themselves.
        values = np.asarray(
            picture.convert("F") if picture.mode == "F" else picture.convert("I"),
            dtype=np.float64,
        )
        key = picture.info.get("transparency")
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            # One grey value marks the transparent pixels, in the picture's own range.
            alpha = Image.fromarray(np.where(values == key, 0, 255).astype(np.uint8))
        grey = Image.fromarray(_to_bytes(values, picture.mode))
    else:
        if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
            alpha = picture.convert("RGBA").getchannel("A")
        grey = picture.convert("L")
    if alpha is not None:
        # Transparent pixels hide arbitrary values; show them as on a white page.
        grey = Image.composite(grey, Image.new("L", grey.size, 255), alpha)
    return grey


def _to_bytes(values: np.ndarray, mode: str) -> np.ndarray:
    """Wide greys onto 0..255: by their format's range where it is known, else stretched."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if mode.startswith("I;16"):
        low, top = 0.0, 65535.0
    elif mode == "F" and low >= 0 and high <= 1:
        low, top = 0.0, 1.0                      # floats in 0..1
    elif low >= 0 and high <= 255:
        low, top = 0.0, 255.0                    # already 8-bit values
    elif mode == "I" and low >= 0 and high <= 65535:
        low, top = 0.0, 65535.0                  # Pillow opens some 16-bit PNGs as "I"
    elif high > low:
        top = high                               # no known range: stretch min..max
    else:
        return np.clip(np.nan_to_num(np.rint(values)), 0, 255).astype(np.uint8)
    scaled = np.nan_to_num((values - low) / (top - low) * 255, nan=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _looks_dark_on_light(pixels: np.ndarray) -> bool:
    """True when the outermost ring of ``pixels`` (2-D uint8) is mostly light."""
    ring = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])
    return bool(ring.mean() > _LIGHT_BORDER)
