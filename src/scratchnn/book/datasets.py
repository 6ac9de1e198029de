"""The book's datasets under the ``nnfs.datasets`` names.

After :func:`scratchnn.book.init` they draw from NumPy's global generator, seeded as
``nnfs.init()`` seeds it (from the book's own ``RandomState`` after
``init(numpy_global=False)``), so the data match what the book's code produced with
``nnfs.init()``.
"""

from __future__ import annotations

from typing import Any

from ..datasets import generated
from . import _state


def spiral_data(samples: int, classes: int) -> tuple[Any, Any]:
    """``samples`` points per class on ``classes`` interleaved spirals: X (n, 2), y (n,)."""
    return generated.spiral_data(samples, classes, rng=_state.random_state)


def vertical_data(samples: int, classes: int) -> tuple[Any, Any]:
    """``classes`` vertical clusters of ``samples`` points: X (n, 2), y (n,)."""
    return generated.vertical_data(samples, classes, rng=_state.random_state)


def sine_data(samples: int = 1000) -> tuple[Any, Any]:
    """``samples`` points of ``sin(2 pi x)`` on [0, 1]: X (n, 1), y (n, 1)."""
    return generated.sine_data(samples)
