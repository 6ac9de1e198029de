"""Activation functions, each with its derivative right below its forward pass.

Every activation keeps the input's dtype (float32 in, float32 out) and offers the book's
``predictions(outputs)``, which turns the last layer's outputs into predicted values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._typing import Array
from ._validation import as_float_input, check_dvalues, check_real
from .layers.base import Layer, register_layer


def _as_float(inputs: Array) -> Array:
    """float32/float64 arrays as they are; anything else numeric as float32 (else TypeError)."""
    return as_float_input(inputs, "inputs")


@register_layer
class ReLU(Layer):
    """``max(0, x)``; derivative 1 where ``x > 0``, else 0."""

    def forward(self, inputs: Array, training: bool = False) -> Array:
        self.inputs = _as_float(inputs)
        self.output = np.maximum(self.inputs, 0)
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        self.dinputs = dvalues * (self.inputs > 0)
        return self.dinputs

    def predictions(self, outputs: Array) -> Array:
        return outputs


@register_layer
class LeakyReLU(Layer):
    """``x`` where ``x > 0``, else ``alpha * x``; derivative 1 or ``alpha``."""

    def __init__(self, alpha: float = 0.01) -> None:
        self.alpha = check_real(alpha, "alpha", low=0.0)

    def forward(self, inputs: Array, training: bool = False) -> Array:
        self.inputs = _as_float(inputs)
        slope = self.inputs.dtype.type(self.alpha)
        # Scale only the non-positive part: alpha * inf (alpha = 0 gives NaN, alpha > 1 may
        # overflow) never comes from a positive input whose result is thrown away.
        negative = np.minimum(self.inputs, 0)
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = slope * negative
        if self.alpha == 0:
            scaled = np.zeros_like(scaled)       # the ReLU limit, also at -inf
        self.output = np.where(self.inputs > 0, self.inputs, scaled)
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        slope = self.inputs.dtype.type(self.alpha)
        self.dinputs = dvalues * np.where(self.inputs > 0, self.inputs.dtype.type(1), slope)
        return self.dinputs

    def predictions(self, outputs: Array) -> Array:
        return outputs

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


@register_layer
class Sigmoid(Layer):
    """``1 / (1 + exp(-x))``; derivative ``s * (1 - s)``, a function of the output alone.

    Computed as ``1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` otherwise, with
    ``e = exp(-|x|) <= 1``, so ``exp`` never overflows.
    """

    produces = "binary_probabilities"

    def forward(self, inputs: Array, training: bool = False) -> Array:
        self.inputs = _as_float(inputs)
        with np.errstate(under="ignore"):  # exp(-|x|) rounding to 0 for large |x| is intended
            e = np.exp(-np.abs(self.inputs))
            self.output = np.where(self.inputs >= 0, 1 / (1 + e), e / (1 + e))
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        self.dinputs = dvalues * (1 - self.output) * self.output
        return self.dinputs

    def predictions(self, outputs: Array) -> Array:
        """Class 1 where the probability is above 0.5."""
        return (outputs > 0.5).astype(np.int64)


@register_layer
class Tanh(Layer):
    """``tanh(x)``; derivative ``1 - tanh(x)**2``."""

    def forward(self, inputs: Array, training: bool = False) -> Array:
        self.inputs = _as_float(inputs)
        self.output = np.tanh(self.inputs)
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        self.dinputs = dvalues * (1 - self.output * self.output)
        return self.dinputs

    def predictions(self, outputs: Array) -> Array:
        return outputs


@register_layer
class Softmax(Layer):
    """``exp(x - max(x)) / sum(exp(x - max(x)))`` row by row.

    Subtracting the row maximum changes nothing mathematically and keeps ``exp`` <= 1.
    Backward uses the Jacobian ``diag(s) - s s^T`` without building it:
    ``dinputs = s * (dvalues - sum(dvalues * s))`` per row.

    Ending a model trained with :class:`~scratchnn.CategoricalCrossentropy`, the two
    gradients collapse into ``(softmax - one_hot) / n_samples`` (:meth:`backward_from_loss`).
    """

    produces = "class_probabilities"

    def forward(self, inputs: Array, training: bool = False) -> Array:
        inputs = _as_float(inputs)
        if inputs.ndim != 2 or inputs.shape[1] == 0:
            raise ValueError(
                f"Softmax expects inputs shaped (n_samples, n_classes), one row of logits per "
                f"sample; got {inputs.shape}"
                + ("; a single sample must still be a batch: use x.reshape(1, -1)"
                   if inputs.ndim == 1 else "")
            )
        self.inputs = inputs
        # Underflow of far-below-max logits to 0 is intended; x - max overflowing to -inf
        # (exp gives 0) too. A row holding +inf gives inf - inf = NaN, left for the Model's
        # divergence check rather than a warning.
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):
            exp_values = np.exp(self.inputs - self.inputs.max(axis=1, keepdims=True))
            self.output = exp_values / exp_values.sum(axis=1, keepdims=True)
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        s = self.output
        self.dinputs = s * (dvalues - (dvalues * s).sum(axis=1, keepdims=True))
        return self.dinputs

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Samples of logits ``(n_classes,)`` give as many probabilities."""
        shape = tuple(input_shape)
        if len(shape) != 1 or shape[0] == 0:
            hint = "; put Flatten() before it" if len(shape) > 1 else ""
            raise ValueError(
                f"Softmax takes samples that are one row of logits, shaped (n_classes,); it "
                f"would get samples shaped {shape}{hint}"
            )
        return shape

    def backward_from_loss(self, loss: Any, y_true: Array) -> Array | None:
        """``(softmax - one_hot(y_true)) / n_samples`` for a loss that declares
        ``pairs_with_softmax`` (the categorical cross-entropy); ``y_true`` are class ids."""
        if getattr(loss, "pairs_with_softmax", False) and y_true.ndim == 1:
            return softmax_crossentropy_gradient(self.output, y_true)
        return None

    def predictions(self, outputs: Array) -> Array:
        """The most probable class of each row."""
        return np.argmax(outputs, axis=1)


def softmax_crossentropy_gradient(probabilities: Array, labels: Array) -> Array:
    """``(probabilities - one_hot(labels)) / n_samples``, unchecked (the Model's hot path).

    The chain rule through Softmax and the cross-entropy's mean collapses to this: one
    subtraction instead of a Jacobian per sample. ``labels`` are class ids, already
    validated by the caller.
    """
    gradient = probabilities.copy()
    gradient[np.arange(len(gradient)), labels] -= 1
    gradient /= len(gradient)
    return gradient


@register_layer
class Linear(Layer):
    """The identity, for regression outputs; derivative 1."""

    def forward(self, inputs: Array, training: bool = False) -> Array:
        self.inputs = _as_float(inputs)
        self.output = self.inputs
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        self.dinputs = dvalues.copy()
        return self.dinputs

    def predictions(self, outputs: Array) -> Array:
        return outputs
