"""scikit-learn estimators around :class:`scratchnn.Model` (needs ``scratchnn[sklearn]``).

``alpha`` maps onto ``Dense(weight_regularizer_l2=alpha / (2 * batch_size))``: scikit-learn's
MLP adds ``alpha / (2 * n_batch) * ||W||^2`` to each batch's mean loss, and scratchnn's
penalty is ``lambda * ||W||^2`` on the mean loss, so both give the gradient ``alpha * W / n_batch``.
Classification always uses Softmax + categorical cross-entropy (binary too: two outputs).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        'scratchnn.sklearn needs scikit-learn: pip install "scratchnn[sklearn]"'
    ) from error

from . import activations, losses, optimizers
from .layers import Dense
from .model import Model

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

_ACTIVATIONS = {"relu": activations.ReLU, "tanh": activations.Tanh,
                "logistic": activations.Sigmoid, "identity": activations.Linear}
_OPTIMIZERS = {"adam": optimizers.Adam, "sgd": optimizers.SGD, "adagrad": optimizers.Adagrad,
               "rmsprop": optimizers.RMSprop, "adamw": optimizers.AdamW}


class _BaseNeuralNet(BaseEstimator):
    best_loss_: float
    _no_improvement: int
    n_iter_: int
    model_: Model

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (100,), activation: str = "relu",
                 *, optimizer: str = "adam", alpha: float = 1e-4, batch_size: int | str = "auto",
                 learning_rate_init: float = 1e-3, max_iter: int = 200,
                 shuffle: bool = True, random_state: int | None = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, n_iter_no_change: int = 10,
                 dtype: Any = np.float32) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    def _check_params(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}; "
                             f"got {self.activation!r}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}; "
                             f"got {self.optimizer!r}")
        if not isinstance(self.max_iter, int) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive int; got {self.max_iter!r}")

    def _build(self, n_in: int, n_out: int, batch: int, head: Any, loss: Any) -> Model:
        rng = np.random.default_rng(self.random_state)
        sizes = [n_in, *self.hidden_layer_sizes]
        lam = self.alpha / (2 * batch)
        layers: list[Any] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [Dense(a, b, init="glorot", weight_regularizer_l2=lam, rng=rng,
                             dtype=self.dtype), _ACTIVATIONS[self.activation]()]
        layers += [Dense(sizes[-1], n_out, init="glorot", weight_regularizer_l2=lam, rng=rng,
                         dtype=self.dtype), head]
        opt = _OPTIMIZERS[self.optimizer](learning_rate=self.learning_rate_init)
        return Model(layers, loss=loss, optimizer=opt,
                     seed=int(rng.integers(2**31)))

    def _train(self, X: Any, y: Any, epochs: int) -> None:
        batch = (min(200, len(X)) if self.batch_size == "auto"
                 else min(int(self.batch_size), len(X)))
        for _ in range(epochs):
            history = self.model_.fit(X, y, epochs=1, batch_size=batch, shuffle=self.shuffle,
                                      verbose=0)
            loss = float(history.history["loss"][-1])
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            if loss > self.best_loss_ - self.tol:
                self._no_improvement += 1
            else:
                self._no_improvement = 0
            self.best_loss_ = min(self.best_loss_, loss)
            if self._no_improvement >= self.n_iter_no_change:
                return
        warnings.warn(f"max_iter={self.max_iter} reached without convergence",
                      ConvergenceWarning, stacklevel=3)

    def _fit(self, X: Any, y: Any, n_out: int, head: Any, loss: Any, partial: bool) -> None:
        self._check_params()
        fresh = not (hasattr(self, "model_") and (self.warm_start or partial))
        if fresh:
            batch = (min(200, len(X)) if self.batch_size == "auto"
                     else min(int(self.batch_size), len(X)))
            self.model_ = self._build(X.shape[1], n_out, batch, head, loss)
            self.loss_curve_: list[float] = []
            self.n_iter_ = 0
            self.best_loss_ = float(np.inf)
        self._no_improvement = 0
        if partial:
            history = self.model_.fit(X, y, epochs=1, verbose=0, shuffle=self.shuffle,
                                      batch_size=min(200, len(X)))
            self.loss_curve_.append(float(history.history["loss"][-1]))
            self.n_iter_ += 1
        else:
            self._train(X, y, self.max_iter)


class NeuralNetClassifier(ClassifierMixin, _BaseNeuralNet):
    """An MLP classifier trained by scratchnn (Softmax + categorical cross-entropy)."""

    def fit(self, X: Any, y: Any) -> NeuralNetClassifier:
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self._fit(X, codes, len(self.classes_), activations.Softmax(),
                  losses.CategoricalCrossentropy(), partial=False)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NeuralNetClassifier:
        first = not hasattr(self, "classes_")
        X, y = validate_data(self, X, y, reset=first)
        if first:
            self.classes_ = np.unique(y if classes is None else classes)
        codes = np.searchsorted(self.classes_, y)
        self._fit(X, codes, len(self.classes_), activations.Softmax(),
                  losses.CategoricalCrossentropy(), partial=True)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        proba = np.asarray(self.model_.predict(X), dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class NeuralNetRegressor(RegressorMixin, _BaseNeuralNet):
    """An MLP regressor trained by scratchnn (mean squared error)."""

    def fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        self._y_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        self._fit(X, y2, y2.shape[1], activations.Linear(), losses.MeanSquaredError(),
                  partial=False)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        out = np.asarray(self.model_.predict(X), dtype=np.float64)
        return out.ravel() if self._y_1d else out
