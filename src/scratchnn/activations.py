"""Activation functions, each with its derivative right below its forward pass.

Every activation keeps the input's dtype (float32 in, float32 out) and offers the book's
``predictions(outputs)``, which turns the last layer's outputs into predicted values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.polynomial import chebyshev

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


def _sigmoid(x: Array) -> Array:
    """``1 / (1 + exp(-x))`` without overflow: ``e = exp(-|x|) <= 1`` on both sides of 0."""
    with np.errstate(under="ignore"):  # exp(-|x|) rounding to 0 for large |x| is intended
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@register_layer
class Sigmoid(Layer):
    """``1 / (1 + exp(-x))``; derivative ``s * (1 - s)``, a function of the output alone.

    Computed as ``1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` otherwise, with
    ``e = exp(-|x|) <= 1``, so ``exp`` never overflows.
    """

    produces = "binary_probabilities"

    def forward(self, inputs: Array, training: bool = False) -> Array:
        self.inputs = _as_float(inputs)
        self.output = _sigmoid(self.inputs)
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


def _times(x: Array, factor: Array) -> Array:
    """``x * factor``, 0 where ``factor`` is 0 (so ``-inf * 0`` gives the limit 0, not NaN)."""
    with np.errstate(invalid="ignore"):
        return np.where(factor == 0, 0, x * factor).astype(x.dtype, copy=False)


@register_layer
class ELU(Layer):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``; derivative 1 or ``alpha * exp(x)``.

    ``exp`` only ever sees ``min(x, 0)``, so it cannot overflow; ``expm1`` keeps the small
    negative values accurate.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = check_real(alpha, "alpha", low=0.0)

    def forward(self, inputs: Array, training: bool = False) -> Array:
        self.inputs = _as_float(inputs)
        alpha = self.inputs.dtype.type(self.alpha)
        negative = np.minimum(self.inputs, 0)
        self.output = np.where(self.inputs > 0, self.inputs, alpha * np.expm1(negative))
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        alpha = self.inputs.dtype.type(self.alpha)
        with np.errstate(under="ignore"):   # exp(x) of a very negative x rounding to 0
            slope = alpha * np.exp(np.minimum(self.inputs, 0))
        self.dinputs = dvalues * np.where(self.inputs > 0, self.inputs.dtype.type(1), slope)
        return self.dinputs

    def predictions(self, outputs: Array) -> Array:
        return outputs

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


@register_layer
class SiLU(Layer):
    """``x * s`` with ``s = sigmoid(x)`` (also called swish); derivative ``s + x s (1 - s)``.

    ``s`` is the overflow-free sigmoid of :class:`Sigmoid`, kept for the backward pass.
    """

    def forward(self, inputs: Array, training: bool = False) -> Array:
        self.inputs = _as_float(inputs)
        self.sigmoid = _sigmoid(self.inputs)
        self.output = _times(self.inputs, self.sigmoid)
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        s = self.sigmoid
        self.dinputs = dvalues * (s + _times(self.inputs, s * (1 - s)))
        return self.dinputs

    def predictions(self, outputs: Array) -> Array:
        return outputs


# -- the normal CDF for the exact GELU ---------------------------------------------------------
# Phi(x) = erfc(-x / sqrt(2)) / 2, and for t >= 0 erfc(t) = exp(-t**2) * erfcx(t), where the
# scaled complement erfcx falls smoothly from 1 at t = 0 to ~1 / (t sqrt(pi)). Mapping
# t in [0, inf) onto u = (t - K) / (t + K) in [-1, 1) makes erfcx a smooth function of u, which
# one Chebyshev series of degree 30 matches to ~1e-13 relative (tested against math.erf; the
# floor is the exp(t**2) * erfc(t) it is interpolated from). Its coefficients are computed
# once, at import, from Python's math.erfc (31 calls). Measured: ~0.1 s per million values,
# about what math.erf element by element costs, but vectorised and without a Python loop.

_ERFCX_K = 4.0
_ERFCX_DEGREE = 30


def _erfcx_scalar(t: float) -> float:
    """``exp(t**2) * erfc(t)`` for ``t >= 0``: from math.erfc, or the asymptotic series
    ``(1 - 1/(2t^2) + 3/(2t^2)^2 - ...) / (t sqrt(pi))`` where erfc(t) underflows (t >= 25)."""
    if t < 25.0:
        return math.exp(t * t) * math.erfc(t)
    total, term, n = 0.0, 1.0, 0
    while abs(term) > 1e-18:
        total += term
        n += 1
        term *= -(2 * n - 1) / (2 * t * t)
    return total / (t * math.sqrt(math.pi))


def _erfcx_of_u(u: Array) -> Any:   # Any: chebinterpolate types its func narrowly
    t = _ERFCX_K * (1 + u) / (1 - u)
    return np.array([_erfcx_scalar(float(value)) for value in t])


_ERFCX_COEFFICIENTS = chebyshev.chebinterpolate(_erfcx_of_u, _ERFCX_DEGREE)
_LARGE = 40.0   # beyond |x| = 40, exp(-x**2 / 2) < 1e-347 is 0 in float64: Phi is 0 or 1


def normal_cdf_pdf(x: Array) -> tuple[Array, Array]:
    """``(Phi(x), phi(x))``: the standard normal CDF and density, float64, element by element.

    ``Phi`` keeps its relative accuracy in the left tail (``Phi(-30) ~ 5e-198``), since it is
    computed there as ``exp(-x**2 / 2) * erfcx(|x| / sqrt(2)) / 2``, never as ``1 - ...``.
    """
    x = np.asarray(x, dtype=np.float64)
    a = np.minimum(np.abs(x), _LARGE)               # also keeps x**2 from overflowing
    t = a / math.sqrt(2)
    with np.errstate(under="ignore"):               # exp(-a**2/2) rounding to 0 is intended
        gauss = np.exp(-0.5 * a * a)
        half_tail = 0.5 * gauss * chebyshev.chebval((t - _ERFCX_K) / (t + _ERFCX_K),
                                                    _ERFCX_COEFFICIENTS)
    cdf = np.where(x < 0, half_tail, 1 - half_tail)
    return cdf, gauss / math.sqrt(2 * math.pi)


_GELU_TANH_SCALE = math.sqrt(2 / math.pi)
_GELU_TANH_CUBIC = 0.044715


@register_layer
class GELU(Layer):
    """Gaussian error linear unit ``x * Phi(x)``, ``Phi`` the standard normal CDF.

    Derivative ``Phi(x) + x * phi(x)``, ``phi(x) = exp(-x**2 / 2) / sqrt(2 pi)``.

    ``approximate="tanh"``: ``0.5 x (1 + tanh(c (x + 0.044715 x**3)))`` with
    ``c = sqrt(2 / pi)``, whose exact derivative is
    ``0.5 (1 + th) + 0.5 x (1 - th**2) c (1 + 3 * 0.044715 x**2)``, ``th`` the tanh; both are
    computed through ``0.5 (1 + tanh(z)) = sigmoid(2 z)``, which does not cancel for ``x < 0``.

    Parameters
    ----------
    approximate : {"none", "tanh"}
        "none" (the default) computes ``Phi`` to float64 accuracy (see :func:`normal_cdf_pdf`);
        "tanh" is the cheaper formula of Hendrycks & Gimpel (BERT, GPT-2).

    Examples
    --------
    >>> import numpy as np
    >>> GELU().forward(np.array([[-1.0, 0.0, 1.0]])).round(6)
    array([[-0.158655,  0.      ,  0.841345]])
    """

    def __init__(self, approximate: str = "none") -> None:
        if not isinstance(approximate, str) or approximate not in ("none", "tanh"):
            raise ValueError(
                f'approximate must be "none" (the exact x * Phi(x)) or "tanh"; got '
                f"{approximate!r}"
            )
        self.approximate = approximate

    def forward(self, inputs: Array, training: bool = False) -> Array:
        self.inputs = x = _as_float(inputs)
        if self.approximate == "tanh":
            # Past |x| = 60, sigmoid(2 z) is 0 or 1 exactly (z ~ +-7700): clipping there
            # changes nothing and keeps x**3 from overflowing.
            clipped = np.clip(x, -60, 60)
            inner = _GELU_TANH_SCALE * (clipped + _GELU_TANH_CUBIC * clipped ** 3)
            # 0.5 (1 + tanh(z)) is sigmoid(2 z) exactly; the sigmoid keeps its relative
            # accuracy in the left tail, where 1 + tanh(z) cancels (in float32 from x ~ -4).
            self.cdf = _sigmoid(2 * inner)                  # plays Phi's part
        else:
            cdf, pdf = normal_cdf_pdf(x)
            self.cdf, self.pdf = cdf.astype(x.dtype), pdf.astype(x.dtype)
        self.output = _times(x, self.cdf)
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        x = self.inputs
        if self.approximate == "tanh":
            clipped = np.clip(x, -60, 60)
            # 0.5 (1 - th**2) = 2 s (1 - s), s = sigmoid(2 z) the cdf above
            slope = (2 * self.cdf * (1 - self.cdf) * _GELU_TANH_SCALE
                     * (1 + 3 * _GELU_TANH_CUBIC * clipped * clipped))
            derivative = self.cdf + _times(x, slope.astype(x.dtype, copy=False))
        else:
            derivative = self.cdf + _times(x, self.pdf)
        self.dinputs = dvalues * derivative
        return self.dinputs

    def predictions(self, outputs: Array) -> Array:
        return outputs

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}
