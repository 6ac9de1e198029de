"""Loss functions: per-sample losses forward, the gradient of their mean backward.

``forward(y_pred, y_true)`` returns one loss per sample, ``calculate`` their mean and
``backward(dvalues, y_true)`` leaves ``dinputs``, the gradient of that mean (hence the
division by the number of samples). Predictions are clipped to ``[1e-7, 1 - 1e-7]`` before
any logarithm, as in the book, so a confident wrong answer costs ~16 instead of infinity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._typing import Array
from ._validation import as_float_array, as_float_input, cast_float, check_real, plain_array
from .activations import Softmax, softmax_crossentropy_gradient
from .layers.base import Layer
from .metrics import Accuracy, CategoricalAccuracy, RegressionAccuracy
from .registry import register

EPSILON = 1e-7

# The library's layer that produces what a loss expects (for messages).
_PRODUCERS = {"class_probabilities": "Softmax", "binary_probabilities": "Sigmoid"}


class Loss:
    """Base class: mean, accumulation over batches and regularisation.

    Two class attributes tell a model what the loss needs, without the model knowing its
    type: :attr:`expects` (what the last layer must produce, compared with that layer's
    ``produces``) and :attr:`pairs_with_softmax` (whether a Softmax before it may take the
    fused gradient, see :meth:`Softmax.backward_from_loss <scratchnn.Softmax.backward_from_loss>`).
    """

    #: What the predictions must be: "class_probabilities" (a Softmax last),
    #: "binary_probabilities" (a Sigmoid last) or None (anything).
    expects: str | None = None
    #: True when d(loss)/d(logits) through a Softmax is ``(softmax - one_hot) / n_samples``.
    pairs_with_softmax: bool = False

    def __init__(self) -> None:
        self.trainable_layers: list[Layer] = []
        self.accumulated_sum = 0.0
        self.accumulated_count = 0

    def forward(self, y_pred: Array, y_true: Array) -> Array:
        raise NotImplementedError

    def backward(self, dvalues: Array, y_true: Array) -> Array:
        raise NotImplementedError

    def remember_trainable_layers(self, trainable_layers: Iterable[Layer]) -> None:
        """Layers whose penalties :meth:`regularization_loss` adds up when called bare."""
        self.trainable_layers = list(trainable_layers)

    def regularization_loss(self, layer: Layer | None = None) -> float:
        """The L1/L2 penalty of ``layer``, or of every remembered trainable layer."""
        if layer is not None:
            return layer.regularization_loss()
        return sum((lay.regularization_loss() for lay in self.trainable_layers), 0.0)

    def calculate(
        self, output: Array, y: Array, *, include_regularization: bool = False
    ) -> Any:
        """Mean loss over the batch (and, on request, ``(data_loss, regularization_loss)``)."""
        sample_losses = self.forward(output, y)
        # One reduction for both: np.mean is this sum divided by the count in the array's
        # dtype (np.add.reduce, then a division in float32 for float32), the same number.
        total = np.add.reduce(sample_losses, axis=None)
        data_loss = (float(total / sample_losses.size) if sample_losses.size
                     else float(np.mean(sample_losses)))
        self.accumulated_sum += float(total)
        self.accumulated_count += len(sample_losses)
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()

    def calculate_accumulated(self, *, include_regularization: bool = False) -> Any:
        """Mean loss over every batch since :meth:`new_pass`."""
        data_loss = self.accumulated_sum / max(self.accumulated_count, 1)
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()

    def new_pass(self) -> None:
        self.accumulated_sum = 0.0
        self.accumulated_count = 0

    def check_last_layer(self, layer: Layer) -> None:
        """Refuse a last layer that does not produce what this loss :attr:`expects`."""
        if self.expects is None or layer.produces == self.expects:
            return
        needed = _PRODUCERS.get(self.expects, self.expects)
        raise ValueError(
            f"{type(self).__name__} needs probabilities, so the model must end with {needed}(); "
            f"it ends with {layer.describe()}. Add model.add({needed}()) after the last Dense"
        )

    def default_accuracy(self) -> Accuracy:
        """The accuracy a model uses with this loss when neither the user nor the last layer
        chose one: class ids compared, or within a precision for regression losses."""
        return CategoricalAccuracy()

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _targets_like(y_true: Array, y_pred: Array) -> Array:
    """Float targets in the predictions' dtype, so float32 predictions give float32 losses.

    Integer one-hot or 0/1 targets would otherwise promote every result to float64.
    """
    y_true = np.asarray(y_true)
    if y_pred.dtype.kind == "f" and y_true.dtype != y_pred.dtype:
        return cast_float(y_true, "y_true", y_pred.dtype)
    return y_true


# -- boundary checks: shapes and dtypes only (O(1)), plus a min/max over the labels, which is
# O(n_samples) against the O(n_samples * n_classes) of the loss itself. The Model calls these
# every step, so nothing here looks at every value (the Model checks X and y once per fit).


def _check_predictions(y_pred: Any, name: str = "y_pred", *, any_rank: bool = False) -> Array:
    """Predictions as a float array shaped (n_samples, n_outputs) with n_samples >= 1.

    ``any_rank``: (n_samples, *output_shape) is fine too (losses per output value).
    """
    y_pred = as_float_input(y_pred, name)
    rank_ok = y_pred.ndim >= 2 if any_rank else y_pred.ndim == 2
    if not rank_ok or y_pred.shape[0] == 0 or y_pred.size == 0:
        shape = "(n_samples, *output_shape)" if any_rank else "2-D (n_samples, n_outputs)"
        raise ValueError(
            f"{name} must be {shape} with at least one sample and one "
            f"output; got shape {y_pred.shape}"
            + ("; use y_pred.reshape(-1, 1) for one output" if y_pred.ndim == 1 else "")
        )
    return y_pred


def _per_sample_mean(values: Array) -> Array:
    """The mean over every axis but the first: one loss per sample, whatever its shape."""
    if values.ndim == 2:
        return np.mean(values, axis=-1)
    return np.mean(values.reshape(len(values), -1), axis=1)


def _numeric(y_true: Any, name: str) -> Array:
    """``y_true`` as a numeric array, integers kept (labels); TypeError for anything else."""
    y_true = plain_array(y_true, name)
    if isinstance(y_true, np.ndarray) and y_true.dtype.kind in "fiub":
        return y_true
    try:
        array = np.asarray(y_true)
    except (ValueError, TypeError):   # ragged nesting: let as_float_array explain
        array = np.asarray(None)
    if array.dtype.kind not in "fiub":
        as_float_array(y_true, name)   # raises a TypeError naming ``name``
    return array


def _check_values(y_true: Any, y_pred: Array, name: str = "y_true") -> Array:
    """Targets with the predictions' shape and dtype (one target per output)."""
    y_true = _numeric(y_true, name)
    if y_true.shape != y_pred.shape:
        if y_true.ndim == 1 and y_pred.shape == (len(y_true), 1):
            y_true = y_true.reshape(-1, 1)   # (n,) targets for a single output
        else:
            raise ValueError(
                f"{name} must have the shape of the predictions {y_pred.shape}, one target "
                f"per output of each sample; got {y_true.shape}"
            )
    return _targets_like(y_true, y_pred)


