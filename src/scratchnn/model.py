"""The Model: layers, a loss, an optimizer and an accuracy tied into a training loop.

>>> import scratchnn as snn
>>> from scratchnn.datasets import spiral_data
>>> X, y = spiral_data(samples=100, classes=3, rng=0)
>>> model = snn.Model(
...     [snn.Dense(2, 64, rng=0), snn.ReLU(), snn.Dense(64, 3, rng=1), snn.Softmax()],
...     loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(learning_rate=0.02), seed=0,
... )
>>> history = model.fit(X, y, epochs=10, batch_size=32, verbose=0)
>>> len(history.history["loss"])
10

One training step is the book's: forward through every layer with ``training=True``, the
loss, backward in reverse order, then the optimizer's ``pre_update_params``,
``update_params(layer)`` for each trainable layer and ``post_update_params``. When the last
layer is :class:`Softmax` and the loss :class:`CategoricalCrossentropy`, the backward pass
starts from the fused gradient ``(softmax - one_hot) / n_samples``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._random import RandomLike, check_random_state, default_generator
from ._typing import Array
from ._validation import (
    all_finite,
    as_float_array,
    cast_float,
    check_finite,
    check_non_negative_int,
    check_positive_int,
    check_real,
    describe,
    plain_array,
)
from .activations import Sigmoid, Softmax
from .callbacks import Callback, History
from .errors import TrainingDivergedError
from .layers import Dense, Dropout, Layer
from .losses import EPSILON as _CLIP
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SoftmaxCategoricalCrossentropy,
    softmax_crossentropy_gradient,
)
from .metrics import Accuracy, CategoricalAccuracy, RegressionAccuracy
from .optimizers import Optimizer
from .registry import known_names, library_class_name, lookup, registered_class

__all__ = ["Model", "library_class_name", "load_model"]

def _describe_layer(layer: Layer) -> str:
    if isinstance(layer, Dense):
        return f"Dense({layer.n_inputs}, {layer.n_neurons})"
    return type(layer).__name__


class Model:
    """A sequence of layers trained with a loss and an optimizer.

    Parameters
    ----------
    layers : sequence of Layer, optional
        Dense, Dropout and activation layers in order (more can be added with :meth:`add`).
    loss : Loss, optional
        E.g. :class:`CategoricalCrossentropy`; can be given later with :meth:`set`.
    optimizer : Optimizer, optional
        E.g. :class:`Adam`.
    accuracy : Accuracy, optional
        Defaults to :class:`CategoricalAccuracy` when the last layer is Softmax
        (``binary=True`` when it is Sigmoid), whatever the loss; otherwise
        :class:`RegressionAccuracy` for MSE/MAE and CategoricalAccuracy for cross-entropies.
        A default is chosen again when the loss or the layers change.
    seed : int, optional
        Seeds the model's own generator, used to shuffle batches, split validation data and
        draw the masks of Dropout layers created without an ``rng``. ``None`` draws a seed
        from the library generator (see :func:`scratchnn.seed`). The layers' initial
        weights are not the model's draws: they were drawn when the layers were built, from
        their ``rng`` or the library generator, so call ``scratchnn.seed(0)`` before building
        them (or give each an ``rng``) for a run that repeats exactly.
    """

    def __init__(
        self,
        layers: Sequence[Layer] | None = None,
        *,
        loss: Loss | None = None,
        optimizer: Optimizer | None = None,
        accuracy: Accuracy | None = None,
        seed: int | None = None,
    ) -> None:
        if seed is not None:
            seed = check_non_negative_int(seed, "seed")
        self.seed = seed
        root = np.random.SeedSequence(
            seed if seed is not None else int(default_generator().integers(2**63))
        )
        self._seed_sequence = root
        self.rng = np.random.Generator(np.random.PCG64(root.spawn(1)[0]))
        self.layers: list[Layer] = []
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.accuracy: Accuracy | None = None
        self.trainable_layers: list[Layer] = []
        self.stop_training = False
        self.history: History | None = None
        self._finalized = False
        self._accuracy_chosen = False    # True while self.accuracy is finalize's default
        if isinstance(layers, Layer) or (
            layers is not None and not isinstance(layers, Iterable)
        ):
            hint = "; wrap a single layer in a list: [layer]" if isinstance(layers, Layer) else ""
            raise TypeError(
                "layers must be a list of layers, e.g. [Dense(2, 64), ReLU()]; "
                f"got {describe(layers)}{hint}"
            )
        for layer in layers or ():
            self.add(layer)
        self.set(loss=loss, optimizer=optimizer, accuracy=accuracy)

    # -- building ---------------------------------------------------------------------------

    def add(self, layer: Layer) -> None:
        """Append ``layer`` (a Dense, Dropout or activation layer)."""
        if not isinstance(layer, Layer):
            hint = ""
            if isinstance(layer, type) and issubclass(layer, Layer):
                hint = f"; did you mean {layer.__name__}() (an instance, not the class)?"
            raise TypeError(f"layers must be scratchnn layers; got {describe(layer)}{hint}")
        self.layers.append(layer)
        self._forget_default_accuracy()
        self._finalized = False

    def _forget_default_accuracy(self) -> None:
        """A default accuracy fits the loss and last layer it was chosen for: choose again."""
        if self._accuracy_chosen:
            self.accuracy = None
            self._accuracy_chosen = False

    def set(
        self,
        *,
        loss: Loss | None = None,
        optimizer: Optimizer | None = None,
        accuracy: Accuracy | None = None,
    ) -> None:
        """Set any of the loss, the optimizer and the accuracy (``None`` keeps the current)."""
        if loss is not None:
            if isinstance(loss, SoftmaxCategoricalCrossentropy):
                raise TypeError(
                    "loss must be a Loss such as CategoricalCrossentropy(); the fused "
                    "softmax + cross-entropy is used automatically when the last layer is Softmax"
                )
            if not isinstance(loss, Loss):
                raise TypeError(f"loss must be a scratchnn Loss instance; got {describe(loss)}")
            self.loss = loss
            self._forget_default_accuracy()
        if optimizer is not None:
            if not isinstance(optimizer, Optimizer):
                raise TypeError(
                    f"optimizer must be a scratchnn Optimizer instance; got {describe(optimizer)}"
                )
            self.optimizer = optimizer
        if accuracy is not None:
            if not isinstance(accuracy, Accuracy):
                raise TypeError(
                    f"accuracy must be a scratchnn Accuracy instance; got {describe(accuracy)}"
                )
            self.accuracy = accuracy
            self._accuracy_chosen = False
        self._finalized = False

    def finalize(self) -> None:
        """Check that the layers connect and prepare training (implicit on first use)."""
        if not self.layers:
            raise ValueError("the model has no layers; add some with model.add(Dense(...))")
        width: int | None = None
        previous: Layer | None = None
        dtypes = set()
        seen: dict[int, int] = {}
        for index, layer in enumerate(self.layers):
            if id(layer) in seen:
                name = type(layer).__name__
                raise ValueError(
                    f"layer {index} ({_describe_layer(layer)}) is the same object as layer "
                    f"{seen[id(layer)]}; a layer keeps its inputs for the backward pass, so each "
                    f"position needs its own instance, e.g. {name}() twice"
                )
            seen[id(layer)] = index
            if isinstance(layer, Dense):
                dtypes.add(layer.dtype)
                if width is not None and layer.n_inputs != width:
                    assert previous is not None
                    raise ValueError(
                        f"layers do not connect: {_describe_layer(previous)} outputs {width} "
                        f"features but the next Dense (layer {index}, "
                        f"{_describe_layer(layer)}) expects {layer.n_inputs}"
                    )
                width = layer.n_neurons
                previous = layer
        if width is None:
            raise ValueError("the model needs at least one Dense layer")
        if len(dtypes) > 1:
            names = ", ".join(sorted(np.dtype(d).name for d in dtypes))
            raise ValueError(f"all Dense layers must share one dtype; got {names}")
        self.dtype = np.dtype(dtypes.pop())
        self.n_outputs = width
        self.trainable_layers = [layer for layer in self.layers if layer.trainable]
        first = next(layer for layer in self.layers if isinstance(layer, Dense))
        self.n_features = first.n_inputs
        self._claim_first_layer()
        # Dropout layers built without an rng draw from the model's seeded stream instead of
        # the shared library generator, so a seeded model (and a resumed one) is reproducible.
        dropouts = [layer for layer in self.layers if isinstance(layer, Dropout)]
        children = self._seed_sequence.spawn(len(dropouts) + 1)[1:] if dropouts else []
        for layer, child in zip(dropouts, children, strict=True):
            if getattr(layer, "uses_default_rng", False):
                layer.rng = np.random.Generator(np.random.PCG64(child))
                layer.uses_default_rng = False
        if self.loss is not None:
            _check_loss_fits_last_layer(self.loss, self.layers)
            self.loss.remember_trainable_layers(self.trainable_layers)
            if self.accuracy is None:
                # The last layer decides what predictions look like (Softmax: class ids,
                # Sigmoid: 0/1 per output), whatever the loss; a bare output is a regression.
                last = self.layers[-1]
                if isinstance(last, (Softmax, Sigmoid)):
                    self.accuracy = CategoricalAccuracy(binary=isinstance(last, Sigmoid))
                elif isinstance(self.loss, (MeanSquaredError, MeanAbsoluteError)):
                    self.accuracy = RegressionAccuracy()
                else:
                    binary = isinstance(self.loss, BinaryCrossentropy)
                    self.accuracy = CategoricalAccuracy(binary=binary)
                self._accuracy_chosen = True
        self._fused = isinstance(self.layers[-1], Softmax) and isinstance(
            self.loss, CategoricalCrossentropy
        )
        self._finalized = True

    def _claim_first_layer(self) -> None:
        """Nobody needs d(loss)/d(X): the first Dense skips that matrix product.

        Set again at every fit, since a Dense shared with another model may have been told
        otherwise there.
        """
        for layer in self.layers:
            if isinstance(layer, Dense):
                layer.needs_dinputs = layer is not self.layers[0]

    @property
    def output_layer_activation(self) -> Layer:
        """The last layer (its ``predictions(outputs)`` turns outputs into answers)."""
        return self.layers[-1]

    def _ensure_finalized(self) -> None:
        if not self._finalized:
            self.finalize()

    # -- checking what users pass -----------------------------------------------------------

    def _check_X(self, X: Any, name: str = "X") -> Array:
        array = as_float_array(X, name, self.dtype)
        if array.ndim != 2 or array.shape[1] != self.n_features:
            first = _describe_layer(
                next(layer for layer in self.layers if isinstance(layer, Dense))
            )
            hint = ""
            if array.ndim == 1 and array.shape[0] == self.n_features:
                hint = "; a single sample must still be a batch: use x.reshape(1, -1)"
            elif array.ndim == 2 and array.shape[0] == self.n_features:
                hint = "; the batch looks transposed: pass X.T so that samples are rows"
            elif array.ndim > 2:
                hint = f"; flatten each sample first: {name}.reshape(len({name}), -1)"
            raise ValueError(
                f"{name} must be shaped (n_samples, {self.n_features}) for the first layer, "
                f"{first}; got {array.shape}{hint}"
            )
        if len(array) == 0:
            raise ValueError(f"{name} must hold at least one sample; got shape {array.shape}")
        check_finite(array, name)
        return array

    def _check_y(self, y: Any, n_samples: int, name: str = "y") -> Array:
        """Targets in the form the loss wants: class ids (n,) or values (n, n_outputs)."""
        y = plain_array(y, name)
        if not isinstance(y, np.ndarray):
            # Lists and tuples keep their kind (True/False stay booleans, to be refused below).
            try:
                candidate = np.asarray(y)
            except (ValueError, TypeError):
                candidate = None
            if candidate is not None and candidate.ndim and candidate.dtype.kind in "iub":
                y = candidate
        if isinstance(y, np.ndarray) and y.dtype.kind in "fiub":
            array = y
        else:
            array = as_float_array(y, name, np.float64) if not isinstance(y, np.ndarray) else y
            if array.dtype.kind not in "fiub":
                raise TypeError(f"{name} must hold numbers; got dtype {array.dtype}")
        if array.ndim == 0:
            raise TypeError(
                f"{name} must be an array with one target per sample; got {describe(y)}"
            )
        if len(array) != n_samples:
            raise ValueError(
                f"len(X) must equal len({name}): X has {n_samples} samples but {name} has "
                f"{len(array)}"
            )
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{name} must be finite; got NaN or infinite values")
        classes = self.n_outputs
        if isinstance(self.loss, CategoricalCrossentropy) or self.loss is None:
            if array.ndim == 2 and array.shape[1] == classes and classes > 1:
                if not np.all((array == 0) | (array == 1)) or not np.all(array.sum(1) == 1):
                    raise ValueError(
                        f"{name} given as a 2-D array must be one-hot rows (one 1 per row, "
                        f"width {classes}); got other values"
                    )
                return np.argmax(array, axis=1)
            if array.ndim == 2 and array.shape[1] == 1:
                array = array[:, 0]
            if array.dtype.kind == "b" and classes != 2:
                raise TypeError(
                    f"{name} holds True/False values, which would be read as classes 0 and 1 "
                    f"of the {classes} the last layer has; pass integer class labels in "
                    f"0..{classes - 1} (e.g. {name}.astype(int) if 0/1 is really meant)"
                )
            if array.ndim != 1:
                raise ValueError(
                    f"{name} must be class labels shaped ({n_samples},) or one-hot shaped "
                    f"({n_samples}, {classes}) for a last layer with {classes} outputs; "
                    f"got {array.shape}"
                )
            if array.dtype.kind == "f":
                if not np.all(array == np.round(array)):
                    raise ValueError(f"{name} class labels must be integers; got fractions")
            low, high = array.min(), array.max()
            if low < 0 or high >= classes:
                raise ValueError(
                    f"{name} class labels must be in 0..{classes - 1} (the last layer has "
                    f"{classes} outputs); got labels from {low:g} to {high:g}"
                )
            return array.astype(np.intp, copy=False)
        # Binary cross-entropy and regression: one target per output.
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2 or array.shape[1] != classes:
            raise ValueError(
                f"{name} must be shaped ({n_samples}, {classes}) (one target per output of the "
                f"last layer){' or (' + str(n_samples) + ',)' if classes == 1 else ''}; "
                f"got {np.shape(y)}"
            )
        if isinstance(self.loss, BinaryCrossentropy):
            if not np.all((array == 0) | (array == 1)):
                raise ValueError(f"{name} must hold 0/1 targets for BinaryCrossentropy")
        return cast_float(array, name, self.dtype)

    def _check_batch_size(self, batch_size: Any) -> int | None:
        return None if batch_size is None else check_positive_int(batch_size, "batch_size")

    def _require(self, *, optimizer: bool) -> None:
        if self.loss is None:
            raise ValueError("the model has no loss; set one, e.g. model.set(loss=...)")
        if optimizer and self.optimizer is None:
            raise ValueError("the model has no optimizer; set one, e.g. model.set(optimizer=...)")

    # -- the training step ------------------------------------------------------------------

    def _forward(self, X: Array, training: bool) -> Array:
        output = X
        for layer in self.layers:
            output = layer.forward(output, training=training)
        return output

    def _loss_and_backward(self, output: Array, y: Array) -> float:
        """Data loss of the batch, then the backward pass through every layer."""
        assert self.loss is not None
        data_loss = float(self.loss.calculate(output, y))
        if self._fused:
            self._backward_from(softmax_crossentropy_gradient(output, y), fused=True)
        else:
            self._backward_from(self.loss.backward(output, y), fused=False)
        return data_loss

    def _backward_from(self, dvalues: Array, *, fused: bool) -> None:
        """Backward through the layers from the loss's gradient.

        ``fused``: ``dvalues`` is the fused softmax + cross-entropy gradient, which already
        is the last (Softmax) layer's ``dinputs``.
        """
        layers = self.layers
        if fused:
            layers[-1].dinputs = dvalues
            layers = layers[:-1]
        for layer in reversed(layers):
            dvalues = layer.backward(dvalues)

    def _update(self) -> None:
        optimizer = self.optimizer
        assert optimizer is not None
        optimizer.pre_update_params()
        for layer in self.trainable_layers:
            optimizer.update_params(layer)
        optimizer.post_update_params()

    # -- fit / evaluate / predict -----------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 1,
        batch_size: int | None = None,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        verbose: int = 1,
        callbacks: Iterable[Callback] | None = None,
        initial_epoch: int = 0,
    ) -> History:
        """Train for ``epochs`` passes over ``(X, y)`` in batches.

        Parameters
        ----------
        X : array (n_samples, n_features)
        y : array
            Class labels (n_samples,) or one-hot (n_samples, n_classes) for cross-entropy;
            targets (n_samples, n_outputs) for binary cross-entropy and regression.
        epochs : int
            Passes over the data.
        batch_size : int, optional
            Samples per step; ``None`` trains on all of them at once. An epoch has
            ``ceil(n_samples / batch_size)`` steps, the last one possibly smaller.
        validation_data : (X_val, y_val), optional
            Evaluated after every epoch (``val_loss``, ``val_accuracy``).
        validation_split : float
            Fraction in [0, 1) of the samples, taken from the end before shuffling, held out
            for validation (ignored when ``validation_data`` is given).
        shuffle : bool
            Visit the samples in a new order every epoch (from the model's generator).
        verbose : {0, 1, 2}
            0 silent, 1 a progress bar per epoch (loss and accuracy as running means over
            the epoch so far), 2 one line per epoch.
        callbacks : list of Callback, optional
        initial_epoch : int, default 0
            The epoch to start from when resuming, as in Keras: ``fit(..., epochs=6,
            initial_epoch=3)`` trains epochs 3, 4 and 5 (counted from 0), and callbacks,
            history and progress lines see those numbers. Resume a run that uses a
            :class:`~scratchnn.callbacks.LearningRateScheduler` this way, so that the schedule
            goes on where it stopped.

        Returns
        -------
        History
            Per-epoch ``loss``, ``data_loss``, ``regularization_loss``, ``accuracy``,
            ``learning_rate`` (and ``val_loss``, ``val_accuracy``).

        Raises
        ------
        TrainingDivergedError
            When the loss stops being finite, when a cross-entropy's running mean over the
            epoch climbs to the probability clip ceiling (half of -log(1e-7) for categorical,
            or log(n_classes) + 3 when that is higher; a quarter for binary; a run that starts
            there gets its first epoch to come down),
            or when the parameters overflow. The parameters and the optimizer's state (slots,
            iteration count, rates) of a recent step with a healthy loss, at most 8 updates
            back, are restored first, so the model can be saved and trained on.
        """
        self._ensure_finalized()
        self._require(optimizer=True)
        self._claim_first_layer()
        epochs = check_non_negative_int(epochs, "epochs")
        initial_epoch = check_non_negative_int(initial_epoch, "initial_epoch")
        if initial_epoch > epochs:
            more = max(epochs, 1)     # the number the user gave, read as "more epochs"
            raise ValueError(
                f"initial_epoch ({initial_epoch}) is after the last epoch (epochs={epochs}): "
                f"epochs counts from 0, not from initial_epoch; to train {more} more "
                f"epoch{'s' if more != 1 else ''} after epoch {initial_epoch}, pass "
                f"epochs={initial_epoch + more}"
            )
        batch_size = self._check_batch_size(batch_size)
        validation_split = check_real(
            validation_split, "validation_split", low=0.0, high=1.0, high_inclusive=False
        )
        verbose = _check_verbose(verbose)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False; got {describe(shuffle)}")
        callback_list = _check_callbacks(callbacks)
        X = self._check_X(X)
        y = self._check_y(y, len(X))
        if validation_data is not None:
            X_val, y_val = self._check_validation_data(validation_data)
        elif validation_split > 0:
            n_val = int(len(X) * validation_split)
            if n_val < 1 or n_val >= len(X):
                raise ValueError(
                    f"validation_split={validation_split} leaves {n_val} validation and "
                    f"{len(X) - n_val} training samples out of {len(X)}; both must be >= 1"
                )
            X, X_val = X[:-n_val], X[-n_val:]
            y, y_val = y[:-n_val], y[-n_val:]
        else:
            X_val = y_val = None

        history = History()
        self.history = history
        callback_list = [history, *callback_list]
        for callback in callback_list:
            callback.set_model(self)
        batch_callbacks = [c for c in callback_list if _overrides_batch_hooks(c)]

        assert self.accuracy is not None and self.loss is not None
        self.accuracy.init(y)
        n = len(X)
        size = n if batch_size is None else min(batch_size, n)
        steps = math.ceil(n / size)
        self._steps_per_epoch = steps
        self.stop_training = False
        # The parameters are updated in place, so one list serves the whole fit; ``backup``
        # holds them and the optimizer's state as they were at a recent healthy step
        # (restored if the run diverges, so that the model can be saved and trained on).
        params = [param for layer in self.trainable_layers for param in layer.parameters()]
        backup = _Backup(params, self.optimizer, self.trainable_layers)
        loss_limit = _saturated_loss(self.loss, self.n_outputs)
        saturated_at_start = False
        if shuffle:
            X_batch = np.empty((size, X.shape[1]), dtype=X.dtype)
            y_batch = np.empty((size, *y.shape[1:]), dtype=y.dtype)

        with np.errstate(all="ignore"):
            bar = None
            updating = False
            updated = False                 # whether this fit has made any update yet
            begun: list[Callback] = []      # on_train_end goes to those whose begin ran
            failed = False
            try:
                for callback in callback_list:
                    callback.on_train_begin({})
                    begun.append(callback)
                for epoch in range(initial_epoch, epochs):
                    if self.stop_training:
                        break
                    for callback in callback_list:
                        callback.on_epoch_begin(epoch, {})
                    started = time.perf_counter()
                    bar = _progress_bar(verbose, steps, epoch, epochs)
                    self.loss.new_pass()
                    self.accuracy.new_pass()
                    order = self.rng.permutation(n) if shuffle else None
                    for step in range(steps):
                        start, stop = step * size, min((step + 1) * size, n)
                        if order is not None:
                            idx = order[start:stop]
                            # mode="clip": the indices are valid by construction, and the
                            # default mode="raise" makes take() buffer ``out`` (30% slower).
                            xb = np.take(X, idx, axis=0, out=X_batch[: stop - start], mode="clip")
                            yb = np.take(y, idx, axis=0, out=y_batch[: stop - start], mode="clip")
                        else:
                            xb, yb = X[start:stop], y[start:stop]
                        for callback in batch_callbacks:
                            callback.on_batch_begin(step, {})
                        output = self._forward(xb, training=True)
                        data_loss = self._loss_and_backward(output, yb)
                        first = epoch == initial_epoch
                        if first and step == 0 and data_loss > loss_limit:
                            # Saturated before any update (badly scaled inputs or weights):
                            # give the first epoch to come down before judging.
                            saturated_at_start = True
                        limit = math.inf if saturated_at_start and first else loss_limit
                        if not math.isfinite(data_loss) or (
                            # One confidently wrong small batch is noise; an epoch's running
                            # mean at the clip ceiling (over >= 32 samples) is divergence.
                            data_loss > limit
                            and self.loss.accumulated_count >= min(32, n)
                            and self.loss.calculate_accumulated() > limit
                        ):
                            backup.restore()
                            if bar is not None:
                                bar.tqdm.close()
                            raise TrainingDivergedError(_diverged_message(
                                epoch, step, data_loss, self.optimizer, updated=updated
                            ))
                        # Accuracy and the penalty of the weights that gave this loss, as the
                        # book's step lines show them: measured before the update.
                        accuracy = self.accuracy.calculate(
                            self.layers[-1].predictions(output), yb
                        )
                        report = batch_callbacks or (bar is not None and bar.due(step))
                        if report:
                            regularization = self.loss.regularization_loss()
                        backup.before_update()
                        updating = True
                        self._update()
                        updating = False
                        updated = True
                        if report:
                            logs = {
                                "loss": data_loss + regularization,
                                "data_loss": data_loss,
                                "regularization_loss": regularization,
                                "accuracy": accuracy,
                                "learning_rate": self._learning_rate(),
                            }
                            for callback in batch_callbacks:
                                callback.on_batch_end(step, logs)
                            if bar is not None and bar.due(step):
                                # The bar shows the epoch's running means, as Keras's does:
                                # one batch's loss and accuracy jump about.
                                running = self.loss.calculate_accumulated() + regularization
                                bar.show(step, {
                                    "loss": running,
                                    "accuracy": self.accuracy.calculate_accumulated(),
                                    "learning_rate": logs["learning_rate"],
                                })
                    if not all(all_finite(param) for param in params):
                        # The last update of the epoch overflowed (no loss has seen it yet).
                        backup.restore()
                        raise TrainingDivergedError(_diverged_message(
                            epoch, steps - 1, math.nan, self.optimizer, parameters=True
                        ))
                    logs = self._epoch_logs()
                    if X_val is not None:
                        val = self._evaluate(X_val, y_val, batch_size)
                        logs["val_loss"], logs["val_accuracy"] = val["loss"], val["accuracy"]
                    if bar is not None:
                        bar.close(logs)
                    if verbose == 2:
                        print(format_epoch_line(epoch, epochs, time.perf_counter() - started, logs),
                              file=sys.stdout, flush=True)
                    for callback in callback_list:
                        callback.on_epoch_end(epoch, logs)
            except BaseException as error:
                failed = True
                if isinstance(error, KeyboardInterrupt) and updating:
                    # Ctrl-C in the middle of an update would leave some layers stepped and
                    # others not: go back to the state from before that update.
                    backup.restore()
                raise
            finally:
                if bar is not None:
                    bar.tqdm.close()      # whatever stopped the run (closing twice is harmless)
                _end_training(begun, failed)
        return history

    def _check_validation_data(self, validation_data: Any) -> tuple[Any, Any]:
        """``(X_val, y_val)`` checked as fit checks its training data."""
        X_val, y_val = _unpack_validation(validation_data)
        X_val = self._check_X(X_val, "validation_data[0] (X_val)")
        y_val = self._check_y(y_val, len(X_val), "validation_data[1] (y_val)")
        return X_val, y_val

    def _learning_rate(self) -> float:
        assert self.optimizer is not None
        return float(self.optimizer.current_learning_rate)

    def _epoch_logs(self) -> dict[str, float]:
        assert self.loss is not None and self.accuracy is not None
        data_loss = float(self.loss.calculate_accumulated())
        regularization = float(self.loss.regularization_loss())
        return {
            "loss": data_loss + regularization,
            "data_loss": data_loss,
            "regularization_loss": regularization,
            "accuracy": float(self.accuracy.calculate_accumulated()),
            "learning_rate": self._learning_rate(),
        }

    def _evaluate(self, X: Array, y: Array, batch_size: int | None) -> dict[str, float]:
        assert self.loss is not None and self.accuracy is not None
        # The running sums belong to a fit that may be under way (a callback evaluating
        # mid-epoch): put them back afterwards.
        metrics: tuple[Any, ...] = (self.loss, self.accuracy)
        saved = [(metric.accumulated_sum, metric.accumulated_count) for metric in metrics]
        self.loss.new_pass()
        self.accuracy.new_pass()
        size = len(X) if batch_size is None else batch_size
        try:
            with np.errstate(all="ignore"):
                for start in range(0, len(X), size):
                    xb, yb = X[start:start + size], y[start:start + size]
                    output = self._forward(xb, training=False)
                    self.loss.calculate(output, yb)
                    self.accuracy.calculate(
                        self.layers[-1].predictions(output), yb
                    )
            return {
                "loss": float(self.loss.calculate_accumulated()),
                "accuracy": float(self.accuracy.calculate_accumulated()),
            }
        finally:
            for metric, (total, count) in zip(metrics, saved, strict=True):
                metric.accumulated_sum, metric.accumulated_count = total, count

    def evaluate(
        self, X: Any, y: Any, *, batch_size: int | None = None, verbose: int = 1
    ) -> dict[str, float]:
        """Mean data loss and accuracy on ``(X, y)`` (dropout off).

        Returns ``{"loss": ..., "accuracy": ...}``; ``verbose=1`` also prints them.
        """
        self._ensure_finalized()
        self._require(optimizer=False)
        batch_size = self._check_batch_size(batch_size)
        verbose = _check_verbose(verbose)
        X = self._check_X(X)
        y = self._check_y(y, len(X))
        assert self.accuracy is not None
        if isinstance(self.accuracy, RegressionAccuracy) and self.accuracy.precision is None:
            self.accuracy.init(y)
        result = self._evaluate(X, y, batch_size)
        if verbose:
            print(f"evaluation - loss: {result['loss']:.4f} - accuracy: {result['accuracy']:.4f}")
        return result

    def predict(self, X: Any, *, batch_size: int | None = None) -> Array:
        """The last layer's outputs for ``X`` (probabilities after Softmax), dropout off."""
        self._ensure_finalized()
        batch_size = self._check_batch_size(batch_size)
        X = self._check_X(X)
        size = len(X) if batch_size is None else batch_size
        if size >= len(X):
            with np.errstate(all="ignore"):
                return self._forward(X, training=False).copy()
        outputs = np.empty((len(X), self.n_outputs), dtype=self.dtype)
        with np.errstate(all="ignore"):
            for start in range(0, len(X), size):
                outputs[start:start + size] = self._forward(X[start:start + size], False)
        return outputs

    def predict_classes(self, X: Any, *, batch_size: int | None = None) -> Array:
        """The last layer's ``predictions``: class ids, 0/1 answers or regression values."""
        outputs = self.predict(X, batch_size=batch_size)
        return self.layers[-1].predictions(outputs)

    # -- parameters and configuration -------------------------------------------------------

    def get_parameters(self) -> list[list[Array]]:
        """Copies of ``[weights, biases]`` of every trainable layer, in order."""
        self._ensure_finalized()
        return [[param.copy() for param in layer.parameters()] for layer in self.trainable_layers]

    def set_parameters(self, parameters: Sequence[Sequence[Any]]) -> None:
        """Copy ``parameters`` (as :meth:`get_parameters` returns them) into the layers."""
        self._ensure_finalized()
        layers = self.trainable_layers
        if not isinstance(parameters, Sequence) or len(parameters) != len(layers):
            count = len(parameters) if isinstance(parameters, Sequence) else describe(parameters)
            raise ValueError(
                f"parameters must hold one [weights, biases] list per trainable layer "
                f"({len(layers)}); got {count}"
            )
        checked = []
        for index, (layer, given) in enumerate(zip(layers, parameters, strict=True)):
            own = layer.parameters()
            if not isinstance(given, (Sequence, np.ndarray)) or isinstance(given, str):
                raise TypeError(
                    f"parameters[{index}] must be a list [weights, biases] for "
                    f"{_describe_layer(layer)}; got {describe(given)}"
                )
            if len(given) != len(own):
                raise ValueError(
                    f"parameters[{index}] must hold {len(own)} arrays for "
                    f"{_describe_layer(layer)}; got {len(given)}"
                )
            for slot, (target, value) in enumerate(zip(own, given, strict=True)):
                array = as_float_array(value, f"parameters[{index}][{slot}]", target.dtype)
                if array.shape != target.shape:
                    raise ValueError(
                        f"parameters[{index}][{slot}] of {_describe_layer(layer)} must be "
                        f"shaped {target.shape}; got {array.shape}"
                    )
                if not all_finite(array):
                    raise ValueError(f"parameters[{index}][{slot}] must be finite")
                checked.append((target, array))
        for target, array in checked:
            np.copyto(target, array)

    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-able data (what a model file stores, besides arrays)."""
        def entry(kind: str, obj: Any) -> dict[str, Any] | None:
            if obj is None:
                return None
            # The registered class a subclass (e.g. the book's Layer_Dense) specialises.
            cls = registered_class(kind, type(obj))
            if cls is None:
                hint = (" (decorate a layer class of your own with @scratchnn.register_layer)"
                        if kind == "layers" else "")
                raise TypeError(
                    f"{type(obj).__name__} is not a registered {kind} class, so it cannot be "
                    f"described for a model file{hint}; known: {', '.join(known_names(kind))}"
                )
            return {"class": cls.__name__, "config": obj.get_config()}

        return {
            "layers": [entry("layers", layer) for layer in self.layers],
            "loss": entry("loss", self.loss),
            "optimizer": entry("optimizer", self.optimizer),
            "accuracy": entry("accuracy", self.accuracy),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], *, rng: RandomLike = None) -> Model:
        """Rebuild a model (fresh parameters drawn from ``rng``) from :meth:`get_config`."""
        generator = check_random_state(rng)
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"config must be a dict with a 'layers' list; got {describe(config)}")

        def build(kind: str, entry: Any) -> Any:
            if entry is None:
                return None
            if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict):
                raise ValueError(f"config: malformed {kind} entry {entry!r}")
            name = entry.get("class")
            try:
                known = lookup(kind, name)
            except ValueError as error:
                raise ValueError(f"config: {error}") from None
            options = dict(entry.get("config", {}))
            try:
                if issubclass(known, Layer):   # every registered layer class is one
                    return known.from_config(options, rng=generator)
                return known(**options)
            except (TypeError, ValueError) as error:
                raise ValueError(f"config: cannot build {name}: {error}") from None

        layers = [build("layers", entry) for entry in config["layers"]]
        model = cls(
            layers,
            loss=build("loss", config.get("loss")),
            optimizer=build("optimizer", config.get("optimizer")),
            accuracy=build("accuracy", config.get("accuracy")),
            # Without a seed, Model() would draw one from the library generator; a file
            # restores the generators anyway, so a placeholder leaves the user's stream alone.
            seed=0 if config.get("seed") is None else config["seed"],
        )
        model.seed = config.get("seed")
        return model

    # -- files (scratchnn.io: a safe format, never pickle) ----------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save architecture, parameters, optimizer and generator state to one file."""
        from .io import save_model

        save_model(self, path)

    def save_parameters(self, path: str | os.PathLike[str]) -> None:
        """Save only the parameters."""
        from .io import save_parameters

        save_parameters(self, path)

    def load_parameters(self, path: str | os.PathLike[str]) -> None:
        """Load parameters saved by :meth:`save_parameters` into this model."""
        from .io import load_parameters

        load_parameters(self, path)

    def summary(self) -> str:
        """A table of the layers, their output widths and parameter counts."""
        self._ensure_finalized()
        lines = [f"{'layer':<24}{'outputs':>10}{'parameters':>14}"]
        width = self.n_features
        total = 0
        for layer in self.layers:
            if isinstance(layer, Dense):
                width = layer.n_neurons
            count = sum(param.size for param in layer.parameters())
            total += count
            lines.append(f"{_describe_layer(layer):<24}{width:>10}{count:>14,}")
        lines.append(f"{'total':<24}{'':>10}{total:>14,}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        return f"Model([{layers}], loss={self.loss!r}, optimizer={self.optimizer!r})"


def load_model(path: str | os.PathLike[str]) -> Model:
    """Rebuild the model saved at ``path`` by :meth:`Model.save`, ready to predict or train on.

    :mod:`scratchnn.io` reads and checks the file; the architecture is rebuilt here with
    :meth:`Model.from_config` (only registered classes, see :func:`scratchnn.register_layer`)
    and io restores the parameters, optimizer state, generators and accuracy into it.

    Raises :class:`~scratchnn.ModelFileError` (a ValueError) naming the file and the problem
    for a damaged, foreign or unsafe file, or one naming an unregistered class;
    FileNotFoundError for a missing one, TypeError for a ``path`` that is not a file path.
    Loading never runs code from the file.
    """
    from .io import open_model  # the file format loads only when used

    with open_model(path) as stored:
        model = stored.build(Model.from_config)
        stored.restore(model)
    return model


# -- helpers ---------------------------------------------------------------------------------


class _Backup:
    """A recent trainable state with a healthy loss, to go back to if the run diverges.

    That is the parameters and everything the optimizer keeps: its slots (momentums,
    caches), its iteration count and its rates. Restoring only the parameters would leave
    Adam's caches overflowed after a divergence, and the model could not be saved.

    The state is copied before every ``EVERY``-th update of the run, not before each one:
    copying Adam's parameters and slots at every step cost 6-10% of a batch-32 epoch. Every
    step checks its loss before its update, so the copy is a state whose loss was healthy,
    at most ``EVERY`` updates back.
    """

    EVERY = 8

    def __init__(self, params: list[Array], optimizer: Optimizer | None,
                 layers: list[Layer]) -> None:
        assert optimizer is not None
        self.optimizer = optimizer
        # get_slots creates the zero slots of a fresh optimizer now, so that they are tracked
        # from the first step; they are updated in place ever after.
        slots = [array for layer in layers for per_parameter in optimizer.get_slots(layer)
                 for array in per_parameter.values()]
        self.live = params + slots
        self.saved = [array.copy() for array in self.live]
        self.updates = 0
        self._take_scalars()

    def _take_scalars(self) -> None:
        # learning_rate too: a LearningRateScheduler may have changed it since.
        optimizer = self.optimizer
        self.scalars = (optimizer.iterations, optimizer.current_learning_rate,
                        optimizer.learning_rate)

    def before_update(self) -> None:
        """Called before each update: copies the state before every ``EVERY``-th one."""
        if self.updates % self.EVERY == 0:
            for saved, live in zip(self.saved, self.live, strict=True):
                np.copyto(saved, live)
            self._take_scalars()
        self.updates += 1

    def restore(self) -> None:
        for live, saved in zip(self.live, self.saved, strict=True):
            np.copyto(live, saved)
        optimizer = self.optimizer
        (optimizer.iterations, optimizer.current_learning_rate,
         optimizer.learning_rate) = self.scalars


def _check_loss_fits_last_layer(loss: Loss, layers: list[Layer]) -> None:
    """Cross-entropies need probabilities: Softmax (categorical) or Sigmoid (binary) last."""
    needed = {CategoricalCrossentropy: Softmax, BinaryCrossentropy: Sigmoid}
    for loss_class, activation in needed.items():
        if isinstance(loss, loss_class) and not isinstance(layers[-1], activation):
            raise ValueError(
                f"{type(loss).__name__} needs probabilities, so the model must end with "
                f"{activation.__name__}(); it ends with {_describe_layer(layers[-1])}. "
                f"Add model.add({activation.__name__}()) after the last Dense"
            )


def _end_training(callbacks: list[Callback], failed: bool) -> None:
    """``on_train_end`` for every callback, even when one of them raises (files get closed,
    best weights restored); the first error is raised afterwards unless the run already
    failed, whose error must not be hidden."""
    errors: list[BaseException] = []
    for callback in callbacks:
        try:
            callback.on_train_end({})
        except Exception as error:  # noqa: PERF203 - each callback must get its turn
            errors.append(error)
    if errors and not failed:
        raise errors[0]


def _saturated_loss(loss: Loss, n_outputs: int) -> float:
    """The data loss above which a cross-entropy run counts as diverged (inf for the others).

    Cross-entropies clip probabilities at 1e-7, so a diverging classifier never reaches an
    infinite loss: its confidently wrong answers pile up at the ceiling -log(1e-7) ~ 16.1
    (SGD with learning_rate=1e8 on spirals sits near 10 for ever, its ReLUs dead). Half the
    ceiling means the true class gets a geometric-mean probability under 3e-4, far worse
    than a uniform guess among up to ~150 classes. With more classes the limit is 3 above
    that guess's loss, log(n_classes): a healthy start near chance must not count as diverged.
    """
    if isinstance(loss, CategoricalCrossentropy):
        return max(-0.5 * math.log(_CLIP), math.log(max(n_outputs, 1)) + 3.0)
    if isinstance(loss, BinaryCrossentropy):
        # Per output the answers are two-way: a quarter of the ceiling already means at least
        # a quarter of all answers confidently wrong (a constant 0.5 would score log 2 = 0.69).
        return -0.25 * math.log(_CLIP)
    return math.inf


def _diverged_message(
    epoch: int, step: int, loss: float, optimizer: Any, *, parameters: bool = False,
    updated: bool = True,
) -> str:
    rate = optimizer.current_learning_rate
    if not updated:
        # Nothing was trained yet: no step was healthy, and no rate was too high.
        return (
            f"training cannot start: at epoch {epoch + 1}, step {step} the loss is {loss} "
            f"before any update (learning rate {rate:g}); the model was left as it was. The "
            "inputs, targets or initial weights are too large for the loss: scale the data "
            "to about [-1, 1], or compute in float64"
        )
    if parameters:
        happened = "the parameters became infinite or NaN"
    else:
        what = "" if not math.isfinite(loss) else (
            " (a cross-entropy at the probability clip ceiling: confidently wrong answers)"
        )
        happened = f"the loss became {loss}{what}"
    return (
        # Epochs count from 1 as in the progress lines ("Epoch 1/5"), steps from 0 as in the
        # book's "step: 0" lines.
        f"training diverged at epoch {epoch + 1}, step {step}: {happened} "
        f"(learning rate {rate:g}). The parameters and the optimizer's state of a recent "
        "step with a healthy loss (at most 8 updates back) were kept, so the model can be "
        "saved or trained on. Try a lower learning_rate (e.g. 10x smaller), more decay, or "
        "inputs scaled to about [-1, 1]."
    )


def _check_verbose(verbose: Any) -> int:
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2; got {describe(verbose)}")
    return int(verbose)


def _check_callbacks(callbacks: Iterable[Callback] | None) -> list[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, type) or not isinstance(callbacks, Iterable):
        raise TypeError(
            f"callbacks must be a list of scratchnn.Callback instances; got "
            f"{describe(callbacks)}{_instance_hint(callbacks)}"
        )
    result = list(callbacks)
    for callback in result:
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks must be scratchnn.Callback instances; got {describe(callback)}"
                f"{_instance_hint(callback)}"
            )
    return result


