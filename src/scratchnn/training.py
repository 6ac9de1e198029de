"""The training loop: :meth:`Model.fit <scratchnn.Model.fit>` delegates here.

The model is a container (layers, loss, optimizer, accuracy) with a one-step API --
``forward``, ``backward``, ``update`` -- and this module turns steps into epochs: argument
checks, batches drawn into reused buffers, shuffling from the model's generator, callback
dispatch, the divergence guard (:class:`_Backup`), the progress bar and Ctrl-C rollback.
It knows no layer type: whatever follows the protocol in :mod:`scratchnn.layers.base`
trains here.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ._typing import Array
from ._validation import (
    all_finite,
    check_non_negative_int,
    check_positive_int,
    check_real,
    describe,
)
from .callbacks import Callback, History
from .errors import TrainingDivergedError
from .losses import EPSILON as _CLIP
from .losses import BinaryCrossentropy, CategoricalCrossentropy, Loss
from .optimizers import Optimizer

if TYPE_CHECKING:
    from .layers import Layer
    from .model import Model

__all__ = ["check_validation_data", "evaluate", "fit", "format_epoch_line", "predict"]


def fit(
    model: Model,
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
    """:meth:`Model.fit <scratchnn.Model.fit>`, whose docstring says what each argument
    does: check the arguments, then epochs of shuffled batches, each one step
    (``model.forward``, the loss, ``model.backward``, ``model.update``) between the
    divergence check and the callbacks."""
    run = _Run(model, X, y, epochs=epochs, batch_size=batch_size,
               validation_data=validation_data, validation_split=validation_split,
               shuffle=shuffle, verbose=verbose, callbacks=callbacks,
               initial_epoch=initial_epoch)
    return run.train()


class _Run:
    """One call of ``fit``: its checked arguments and data, batch buffers, divergence guard,
    callbacks and progress bar, in the order they are used.

    :meth:`__init__` checks everything before anything trains; :meth:`train` runs the
    callbacks' lifecycle around the epochs and rolls back on Ctrl-C; :meth:`_epoch` is the
    hot loop of steps; :meth:`_report` the per-batch logs that only callbacks and the bar
    want; :meth:`_end_epoch` the epoch's logs, validation and progress line.
    """

    def __init__(self, model: Model, X: Any, y: Any, *, epochs: int, batch_size: int | None,
                 validation_data: tuple[Any, Any] | None, validation_split: float,
                 shuffle: bool, verbose: int, callbacks: Iterable[Callback] | None,
                 initial_epoch: int) -> None:
        if not model.finalized:
            model.finalize()
        _require(model, optimizer=True)
        _claim_first_layer(model.layers)
        self.model = model
        self.epochs = check_non_negative_int(epochs, "epochs")
        self.initial_epoch = check_non_negative_int(initial_epoch, "initial_epoch")
        if self.initial_epoch > self.epochs:
            more = max(self.epochs, 1)     # the number the user gave, read as "more epochs"
            raise ValueError(
                f"initial_epoch ({self.initial_epoch}) is after the last epoch "
                f"(epochs={self.epochs}): epochs counts from 0, not from initial_epoch; to "
                f"train {more} more epoch{'s' if more != 1 else ''} after epoch "
                f"{self.initial_epoch}, pass epochs={self.initial_epoch + more}"
            )
        self.batch_size = _check_batch_size(batch_size)
        validation_split = check_real(
            validation_split, "validation_split", low=0.0, high=1.0, high_inclusive=False
        )
        self.verbose = _check_verbose(verbose)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False; got {describe(shuffle)}")
        callback_list = _check_callbacks(callbacks)
        X = model.check_inputs(X)
        y = model.check_targets(y, len(X))
        X_val: Any = None
        y_val: Any = None
        if validation_data is not None:
            X_val, y_val = check_validation_data(model, validation_data)
        elif validation_split > 0:
            n_val = int(len(X) * validation_split)
            if n_val < 1 or n_val >= len(X):
                raise ValueError(
                    f"validation_split={validation_split} leaves {n_val} validation and "
                    f"{len(X) - n_val} training samples out of {len(X)}; both must be >= 1"
                )
            X, X_val = X[:-n_val], X[-n_val:]
            y, y_val = y[:-n_val], y[-n_val:]
        self.X, self.y, self.X_val, self.y_val = X, y, X_val, y_val

        self.history = History()
        model.history = self.history
        self.callbacks = [self.history, *callback_list]
        self.batch_callbacks = [c for c in self.callbacks if _overrides_batch_hooks(c)]
        assert model.accuracy is not None and model.loss is not None
        model.accuracy.init(y)
        self.n = n = len(X)
        self.size = n if self.batch_size is None else min(self.batch_size, n)
        self.steps = math.ceil(n / self.size)
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params({"epochs": self.epochs, "steps": self.steps,
                                 "batch_size": self.size, "samples": n})
        model.stop_training = False
        # The parameters are updated in place, so one list serves the whole fit; ``backup``
        # holds them and the optimizer's state as they were at a recent healthy step
        # (restored if the run diverges, so that the model can be saved and trained on).
        # One buffer per dtype for the packed layers (scratchnn.storage): copying and
        # checking them is one NumPy call each, whatever the number of layers.
        self.storage = storage = model.parameter_storage()
        assert model.optimizer is not None
        slots = model.optimizer.flat_slots(storage)   # the packed layers' slots, as buffers
        self.params = [*storage.parameters.values(),
                       *(param for layer in storage.unpacked for param in layer.parameters())]
        # get_slots creates the zero slots of a fresh optimizer's unpacked layers now, so that
        # they are tracked from the first step; they are updated in place ever after.
        state = [*(array for per_dtype in slots.values() for array in per_dtype.values()),
                 *(array for layer in storage.unpacked
                   for per_parameter in model.optimizer.get_slots(layer)
                   for array in per_parameter.values())]
        self.backup = _Backup(self.params + state, model.optimizer)
        self.loss_limit = _saturated_loss(model.loss, model.n_outputs or 1)
        self.saturated_at_start = False
        self.shuffle = bool(shuffle)
        if self.shuffle:
            self.X_batch = np.empty((self.size, *X.shape[1:]), dtype=X.dtype)
            self.y_batch = np.empty((self.size, *y.shape[1:]), dtype=y.dtype)
        self.bar: _Bar | None = None
        self.updating = False
        self.updated = False                 # whether this fit has made any update yet

    def train(self) -> History:
        """The epochs, with every callback's begin and end; Ctrl-C mid-update rolls back."""
        begun: list[Callback] = []      # on_train_end goes to those whose begin ran
        failed = False
        with np.errstate(all="ignore"):
            try:
                for callback in self.callbacks:
                    callback.on_train_begin({})
                    begun.append(callback)
                for epoch in range(self.initial_epoch, self.epochs):
                    if self.model.stop_training:
                        break
                    self._epoch(epoch)
            except BaseException as error:
                failed = True
                if isinstance(error, KeyboardInterrupt) and self.updating:
                    # Ctrl-C in the middle of an update would leave some layers stepped and
                    # others not: go back to the state from before that update.
                    self.backup.restore()
                raise
            finally:
                if self.bar is not None:
                    self.bar.tqdm.close()   # whatever stopped the run (closing twice is fine)
                _end_training(begun, failed)
        return self.history

    def _epoch(self, epoch: int) -> None:
        """One pass over the batches: each step forward, loss, backward, check, update."""
        model, loss, accuracy = self.model, self.model.loss, self.model.accuracy
        assert loss is not None and accuracy is not None
        X, y, n, size = self.X, self.y, self.n, self.size
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, {})
        started = time.perf_counter()
        self.bar = bar = _progress_bar(self.verbose, self.steps, epoch, self.epochs)
        loss.new_pass()
        accuracy.new_pass()
        order = model.rng.permutation(n) if self.shuffle else None
        first = epoch == self.initial_epoch
        for step in range(self.steps):
            start, stop = step * size, min((step + 1) * size, n)
            if order is not None:
                idx = order[start:stop]
                # mode="clip": the indices are valid by construction, and the default
                # mode="raise" makes take() buffer ``out`` (30% slower).
                xb = np.take(X, idx, axis=0, out=self.X_batch[: stop - start], mode="clip")
                yb = np.take(y, idx, axis=0, out=self.y_batch[: stop - start], mode="clip")
            else:
                xb, yb = X[start:stop], y[start:stop]
            for callback in self.batch_callbacks:
                callback.on_batch_begin(step, {})
            output = model.forward(xb, training=True)
            data_loss = float(loss.calculate(output, yb))
            model.backward(output, yb)
            if first and step == 0 and data_loss > self.loss_limit:
                # Saturated before any update (badly scaled inputs or weights): give the
                # first epoch to come down before judging.
                self.saturated_at_start = True
            limit = math.inf if self.saturated_at_start and first else self.loss_limit
            if not math.isfinite(data_loss) or (
                # One confidently wrong small batch is noise; an epoch's running mean at
                # the clip ceiling (over >= 32 samples) is divergence.
                data_loss > limit
                and loss.accumulated_count >= min(32, n)
                and loss.calculate_accumulated() > limit
            ):
                self.backup.restore()
                if bar is not None:
                    bar.tqdm.close()
                raise TrainingDivergedError(_diverged_message(
                    epoch, step, data_loss, model.optimizer, updated=self.updated
                ))
            # Accuracy and the penalty of the weights that gave this loss, as the book's
            # step lines show them: measured before the update.
            batch_accuracy = accuracy.calculate(model.layers[-1].predictions(output), yb)
            report = self.batch_callbacks or (bar is not None and bar.due(step))
            if report:
                regularization = loss.regularization_loss()
            self.backup.before_update()
            self.updating = True
            model.update(self.storage)
            self.updating = False
            self.updated = True
            if report:
                self._report(step, data_loss, regularization, batch_accuracy)
        self._end_epoch(epoch, started)

    def _report(self, step: int, data_loss: float, regularization: float,
                batch_accuracy: float) -> None:
        """The batch's logs for the batch callbacks, and the bar's running means."""
        model, bar = self.model, self.bar
        assert model.loss is not None and model.accuracy is not None
        logs = {
            "loss": data_loss + regularization,
            "data_loss": data_loss,
            "regularization_loss": regularization,
            "accuracy": batch_accuracy,
            "learning_rate": _learning_rate(model),
        }
        for callback in self.batch_callbacks:
            callback.on_batch_end(step, logs)
        if bar is not None and bar.due(step):
            # The bar shows the epoch's running means, as Keras's does: one batch's loss
            # and accuracy jump about.
            bar.show(step, {
                "loss": model.loss.calculate_accumulated() + regularization,
                "accuracy": model.accuracy.calculate_accumulated(),
                "learning_rate": logs["learning_rate"],
            })

    def _end_epoch(self, epoch: int, started: float) -> None:
        """Parameters still finite, the epoch's logs and validation, the progress line."""
        model = self.model
        if not all(all_finite(param) for param in self.params):
            # The last update of the epoch overflowed (no loss has seen it yet).
            self.backup.restore()
            raise TrainingDivergedError(_diverged_message(
                epoch, self.steps - 1, math.nan, model.optimizer, parameters=True
            ))
        logs = _epoch_logs(model)
        if self.X_val is not None:
            val = _evaluate(model, self.X_val, self.y_val, self.batch_size)
            logs["val_loss"], logs["val_accuracy"] = val["loss"], val["accuracy"]
        if self.bar is not None:
            self.bar.close(logs)
        if self.verbose == 2:
            print(format_epoch_line(epoch, self.epochs, time.perf_counter() - started, logs),
                  file=sys.stdout, flush=True)
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)


