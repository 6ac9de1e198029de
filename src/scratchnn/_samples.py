"""What a model accepts as ``X`` and ``y``: checked once per call, explained when wrong.

A batch ``X`` is shaped ``(n_samples, *sample_shape)``; the model's layers say which sample
shapes they take (:meth:`Layer.output_shape <scratchnn.Layer.output_shape>`). Targets take
the form the loss wants: class ids for a cross-entropy over classes, one value per output
otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._typing import Array
from ._validation import as_float_array, cast_float, check_finite, describe, plain_array

Shape = tuple[int, ...]


def check_inputs(
    X: Any, name: str, *, dtype: np.dtype, first: Any, expected: Shape | None
) -> Array:
    """``X`` as an array of ``dtype`` with at least one finite sample.

    ``expected`` is the sample shape the first layer (``first``) fixes, if it does; then a
    wrong shape is explained here, in terms of that layer (a transposed batch, a lone
    sample, pictures for a Dense). Otherwise the layers judge it (``Model.layer_shapes``).
    """
    array = as_float_array(X, name, dtype)
    if expected is not None and (array.ndim < 1 or array.shape[1:] != expected):
        dims = ", ".join(str(d) for d in expected)
        hint = ""
        if array.shape == expected:
            hint = "; a single sample must still be a batch: use x.reshape(1, -1)"
        elif array.ndim == 2 and len(expected) == 1 and array.shape[0] == expected[0]:
            hint = "; the batch looks transposed: pass X.T so that samples are rows"
        elif array.ndim > 2 and len(expected) == 1:
            hint = (f"; flatten each sample first: {name}.reshape(len({name}), -1), or start "
                    "the model with Flatten()")
        raise ValueError(
            f"{name} must be shaped (n_samples, {dims}) for the first layer, "
            f"{first.describe()}; got {array.shape}{hint}"
        )
    if array.ndim == 0:
        raise ValueError(f"{name} must be a batch shaped (n_samples, ...); got a single number")
    if len(array) == 0:
        raise ValueError(f"{name} must hold at least one sample; got shape {array.shape}")
    check_finite(array, name)
    return array


def check_targets(
    y: Any, n_samples: int, name: str, *, loss: Any, output_shape: Shape, dtype: np.dtype
) -> Array:
    """Targets in the form ``loss`` wants: class ids (n,) or values (n, *output_shape).

    ``output_shape`` is one sample's output, the model's last layer's.
    """
    y = plain_array(y, name)
    if not isinstance(y, np.ndarray):
        # Lists and tuples keep their kind (True/False stay booleans, to be refused below).
        try:
            candidate = np.asarray(y)
        except (ValueError, TypeError):
            candidate = None
        if candidate is not None and candidate.ndim and candidate.dtype.kind in "iub":
            y = candidate
    if isinstance(y, np.ndarray) and y.dtype.kind in "fiub":
        array = y
    else:
        array = as_float_array(y, name, np.float64) if not isinstance(y, np.ndarray) else y
        if array.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold numbers; got dtype {array.dtype}")
    if array.ndim == 0:
        raise TypeError(
            f"{name} must be an array with one target per sample; got {describe(y)}"
        )
    if len(array) != n_samples:
        raise ValueError(
            f"len(X) must equal len({name}): X has {n_samples} samples but {name} has "
            f"{len(array)}"
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; got NaN or infinite values")
    classes = math.prod(output_shape)
    expects = getattr(loss, "expects", None)
    if len(output_shape) > 1:
        return _values_like_outputs(array, y, n_samples, name, output_shape, dtype)
    if expects == "class_probabilities" or loss is None:
        if array.ndim == 2 and array.shape[1] == classes and classes > 1:
            if not np.all((array == 0) | (array == 1)) or not np.all(array.sum(1) == 1):
                raise ValueError(
                    f"{name} given as a 2-D array must be one-hot rows (one 1 per row, "
                    f"width {classes}); got other values"
                )
            return np.argmax(array, axis=1)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.dtype.kind == "b" and classes != 2:
            raise TypeError(
                f"{name} holds True/False values, which would be read as classes 0 and 1 "
                f"of the {classes} the last layer has; pass integer class labels in "
                f"0..{classes - 1} (e.g. {name}.astype(int) if 0/1 is really meant)"
            )
        if array.ndim != 1:
            raise ValueError(
                f"{name} must be class labels shaped ({n_samples},) or one-hot shaped "
                f"({n_samples}, {classes}) for a last layer with {classes} outputs; "
                f"got {array.shape}"
            )
        if array.dtype.kind == "f":
            if not np.all(array == np.round(array)):
                raise ValueError(f"{name} class labels must be integers; got fractions")
        low, high = array.min(), array.max()
        if low < 0 or high >= classes:
            raise ValueError(
                f"{name} class labels must be in 0..{classes - 1} (the last layer has "
                f"{classes} outputs); got labels from {low:g} to {high:g}"
            )
        return array.astype(np.intp, copy=False)
    # Binary cross-entropy and regression: one target per output.
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or array.shape[1] != classes:
        raise ValueError(
            f"{name} must be shaped ({n_samples}, {classes}) (one target per output of the "
            f"last layer){' or (' + str(n_samples) + ',)' if classes == 1 else ''}; "
            f"got {np.shape(y)}"
        )
    if expects == "binary_probabilities":
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(f"{name} must hold 0/1 targets for BinaryCrossentropy")
    return cast_float(array, name, dtype)


def _values_like_outputs(
    array: Array, y: Any, n_samples: int, name: str, output_shape: Shape, dtype: np.dtype
) -> Array:
    """Targets for outputs that are not one row per sample: one value per output value."""
    if array.shape[1:] != output_shape:
        raise ValueError(
            f"{name} must be shaped ({n_samples}, {', '.join(map(str, output_shape))}) (one "
            f"target per output value of the last layer); got {np.shape(y)}"
        )
    return cast_float(array, name, dtype)