def _instance_hint(value: Any) -> str:
    if isinstance(value, type) and issubclass(value, Callback):
        return f"; did you mean {value.__name__}() (an instance, not the class)?"
    return ""


def _unpack_validation(validation_data: Any) -> tuple[Any, Any]:
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError(
            f"validation_data must be a pair (X_val, y_val); got {describe(validation_data)}"
        )
    return validation_data[0], validation_data[1]


def _overrides_batch_hooks(callback: Callback) -> bool:
    cls = type(callback)
    return (cls.on_batch_begin is not Callback.on_batch_begin
            or cls.on_batch_end is not Callback.on_batch_end)


def _format_logs(logs: dict[str, float]) -> str:
    parts = []
    for key, value in logs.items():
        if key == "learning_rate":
            parts.append(f"lr: {value:.3g}")
        elif key in ("data_loss", "regularization_loss"):
            continue
        else:
            parts.append(f"{key}: {value:.4f}")
    return " - ".join(parts)


def format_epoch_line(epoch: int, epochs: int, seconds: float, logs: dict[str, float]) -> str:
    """``fit(verbose=2)``'s line for ``epoch`` (from 0), shown from 1: ``Epoch 1/5 - ...``."""
    return f"Epoch {epoch + 1}/{epochs} - {seconds:.2f}s - {_format_logs(logs)}"


class _Bar:
    """A tqdm bar for one epoch, refreshed about 20 times (so it costs nothing per step)."""

    def __init__(self, steps: int, epoch: int, epochs: int) -> None:
        from tqdm.auto import tqdm  # imported only when a bar is shown

        self.tqdm = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step",
                         leave=True, dynamic_ncols=True)
        self.every = max(1, steps // 20)
        self.shown = 0

    def due(self, step: int) -> bool:
        return (step + 1) % self.every == 0

    def show(self, step: int, logs: dict[str, float]) -> None:
        if not self.due(step):
            return
        self.tqdm.set_postfix_str(_format_logs(logs), refresh=False)
        self.tqdm.update(step + 1 - self.shown)
        self.shown = step + 1

    def close(self, logs: dict[str, float]) -> None:
        self.tqdm.set_postfix_str(_format_logs(logs), refresh=False)
        self.tqdm.update(self.tqdm.total - self.shown)
        self.tqdm.close()


def _progress_bar(verbose: int, steps: int, epoch: int, epochs: int) -> _Bar | None:
    return _Bar(steps, epoch, epochs) if verbose == 1 else None