def evaluate(
    model: Model, X: Any, y: Any, *, batch_size: int | None = None, verbose: int = 1
) -> dict[str, float]:
    """:meth:`Model.evaluate <scratchnn.Model.evaluate>`: mean data loss and accuracy."""
    if not model.finalized:
        model.finalize()
    _require(model, optimizer=False)
    batch_size = _check_batch_size(batch_size)
    verbose = _check_verbose(verbose)
    X = model.check_inputs(X)
    y = model.check_targets(y, len(X))
    assert model.accuracy is not None
    if getattr(model.accuracy, "precision", False) is None:
        model.accuracy.init(y)        # a RegressionAccuracy that has not seen targets yet
    result = _evaluate(model, X, y, batch_size)
    if verbose:
        print(f"evaluation - loss: {result['loss']:.4f} - accuracy: {result['accuracy']:.4f}")
    return result


def predict(model: Model, X: Any, *, batch_size: int | None = None) -> Array:
    """:meth:`Model.predict <scratchnn.Model.predict>`: the outputs, batch by batch."""
    batch_size = _check_batch_size(batch_size)
    X = model.check_inputs(X)
    size = len(X) if batch_size is None else batch_size
    if size >= len(X):
        with np.errstate(all="ignore"):
            return model.forward(X, training=False).copy()
    assert model.output_shape is not None
    outputs = np.empty((len(X), *model.output_shape), dtype=model.dtype)
    with np.errstate(all="ignore"):
        for start in range(0, len(X), size):
            outputs[start:start + size] = model.forward(X[start:start + size], False)
    return outputs