def _check_classes(y_true: Any, y_pred: Array, name: str = "y_true") -> Array:
    """Class labels (n,) in 0..n_classes-1, or one-hot rows shaped like ``y_pred``."""
    y_true = _numeric(y_true, name)
    samples, classes = y_pred.shape
    if y_true.ndim == 2 and y_true.shape[1] == 1 and classes > 1:
        y_true = y_true[:, 0]   # a column of labels
    if y_true.ndim == 1:
        if len(y_true) != samples:
            raise ValueError(
                f"{name} must hold one class label per sample: the predictions have {samples} "
                f"samples but {name} has {len(y_true)}"
            )
        if y_true.dtype.kind not in "iu":
            raise TypeError(
                f"{name} class labels must be integers; got dtype {y_true.dtype}. Convert "
                f"them with {name}.astype(int), or pass one-hot rows shaped {y_pred.shape}"
            )
        low, high = int(y_true.min()), int(y_true.max())
        if low < 0 or high >= classes:
            raise ValueError(
                f"{name} class labels must be in 0..{classes - 1} (the predictions have "
                f"{classes} columns); got labels from {low} to {high}"
            )
        return y_true
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{name} must be class labels shaped ({samples},) or one-hot rows shaped "
            f"{y_pred.shape}; got {y_true.shape}"
        )
    return y_true


