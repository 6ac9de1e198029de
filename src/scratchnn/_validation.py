"""Argument checks done once at the public boundary, with messages that teach.

Every error names the argument, what was expected and what came.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._typing import Array


def describe(value: Any) -> str:
    """A short description of a received value for error messages."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1, else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer; got {describe(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return int(value)


def check_non_negative_int(value: Any, name: str) -> int:
    """``value`` as an int >= 0, else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer; got {describe(value)}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value}")
    return int(value)


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """``value`` as a finite float inside the given interval, else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {describe(value)}")
    # An unbounded end is open: inf itself is never accepted.
    left = "[" if low_inclusive and low is not None else "("
    right = "]" if high_inclusive and high is not None else ")"
    interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    try:
        number = float(value)
    except OverflowError:                 # an int beyond float range, e.g. 10**400
        raise ValueError(
            f"{name} must be a finite number in {interval}; got an integer too large for a "
            "float"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number in {interval}; got {number}")
    too_low = low is not None and (number < low if low_inclusive else number <= low)
    too_high = high is not None and (number > high if high_inclusive else number >= high)
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}; got {number}")
    return number


def check_float_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """``dtype`` as float32 or float64 (the two the library computes in)."""
    if dtype is None:
        # np.dtype(None) is float64, not the library's float32 default: say so rather than
        # switch precision silently.
        raise TypeError(f"{name} must be numpy.float32 or numpy.float64; got None")
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"{name} must be numpy.float32 or numpy.float64; got {dtype!r}") from error
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{name} must be numpy.float32 or numpy.float64; got {resolved}")
    return resolved


def plain_array(value: Any, name: str) -> Any:
    """``value`` with NumPy's array subclasses that change the arithmetic taken off.

    ``numpy.matrix`` makes ``*`` a matrix product and keeps every result 2-D, so it is turned
    into a plain array (the same numbers). A ``numpy.ma.MaskedArray`` hides values that
    arithmetic would still use: one with masked values is refused, since scratchnn has no
    notion of a missing value; one with nothing masked is taken as its data. Anything else is
    returned as it came.
    """
    if not isinstance(value, np.ndarray) or type(value) is np.ndarray:
        return value
    if isinstance(value, np.ma.MaskedArray):
        masked = int(np.count_nonzero(np.ma.getmaskarray(value)))
        if masked:
            raise ValueError(
                f"{name} is a numpy.ma.MaskedArray with {masked} masked value(s); scratchnn "
                "has no missing values and would compute with the numbers under the mask: "
                "fill them (the array's .filled(value)) or drop those samples, then pass a "
                "plain array"
            )
        return np.asarray(value.data)
    if isinstance(value, np.matrix):
        return np.asarray(value)
    return value


def as_float_array(value: Any, name: str, dtype: Any = np.float32) -> Array:
    """Convert ``value`` to a float array, refusing strings, objects and non-numbers clearly.

    A ``numpy.matrix`` becomes a plain array; a masked array with masked values is refused
    (see :func:`plain_array`).
    """
    value = plain_array(value, name)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        return cast_float(value, name, dtype)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise TypeError(
            f"{name} must be a numeric array; got {describe(value)} which NumPy cannot turn "
            f"into a rectangular array ({error})"
        ) from None
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers (float or int); got dtype {array.dtype}"
                        + _DTYPE_HINTS.get(array.dtype.kind, ""))
    return cast_float(array, name, dtype)


def cast_float(array: Array, name: str, dtype: Any) -> Array:
    """``array`` as ``dtype``; values too large for it are an error, not a silent inf."""
    try:
        with np.errstate(over="raise"):
            return array.astype(dtype, copy=False)
    except FloatingPointError:
        limit = float(np.finfo(dtype).max)
        raise ValueError(
            f"{name} holds values too large for {np.dtype(dtype).name} (beyond +-{limit:.3g}); "
            "scale the data (e.g. to about [-1, 1]) or compute in float64"
        ) from None


_DTYPE_HINTS = {
    "U": "; strings? convert with numpy.asarray(..., dtype=float)",
    "S": "; bytes? convert with numpy.asarray(..., dtype=float)",
    "O": "; an object array (mixed types or None?) must be converted to float first",
    "c": "; complex values are not supported: take .real or abs() first",
    "M": "; dates and times must be turned into numbers first",
    "m": "; time spans must be turned into numbers first",
}


def as_float_input(value: Any, name: str = "inputs") -> Array:
    """``value`` unchanged if it is a float32/float64 array, else converted to float32.

    What activations and Dropout accept: they keep the dtype they are given. A cheap check
    (an isinstance and a dtype test) on the common path, since the Model calls it every step.
    """
    if type(value) is np.ndarray and value.dtype.kind == "f" and value.dtype.itemsize >= 4:
        return value
    return as_float_array(value, name, np.float32)


def check_dvalues(layer: Any, dvalues: Any) -> Array:
    """``dvalues`` for ``layer.backward``: forward must have run and the shapes must agree.

    ``d(loss)/d(output)`` has one value per output, so its shape is the output's. Only the
    shape and dtype are looked at (O(1)): this runs for every layer at every step.
    """
    output = getattr(layer, "output", None)
    owner = type(layer).__name__
    if output is None:
        raise ValueError(
            f"{owner}.backward was called before {owner}.forward: call forward on a batch first"
        )
    if not (type(dvalues) is np.ndarray and dvalues.dtype.kind == "f"):
        dvalues = as_float_array(dvalues, "dvalues", output.dtype)
    if dvalues.shape != output.shape:
        raise ValueError(
            f"dvalues must have the shape of {owner}'s last output {output.shape} (one gradient "
            f"per output value); got {dvalues.shape}"
        )
    return dvalues


def all_finite(array: Array) -> bool:
    """Whether ``array`` holds no NaN or infinity.

    min and max are NaN or infinite exactly when some value is; unlike ``isfinite(array)``
    they need no boolean array the size of ``array`` (47 MB for Fashion-MNIST).
    """
    if array.dtype.kind != "f" or array.size == 0:
        return True
    return bool(np.isfinite(array.min()) and np.isfinite(array.max()))


def check_finite(array: Array, name: str) -> None:
    """Raise ValueError naming ``name`` if ``array`` holds NaN or infinity."""
    if not all_finite(array):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} must be finite; got {bad} NaN or infinite value(s)")


def shape_hint(expected_features: int, got: tuple[int, ...]) -> str:
    """The seed's advice for a batch of the wrong shape."""
    if len(got) == 1:
        if got[0] == expected_features:
            return "A single sample must still be a batch: use x.reshape(1, -1)"
        return "Inputs must be 2-D (n_samples, n_features)"
    if len(got) == 2 and got[0] == expected_features:
        return "The batch looks transposed: pass X.T so that samples are rows"
    if len(got) > 2:
        return "Flatten each sample first, e.g. X.reshape(len(X), -1)"
    return "Each row is one sample and must have one value per input feature"