def _evaluate(model: Model, X: Array, y: Array, batch_size: int | None) -> dict[str, float]:
    loss, accuracy = model.loss, model.accuracy
    assert loss is not None and accuracy is not None
    # The running sums belong to a fit that may be under way (a callback evaluating
    # mid-epoch): put them back afterwards.
    metrics: tuple[Any, ...] = (loss, accuracy)
    saved = [(metric.accumulated_sum, metric.accumulated_count) for metric in metrics]
    loss.new_pass()
    accuracy.new_pass()
    size = len(X) if batch_size is None else batch_size
    try:
        with np.errstate(all="ignore"):
            for start in range(0, len(X), size):
                xb, yb = X[start:start + size], y[start:start + size]
                output = model.forward(xb, training=False)
                loss.calculate(output, yb)
                accuracy.calculate(model.layers[-1].predictions(output), yb)
        return {
            "loss": float(loss.calculate_accumulated()),
            "accuracy": float(accuracy.calculate_accumulated()),
        }
    finally:
        for metric, (total, count) in zip(metrics, saved, strict=True):
            metric.accumulated_sum, metric.accumulated_count = total, count


def check_validation_data(model: Model, validation_data: Any) -> tuple[Any, Any]:
    """``(X_val, y_val)`` checked as ``fit`` checks its training data (a pair, then
    ``model.check_inputs`` and ``model.check_targets``)."""
    X_val, y_val = _unpack_validation(validation_data)
    X_val = model.check_inputs(X_val, "validation_data[0] (X_val)")
    y_val = model.check_targets(y_val, len(X_val), "validation_data[1] (y_val)")
    return X_val, y_val


