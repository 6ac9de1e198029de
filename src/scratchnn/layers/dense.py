"""Fully connected layer: ``output = inputs @ weights + biases``."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np

from .._random import RandomLike, check_random_state, standard_normal
from .._typing import Array, DTypeLike
from .._validation import (
    as_float_array,
    check_dvalues,
    check_float_dtype,
    check_positive_int,
    check_real,
    shape_hint,
)
from ._penalties import add_penalty_gradients, penalty_config, penalty_loss, set_penalties
from .base import Layer, register_layer

D = TypeVar("D", bound="Dense")



@register_layer
class Dense(Layer):
    """Fully connected layer: ``output = inputs @ weights + biases``.

    weights: (n_inputs, n_neurons), so no transpose is needed in the forward pass.
    biases:  (1, n_neurons), zeros, broadcast over the batch.

    Parameters
    ----------
    n_inputs, n_neurons : int
        Features coming in, neurons (features going out).
    weight_scale : float
        Standard deviation of the initial normal weights (the book uses 0.01; its first
        chapters 0.10). Ignored when ``init`` is given.
    init : {"he", "glorot"} or None
        ``"he"``: scale ``sqrt(2 / n_inputs)``; ``"glorot"``: ``sqrt(2 / (n_inputs + n_neurons))``.
    weight_regularizer_l1, weight_regularizer_l2, bias_regularizer_l1, bias_regularizer_l2 : float
        Penalty strengths (lambda) added to the loss, as in the book.
    rng : None, int, numpy.random.Generator or numpy.random.RandomState
        Source of the initial weights. With a ``RandomState`` the weights are exactly
        ``weight_scale * rng.randn(n_inputs, n_neurons)``, as the book draws them.
    dtype : numpy.float32 (default) or numpy.float64

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dense(4, 3, rng=0)
    >>> layer.forward(np.ones((2, 4), dtype=np.float32)).shape
    (2, 3)
    """

    parameter_names = ("weights", "biases")
    gradient_names = ("dweights", "dbiases")

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        *,
        weight_scale: float = 0.01,
        init: str | None = None,
        weight_regularizer_l1: float = 0.0,
        weight_regularizer_l2: float = 0.0,
        bias_regularizer_l1: float = 0.0,
        bias_regularizer_l2: float = 0.0,
        rng: RandomLike = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        self.n_inputs = check_positive_int(n_inputs, "n_inputs")
        self.n_neurons = check_positive_int(n_neurons, "n_neurons")
        self.dtype = check_float_dtype(dtype)
        if init not in (None, "he", "glorot"):
            raise ValueError(f"init must be None, 'he' or 'glorot'; got {init!r}")
        self.init = init
        self.weight_scale = check_real(
            weight_scale, "weight_scale", low=0.0, low_inclusive=False
        )
        set_penalties(self, weight_regularizer_l1, weight_regularizer_l2,
                      bias_regularizer_l1, bias_regularizer_l2)

        scale = self.weight_scale
        if init == "he":
            scale = float(np.sqrt(2.0 / self.n_inputs))
        elif init == "glorot":
            scale = float(np.sqrt(2.0 / (self.n_inputs + self.n_neurons)))
        generator = check_random_state(rng)
        self.weights: Array = _initial_weights(generator, self.n_inputs, self.n_neurons,
                                               scale, self.dtype)
        self.biases: Array = np.zeros((1, self.n_neurons), dtype=self.dtype)
        self.dweights: Array = _allocate(self.n_inputs, self.n_neurons, self.dtype, "dweights")
        self.dbiases: Array = np.zeros_like(self.biases)

    def forward(self, inputs: Array, training: bool = False) -> Array:
        """``inputs`` (n_samples, n_inputs) -> ``output`` (n_samples, n_neurons)."""
        inputs = self._check_inputs(inputs)
        self.inputs = inputs                          # kept for backward
        self.output = inputs @ self.weights + self.biases
        return self.output

    def backward(self, dvalues: Array) -> Array:
        """Gradients of the loss w.r.t. weights, biases and inputs, regularisation included."""
        dvalues = check_dvalues(self, dvalues)
        # Written into the gradient arrays (out=), which a model may keep as views of one
        # buffer for its optimizer; the same numbers as ``self.dweights = inputs.T @ dvalues``.
        self.dweights = _into(self.dweights, self.inputs.T, dvalues)   # d(loss)/d(weights)
        self.dbiases = _sum_into(self.dbiases, dvalues)
        add_penalty_gradients(self)
        if self.needs_dinputs:
            self.dinputs = dvalues @ self.weights.T
        else:
            # First layer of a model: d(loss)/d(X) is never used, so skip the product. An empty
            # array (not a stale one) makes any accidental use fail loudly.
            self.dinputs = np.empty((0, self.n_inputs), dtype=self.dtype)
        return self.dinputs

    def regularization_loss(self) -> float:
        """``l1 * sum|w| + l2 * sum(w**2)`` for weights and biases."""
        return penalty_loss(self)

    def expected_input_shape(self) -> tuple[int, ...]:
        return (self.n_inputs,)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(n_inputs,)`` -> ``(n_neurons,)``; any other sample shape is refused."""
        if tuple(input_shape) != (self.n_inputs,):
            shape = tuple(input_shape)
            hint = (f"put Flatten() before it (its samples hold {math.prod(shape)} values)"
                    if len(shape) > 1 else
                    f"make the layer before it give {self.n_inputs} features")
            raise ValueError(
                f"{self.describe()} takes samples of {self.n_inputs} features, shaped "
                f"({self.n_inputs},); it would get samples shaped {shape}: {hint}"
            )
        return (self.n_neurons,)

    @classmethod
    def array_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """``weights`` (n_inputs, n_neurons) and ``biases`` (1, n_neurons)."""
        n_inputs = check_positive_int(config.get("n_inputs"), "n_inputs")
        n_neurons = check_positive_int(config.get("n_neurons"), "n_neurons")
        return {"weights": (n_inputs, n_neurons), "biases": (1, n_neurons)}

    def describe(self) -> str:
        return f"Dense({self.n_inputs}, {self.n_neurons})"

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"n_inputs": self.n_inputs, "n_neurons": self.n_neurons}
        # How the first weights were drawn, so that from_config draws them alike.
        if self.init is not None:
            config["init"] = self.init
        elif self.weight_scale != 0.01:
            config["weight_scale"] = self.weight_scale
        config.update(penalty_config(self))
        if self.dtype != np.float32:
            config["dtype"] = self.dtype.name
        return config

    @classmethod
    def from_config(cls: type[D], config: dict[str, Any], *, rng: RandomLike = None) -> D:
        """A Dense shaped as ``config`` says, its initial weights drawn from ``rng``."""
        return cls(**{**config, "rng": rng})

    def _check_inputs(self, inputs: Array) -> Array:
        if not (type(inputs) is np.ndarray and inputs.dtype == self.dtype):
            inputs = as_float_array(inputs, "inputs", self.dtype)
        if inputs.ndim != 2 or inputs.shape[1] != self.n_inputs:
            raise ValueError(
                f"Dense({self.n_inputs}, {self.n_neurons}) expects inputs shaped "
                f"(n_samples, {self.n_inputs}); got {inputs.shape}. "
                f"{shape_hint(self.n_inputs, inputs.shape)}."
            )
        return inputs


