"""The book's names: code written for *Neural Networks from Scratch* runs with its import changed.

Replace the book's class definitions (or ``import nnfs``) with::

    from scratchnn.book import *            # Layer_Dense, Activation_ReLU, Model, ...
    from scratchnn.book.datasets import spiral_data
    init()                                   # instead of nnfs.init()

Every class here is the library's own class under the book's name, with the book's
signatures and defaults (``Layer_Dense`` draws ``0.01 * randn``). :func:`init` seeds a
``RandomState(0)`` used by the book-named layers and datasets, as ``nnfs.init()`` seeds NumPy's
global generator, but without touching NumPy's global state or patching ``np.dot``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import _random
from ..activations import Linear, ReLU, Sigmoid, Softmax
from ..layers import Dense, Dropout, Layer
from ..losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanAbsoluteError,
    MeanSquaredError,
    SoftmaxCategoricalCrossentropy,
)
from ..metrics import CategoricalAccuracy, RegressionAccuracy
from ..model import Model as _Model
from ..optimizers import SGD, Adagrad, Adam, RMSprop

__all__ = [
    "Accuracy_Categorical",
    "Accuracy_Regression",
    "Activation_Linear",
    "Activation_ReLU",
    "Activation_Sigmoid",
    "Activation_Softmax",
    "Activation_Softmax_Loss_CategoricalCrossentropy",
    "Layer_Dense",
    "Layer_Dropout",
    "Layer_Input",
    "Loss_BinaryCrossentropy",
    "Loss_CategoricalCrossentropy",
    "Loss_MeanAbsoluteError",
    "Loss_MeanSquaredError",
    "Model",
    "Optimizer_Adagrad",
    "Optimizer_Adam",
    "Optimizer_RMSprop",
    "Optimizer_SGD",
    "init",
]

_book_random_state: np.random.RandomState | None = None


def init(seed: int = 0) -> None:
    """What ``nnfs.init()`` is for: reproducible weights, masks and datasets.

    The book-named layers and :mod:`scratchnn.book.datasets` then draw from one
    ``numpy.random.RandomState(seed)``, in the same order as the book's code draws from NumPy's
    global generator. The library's default generator is re-seeded too
    (:func:`scratchnn.seed`). NumPy's own global state is left alone.
    """
    global _book_random_state
    _book_random_state = np.random.RandomState(seed)
    _random.seed(seed)


def book_random_state() -> np.random.RandomState | None:
    """The generator :func:`init` created (``None`` before ``init()``)."""
    return _book_random_state


class Layer_Input(Layer):
    """The book's input "layer": passes the inputs through (the Model needs none)."""

    def forward(self, inputs: Any, training: bool = False) -> Any:
        self.output = inputs
        return inputs


class Layer_Dense(Dense):
    """The book's ``Layer_Dense``: weights ``0.01 * randn(n_inputs, n_neurons)``, zero biases."""

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        weight_regularizer_l1: float = 0,
        weight_regularizer_l2: float = 0,
        bias_regularizer_l1: float = 0,
        bias_regularizer_l2: float = 0,
    ) -> None:
        super().__init__(
            n_inputs,
            n_neurons,
            weight_scale=0.01,
            weight_regularizer_l1=weight_regularizer_l1,
            weight_regularizer_l2=weight_regularizer_l2,
            bias_regularizer_l1=bias_regularizer_l1,
            bias_regularizer_l2=bias_regularizer_l2,
            rng=_book_random_state,
        )

    def get_parameters(self) -> tuple[Any, Any]:
        """The book's chapter-21 ``(weights, biases)`` (the arrays themselves, not copies)."""
        return self.weights, self.biases

    def set_parameters(self, weights: Any, biases: Any) -> None:
        """The book's chapter-21 setter: the layer takes ``weights`` and ``biases``.

        They are kept in the layer's dtype and must have its shapes.
        """
        from .._validation import as_float_array

        new = []
        pairs = (("weights", weights, self.weights), ("biases", biases, self.biases))
        for name, value, own in pairs:
            array = as_float_array(value, name, self.dtype)
            if array.shape != own.shape:
                raise ValueError(
                    f"{name} of Layer_Dense({self.n_inputs}, {self.n_neurons}) must be shaped "
                    f"{own.shape}; got {array.shape}"
                )
            new.append(array)
        self.weights, self.biases = new


class Layer_Dropout(Dropout):
    """The book's ``Layer_Dropout(rate)``: ``rate`` is the fraction of neurons dropped.

    ``forward(inputs)`` drops, as chapter 15's ``forward(self, inputs)`` always does; chapter
    18 adds ``training`` and always passes it (the Model does too), so ``training`` defaults to
    ``True`` here where the library's ``Dropout`` defaults to ``False``.
    """

    def __init__(self, rate: float) -> None:
        super().__init__(rate, rng=_book_random_state)

    def forward(self, inputs: Any, training: bool = True) -> Any:
        return super().forward(inputs, training)


class Activation_ReLU(ReLU):
    """The book's ``Activation_ReLU``."""


class Activation_Softmax(Softmax):
    """The book's ``Activation_Softmax``."""


class Activation_Sigmoid(Sigmoid):
    """The book's ``Activation_Sigmoid``."""


class Activation_Linear(Linear):
    """The book's ``Activation_Linear``."""


class Loss_CategoricalCrossentropy(CategoricalCrossentropy):
    """The book's ``Loss_CategoricalCrossentropy``."""


