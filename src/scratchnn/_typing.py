"""The one array alias used in signatures; shapes are given in docstrings."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
ArrayLike = npt.ArrayLike
DTypeLike = npt.DTypeLike

__all__ = ["Array", "ArrayLike", "DTypeLike", "np"]
