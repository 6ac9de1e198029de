"""Batch normalisation: each feature centred and scaled by its batch statistics, then
``gamma * x_hat + beta``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array, DTypeLike
from .._validation import (
    as_float_array,
    check_dvalues,
    check_float_dtype,
    check_positive_int,
    check_real,
)
from .base import Layer, register_layer


@register_layer
class BatchNorm(Layer):
    """Normalise every feature (axis 1) over the batch, then scale and shift it.

    For a batch ``x`` shaped ``(n, features)`` or ``(n, channels, h, w)`` (any rank >= 2 with
    ``n_features`` on axis 1) the statistics of feature ``f`` are taken over every other axis,
    the ``m = x.size // n_features`` values it has in the batch (``m = n * h * w`` for
    pictures), as PyTorch's ``BatchNorm1d``/``BatchNorm2d`` do::

        mean = x.mean(axes);  var = ((x - mean) ** 2).mean(axes)     # biased, while training
        x_hat = (x - mean) / sqrt(var + epsilon);  output = gamma * x_hat + beta

    While training each batch also moves the running statistics, which inference uses in
    place of the batch's (``forward(..., training=False)``)::

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)  # unbiased

    Backward through the batch statistics (training), in closed form, with
    ``dbeta = sum(dvalues)`` and ``dgamma = sum(dvalues * x_hat)`` over the same axes::

        dinputs = gamma / sqrt(var + epsilon) / m * (m * dvalues - dbeta - x_hat * dgamma)

    After an inference forward the statistics are constants and
    ``dinputs = dvalues * gamma / sqrt(running_var + epsilon)``.

    gamma, beta:               (n_features,), ones and zeros; trained.
    running_mean, running_var: (n_features,), zeros and ones; state, saved in model files.

    Parameters
    ----------
    n_features : int
        Features (or channels) on axis 1 of the inputs.
    momentum : float in [0, 1]
        Weight of each new batch in the running statistics (PyTorch's convention; Keras's
        ``momentum=0.99`` is ``momentum=0.01`` here).
    epsilon : float > 0
        Added to the variance so that a constant feature does not divide by zero.
    dtype : numpy.float32 (default) or numpy.float64

    Examples
    --------
    >>> import numpy as np
    >>> layer = BatchNorm(2)
    >>> out = layer.forward(np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32),
    ...                     training=True)
    >>> out.round(3)
    array([[-1., -1.],
           [ 1.,  1.]], dtype=float32)
    >>> layer.running_mean
    array([0.2, 2. ], dtype=float32)
    """

    parameter_names = ("gamma", "beta")
    gradient_names = ("dgamma", "dbeta")
    state_names = ("running_mean", "running_var")

    def __init__(
        self,
        n_features: int,
        *,
        momentum: float = 0.1,
        epsilon: float = 1e-5,
        dtype: DTypeLike = np.float32,
    ) -> None:
        self.n_features = check_positive_int(n_features, "n_features")
        self.momentum = check_real(momentum, "momentum", low=0.0, high=1.0)
        self.epsilon = check_real(epsilon, "epsilon", low=0.0, low_inclusive=False)
        self.dtype = check_float_dtype(dtype)
        self.gamma: Array = np.ones(self.n_features, dtype=self.dtype)
        self.beta: Array = np.zeros(self.n_features, dtype=self.dtype)
        self.dgamma: Array = np.zeros_like(self.gamma)
        self.dbeta: Array = np.zeros_like(self.beta)
        self.running_mean: Array = np.zeros(self.n_features, dtype=self.dtype)
        self.running_var: Array = np.ones(self.n_features, dtype=self.dtype)

    def forward(self, inputs: Array, training: bool = False) -> Array:
        """``inputs`` (n, n_features, ...) -> ``output``, the same shape."""
        inputs = self._check_inputs(inputs)
        self.inputs = inputs
        axes, shape = _axes(inputs), _feature_shape(inputs)   # shape: (1, n_features, 1, ...)
        # Whether backward goes through the batch's statistics or treats them as constants.
        self.used_batch_statistics = training
        if training:
            m = self._values_per_feature(inputs)
            mean = inputs.mean(axis=axes)
            centred = inputs - mean.reshape(shape)
            var = np.square(centred).mean(axis=axes)      # biased: what normalises the batch
            # In place: the arrays a model file restores into, and a model's summary reads.
            self.running_mean *= 1 - self.momentum
            self.running_mean += self.momentum * mean
            self.running_var *= 1 - self.momentum
            self.running_var += self.momentum * (var * (m / (m - 1)))   # unbiased
        else:
            # Predicting: the running statistics fold into one affine map per feature,
            # output = inputs * scale + shift (two passes over the batch instead of four);
            # x_hat is made only if backward is called after all.
            self.inv_std = 1 / np.sqrt(self.running_var + self.dtype.type(self.epsilon))
            scale = self.gamma * self.inv_std
            shift = self.beta - self.running_mean * scale
            self.x_hat = None
            self.output = np.multiply(inputs, scale.reshape(shape))
            self.output += shift.reshape(shape)
            return self.output
        self.inv_std = 1 / np.sqrt(var + self.dtype.type(self.epsilon))   # (n_features,)
        # x_hat is written over centred (one fewer array the size of the batch), kept for
        # backward.
        self.x_hat = np.multiply(centred, self.inv_std.reshape(shape), out=centred)
        self.output = self.x_hat * self.gamma.reshape(shape)
        self.output += self.beta.reshape(shape)
        return self.output

    def backward(self, dvalues: Array) -> Array:
        """Gradients of the loss w.r.t. gamma, beta and the inputs (see the class docstring)."""
        dvalues = check_dvalues(self, dvalues)
        axes, shape = _axes(dvalues), _feature_shape(dvalues)
        # Written into the gradient arrays (out=), which a model may keep as views of one
        # buffer for its optimizer.
        if self.x_hat is None:       # after a forward without training
            self.x_hat = ((self.inputs - self.running_mean.reshape(shape))
                          * self.inv_std.reshape(shape))
        self.dbeta = _sum_into(self.dbeta, dvalues, axes)
        self.dgamma = _sum_into(self.dgamma, dvalues * self.x_hat, axes)
        if not self.needs_dinputs:
            self.dinputs = np.empty((0, *dvalues.shape[1:]), dtype=dvalues.dtype)
            return self.dinputs
        scale = (self.gamma * self.inv_std).reshape(shape)
        if not self.used_batch_statistics:
            self.dinputs = dvalues * scale
            return self.dinputs
        m = dvalues.size // self.n_features
        dinputs = self.x_hat * self.dgamma.reshape(shape)
        np.subtract(dvalues * dvalues.dtype.type(m), dinputs, out=dinputs)
        dinputs -= self.dbeta.reshape(shape)
        dinputs *= scale / dvalues.dtype.type(m)
        self.dinputs = dinputs
        return self.dinputs

    # -- shapes -----------------------------------------------------------------------------

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The same shape; samples must have ``n_features`` on their first axis."""
        shape = tuple(input_shape)
        if not shape or shape[0] != self.n_features:
            got = shape[0] if shape else "no axis"
            raise ValueError(
                f"{self.describe()} normalises {self.n_features} features (or channels), the "
                f"first axis of each sample: it takes samples shaped ({self.n_features},) or "
                f"({self.n_features}, height, width); it would get samples shaped {shape} "
                f"({got} on that axis): make the layer before it give {self.n_features}, or "
                + (f"build BatchNorm({shape[0]})" if shape else "add a feature axis")
            )
        return shape

    @classmethod
    def array_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """``gamma``, ``beta``, ``running_mean`` and ``running_var``, each (n_features,)."""
        n_features = check_positive_int(config.get("n_features"), "n_features")
        return dict.fromkeys(("gamma", "beta", "running_mean", "running_var"), (n_features,))

    def describe(self) -> str:
        return f"BatchNorm({self.n_features})"

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"n_features": self.n_features}
        if self.momentum != 0.1:
            config["momentum"] = self.momentum
        if self.epsilon != 1e-5:
            config["epsilon"] = self.epsilon
        if self.dtype != np.float32:
            config["dtype"] = self.dtype.name
        return config

    # -- checks -----------------------------------------------------------------------------

    def _check_inputs(self, inputs: Array) -> Array:
        if not (type(inputs) is np.ndarray and inputs.dtype == self.dtype):
            inputs = as_float_array(inputs, "inputs", self.dtype)
        if inputs.ndim < 2 or inputs.shape[1] != self.n_features:
            raise ValueError(
                f"{self.describe()} expects inputs shaped (n_samples, {self.n_features}) or "
                f"(n_samples, {self.n_features}, height, width), the features (channels) on "
                f"axis 1; got {inputs.shape}"
                + (": a single sample must still be a batch, e.g. x.reshape(1, -1)"
                   if inputs.ndim < 2 else "")
            )
        return inputs

    def _values_per_feature(self, inputs: Array) -> int:
        """``m``, refused below 2: the batch variance of one value is 0 and its unbiased
        estimate 0/0."""
        m = inputs.size // self.n_features
        if m < 2:
            raise ValueError(
                f"{self.describe()} in training mode needs at least 2 values per feature to "
                f"take a batch's variance; got inputs shaped {inputs.shape} ({m} per "
                "feature): train with batches of 2 samples or more (a batch_size that leaves "
                "no last batch of one sample), or call forward with training=False to use the "
                "running statistics"
            )
        return m


def _axes(inputs: Array) -> tuple[int, ...]:
    """Every axis but the features': (0,) for (n, features), (0, 2, 3) for pictures."""
    return (0, *range(2, inputs.ndim))


def _feature_shape(inputs: Array) -> tuple[int, ...]:
    """(1, n_features, 1, ...): a (n_features,) array reshaped to broadcast over ``inputs``."""
    return (1, inputs.shape[1], *(1,) * (inputs.ndim - 2))


def _sum_into(gradient: Array, values: Array, axes: tuple[int, ...]) -> Array:
    """``values.sum(axis=axes)`` written into ``gradient`` when it has the shape for it."""
    if gradient.shape == (values.shape[1],) and gradient.dtype == values.dtype:
        return np.add.reduce(values, axis=axes, out=gradient)
    return values.sum(axis=axes)
