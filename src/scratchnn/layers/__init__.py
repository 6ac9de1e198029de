"""Layers with parameters, randomness or a change of shape, and the protocol they follow."""

from .base import Layer
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten

__all__ = ["Dense", "Dropout", "Flatten", "Layer"]