def _initial_weights(
    generator: Any, n_inputs: int, n_neurons: int, scale: float, dtype: np.dtype
) -> Array:
    """``scale * randn(n_inputs, n_neurons)`` as ``dtype``.

    Drawn in float64 and then cast, so that one seed gives the same model in either dtype;
    a block of rows at a time, so that a large float32 layer never holds its draws in
    float64 all at once (the generators fill rows in order, so the numbers are the same as
    one big draw).
    """
    weights = _allocate(n_inputs, n_neurons, dtype, "weights")
    rows = max(1, _DRAW_BLOCK // n_neurons)
    for start in range(0, n_inputs, rows):
        stop = min(start + rows, n_inputs)
        draws = standard_normal(generator, (stop - start, n_neurons))
        try:
            with np.errstate(over="raise"):
                draws *= scale
                weights[start:stop] = draws
        except FloatingPointError:
            raise ValueError(
                f"weight_scale={scale:g} gives initial weights beyond {dtype.name}'s range "
                f"(+-{float(np.finfo(dtype).max):.3g}); use a scale near 0.01 to 1"
            ) from None
    return weights


def _allocate(n_inputs: int, n_neurons: int, dtype: np.dtype, what: str) -> Array:
    """An empty ``(n_inputs, n_neurons)`` array for ``what``, or a MemoryError in the layer's
    own terms instead of NumPy's "array is too big", "Maximum allowed dimension exceeded"
    (ValueError) or "Unable to allocate" (MemoryError)."""
    try:
        return np.zeros((n_inputs, n_neurons), dtype=dtype)
    except (MemoryError, ValueError):
        gigabytes = n_inputs * n_neurons * dtype.itemsize / 1e9
        raise MemoryError(
            f"Dense({n_inputs}, {n_neurons}) needs {n_inputs * n_neurons:,} {what} "
            f"({gigabytes:,.3g} GB in {dtype.name}), more memory than this machine can give; "
            "check n_inputs and n_neurons (n_inputs is the number of features each sample "
            "has, n_neurons the layer's outputs)"
        ) from None


_DRAW_BLOCK = 1 << 20   # float64 draws held at once while initialising (8 MB)


def _into(gradient: Array, left: Array, right: Array) -> Array:
    """``left @ right`` written into ``gradient`` when it has the shape and dtype for it."""
    if gradient.shape == (left.shape[0], right.shape[1]) and gradient.dtype == right.dtype:
        return np.matmul(left, right, out=gradient)
    return left @ right


def _sum_into(gradient: Array, dvalues: Array) -> Array:
    """``dvalues.sum(axis=0, keepdims=True)`` written into ``gradient`` when it fits."""
    if gradient.shape == (1, dvalues.shape[1]) and gradient.dtype == dvalues.dtype:
        return np.add.reduce(dvalues, axis=0, keepdims=True, out=gradient)   # np.sum adds ~1 us
    return dvalues.sum(axis=0, keepdims=True)
