"""Flatten: each sample's values in one row, so that a Dense can follow an image."""

from __future__ import annotations

import math

from .._typing import Array
from .._validation import as_float_input, check_dvalues
from .base import Layer, register_layer


@register_layer
class Flatten(Layer):
    """``(n_samples, *sample_shape)`` -> ``(n_samples, prod(sample_shape))``.

    A batch of 28x28 pictures with one channel, ``(n, 1, 28, 28)``, becomes ``(n, 784)``,
    each row one picture's pixels in C order (row by row), ready for ``Dense(784, ...)``.
    Nothing is computed: the forward pass is a reshape (a view when the batch is contiguous)
    and the backward pass reshapes ``dvalues`` back to the inputs' shape, since every output
    value is one input value.

    >>> import numpy as np
    >>> Flatten().forward(np.zeros((2, 1, 28, 28), dtype=np.float32)).shape
    (2, 784)
    """

    def forward(self, inputs: Array, training: bool = False) -> Array:
        inputs = as_float_input(inputs, "inputs")
        if inputs.ndim == 0:
            raise ValueError(
                "Flatten expects a batch shaped (n_samples, ...), one sample per row; got a "
                "single number"
            )
        self.inputs = inputs
        self.output = inputs.reshape(len(inputs), -1) if len(inputs) else inputs.reshape(
            0, math.prod(inputs.shape[1:]))
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        self.dinputs = dvalues.reshape(self.inputs.shape)
        return self.dinputs

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(c, h, w)`` -> ``(c * h * w,)``; a sample that is one number -> ``(1,)``."""
        return (math.prod(input_shape),)
