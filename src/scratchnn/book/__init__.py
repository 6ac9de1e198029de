"""The book's names: code written for *Neural Networks from Scratch* runs with its import changed.

Replace the book's class definitions (or ``import nnfs``) with::

    from scratchnn.book import *            # Layer_Dense, ..., Model, spiral_data, ...
    init()                                   # instead of nnfs.init()

``spiral_data``, ``vertical_data`` and ``sine_data`` are here too (and in
:mod:`scratchnn.book.datasets`, the place of ``nnfs.datasets``).

Every class here is the library's own class under the book's name, with the book's
signatures and defaults (``Layer_Dense`` draws ``0.01 * randn``; chapter 17's ``0.1 * randn``
is ``Layer_Dense(1, 64, weight_scale=0.1)``). :func:`init` seeds NumPy's global generator with
0, as ``nnfs.init()`` does, and the book-named layers and datasets draw from it, so a chapter's
own ``np.random.randn`` calls print the book's numbers too. Unlike ``nnfs.init()`` it patches
nothing (``np.dot`` stays NumPy's); ``init(numpy_global=False)`` leaves NumPy's global state
alone and gives the book's layers and datasets a ``RandomState(0)`` of their own.
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
from ..model import load_model as _load_model
from ..optimizers import SGD, Adagrad, Adam, RMSprop
from ..registry import registered_class
from ..training import check_validation_data as _check_validation_data
from . import _state
from .datasets import sine_data, spiral_data, vertical_data

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
    "sine_data",
    "spiral_data",
    "vertical_data",
]

def init(seed: int = 0, *, numpy_global: bool = True) -> None:
    """What ``nnfs.init()`` does for randomness: the book's weights, masks and datasets.

    ``np.random.seed(seed)``, as ``nnfs.init()`` does, and the book-named layers and
    :mod:`scratchnn.book.datasets` draw from NumPy's global generator, in the order the book's
    code draws. A chapter that calls ``np.random`` itself (chapter 6's ``np.random.randn``
    search, chapter 19's ``np.random.shuffle(keys)``) shares that one seeded stream and prints
    the book's numbers. The library's default generator is re-seeded too
    (:func:`scratchnn.seed`). Nothing is patched: ``nnfs.init()`` also replaces ``np.dot`` to
    make float32 the default; here the book's layers are float32 themselves.

    With ``numpy_global=False`` NumPy's global state is left alone: the book's layers and
    datasets draw from a ``numpy.random.RandomState(seed)`` of their own, the same numbers in
    the same order, but a program's own ``np.random`` calls are not seeded.

    Examples
    --------
    >>> import numpy as np
    >>> from scratchnn.book import Layer_Dense, init
    >>> init()
    >>> layer = Layer_Dense(2, 3)                # the book's 0.01 * np.random.randn(2, 3)
    >>> bool(np.allclose(layer.weights, 0.01 * np.random.RandomState(0).randn(2, 3)))
    True
    """
    from .._validation import check_non_negative_int

    seed = check_non_negative_int(seed, "seed")
    if seed >= 2**32:
        raise ValueError(f"seed must be below 2**32 (a RandomState seed); got {seed}")
    if not isinstance(numpy_global, (bool, np.bool_)):
        raise TypeError(f"numpy_global must be True or False; got {numpy_global!r}")
    if numpy_global:
        np.random.seed(seed)  # noqa: NPY002 - what nnfs.init() does, and why init() is called
        # The RandomState behind np.random.randn, np.random.shuffle, ...
        _state.random_state = np.random.mtrand._rand
    else:
        _state.random_state = np.random.RandomState(seed)
    _random.seed(seed)


def book_random_state() -> np.random.RandomState | None:
    """The generator :func:`init` created (``None`` before ``init()``)."""
    return _state.random_state


class Layer_Input(Layer):
    """The book's input "layer": passes the inputs through (the Model needs none)."""

    def forward(self, inputs: Any, training: bool = False) -> Any:
        self.output = inputs
        return inputs


class Layer_Dense(Dense):
    """The book's ``Layer_Dense``: weights ``0.01 * randn(n_inputs, n_neurons)``, zero biases.

    Chapter 17's regression edits the class to draw ``0.1 * np.random.randn``; with the
    book's names that edit is the keyword ``weight_scale=0.1``::

        dense1 = Layer_Dense(1, 64, weight_scale=0.1)

    After :func:`init` it draws from the same random stream, in the same order, as the edited
    class after ``nnfs.init()``; the weights are kept as float32, so they can differ from the
    book's in the last bit (nnfs makes ``randn`` itself float32, here ``0.1 * randn`` is
    computed in float64 and then rounded).
    """

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        weight_regularizer_l1: float = 0,
        weight_regularizer_l2: float = 0,
        bias_regularizer_l1: float = 0,
        bias_regularizer_l2: float = 0,
        *,
        weight_scale: float = 0.01,
    ) -> None:
        super().__init__(
            n_inputs,
            n_neurons,
            weight_scale=weight_scale,
            weight_regularizer_l1=weight_regularizer_l1,
            weight_regularizer_l2=weight_regularizer_l2,
            bias_regularizer_l1=bias_regularizer_l1,
            bias_regularizer_l2=bias_regularizer_l2,
            rng=_state.random_state,
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
        super().__init__(rate, rng=_state.random_state)

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


def _scalar_like(value: Any, output: Any) -> Any:
    """``value`` as a NumPy scalar of ``output``'s float type, as the book's ``np.mean`` gives.

    ``print('loss:', loss)`` then shows ``1.0986104`` (float32), as in the book.
    """
    dtype = np.asarray(output).dtype
    return dtype.type(value) if dtype.kind == "f" else np.float64(value)


class _BookLoss:
    """``calculate`` returns the book's NumPy scalar rather than a Python float."""

    def calculate(self, output: Any, y: Any, *, include_regularization: bool = False) -> Any:
        result = super().calculate(  # type: ignore[misc]
            output, y, include_regularization=include_regularization
        )
        if include_regularization:
            data_loss, regularization = result
            return _scalar_like(data_loss, output), regularization
        return _scalar_like(result, output)


class Loss_CategoricalCrossentropy(_BookLoss, CategoricalCrossentropy):
    """The book's ``Loss_CategoricalCrossentropy``."""


class Loss_BinaryCrossentropy(_BookLoss, BinaryCrossentropy):
    """The book's ``Loss_BinaryCrossentropy``."""


class Loss_MeanSquaredError(_BookLoss, MeanSquaredError):
    """The book's ``Loss_MeanSquaredError``."""


class Loss_MeanAbsoluteError(_BookLoss, MeanAbsoluteError):
    """The book's ``Loss_MeanAbsoluteError`` (with the correct sign of the gradient)."""


class Activation_Softmax_Loss_CategoricalCrossentropy(SoftmaxCategoricalCrossentropy):
    """The book's combined softmax + cross-entropy with the fast backward step."""

    def __init__(self) -> None:
        super().__init__()
        self.loss = Loss_CategoricalCrossentropy()

    def forward(self, inputs: Any, y_true: Any) -> Any:
        return _scalar_like(super().forward(inputs, y_true), self.output)


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

    Training follows the book, without shuffling. With ``batch_size``: a ``step:`` line every
    ``print_every`` steps, then ``training, ...`` (and ``validation, ...``) after each epoch.
    Without it (chapter 18): ``epoch: N, acc: ...`` every ``print_every`` epochs and one
    validation line at the end.
    """

    def set(self, *, loss: Any = None, optimizer: Any = None, accuracy: Any = None) -> None:
        super().set(loss=loss, optimizer=optimizer, accuracy=accuracy)

    def finalize(self) -> None:
        """Also make the book's ``input_layer`` and ``softmax_classifier_output``."""
        super().finalize()
        self.input_layer = Layer_Input()
        fused = isinstance(self.layers[-1], Softmax) and getattr(
            self.loss, "pairs_with_softmax", False)
        self.softmax_classifier_output = (
            Activation_Softmax_Loss_CategoricalCrossentropy() if fused else None
        )

    def forward(self, X: Any, training: bool = False) -> Any:
        """The book's ``forward``: every layer in turn; returns the last layer's output."""
        if not self.finalized:
            self.finalize()
        self.input_layer.forward(X, training)
        return super().forward(X, training)

    def backward(self, output: Any, y: Any) -> None:
        """The book's ``backward``: the loss's gradient back through every layer.

        With Softmax last and categorical cross-entropy, the fused gradient is used and the
        Softmax layer's ``dinputs`` set from it, as the book does.
        """
        if not self.finalized:
            self.finalize()
        if self.softmax_classifier_output is not None:
            # The book's combined object checks the targets and takes one-hot rows too;
            # the library's step then starts from the same gradient, through Softmax's
            # backward_from_loss.
            self.softmax_classifier_output.backward(output, y)
            if np.ndim(y) == 2:
                y = np.argmax(y, axis=1)
        super().backward(output, y)

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
        """Train the book's way and print its progress lines.

        With ``batch_size`` (chapters 19-22): ``epoch: N``, a ``step: ...`` line every
        ``print_every`` steps and at the last, then ``training, ...`` and, with
        ``validation_data``, ``validation, ...`` after every epoch. Without it (chapter 18,
        one step per epoch): ``epoch: N, acc: ...`` every ``print_every`` epochs and one
        ``validation, ...`` line at the end.
        """
        from .._validation import check_positive_int
        from ..callbacks import Callback

        print_every = check_positive_int(print_every, "print_every")
        if batch_size is None:
            self._train_chapter_18(X, y, epochs, print_every, validation_data)
            return

        class BookPrinter(Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                print(f"epoch: {epoch + 1}")
                self.steps = self.params["steps"]

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

    def _train_chapter_18(
        self, X: Any, y: Any, epochs: int, print_every: int, validation_data: Any
    ) -> None:
        from ..callbacks import Callback

        class Chapter18Printer(Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.epoch = epoch + 1

            def on_batch_end(self, batch: int, logs: Any = None) -> None:
                # The one step of the epoch: loss and accuracy before its update, as the
                # book computes them; the rate is the one this step used.
                if self.epoch % print_every:
                    return
                print(
                    f"epoch: {self.epoch}, acc: {logs['accuracy']:.3f}, "
                    f"loss: {logs['loss']:.3f} (data_loss: {logs['data_loss']:.3f}, "
                    f"reg_loss: {logs['regularization_loss']:.3f}), "
                    f"lr: {logs['learning_rate']}"
                )

        if validation_data is not None:
            # Checked before training, as fit checks it.
            X_val, y_val = _check_validation_data(self, validation_data)
        self.fit(X, y, epochs=epochs, batch_size=None, shuffle=False, verbose=0,
                 callbacks=[Chapter18Printer()])
        if validation_data is not None:
            self.evaluate(X_val, y_val)

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
        loaded = _load_model(path)
        model = Model.__new__(Model)
        model.__dict__.update(loaded.__dict__)
        # The book's classes again (they add methods, not state): a loaded Layer_Dense has
        # get_parameters, a loaded Layer_Dropout drops by default, isinstance checks hold.
        for part in (*model.layers, model.loss, model.optimizer, model.accuracy):
            book_class = _BOOK_CLASSES.get(type(part))
            if book_class is not None:
                part.__class__ = book_class
        model.finalize()   # the book's own attributes (input_layer, ...) for forward/backward
        return model


# The book's class for each registered library class it specialises (a model file names the
# library's classes: the book's are not registered, so they are saved under those names).
_BOOK_CLASSES: dict[type | None, type] = {
    registered_class(kind, book_class): book_class
    for kind, book_classes in [
        ("layers", (Layer_Dense, Layer_Dropout, Activation_ReLU, Activation_Softmax,
                    Activation_Sigmoid, Activation_Linear)),
        ("loss", (Loss_CategoricalCrossentropy, Loss_BinaryCrossentropy, Loss_MeanSquaredError,
                  Loss_MeanAbsoluteError)),
        ("optimizer", (Optimizer_SGD, Optimizer_Adagrad, Optimizer_RMSprop, Optimizer_Adam)),
        ("accuracy", (Accuracy_Categorical, Accuracy_Regression)),
    ]
    for book_class in book_classes
}

