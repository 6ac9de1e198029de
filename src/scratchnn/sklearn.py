"""scikit-learn estimators around :class:`scratchnn.Model` (needs ``scratchnn[sklearn]``).

``alpha`` maps onto ``Dense(weight_regularizer_l2=alpha / (2 * batch_size))``: scikit-learn's
MLP adds ``alpha / (2 * n_batch) * ||W||^2`` to each batch's mean loss, and scratchnn's
penalty is ``lambda * ||W||^2`` on the mean loss, so both give the gradient ``alpha * W / n_batch``.
Classification always uses Softmax + categorical cross-entropy (binary too: two outputs);
regression a linear output and mean squared error (several targets at once too).

Training runs one epoch of :meth:`scratchnn.Model.fit` per iteration and stops as
``MLPClassifier`` does: when the training loss (or, with ``early_stopping``, the score on a
held-out ``validation_fraction``) has not improved by ``tol`` for ``n_iter_no_change``
epochs in a row; reaching ``max_iter`` first raises a ``ConvergenceWarning``. With
``early_stopping`` the weights of the best validation epoch are kept.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils._param_validation import Interval, StrOptions
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
    """What the classifier and the regressor share: hyperparameters, building, training."""

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012 - scikit-learn's protocol
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": [type, np.dtype, str],
    }

    best_loss_: float | None
    best_validation_score_: float | None
    validation_scores_: list[float] | None
    loss_curve_: list[float]
    n_iter_: int
    model_: Model

    def __init__(self, hidden_layer_sizes: Any = (100,), activation: str = "relu",
                 *, optimizer: str = "adam", alpha: float = 1e-4, batch_size: int | str = "auto",
                 learning_rate_init: float = 1e-3, max_iter: int = 200,
                 shuffle: bool = True, random_state: Any = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, early_stopping: bool = False,
                 validation_fraction: float = 0.1, n_iter_no_change: int = 10,
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    # -- what the subclasses say -----------------------------------------------------------

    def _head(self) -> tuple[Any, Any]:
        raise NotImplementedError

    def _score(self, X: Any, y: Any) -> float:
        raise NotImplementedError

    def _stratify(self, y: Any) -> Any:
        """What the validation split is stratified by (None: not stratified)."""
        return None

    def _split(self, X: Any, y: Any, rng: np.random.Generator) -> tuple[Any, Any, Any, Any]:
        seed = int(rng.integers(2**31))
        X_train, X_val, y_train, y_val = train_test_split(
            X, y, test_size=self.validation_fraction, random_state=seed,
            stratify=self._stratify(y))
        return X_train, y_train, X_val, y_val

    # -- building and training -------------------------------------------------------------

    def _hidden(self) -> list[int]:
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or np.any(sizes < 1):
            raise ValueError("hidden_layer_sizes must be positive ints, one per hidden layer "
                             f"(e.g. (100,) or (64, 32)); got {self.hidden_layer_sizes!r}")
        return [int(size) for size in sizes]

    def _batch(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        return max(1, min(int(self.batch_size), n_samples))

    def _build(self, n_in: int, n_out: int, batch: int, rng: np.random.Generator) -> Model:
        head, loss = self._head()
        sizes = [n_in, *self._hidden()]
        lam = self.alpha / (2 * batch)
        layers: list[Any] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [Dense(a, b, init="glorot", weight_regularizer_l2=lam, rng=rng,
                             dtype=self.dtype), _ACTIVATIONS[self.activation]()]
        layers += [Dense(sizes[-1], n_out, init="glorot", weight_regularizer_l2=lam, rng=rng,
                         dtype=self.dtype), head]
        opt = _OPTIMIZERS[self.optimizer](learning_rate=self.learning_rate_init)
        return Model(layers, loss=loss, optimizer=opt, seed=int(rng.integers(2**31)))

    def _epoch(self, X: Any, y: Any, batch: int) -> float:
        history = self.model_.fit(X, y, epochs=1, batch_size=batch, shuffle=self.shuffle,
                                  verbose=0)
        loss = float(history.history["loss"][-1])
        self.loss_curve_.append(loss)
        self.n_iter_ += 1
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        return loss

    def _fit(self, X: Any, y: Any, n_out: int, *, partial: bool) -> None:
        rng = np.random.default_rng(self.random_state)
        fresh = not (hasattr(self, "model_") and (self.warm_start or partial))
        early = self.early_stopping and not partial
        X_val = y_val = None
        if early:
            X, y, X_val, y_val = self._split(X, y, rng)
        batch = self._batch(len(X))
        if fresh:
            self.model_ = self._build(X.shape[1], n_out, batch, rng)
            self.loss_curve_ = []
            self.n_iter_ = 0
            self.best_loss_ = float(np.inf)
        if not early:
            self.validation_scores_ = self.best_validation_score_ = None
        elif not getattr(self, "validation_scores_", None):
            self.validation_scores_, self.best_validation_score_ = [], -float(np.inf)
        if partial:
            self._epoch(X, y, batch)
            return
        best_parameters = None
        stale = 0
        for _ in range(self.max_iter):
            loss = self._epoch(X, y, batch)
            if early:
                score = self._score(X_val, y_val)
                assert self.validation_scores_ is not None
                self.validation_scores_.append(score)
                best = self.best_validation_score_
                assert best is not None
                stale = stale + 1 if score < best + self.tol else 0
                if score > best:
                    self.best_validation_score_ = score
                    best_parameters = self.model_.get_parameters()
            else:
                assert self.best_loss_ is not None
                stale = stale + 1 if loss > self.best_loss_ - self.tol else 0
                self.best_loss_ = min(self.best_loss_, loss)
            if stale >= self.n_iter_no_change:
                break
        else:
            warnings.warn(
                f"{type(self).__name__}: max_iter={self.max_iter} epochs reached and the "
                f"{'validation score' if early else 'training loss'} is still improving by "
                f"more than tol={self.tol}; raise max_iter or tol", ConvergenceWarning,
                stacklevel=3)
        if early:
            self.best_loss_ = None
            if best_parameters is not None:
                self.model_.set_parameters(best_parameters)

    def _predict_raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.asarray(self.model_.predict(X), dtype=np.float64)


class NeuralNetClassifier(ClassifierMixin, _BaseNeuralNet):
    """An MLP classifier trained by scratchnn (Softmax + categorical cross-entropy).

    ``MLPClassifier``'s hyperparameters where they mean the same, plus ``optimizer``
    ("adam", "sgd", "adagrad", "rmsprop", "adamw") and ``dtype`` (float32 by default).
    After ``fit``: ``classes_``, ``n_features_in_``, ``loss_curve_``, ``n_iter_``,
    ``best_loss_`` (or, with ``early_stopping``, ``validation_scores_`` and
    ``best_validation_score_``) and ``model_``, the trained :class:`scratchnn.Model`.
    """

    classes_: np.ndarray

    def _head(self) -> tuple[Any, Any]:
        return activations.Softmax(), losses.CategoricalCrossentropy()

    def _score(self, X: Any, y: Any) -> float:
        predicted = np.argmax(self.model_.predict(X), axis=1)
        return float(accuracy_score(y, predicted))

    def _stratify(self, y: Any) -> Any:
        _, counts = np.unique(y, return_counts=True)
        return y if counts.min() >= 2 else None      # a class of one sample cannot be split

    def fit(self, X: Any, y: Any) -> NeuralNetClassifier:
        """Train on ``X`` (n_samples, n_features) and labels ``y`` of any kind."""
        self._validate_params()
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if (self.warm_start and hasattr(self, "classes_")
                and not np.array_equal(classes, self.classes_)):
            raise ValueError(f"warm_start needs the classes of the first fit {self.classes_}; "
                             f"y holds {classes}")
        self.classes_ = classes
        self._fit(X, codes, len(classes), partial=False)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NeuralNetClassifier:
        """One epoch over ``X, y``; the first call needs every class (``classes``)."""
        first = not hasattr(self, "model_")
        if first:
            self._validate_params()
        X, y = validate_data(self, X, y, reset=first)
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y if classes is None else classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes must be the first call's {self.classes_}; got {classes}")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y holds labels {unknown} that are not in classes "
                             f"{self.classes_}; pass every class on the first call")
        codes = np.searchsorted(self.classes_, y)
        self._fit(X, codes, len(self.classes_), partial=True)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), in the order of ``classes_``."""
        proba = self._predict_raw(X)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample."""
        proba = self.predict_proba(X)            # checks that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]


class NeuralNetRegressor(RegressorMixin, _BaseNeuralNet):
    """An MLP regressor trained by scratchnn (linear outputs, mean squared error).

    One target or several (``y`` shaped (n_samples, n_targets)); the other names as in
    :class:`NeuralNetClassifier` and ``MLPRegressor``.
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _head(self) -> tuple[Any, Any]:
        return activations.Linear(), losses.MeanSquaredError()

    def _score(self, X: Any, y: Any) -> float:
        return float(r2_score(y, self.model_.predict(X)))

    def _targets(self, y: Any) -> Any:
        self._y_1d = y.ndim == 1
        return y.reshape(len(y), -1)

    def fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """Train on ``X`` (n_samples, n_features) and targets ``y`` (n_samples[, n_targets])."""
        self._validate_params()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True)
        y2 = self._targets(y)
        self._fit(X, y2, y2.shape[1], partial=False)
        return self

    def partial_fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """One epoch over ``X, y`` (the targets' number fixed by the first call)."""
        first = not hasattr(self, "model_")
        if first:
            self._validate_params()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, reset=first)
        y2 = self._targets(y)
        self._fit(X, y2, y2.shape[1], partial=True)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The predicted targets, shaped as ``y`` was in ``fit``."""
        out = self._predict_raw(X)
        return out.ravel() if self._y_1d else out