def _one_hot(labels: Array, width: int, dtype: Any) -> Array:
    encoded = np.zeros((len(labels), width), dtype=dtype)
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


@register("loss")
class CategoricalCrossentropy(Loss):
    """``-log(p[true class])``; ``y_true`` integer labels (n,) or one-hot (n, classes).

    Gradient of the mean: ``-y_true / p / n_samples`` (one-hot ``y_true``), with ``p``
    clipped to [1e-7, 1 - 1e-7] as in the forward pass. As in the book, the clip is applied
    to the gradient's ``p`` too rather than zeroing the gradient where ``p`` was clipped, so
    for ``p < 1e-7`` this is not the derivative of the clipped loss (autograd frameworks give
    0 there). A Model with Softmax last uses the fused gradient ``p - y`` instead, unclipped.
    """

    expects = "class_probabilities"
    pairs_with_softmax = True

    def forward(self, y_pred: Array, y_true: Array) -> Array:
        y_pred = _check_predictions(y_pred)
        y_true = _check_classes(y_true, y_pred)
        if y_true.ndim == 1:
            # The true class's probability first, then the clip: the same numbers as
            # clipping every probability, for one value per sample instead of all of them.
            correct = np.clip(y_pred[np.arange(len(y_pred)), y_true], EPSILON, 1 - EPSILON)
        else:
            clipped = np.clip(y_pred, EPSILON, 1 - EPSILON)
            correct = np.sum(clipped * _targets_like(y_true, clipped), axis=1)
            # A valid one-hot row gives correct >= EPSILON already; a row of zeros (or
            # negative targets) would give log(0) or log(<0), so it is floored too.
            np.maximum(correct, EPSILON, out=correct)
        return -np.log(correct)

    def backward(self, dvalues: Array, y_true: Array) -> Array:
        dvalues = _check_predictions(dvalues, "dvalues")
        y_true = _check_classes(y_true, dvalues)
        samples, labels = dvalues.shape
        if y_true.ndim == 1:
            y_true = _one_hot(y_true, labels, dvalues.dtype)
        y_true = _targets_like(y_true, dvalues)
        clipped = np.clip(dvalues, EPSILON, 1 - EPSILON)
        self.dinputs = -y_true / clipped / samples
        return self.dinputs


@register("loss")
class BinaryCrossentropy(Loss):
    """``-(y log p + (1 - y) log(1 - p))`` averaged over the outputs of each sample.

    Gradient of the mean: ``-(y / p - (1 - y) / (1 - p)) / n_outputs / n_samples``, with
    ``p`` clipped to [1e-7, 1 - 1e-7] as in the book (not zeroed where the clip bites).
    """

    expects = "binary_probabilities"

    def default_accuracy(self) -> Accuracy:
        return CategoricalAccuracy(binary=True)

    def forward(self, y_pred: Array, y_true: Array) -> Array:
        y_pred = _check_predictions(y_pred, any_rank=True)
        y_true = _check_values(y_true, y_pred)
        clipped = np.clip(y_pred, EPSILON, 1 - EPSILON)
        losses = -(y_true * np.log(clipped) + (1 - y_true) * np.log(1 - clipped))
        return _per_sample_mean(losses)

    def backward(self, dvalues: Array, y_true: Array) -> Array:
        dvalues = _check_predictions(dvalues, "dvalues", any_rank=True)
        y_true = _check_values(y_true, dvalues)
        samples, outputs = len(dvalues), dvalues[0].size
        clipped = np.clip(dvalues, EPSILON, 1 - EPSILON)
        self.dinputs = -(y_true / clipped - (1 - y_true) / (1 - clipped)) / outputs / samples
        return self.dinputs


