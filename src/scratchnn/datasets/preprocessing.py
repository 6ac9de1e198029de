"""Turning image arrays into network inputs the way the book does for Fashion-MNIST."""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnn._validation import as_float_array, check_float_dtype

__all__ = ["flatten", "preprocess_images", "scale_images"]

# Half of the uint8 range: (x - 127.5) / 127.5 maps 0..255 onto -1..1 (the book's choice).
_HALF_RANGE = 127.5


def flatten(images: np.ndarray) -> np.ndarray:
    """Turn each sample into one row: ``(n, 28, 28)`` becomes ``(n, 784)``.

    Parameters
    ----------
    images : array_like, shape (n, d1, d2, ...)
        Samples along the first axis, with at least one more axis.

    Returns
    -------
    numpy.ndarray, shape (n, d1 * d2 * ...)
        Same dtype; a view when the input is contiguous.

    Raises
    ------
    ValueError
        If ``images`` has fewer than two dimensions.
    """
    array = np.asarray(images)
    if array.ndim < 2:
        raise ValueError(
            f"images must have shape (n, height, width) or at least 2 dimensions; got shape "
            f"{array.shape}"
        )
    # Not reshape(n, -1): that fails on an empty batch; the product is well defined.
    return array.reshape(array.shape[0], int(np.prod(array.shape[1:])))


def scale_images(images: np.ndarray, *, dtype: Any = np.float32) -> np.ndarray:
    """Scale pixel values from 0..255 to -1..1: ``(x - 127.5) / 127.5``.

    Parameters
    ----------
    images : array_like, any shape
        Pixel values, normally uint8.
    dtype : numpy.float32 or numpy.float64, default float32
        Type of the result (and of the arithmetic).

    Returns
    -------
    numpy.ndarray, same shape, ``dtype``
        Scaled values; 0 becomes -1 and 255 becomes 1.

    Examples
    --------
    >>> scale_images(np.array([0, 127.5, 255])).tolist()
    [-1.0, 0.0, 1.0]
    """
    dtype = check_float_dtype(dtype)
    array = as_float_array(images, "images", dtype)
    already_bytes = isinstance(images, np.ndarray) and images.dtype == np.uint8
    if not already_bytes and array.size:
        low, high = float(array.min()), float(array.max())
        if not (0 <= low and high <= 255):      # also refuses NaN (comparisons are False)
            raise ValueError(
                f"images must hold pixel values 0..255; got values from {low:g} to {high:g}"
                + (" (NaN or inf among them)" if not (np.isfinite(low) and np.isfinite(high))
                   else "")
                + "; scale 16-bit pictures to 0..255 first (values / 257)"
            )
    half = dtype.type(_HALF_RANGE)
    return (array - half) / half


def preprocess_images(images: np.ndarray, *, dtype: Any = np.float32) -> np.ndarray:
    """:func:`flatten` then :func:`scale_images`: ``(n, 28, 28)`` uint8 to ``(n, 784)`` float32.

    Parameters
    ----------
    images : array_like, shape (n, height, width)
        Pixel values 0..255.
    dtype : numpy.float32 or numpy.float64, default float32
        Type of the result.

    Returns
    -------
    numpy.ndarray, shape (n, height * width), ``dtype``
        Network-ready rows in -1..1.
    """
    return scale_images(flatten(images), dtype=dtype)
