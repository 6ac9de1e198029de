"""Layers with parameters, randomness or a change of shape, and the protocol they follow."""

from .base import Layer, register_layer
from .batchnorm import BatchNorm
from .conv import Conv1D, Conv2D
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .pooling import AvgPool2D, MaxPool1D, MaxPool2D

__all__ = [
    "AvgPool2D",
    "BatchNorm",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool1D",
    "MaxPool2D",
    "register_layer",
]
