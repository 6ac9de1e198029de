"""scratchnn: neural networks from scratch on NumPy, as *Neural Networks from Scratch* builds them.

Inputs are batches shaped ``(n_samples, n_features)``; ``Dense(n_inputs, n_neurons)`` holds
``weights`` (n_inputs, n_neurons) and ``biases`` (1, n_neurons) and computes
``inputs @ weights + biases``. The book's own names live in :mod:`scratchnn.book`.
"""

import importlib
import os
from typing import Any

from . import schedules as schedules
from ._random import seed
from ._version import __version__
from .activations import ELU, GELU, LeakyReLU, Linear, ReLU, Sigmoid, SiLU, Softmax, Tanh
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from .errors import DatasetError, ModelFileError, ScratchnnError, TrainingDivergedError
from .gradcheck import GradcheckResult, gradcheck
from .layers import (
    AvgPool2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool1D,
    MaxPool2D,
    register_layer,
)
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SoftmaxCategoricalCrossentropy,
)
from .metrics import Accuracy, CategoricalAccuracy, RegressionAccuracy
from .model import Model, load_model
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = [
    "ModelCheckpoint",
    "load_model",
    "Model",
    "LearningRateScheduler",
    "History",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "CSVLogger",
    "Callback",
    "SGD",
    "Accuracy",
    "Adagrad",
    "Adam",
    "AdamW",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "DatasetError",
    "AvgPool2D",
    "BatchNorm",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "MaxPool1D",
    "MaxPool2D",
    "GradcheckResult",
    "Layer",
    "ELU",
    "GELU",
    "Huber",
    "LeakyReLU",
    "Linear",
    "SiLU",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "ModelFileError",
    "Optimizer",
    "RMSprop",
    "ReLU",
    "RegressionAccuracy",
    "ScratchnnError",
    "Sigmoid",
    "Softmax",
    "SoftmaxCategoricalCrossentropy",
    "Tanh",
    "TrainingDivergedError",
    "__version__",
    "gradcheck",
    "register_layer",
    "seed",
    "to_onnx",
]

# Submodules reached as attributes (``snn.datasets.spiral_data``) but imported on first use:
# ``plot`` needs matplotlib and ``images`` Pillow (optional extras), and ``import scratchnn``
# stays as cheap as NumPy and tqdm allow.
_LAZY_SUBMODULES = ("book", "cli", "datasets", "images", "io", "plot")


def to_onnx(model: Model, path: "str | os.PathLike[str]") -> None:
    """Write ``model`` to ``path`` as an ONNX file (see :mod:`scratchnn.onnx`).

    Imports onnx only when called: ``pip install "scratchnn[onnx]"``.
    """
    from .onnx import to_onnx as export

    export(model, path)


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'scratchnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Not plot and images: help(), pydoc and inspect.getmembers get every name dir() lists,
    # and those two raise ImportError where their optional extra is not installed.
    return sorted({*globals(), "book", "cli", "datasets", "io"})
