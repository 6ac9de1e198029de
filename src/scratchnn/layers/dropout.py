"""Inverted dropout: zero a fraction ``rate`` of the inputs while training."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _random
from .._random import RandomLike, check_random_state
from .._typing import Array
from .._validation import as_float_input, check_dvalues, check_real
from .base import Layer, register_layer


@register_layer
class Dropout(Layer):
    """Drop a fraction ``rate`` of the values and scale the rest by ``1 / (1 - rate)``.

    Scaling while training (inverted dropout) keeps the expected sum of the outputs the
    same, so nothing changes at inference, where the layer is the identity.
    Backward: ``dinputs = dvalues * mask``, the same mask the forward pass drew.

    Parameters
    ----------
    rate : float in [0, 1)
        Fraction of values dropped (the book's ``Layer_Dropout(0.1)`` drops 10 %).
    rng : None, int, numpy.random.Generator or numpy.random.RandomState
        Source of the masks.
    """

    def __init__(self, rate: float, *, rng: RandomLike = None) -> None:
        self.rate = check_real(rate, "rate", low=0.0, high=1.0, high_inclusive=False)
        self.rng = check_random_state(rng)
        # A model may give a Dropout built without an rng its own seeded stream.
        self.uses_default_rng = rng is None
        self.binary_mask: Array | None = None

    def forward(self, inputs: Array, training: bool = False) -> Array:
        inputs = as_float_input(inputs)
        self.inputs = inputs
        if not training or self.rate == 0.0:
            self.binary_mask = None
            self.output = inputs
            return inputs
        if self.uses_default_rng:
            # The library's generator as it is now: scratchnn.seed() replaces it.
            self.rng = _random.default_generator()
        keep = 1.0 - self.rate
        draws: Array
        if isinstance(self.rng, np.random.RandomState):
            draws = self.rng.binomial(1, keep, size=inputs.shape)
        else:
            # float32 draws are multiples of 2**-24: too coarse when almost all is dropped.
            precision = np.float32 if keep >= 2.0**-20 else np.float64
            draws = self.rng.random(inputs.shape, dtype=precision) < keep
        dtype = inputs.dtype
        self.binary_mask = draws.astype(dtype) / dtype.type(keep)
        self.output = inputs * self.binary_mask
        return self.output

    def backward(self, dvalues: Array) -> Array:
        dvalues = check_dvalues(self, dvalues)
        self.dinputs = dvalues if self.binary_mask is None else dvalues * self.binary_mask
        return self.dinputs

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate}
