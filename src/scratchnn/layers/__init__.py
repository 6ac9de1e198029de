"""Layers with parameters or randomness: :class:`Dense` and :class:`Dropout`."""

from .base import Layer
from .dense import Dense
from .dropout import Dropout

__all__ = ["Dense", "Dropout", "Layer"]
