"""Accuracy: how often predictions match, accumulated over batches like the loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._typing import Array
from ._validation import check_real
from .registry import register


class Accuracy:
    """Base class: ``calculate`` the mean of ``compare`` and accumulate it over an epoch."""

    def __init__(self) -> None:
        self.accumulated_sum = 0.0
        self.accumulated_count = 0

    def init(self, y: Array, reinit: bool = False) -> None:
        """Prepare from the ground truth (only the regression accuracy needs it)."""

    def compare(self, predictions: Array, y: Array) -> Array:
        raise NotImplementedError

    def calculate(self, predictions: Array, y: Array) -> float:
        """Mean of :meth:`compare` on this batch, also added to the running totals.

        Raises ValueError for an empty batch: the accuracy of no samples is undefined.
        """
        predictions, y = np.asarray(predictions), np.asarray(y)
        for name, array in (("predictions", predictions), ("y", y)):
            if array.size == 0:
                raise ValueError(
                    f"{name} must hold at least one sample; got an empty array of shape "
                    f"{array.shape} (the accuracy of no samples is undefined)"
                )
        comparisons = self.compare(predictions, y)
        self.accumulated_sum += float(np.sum(comparisons))
        self.accumulated_count += comparisons.size
        return float(np.mean(comparisons))

    def calculate_accumulated(self) -> float:
        return self.accumulated_sum / max(self.accumulated_count, 1)

    def new_pass(self) -> None:
        self.accumulated_sum = 0.0
        self.accumulated_count = 0

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@register("accuracy")
class CategoricalAccuracy(Accuracy):
    """Fraction of predicted classes equal to the labels (integer or one-hot).

    ``binary=True`` compares each of several sigmoid outputs with its 0/1 target.
    """

    def __init__(self, *, binary: bool = False) -> None:
        super().__init__()
        self.binary = bool(binary)

    def compare(self, predictions: Array, y: Array) -> Array:
        if not self.binary and y.ndim == 2 and y.shape[1] > 1:
            y = np.argmax(y, axis=1)   # one-hot; a (n, 1) column holds the labels themselves
        y = _column_like(y, predictions)   # (n,) labels against (n, 1) sigmoid predictions
        _check_same_shape(predictions, y)
        return predictions == y

    def get_config(self) -> dict[str, Any]:
        return {"binary": self.binary} if self.binary else {}


@register("accuracy")
class RegressionAccuracy(Accuracy):
    """Fraction of predictions within ``precision`` of the target (default ``std(y) / 250``)."""

    def __init__(self, precision: float | None = None) -> None:
        super().__init__()
        if precision is not None:
            precision = check_real(precision, "precision", low=0.0, low_inclusive=False)
        self.precision = precision
        self._fixed = precision is not None

    def init(self, y: Array, reinit: bool = False) -> None:
        if not self._fixed and (self.precision is None or reinit):
            # In float64: float32 targets near 1e19 square past float32's range.
            with np.errstate(over="ignore", invalid="ignore"):
                spread = float(np.std(np.asarray(y), dtype=np.float64))
            if not math.isfinite(spread):
                raise ValueError(
                    "y's spread is too large to derive RegressionAccuracy's default precision "
                    "(std(y) / 250 is not a finite number); scale the targets, or give "
                    "RegressionAccuracy(precision=...) explicitly"
                )
            self.precision = spread / 250

    def compare(self, predictions: Array, y: Array) -> Array:
        if self.precision is None:
            self.init(y)
        y = _column_like(y, predictions)
        _check_same_shape(predictions, y)
        difference = np.absolute(predictions - y)
        if self.precision == 0:
            # Constant targets (std 0): the book's strict "<" would count nothing, even
            # exact predictions; count those.
            return difference <= 0
        return difference < self.precision

    def get_config(self) -> dict[str, Any]:
        return {"precision": self.precision} if self._fixed else {}


def _column_like(y: Array, predictions: Array) -> Array:
    """``y`` reshaped between (n,) and (n, 1) to match ``predictions``; other shapes as given
    (a (3, 2) against a (2, 3) is an error, not a reshape)."""
    if predictions.shape != y.shape and predictions.size == y.size:
        if {predictions.ndim, y.ndim} == {1, 2} and len(predictions) == len(y):
            return y.reshape(predictions.shape)
    return y


def _check_same_shape(predictions: Array, y: Array) -> None:
    if predictions.shape != y.shape:
        raise ValueError(
            f"predictions and y must describe the same samples: predictions have shape "
            f"{predictions.shape} but y (after reading one-hot rows as labels) has {y.shape}"
        )


def accuracy_for_outputs(produces: str | None) -> Accuracy | None:
    """The accuracy for a last layer that ``produces`` probabilities (see
    :attr:`Layer.produces <scratchnn.Layer.produces>`): class ids compared for
    "class_probabilities", 0/1 answers for "binary_probabilities"; None otherwise."""
    if produces == "class_probabilities":
        return CategoricalAccuracy()
    if produces == "binary_probabilities":
        return CategoricalAccuracy(binary=True)
    return None