def _learning_rate(model: Model) -> float:
    assert model.optimizer is not None
    return float(model.optimizer.current_learning_rate)


def _epoch_logs(model: Model) -> dict[str, float]:
    assert model.loss is not None and model.accuracy is not None
    data_loss = float(model.loss.calculate_accumulated())
    regularization = float(model.loss.regularization_loss())
    return {
        "loss": data_loss + regularization,
        "data_loss": data_loss,
        "regularization_loss": regularization,
        "accuracy": float(model.accuracy.calculate_accumulated()),
        "learning_rate": _learning_rate(model),
    }


def _require(model: Model, *, optimizer: bool) -> None:
    if model.loss is None:
        raise ValueError("the model has no loss; set one, e.g. model.set(loss=...)")
    if optimizer and model.optimizer is None:
        raise ValueError("the model has no optimizer; set one, e.g. model.set(optimizer=...)")


def _claim_first_layer(layers: list[Layer]) -> None:
    """Nobody needs d(loss)/d(X): the first layer may skip computing it (Dense skips a
    matrix product). Set at every fit, since a layer shared with another model may have
    been told otherwise there."""
    for layer in layers:
        layer.needs_dinputs = layer is not layers[0]


def _check_batch_size(batch_size: Any) -> int | None:
    return None if batch_size is None else check_positive_int(batch_size, "batch_size")


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

    def __init__(self, arrays: list[Array], optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.live = arrays     # parameters and slots: one buffer per dtype when packed
        self.saved = [array.copy() for array in self.live]
        self.updates = 0
        self._take_scalars()

    def _take_scalars(self) -> None:
        # learning_rate too: a LearningRateScheduler may have changed it since (and
        # ReduceLROnPlateau the scale).
        optimizer = self.optimizer
        self.scalars = (optimizer.iterations, optimizer.current_learning_rate,
                        optimizer.learning_rate, optimizer.learning_rate_scale)

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
         optimizer.learning_rate, optimizer.learning_rate_scale) = self.scalars


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
