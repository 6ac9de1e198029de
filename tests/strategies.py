"""Hypothesis strategies shared by the property tests: batch shapes, dtypes and values."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

batch_sizes = st.integers(min_value=1, max_value=16)  # a batch of one included
feature_counts = st.integers(min_value=1, max_value=12)
float_dtypes = st.sampled_from(FLOAT_DTYPES)


@st.composite
def batch_shapes(draw, min_features: int = 1) -> tuple[int, int]:
    """(n_samples, n_features)."""
    return draw(batch_sizes), draw(st.integers(min_value=min_features, max_value=12))


def _representable(bound: float, dtype) -> float:
    """``bound`` rounded to ``dtype`` (hypothesis wants float32 bounds exactly representable)."""
    return float(np.dtype(dtype).type(bound))


def values(dtype: np.dtype, shape: tuple[int, ...], low: float = -10.0, high: float = 10.0):
    """Finite arrays of ``dtype`` with every entry in [low, high]."""
    width = 8 * np.dtype(dtype).itemsize
    low, high = _representable(low, dtype), _representable(high, dtype)
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=width)
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def batches(draw, dtype=None, min_features: int = 1, low: float = -10.0, high: float = 10.0):
    """A (n_samples, n_features) array; ``dtype`` drawn from float32/float64 when None."""
    dtype = draw(float_dtypes) if dtype is None else np.dtype(dtype)
    shape = draw(batch_shapes(min_features=min_features))
    return draw(values(dtype, shape, low, high))


@st.composite
def probability_batches(draw, dtype=None, min_classes: int = 1):
    """Predictions well inside the loss clipping range, shaped (n_samples, n_outputs)."""
    return draw(batches(dtype=dtype, min_features=min_classes, low=0.01, high=0.99))


@st.composite
def huge_logits(draw, dtype=None):
    """Logits up to +-1e30, where a naive exp overflows even in float64."""
    dtype = draw(float_dtypes) if dtype is None else np.dtype(dtype)
    shape = draw(batch_shapes())
    width = 8 * dtype.itemsize
    bound = _representable(1e30, dtype)
    magnitudes = st.one_of(
        st.floats(-bound, bound, allow_nan=False, width=width),
        st.sampled_from([1e4, -1e4, bound, -bound, 0.0]),
    )
    return draw(hnp.arrays(dtype, shape, elements=magnitudes))