@register("loss")
class MeanSquaredError(Loss):
    """``mean((y - p)**2)`` over outputs; gradient ``-2 (y - p) / n_outputs / n_samples``.

    Outputs of any shape ``(n_samples, *output_shape)``: the mean is over every output value.
    """

    def default_accuracy(self) -> Accuracy:
        return RegressionAccuracy()

    def forward(self, y_pred: Array, y_true: Array) -> Array:
        y_pred = _check_predictions(y_pred, any_rank=True)
        return _per_sample_mean((_check_values(y_true, y_pred) - y_pred) ** 2)

    def backward(self, dvalues: Array, y_true: Array) -> Array:
        dvalues = _check_predictions(dvalues, "dvalues", any_rank=True)
        samples, outputs = len(dvalues), dvalues[0].size
        self.dinputs = -2 * (_check_values(y_true, dvalues) - dvalues) / outputs / samples
        return self.dinputs


@register("loss")
class MeanAbsoluteError(Loss):
    """``mean(|y - p|)`` over outputs; gradient ``sign(p - y) / n_outputs / n_samples``.

    (The book writes ``sign(y - p)``, which points the wrong way; the gradient check here
    confirms ``sign(p - y)``.)
    """

    def default_accuracy(self) -> Accuracy:
        return RegressionAccuracy()

    def forward(self, y_pred: Array, y_true: Array) -> Array:
        y_pred = _check_predictions(y_pred, any_rank=True)
        return _per_sample_mean(np.abs(_check_values(y_true, y_pred) - y_pred))

    def backward(self, dvalues: Array, y_true: Array) -> Array:
        dvalues = _check_predictions(dvalues, "dvalues", any_rank=True)
        samples, outputs = len(dvalues), dvalues[0].size
        self.dinputs = np.sign(dvalues - _check_values(y_true, dvalues)) / outputs / samples
        return self.dinputs


@register("loss")
class Huber(Loss):
    """Per output ``0.5 e**2`` where ``|e| <= delta``, else ``delta (|e| - 0.5 delta)``, with
    ``e = p - y``; the mean over outputs, like :class:`MeanSquaredError`.

    Half the squared error near the target, the absolute error (times ``delta``) far from it,
    so outliers pull with a bounded force. Gradient of the mean:
    ``clip(e, -delta, delta) / n_outputs / n_samples``. Both pieces come from ``q = min(|e|,
    delta)`` as ``0.5 q**2 + delta (|e| - q)``, so ``e**2`` is never formed for a large ``e``.

    Parameters
    ----------
    delta : float > 0
        Where the quadratic part ends.
    """

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        self.delta = check_real(delta, "delta", low=0.0, low_inclusive=False)

    def default_accuracy(self) -> Accuracy:
        return RegressionAccuracy()

    def forward(self, y_pred: Array, y_true: Array) -> Array:
        y_pred = _check_predictions(y_pred, any_rank=True)
        error = np.abs(y_pred - _check_values(y_true, y_pred))
        delta = y_pred.dtype.type(self.delta)
        quadratic = np.minimum(error, delta)
        return _per_sample_mean(0.5 * quadratic * quadratic + delta * (error - quadratic))

    def backward(self, dvalues: Array, y_true: Array) -> Array:
        dvalues = _check_predictions(dvalues, "dvalues", any_rank=True)
        samples, outputs = len(dvalues), dvalues[0].size
        delta = dvalues.dtype.type(self.delta)
        error = dvalues - _check_values(y_true, dvalues)
        self.dinputs = np.clip(error, -delta, delta) / outputs / samples
        return self.dinputs

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta}

    def __repr__(self) -> str:
        return f"Huber(delta={self.delta!r})"


class SoftmaxCategoricalCrossentropy:
    """Softmax followed by categorical cross-entropy, with the fused gradient.

    The chain rule through both collapses to ``(softmax(x) - y_one_hot) / n_samples``: one
    subtraction instead of a Jacobian per sample, and no division by a small probability.
    ``forward(inputs, y_true)`` takes the logits and returns the mean loss;
    ``backward(dvalues, y_true)`` takes the softmax output.
    """

    def __init__(self) -> None:
        self.activation = Softmax()
        self.loss = CategoricalCrossentropy()

    def forward(self, inputs: Array, y_true: Array) -> float:
        self.output = self.activation.forward(inputs)
        return float(self.loss.calculate(self.output, y_true))

    def backward(self, dvalues: Array, y_true: Array) -> Array:
        dvalues = _check_predictions(dvalues, "dvalues")
        y_true = _check_classes(y_true, dvalues)
        if y_true.ndim == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = softmax_crossentropy_gradient(dvalues, y_true)
        return self.dinputs


