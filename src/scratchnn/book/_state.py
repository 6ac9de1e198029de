"""The generator :func:`scratchnn.book.init` sets up, shared by the book's layers and datasets.

A module of its own so that :mod:`scratchnn.book.datasets` reads it without importing the
package that imports it (no import circle).
"""

from __future__ import annotations

import numpy as np

random_state: np.random.RandomState | None = None   # None until init() runs