class Loss_BinaryCrossentropy(BinaryCrossentropy):
    """The book's ``Loss_BinaryCrossentropy``."""


class Loss_MeanSquaredError(MeanSquaredError):
    """The book's ``Loss_MeanSquaredError``."""


class Loss_MeanAbsoluteError(MeanAbsoluteError):
    """The book's ``Loss_MeanAbsoluteError`` (with the correct sign of the gradient)."""


class Activation_Softmax_Loss_CategoricalCrossentropy(SoftmaxCategoricalCrossentropy):
    """The book's combined softmax + cross-entropy with the fast backward step."""


class Optimizer_SGD(SGD):
    """The book's ``Optimizer_SGD(learning_rate=1., decay=0., momentum=0.)``."""


class Optimizer_Adagrad(Adagrad):
    """The book's ``Optimizer_Adagrad(learning_rate=1., decay=0., epsilon=1e-7)``."""


class Optimizer_RMSprop(RMSprop):
    """The book's ``Optimizer_RMSprop(learning_rate=0.001, decay=0., epsilon=1e-7, rho=0.9)``."""


class Optimizer_Adam(Adam):
    """The book's ``Optimizer_Adam(learning_rate=0.001, decay=0., epsilon=1e-7, ...)``."""


class Accuracy_Categorical(CategoricalAccuracy):
    """The book's ``Accuracy_Categorical(*, binary=False)``."""


class Accuracy_Regression(RegressionAccuracy):
    """The book's ``Accuracy_Regression`` (precision ``std(y) / 250``)."""


class Model(_Model):
    """The book's ``Model``: ``add``, ``set``, ``finalize``, ``train`` and book-style printing.

    Training follows the book: no shuffling, a line per ``print_every`` steps, a summary per
    epoch and a validation line when ``validation_data`` is given.
    """

    def set(self, *, loss: Any = None, optimizer: Any = None, accuracy: Any = None) -> None:
        super().set(loss=loss, optimizer=optimizer, accuracy=accuracy)

    def finalize(self) -> None:
        """Also make the book's ``input_layer`` and ``softmax_classifier_output``."""
        super().finalize()
        self.input_layer = Layer_Input()
        self.softmax_classifier_output = (
            Activation_Softmax_Loss_CategoricalCrossentropy() if self._fused else None
        )

    def forward(self, X: Any, training: bool) -> Any:
        """The book's ``forward``: every layer in turn; returns the last layer's output."""
        self._ensure_finalized()
        self.input_layer.forward(X, training)
        return self._forward(X, training)

    def backward(self, output: Any, y: Any) -> None:
        """The book's ``backward``: the loss's gradient back through every layer.

        With Softmax last and categorical cross-entropy, the fused gradient is used and the
        Softmax layer's ``dinputs`` set from it, as the book does.
        """
        self._ensure_finalized()
        self._require(optimizer=False)
        assert self.loss is not None
        if self.softmax_classifier_output is not None:
            self._backward_from(self.softmax_classifier_output.backward(output, y), fused=True)
        else:
            self._backward_from(self.loss.backward(output, y), fused=False)

    def train(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 1,
        batch_size: int | None = None,
        print_every: int = 1,
        validation_data: tuple[Any, Any] | None = None,
    ) -> None:
        """Train the book's way and print its progress lines."""
        from .._validation import check_positive_int
        from ..callbacks import Callback

        print_every = check_positive_int(print_every, "print_every")
        model = self

        class BookPrinter(Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                print(f"epoch: {epoch + 1}")
                self.steps = model._steps_per_epoch

            def on_batch_end(self, batch: int, logs: Any = None) -> None:
                if batch % print_every and batch != self.steps - 1:
                    return
                print(
                    f"step: {batch}, acc: {logs['accuracy']:.3f}, loss: {logs['loss']:.3f} "
                    f"(data_loss: {logs['data_loss']:.3f}, "
                    f"reg_loss: {logs['regularization_loss']:.3f}), "
                    f"lr: {logs['learning_rate']}"
                )

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                print(
                    f"training, acc: {logs['accuracy']:.3f}, loss: {logs['loss']:.3f} "
                    f"(data_loss: {logs['data_loss']:.3f}, "
                    f"reg_loss: {logs['regularization_loss']:.3f}), "
                    f"lr: {logs['learning_rate']}"
                )
                if "val_loss" in logs:
                    print(
                        f"validation, acc: {logs['val_accuracy']:.3f}, "
                        f"loss: {logs['val_loss']:.3f}"
                    )

        self.fit(
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            shuffle=False,
            verbose=0,
            callbacks=[BookPrinter()],
        )

    def evaluate(  # type: ignore[override]
        self, X_val: Any, y_val: Any, *, batch_size: int | None = None
    ) -> None:
        """Print the book's ``validation, acc: ..., loss: ...`` line."""
        result = super().evaluate(X_val, y_val, batch_size=batch_size, verbose=0)
        print(f"validation, acc: {result['accuracy']:.3f}, loss: {result['loss']:.3f}")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the whole model (a safe file, not a pickle)."""
        super().save(path)

    @staticmethod
    def load(path: str | os.PathLike[str]) -> Model:
        """Load a model saved with :meth:`save`."""
        from ..io import load_model

        loaded = load_model(path)
        model = Model.__new__(Model)
        model.__dict__.update(loaded.__dict__)
        model.finalize()   # the book's own attributes (input_layer, ...) for forward/backward
        return model
