"""Callbacks: code that runs at fixed points of :meth:`scratchnn.Model.fit`.

Subclass :class:`Callback` and override any of its hooks. ``logs`` is a dict of floats: per
batch ``loss``, ``data_loss``, ``regularization_loss``, ``accuracy`` and ``learning_rate``;
per epoch the same over the whole epoch, plus ``val_loss`` and ``val_accuracy`` with
validation data. Set ``self.model.stop_training = True`` to stop after the current epoch.

>>> class PrintLoss(Callback):
...     def on_epoch_end(self, epoch, logs):
...         print(f"epoch {epoch}: loss {logs['loss']:.3f}")
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import check_non_negative_int, check_real, describe
from .schedules import Schedule

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
]

Logs = dict[str, float]


class Callback:
    """Base class: every hook does nothing until overridden."""

    model: Model
    #: What the run is, set by ``fit`` before ``on_train_begin``: ``epochs``, ``steps``
    #: (per epoch), ``batch_size`` and ``samples`` (training samples per epoch).
    params: dict[str, Any] = {}

    def set_model(self, model: Model) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """After the last epoch (also after an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Before the first batch of ``epoch`` (counted from 0)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """After ``epoch`` and its validation; ``logs`` holds the epoch's metrics."""

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Before the training step on batch number ``batch`` of the epoch."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After the parameters were updated with batch number ``batch``.

        ``logs`` holds this batch's own loss and accuracy (measured before the update, as the
        book's step lines show them); the progress bar shows the epoch's running means.
        """


class History(Callback):
    """Records every epoch's logs; :meth:`Model.fit` returns one.

    ``history`` maps each metric name to its list of per-epoch values, ready to plot.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if "acc" in monitor else "min"


def _monitored(callback: str, monitor: str, logs: Logs | None) -> float:
    """``logs[monitor]``, or a ValueError listing what this training does log."""
    logs = logs or {}
    if monitor not in logs:
        raise ValueError(
            f"{callback} monitors {monitor!r}, which this training does not log; "
            f"available: {', '.join(sorted(logs))}"
            + (" (val_* metrics need validation_data or validation_split)"
               if monitor.startswith("val_") else "")
        )
    return logs[monitor]


def _worst(mode: str) -> float:
    """The starting "best" value: anything logged improves on it."""
    return math.inf if mode == "min" else -math.inf


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the model ends with the parameters of its best epoch
    (whenever training ends after a worse epoch, early stop or not).

    Parameters
    ----------
    monitor : str
        A key of the epoch logs: ``"val_loss"`` (default), ``"loss"``, ``"val_accuracy"``...
    patience : int
        Epochs without improvement tolerated before stopping.
    min_delta : float
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` picks "max" for accuracies.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a metric name (str); got {describe(monitor)}")
        self.monitor = monitor
        self.patience = check_non_negative_int(patience, "patience")
        self.min_delta = abs(check_real(min_delta, "min_delta"))
        self.mode = _mode_for(monitor, mode)
        self.restore_best_weights = bool(restore_best_weights)
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.best = _worst(self.mode)
        self.best_epoch: int | None = None
        self.best_parameters: list[list[np.ndarray]] | None = None
        self.stopped_epoch = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = _monitored("EarlyStopping", self.monitor, logs)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_parameters = self.model.get_parameters()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_parameters is not None:
            self.model.set_parameters(self.best_parameters)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving (as Keras's).

    After ``patience`` epochs in a row without an improvement by more than ``min_delta``,
    the optimizer's ``learning_rate_scale`` is multiplied by ``factor``, so the rate its
    decay or schedule gives is scaled from the next update on; then ``cooldown`` epochs pass
    before counting again. The rate never goes below ``min_learning_rate`` (at the time of
    the reduction). The scale is saved in model files, so a resumed ``fit`` goes on at the
    reduced rate; this callback's own counters start afresh, as Keras's do.

    Parameters
    ----------
    monitor : str
        A key of the epoch logs: ``"val_loss"`` (default), ``"loss"``...
    factor : float
        In (0, 1): ``new rate = rate * factor``.
    patience : int
        Epochs without improvement before a reduction.
    min_delta : float
        Smallest change that counts as an improvement.
    cooldown : int
        Epochs after a reduction during which no epoch counts as one without improvement.
    min_learning_rate : float
        Lower bound on the rate.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` picks "max" for accuracies.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_learning_rate: float = 0.0,
        *,
        mode: str = "auto",
    ) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a metric name (str); got {describe(monitor)}")
        self.monitor = monitor
        self.factor = check_real(factor, "factor", low=0.0, high=1.0, low_inclusive=False,
                                 high_inclusive=False)
        self.patience = check_non_negative_int(patience, "patience")
        self.min_delta = abs(check_real(min_delta, "min_delta"))
        self.cooldown = check_non_negative_int(cooldown, "cooldown")
        self.min_learning_rate = check_real(min_learning_rate, "min_learning_rate", low=0.0)
        self.mode = _mode_for(monitor, mode)
        self.reductions: list[int] = []    # the epochs after which the rate was reduced

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.cooldown_counter = 0
        self.best = _worst(self.mode)
        self.reductions = []

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = _monitored("ReduceLROnPlateau", self.monitor, logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                if self._reduce():
                    self.reductions.append(epoch)
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def _reduce(self) -> bool:
        """Scale the optimizer's rate by ``factor`` (not below the minimum); whether it did."""
        optimizer = self.model.optimizer
        assert optimizer is not None
        rate = optimizer.current_learning_rate
        if not rate > self.min_learning_rate:
            return False
        scale = optimizer.learning_rate_scale * self.factor
        if rate * self.factor < self.min_learning_rate:
            scale = optimizer.learning_rate_scale * (self.min_learning_rate / rate)
        optimizer.learning_rate_scale = scale
        optimizer.current_learning_rate = optimizer._scheduled_rate()
        return True


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate before each epoch from ``schedule``.

    ``schedule(epoch)`` or ``schedule(epoch, learning_rate)`` returns the new base rate
    (the book's decay still applies on top of it).

    >>> halve_every_10 = LearningRateScheduler(
    ...     lambda epoch, lr: lr / 2 if epoch and epoch % 10 == 0 else lr
    ... )
    """

    def __init__(self, schedule: Callable[..., float]) -> None:
        if not callable(schedule):
            raise TypeError(f"schedule must be callable; got {describe(schedule)}")
        self.schedule = schedule
        self._takes_rate = _takes_two_positional(schedule)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = self.model.optimizer
        assert optimizer is not None
        if isinstance(optimizer.learning_rate, Schedule):
            raise ValueError(
                "LearningRateScheduler sets a constant base rate, but the optimizer's "
                f"learning_rate is the schedule {optimizer.learning_rate!r}: use one or the other"
            )
        if self._takes_rate:
            new_rate = self.schedule(epoch, optimizer.learning_rate)
        else:
            new_rate = self.schedule(epoch)
        optimizer.learning_rate = check_real(
            new_rate, f"the learning rate schedule returned for epoch {epoch}", low=0.0,
            low_inclusive=False,
        )
        optimizer.current_learning_rate = optimizer._scheduled_rate()


def _takes_two_positional(function: Callable[..., Any]) -> bool:
    """Whether ``function(epoch, rate)`` works: two positional parameters, or ``*args``.

    Keyword-only parameters (``def s(epoch, *, verbose=False)``) and arguments bound by
    ``functools.partial`` by keyword do not count.
    """
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (inspect.Parameter.POSITIONAL_ONLY,
                              inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


class CSVLogger(Callback):
    """Write one row of epoch logs per epoch to a CSV file (flushed every epoch).

    Parameters
    ----------
    path : str or os.PathLike
        The file; created or overwritten (or appended to with ``append=True``).
    separator : str, default ","
        One character between the fields.
    append : bool, default False
        Add rows to an existing file (resuming a run). Its header decides the columns: a
        metric it lacks stops the run at the end of the first epoch (ValueError) before any
        row is written out of place, and a column the new run does not log is left empty.
    """

    def __init__(self, path: str | os.PathLike[str], *, separator: str = ",",
                 append: bool = False) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike; got {describe(path)}")
        if not isinstance(separator, str) or len(separator) != 1 or separator in "\r\n\"":
            raise ValueError(
                f"separator must be one character such as ',' or ';' (not a quote or line "
                f"break); got {describe(separator)}"
            )
        self.path = os.fspath(path)
        self.separator = separator
        self.append = bool(append)
        self._file: Any = None
        self._writer: Any = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        import csv  # only CSVLogger needs it: kept out of import scratchnn

        self._keys = None
        self._has_header = False
        if self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, newline="") as existing:
                header = next(csv.reader(existing, delimiter=self.separator), [])
            if not header or header[0] != "epoch":
                raise ValueError(
                    f"CSVLogger(append=True): {self.path} does not start with the header this "
                    f"logger writes (epoch{self.separator}...); got {header[:3]!r}. Append to a "
                    "file an earlier CSVLogger wrote, or give a new path"
                )
            self._keys, self._has_header = header, True
        self._file = open(self.path, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self._keys is None:
            self._keys = ["epoch", *sorted(logs)]
        if not self._has_header:
            self._writer.writerow(self._keys)
            self._has_header = True
        extra = sorted(set(logs) - set(self._keys))
        if extra:
            raise ValueError(
                f"CSVLogger: the logs now hold {extra}, which {self.path}'s columns "
                f"({', '.join(self._keys)}) do not have; rows would no longer match the "
                "header. Log to a new file, or append only runs that log the same metrics"
            )
        self._writer.writerow([epoch] + [logs.get(key, "") for key in self._keys[1:]])
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class ModelCheckpoint(Callback):
    """Save the whole model to ``path`` after each epoch, or only when ``monitor`` improves.

    Each save is atomic (a temp file renamed over ``path``, see :mod:`scratchnn.io`), so the
    file on disk is always a complete model, and a model with NaN parameters is never written
    (ValueError). The file resumes training exactly: :func:`scratchnn.load_model` then ``fit``.

    Parameters
    ----------
    path : str or os.PathLike
        The model file, overwritten at each save.
    monitor : str
        With ``save_best_only``, a key of the epoch logs: ``"val_loss"`` (default), ``"loss"``,
        ``"val_accuracy"``...
    save_best_only : bool
        Save only when ``monitor`` is better than at every earlier save (kept across ``fit``
        calls), instead of after every epoch.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` picks "max" for accuracies.
    initial_value_threshold : float, optional
        With ``save_best_only``, the value to beat before the first save. When resuming in a
        new process from the best file, pass the best value so far, so that a worse first
        epoch does not overwrite it (a new ModelCheckpoint otherwise starts from the worst).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        initial_value_threshold: float | None = None,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike; got {describe(path)}")
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a metric name (str); got {describe(monitor)}")
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.mode = _mode_for(monitor, mode)
        self.best = _worst(self.mode)
        if initial_value_threshold is not None:
            self.best = check_real(initial_value_threshold, "initial_value_threshold")
        self.saved_epochs: list[int] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        # Checked now, not after the first epoch's training.
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"ModelCheckpoint cannot save {self.path!r}: the folder {folder!r} does not "
                "exist; create it first"
            )
        if os.path.isdir(self.path):
            raise IsADirectoryError(
                f"ModelCheckpoint path {self.path!r} is a folder; give a file name"
            )

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        from .io import save_model

        if self.save_best_only:
            value = _monitored("ModelCheckpoint", self.monitor, logs)
            better = value < self.best if self.mode == "min" else value > self.best
            if not (math.isfinite(value) and better):
                return
            self.best = value
        save_model(self.model, self.path)
        self.saved_epochs.append(epoch)
