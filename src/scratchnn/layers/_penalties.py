"""The book's L1/L2 penalties on a layer's ``weights`` and ``biases`` (Dense, Conv2D, Conv1D).

``loss += l1 * sum|w| + l2 * sum(w**2)`` for each, and the matching gradient terms
``l1 * sign(w)`` (the book's sign, +1 at 0) and ``2 * l2 * w``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from .._validation import check_real

PENALTIES = (
    "weight_regularizer_l1",
    "weight_regularizer_l2",
    "bias_regularizer_l1",
    "bias_regularizer_l2",
)


def set_penalties(layer: Any, *strengths: float) -> None:
    """The four strengths, in :data:`PENALTIES` order, checked by name (each error names
    the argument given) and set on ``layer``."""
    for name in PENALTIES:
        setattr(layer, name, 0.0)
    for name, strength in zip(PENALTIES, strengths, strict=True):
        setattr(layer, name, check_real(strength, name, low=0.0))


def add_penalty_gradients(layer: Any) -> None:
    """The penalties' terms added into ``layer.dweights`` and ``layer.dbiases`` in place."""
    if layer.weight_regularizer_l1 > 0:
        layer.dweights += layer.weight_regularizer_l1 * sign(layer.weights)
    if layer.weight_regularizer_l2 > 0:
        layer.dweights += 2 * layer.weight_regularizer_l2 * layer.weights
    if layer.bias_regularizer_l1 > 0:
        layer.dbiases += layer.bias_regularizer_l1 * sign(layer.biases)
    if layer.bias_regularizer_l2 > 0:
        layer.dbiases += 2 * layer.bias_regularizer_l2 * layer.biases


def penalty_loss(layer: Any) -> float:
    """``l1 * sum|w| + l2 * sum(w**2)`` for weights and biases."""
    loss = 0.0
    if layer.weight_regularizer_l1 > 0:
        loss += layer.weight_regularizer_l1 * float(np.abs(layer.weights).sum())
    if layer.weight_regularizer_l2 > 0:
        loss += layer.weight_regularizer_l2 * float((layer.weights * layer.weights).sum())
    if layer.bias_regularizer_l1 > 0:
        loss += layer.bias_regularizer_l1 * float(np.abs(layer.biases).sum())
    if layer.bias_regularizer_l2 > 0:
        loss += layer.bias_regularizer_l2 * float((layer.biases * layer.biases).sum())
    return loss


def penalty_config(layer: Any) -> dict[str, float]:
    """The strengths that are not 0, for ``get_config``."""
    return {name: getattr(layer, name) for name in PENALTIES if getattr(layer, name)}


def sign(values: Array) -> Array:
    """The book's L1 derivative: +1 where values >= 0, else -1."""
    return np.where(values >= 0, 1, -1).astype(values.dtype)
