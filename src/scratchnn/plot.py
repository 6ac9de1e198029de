"""See it learn: figures of training curves, decision boundaries, confusions and images.

Every function builds and returns a :class:`matplotlib.figure.Figure` through the
object-oriented API: nothing here imports ``matplotlib.pyplot``, chooses a backend or calls
``show()``, so a script's own plotting is left as it was. Save a figure with
``fig.savefig("name.png")``; in a notebook, run ``%matplotlib inline`` once and a figure
left as the last expression of a cell is drawn below it.

matplotlib is an optional dependency: ``pip install 'scratchnn[plot]'``.

Examples
--------
>>> from scratchnn.plot import plot_history
>>> fig = plot_history({"loss": [1.0, 0.6, 0.4], "accuracy": [0.3, 0.6, 0.8]})
>>> [ax.get_title() for ax in fig.axes]
['Loss', 'Accuracy']
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ._typing import Array
from ._validation import as_float_array, check_finite, check_positive_int, describe

try:
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
except ImportError as error:  # raised at import so the missing extra is named at once
    raise ModuleNotFoundError(
        "scratchnn.plot needs matplotlib, which is not installed: "
        "pip install 'scratchnn[plot]'",
        name="matplotlib",
    ) from error

__all__ = [
    "confusion_matrix",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_history",
    "plot_images",
    "save_training_plot",
]

PathLike = str | os.PathLike[str]

# One light colour per class for the regions, the same hue, darker, for the points.
_PALETTE = "tab10"
_REGION_ALPHA = 0.35


class _ClassPredictor(Protocol):
    def predict_classes(self, X: Array) -> Any: ...


# -- training curves -------------------------------------------------------------------------


def plot_history(history: Any) -> Figure:
    """Loss and accuracy per epoch, training against validation when it was measured.

    Parameters
    ----------
    history : scratchnn.callbacks.History or dict of str to list of float
        What :meth:`scratchnn.Model.fit` returns, or its ``.history`` dict. Needs ``"loss"``;
        ``"accuracy"``, ``"val_loss"`` and ``"val_accuracy"`` are drawn when present.

    Returns
    -------
    matplotlib.figure.Figure
        One axes for the loss and, with accuracies, one for the accuracy.

    Raises
    ------
    TypeError
        If ``history`` is neither a History nor a dict of lists.
    ValueError
        If there is no ``"loss"`` or the series are empty or of different lengths.
    """
    curves, epochs = _check_history(history)
    panels = ["loss"] + (["accuracy"] if "accuracy" in curves else [])
    fig = Figure(figsize=(5.0 * len(panels), 4.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, key in zip(axes, panels, strict=True):
        _draw_curves(ax, curves, epochs, key)
    return fig


def _check_history(history: Any) -> tuple[dict[str, Array], Array]:
    """The curves of ``history`` as float arrays, and the epoch numbers (1-based)."""
    record = getattr(history, "history", history)
    if not isinstance(record, Mapping):
        raise TypeError(
            "history must be the History returned by Model.fit or its .history dict; "
            f"got {describe(history)}"
        )
    if "loss" not in record:
        raise ValueError(
            f"history has no 'loss' to plot; its keys are {sorted(record)}. "
            "Pass what Model.fit returned"
        )
    curves: dict[str, Array] = {}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in record and record[key] is not None:
            values = as_float_array(record[key], f"history[{key!r}]", np.float64)
            if values.ndim != 1 or values.size == 0:
                raise ValueError(
                    f"history[{key!r}] must be a non-empty list of numbers, one per epoch; "
                    f"got shape {values.shape}"
                )
            curves[key] = values
    n_epochs = len(curves["loss"])
    for key, values in curves.items():
        if len(values) != n_epochs:
            raise ValueError(
                f"history[{key!r}] has {len(values)} values but history['loss'] has "
                f"{n_epochs}; every series needs one value per epoch"
            )
    # History.epoch numbers the epochs from 0 (it continues after an earlier fit); a plain
    # dict has none, so its epochs are counted from the start.
    recorded = getattr(history, "epoch", None)
    epochs = np.arange(n_epochs) if recorded is None else np.asarray(recorded)
    if epochs.shape != (n_epochs,) or epochs.dtype.kind not in "iu":
        epochs = np.arange(n_epochs)
    return curves, epochs.astype(np.int64) + 1


def _draw_curves(ax: Any, curves: dict[str, Array], epochs: Array, key: str) -> None:
    marker = "o" if len(epochs) <= 30 else None   # dots help read a short run epoch by epoch
    ax.plot(epochs, curves[key], marker=marker, markersize=3, label="training")
    if f"val_{key}" in curves:
        ax.plot(epochs, curves[f"val_{key}"], marker=marker, markersize=3, label="validation")
        ax.legend()
    ax.set_title(key.capitalize())
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)


# -- decision boundary -----------------------------------------------------------------------


def plot_decision_boundary(
    model: _ClassPredictor, X: Any, y: Any, *, resolution: int = 200
) -> Figure:
    """The class the model predicts at every point of the plane, with the data on top.

    Parameters
    ----------
    model : object with ``predict_classes(X)``
        E.g. a trained :class:`scratchnn.Model`; called once on a
        ``(resolution**2, 2)`` grid and must return one class id per row.
    X : array_like, shape (n_samples, 2)
        Points, e.g. from :func:`scratchnn.datasets.spiral_data`.
    y : array_like, shape (n_samples,) or (n_samples, n_classes)
        Integer labels, or one-hot rows.
    resolution : int, default 200
        Grid points along each axis.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        If ``model`` has no ``predict_classes`` or the arrays are not numeric.
    ValueError
        If ``X`` is not 2-D with two features, ``y`` does not match it, or the model does not
        return one integer class per grid point.
    """
    fig = Figure(figsize=(5.5, 5.0), layout="constrained")
    _draw_decision_boundary(fig.add_subplot(), model, X, y, resolution)
    return fig


def _draw_decision_boundary(ax: Any, model: Any, X: Any, y: Any, resolution: int) -> None:
    predict = _check_model(model)
    points = _check_points(X)
    labels = _check_labels(y, "y", len(points))
    resolution = check_positive_int(resolution, "resolution")

    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.05 * np.maximum(high - low, 1e-3)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution, dtype=np.float32)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution, dtype=np.float32)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    regions = _check_predictions(predict(grid), len(grid), "the grid")
    regions = regions.reshape(resolution, resolution)

    n_classes = int(max(labels.max(initial=0), regions.max(initial=0))) + 1
    colours = _class_colours(n_classes)
    ax.imshow(
        regions,
        origin="lower",
        extent=(xs[0], xs[-1], ys[0], ys[-1]),
        aspect="auto",
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=n_classes - 0.5,
        alpha=_REGION_ALPHA,
        interpolation="nearest",
    )
    ax.scatter(
        points[:, 0],
        points[:, 1],
        c=labels,
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=n_classes - 0.5,
        s=12,
        edgecolors="black",
        linewidths=0.3,
    )
    accuracy = float(np.mean(_check_predictions(predict(points), len(points), "X") == labels))
    ax.set_title(f"Decision boundary (accuracy {accuracy:.1%})")
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")


def _class_colours(n_classes: int) -> Array:
    """``n_classes`` distinct RGBA colours (tab10, then evenly spaced hues beyond ten)."""
    if n_classes <= 10:
        return np.asarray(colormaps[_PALETTE](np.arange(n_classes)))   # ints index the table
    return np.asarray(colormaps["hsv"](np.linspace(0, 1, n_classes, endpoint=False)))


# -- confusion matrix ------------------------------------------------------------------------


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None) -> Array:
    """Counts of each (true class, predicted class) pair.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n_samples,)
        Integer class ids (``y_true`` may also be one-hot).
    n_classes : int, optional
        Size of the matrix; by default one more than the largest class seen.

    Returns
    -------
    numpy.ndarray, shape (n_classes, n_classes), int64
        Row ``i``, column ``j``: samples of class ``i`` predicted as ``j``; the diagonal is
        what the model got right.

    Examples
    --------
    >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2])
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """
    truth = _check_labels(y_true, "y_true", None)
    predicted = _check_labels(y_pred, "y_pred", len(truth))
    seen = int(max(truth.max(initial=0), predicted.max(initial=0))) + 1
    if n_classes is None:
        n_classes = seen
    n_classes = check_positive_int(n_classes, "n_classes")
    if seen > n_classes:
        raise ValueError(f"class id {seen - 1} found but n_classes is {n_classes}")
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (truth, predicted), 1)   # add.at counts repeated pairs; += would not
    return counts


def plot_confusion_matrix(
    model: _ClassPredictor, X: Any, y: Any, class_names: Sequence[str] | None = None
) -> Figure:
    """Which classes the model confuses: true class down, predicted class across.

    Parameters
    ----------
    model : object with ``predict_classes(X)``
        Returns one class id per row of ``X``.
    X : array_like, shape (n_samples, n_features)
        Inputs the model accepts (e.g. flattened, scaled images).
    y : array_like, shape (n_samples,) or (n_samples, n_classes)
        True labels, integer or one-hot.
    class_names : sequence of str, optional
        Names for the axes, e.g. :data:`scratchnn.datasets.FASHION_MNIST_CLASSES`.

    Returns
    -------
    matplotlib.figure.Figure
        Cells coloured by count, each labelled with its count; the title gives the accuracy.

    Raises
    ------
    TypeError
        If ``model`` has no ``predict_classes`` or ``class_names`` is not a list of str.
    ValueError
        If ``y`` does not match ``X``, a class id has no name, or the model does not return
        one integer class per sample.
    """
    predict = _check_model(model)
    n_samples = len(X) if hasattr(X, "__len__") else None
    labels = _check_labels(y, "y", n_samples)
    names = _check_class_names(class_names)
    predicted = _check_predictions(predict(X), len(labels), "X")
    n_classes = len(names) if names else None
    seen = int(max(labels.max(initial=0), predicted.max(initial=0))) + 1
    if n_classes is not None and seen > n_classes:
        raise ValueError(
            f"class id {seen - 1} found but class_names has only {n_classes} names"
        )
    counts = confusion_matrix(labels, predicted, n_classes)
    n_classes = len(counts)
    names = names or [str(index) for index in range(n_classes)]

    side = max(4.0, 0.6 * n_classes + 2.5)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="samples")
    threshold = counts.max() / 2
    for row in range(n_classes):
        for column in range(n_classes):
            ax.text(
                column,
                row,
                str(counts[row, column]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if counts[row, column] > threshold else "black",
            )
    ticks = np.arange(n_classes)
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"Confusion matrix (accuracy {accuracy:.1%})")
    return fig


# -- images ----------------------------------------------------------------------------------


def plot_images(
    X: Any,
    y: Any,
    predictions: Any = None,
    class_names: Sequence[str] | None = None,
    *,
    max_images: int = 25,
) -> Figure:
    """A grid of greyscale images titled with their class (and the model's guess).

    Parameters
    ----------
    X : array_like, shape (n, 28, 28) or (n, 784)
        Images, raw (0..255) or scaled (-1..1); flat rows must have a square number of pixels.
    y : array_like, shape (n,) or (n, n_classes)
        True labels, integer or one-hot.
    predictions : array_like, shape (n,), (n, 1) or (n, n_classes), optional
        Predicted class ids, or probabilities (the most probable class is shown; a single
        sigmoid column counts as class 1 above 0.5). Titles
        then read ``"guess (true)"``, green when right and red when wrong.
    class_names : sequence of str, optional
        Name of each class id; by default the ids themselves.
    max_images : int, default 25
        Only the first ``max_images`` images are drawn.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        If an argument is not numeric or ``class_names`` is not a list of str.
    ValueError
        If the shapes do not match or a class id has no name.
    """
    images = as_float_array(X, "X", np.float64)
    check_finite(images, "X")
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1] or side == 0:
            raise ValueError(
                f"X rows hold {images.shape[1]} values, not a square image; pass X shaped "
                "(n, height, width) or flat rows such as (n, 784)"
            )
        images = images.reshape(len(images), side, side)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(
            f"X must be images shaped (n, height, width) or (n, height * width) with n >= 1; "
            f"got shape {images.shape}"
        )
    labels = _check_labels(y, "y", len(images))
    guesses = None
    if predictions is not None:
        guesses = _check_labels(predictions, "predictions", len(images), probabilities=True)
    names = _check_class_names(class_names)
    if names:
        largest = int(max(labels.max(), guesses.max() if guesses is not None else 0))
        if largest >= len(names):
            raise ValueError(
                f"class id {largest} found but class_names has only {len(names)} names"
            )

    def name(label: int) -> str:
        return names[label] if names else str(label)

    count = min(len(images), check_positive_int(max_images, "max_images"))
    columns = min(count, 5)
    rows = math.ceil(count / columns)
    fig = Figure(figsize=(2.0 * columns, 2.2 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    # One grey scale for all images, so that a brighter image really is brighter.
    low, high = float(images[:count].min()), float(images[:count].max())
    for index, ax in enumerate(axes):
        ax.set_axis_off()
        if index >= count:
            continue
        ax.imshow(images[index], cmap="gray", vmin=low, vmax=max(high, low + 1e-6))
        truth = int(labels[index])
        if guesses is None:
            ax.set_title(name(truth), fontsize=9)
        else:
            guess = int(guesses[index])
            colour = "tab:green" if guess == truth else "tab:red"
            ax.set_title(f"{name(guess)} ({name(truth)})", fontsize=9, color=colour)
    return fig


# -- for the command line --------------------------------------------------------------------


def check_picture_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, refused (ValueError) unless its suffix is a format matplotlib writes."""
    target = Path(path)
    formats = Figure().canvas.get_supported_filetypes()
    if target.suffix.lower().lstrip(".") not in formats:
        raise ValueError(
            f"path must end in a picture format matplotlib writes ({', '.join(sorted(formats))});"
            f" got {str(target)!r}"
        )
    return target


def save_training_plot(
    history: Any,
    path: PathLike,
    *,
    model: _ClassPredictor | None = None,
    X: Any = None,
    y: Any = None,
) -> Path:
    """Save the training curves, with the decision boundary beside them for 2-D data.

    This is what ``scratchnn train --plot FILE.png`` writes.

    Parameters
    ----------
    history : scratchnn.callbacks.History or dict
        As for :func:`plot_history`.
    path : str or os.PathLike
        Where to write; the suffix picks the format (``.png``, ``.svg``, ``.pdf``, ...).
    model, X, y : optional
        A model with ``predict_classes`` and its data. When all three are given and ``X`` has
        two features, the decision boundary is drawn as a third panel; otherwise only the
        curves are drawn.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        If the suffix is not a format matplotlib writes, or an argument is invalid as in
        :func:`plot_history` and :func:`plot_decision_boundary`.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    """
    target = check_picture_path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot write {target}: the folder {target.parent} does not exist")
    fig = Figure(layout="constrained")

    curves, epochs = _check_history(history)
    panels = ["loss"] + (["accuracy"] if "accuracy" in curves else [])
    with_boundary = model is not None and X is not None and y is not None and _is_2d(X)
    width = 5.0 * len(panels) + (5.5 if with_boundary else 0.0)
    fig.set_size_inches(width, 4.5)
    axes = fig.subplots(1, len(panels) + int(with_boundary), squeeze=False)[0]
    for ax, key in zip(axes, panels, strict=False):
        _draw_curves(ax, curves, epochs, key)
    if with_boundary:
        _draw_decision_boundary(axes[-1], model, X, y, resolution=200)
    fig.savefig(target, dpi=100)
    return target


def _is_2d(X: Any) -> bool:
    shape = np.shape(X)
    return len(shape) == 2 and shape[1] == 2


# -- argument checks shared above ------------------------------------------------------------


def _check_model(model: Any) -> Any:
    predict = getattr(model, "predict_classes", None)
    if not callable(predict):
        raise TypeError(
            f"model must have a predict_classes(X) method, like scratchnn.Model; got "
            f"{describe(model)}"
        )
    return predict


def _check_points(X: Any) -> Array:
    points = as_float_array(X, "X", np.float32)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(
            f"X must be 2-D points shaped (n_samples, 2) to draw a decision boundary; got "
            f"shape {points.shape}"
        )
    check_finite(points, "X")
    return points


def _check_labels(
    y: Any, name: str, n_samples: int | None, *, probabilities: bool = False
) -> Array:
    """Class ids (n,) from integer labels, a (n, 1) column or one-hot/probability rows."""
    values = np.asarray(y)
    if values.dtype.kind not in "iubf":
        raise TypeError(f"{name} must hold class ids (integers); got dtype {values.dtype}")
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
        if probabilities and values.dtype.kind == "f" and np.any(values % 1):
            # One sigmoid output per sample: the probability of class 1.
            values = (values > 0.5).astype(np.int64)
    elif values.ndim == 2:
        values = np.argmax(values, axis=1)   # one-hot labels or predicted probabilities
    kind = "probabilities" if probabilities else "one-hot rows"
    if values.ndim != 1:
        raise ValueError(
            f"{name} must be class ids shaped (n_samples,) or {kind} shaped "
            f"(n_samples, n_classes); got shape {np.shape(y)}"
        )
    if n_samples is not None and len(values) != n_samples:
        raise ValueError(f"{name} has {len(values)} labels but there are {n_samples} samples")
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise ValueError(f"{name} must hold whole-number class ids; got fractional values")
    if values.size and values.min() < 0:
        raise ValueError(f"{name} must hold class ids >= 0; got {values.min()}")
    return values.astype(np.int64)


def _check_predictions(predictions: Any, n_samples: int, on: str) -> Array:
    values = np.asarray(predictions)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.shape != (n_samples,):
        raise ValueError(
            f"model.predict_classes on {on} returned shape {np.shape(predictions)}; expected "
            f"({n_samples},): one class id per sample"
        )
    if values.dtype.kind == "f" and np.any(values != np.round(values)):
        raise ValueError(
            f"model.predict_classes on {on} returned fractional values; these plots need a "
            "classifier (Softmax or Sigmoid output), not a regression model"
        )
    if values.dtype.kind not in "iubf" or (values.size and values.min() < 0):
        raise ValueError(f"model.predict_classes on {on} must return class ids >= 0")
    return values.astype(np.int64)


def _check_class_names(class_names: Sequence[str] | None) -> list[str]:
    if class_names is None:
        return []
    if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
        raise TypeError(
            f"class_names must be a list of str, one per class; got {describe(class_names)}"
        )
    return list(class_names)
