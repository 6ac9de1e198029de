"""The book's toy datasets: spirals, vertical clusters and a sine wave.

They follow the ``nnfs`` package (``nnfs.datasets``) formula for formula, so that a
:class:`numpy.random.RandomState` seeded with 0 reproduces the book's numbers after
``np.random.seed(0)``; any other generator gives the same shapes from other draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnn._random import RandomLike, check_random_state, standard_normal
from scratchnn._validation import check_positive_int

__all__ = ["sine_data", "spiral_data", "vertical_data"]

# Labels are stored as uint8, as in the book, so at most 256 classes fit.
_MAX_CLASSES = int(np.iinfo(np.uint8).max) + 1


def _check_classes(classes: object) -> int:
    """``classes`` as an int in 1..256 (labels are uint8), else an error naming it."""
    number = check_positive_int(classes, "classes")
    if number > _MAX_CLASSES:
        raise ValueError(
            f"classes must be at most {_MAX_CLASSES} (labels are uint8); got {number}"
        )
    return number


def spiral_data(
    samples: int, classes: int, *, rng: RandomLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one arm per class (the book's main toy problem).

    For class ``k``, ``r = linspace(0, 1, samples)`` and
    ``t = linspace(4k, 4(k + 1), samples) + 0.2 * randn(samples)``; the points are
    ``(r sin(2.5 t), r cos(2.5 t))``.

    Parameters
    ----------
    samples : int
        Points per class, at least 1.
    classes : int
        Number of classes (arms), 1 to 256.
    rng : None, int, numpy.random.Generator or numpy.random.RandomState, optional
        Source of the angle noise. ``None`` uses the library's default generator
        (re-seeded by :func:`scratchnn.seed`); ``RandomState(0)`` gives the book's data.

    Returns
    -------
    X : numpy.ndarray, shape (samples * classes, 2), float32
        Point coordinates, class by class.
    y : numpy.ndarray, shape (samples * classes,), uint8
        Class of each point.

    Raises
    ------
    TypeError
        If ``samples`` or ``classes`` is not an int, or ``rng`` is not a generator or seed.
    ValueError
        If ``samples`` or ``classes`` is out of range.
    """
    samples, classes, generator, X, y = _start(samples, classes, rng)
    radius = np.linspace(0.0, 1.0, samples)
    for class_number in range(classes):
        rows = slice(samples * class_number, samples * (class_number + 1))
        # Draw inside the loop, one class at a time, to consume randn in the book's order.
        theta = np.linspace(class_number * 4, (class_number + 1) * 4, samples)
        theta = theta + standard_normal(generator, (samples,)) * 0.2
        X[rows] = np.c_[radius * np.sin(theta * 2.5), radius * np.cos(theta * 2.5)]
        y[rows] = class_number
    return X, y


def _start(
    samples: int, classes: int, rng: RandomLike
) -> tuple[int, int, Any, np.ndarray, np.ndarray]:
    """Checked ``samples`` and ``classes``, the generator, and zeroed X (n, 2) and y (n,)."""
    samples = check_positive_int(samples, "samples")
    classes = _check_classes(classes)
    generator = check_random_state(rng)
    X = np.zeros((samples * classes, 2), dtype=np.float32)
    y = np.zeros(samples * classes, dtype=np.uint8)
    return samples, classes, generator, X, y


def vertical_data(
    samples: int, classes: int, *, rng: RandomLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs side by side, one per class (linearly separable).

    For class ``k`` the points are ``(0.1 * randn + k / 3, 0.1 * randn + 0.5)``.

    Parameters
    ----------
    samples : int
        Points per class, at least 1.
    classes : int
        Number of classes (blobs), 1 to 256.
    rng : None, int, numpy.random.Generator or numpy.random.RandomState, optional
        Source of the noise; see :func:`spiral_data`.

    Returns
    -------
    X : numpy.ndarray, shape (samples * classes, 2), float32
        Point coordinates, class by class.
    y : numpy.ndarray, shape (samples * classes,), uint8
        Class of each point.

    Raises
    ------
    TypeError
        If ``samples`` or ``classes`` is not an int, or ``rng`` is not a generator or seed.
    ValueError
        If ``samples`` or ``classes`` is out of range.
    """
    samples, classes, generator, X, y = _start(samples, classes, rng)
    for class_number in range(classes):
        rows = slice(samples * class_number, samples * (class_number + 1))
        # x noise is drawn before y noise, as np.c_[...] evaluates it in the book.
        x_noise = standard_normal(generator, (samples,))
        y_noise = standard_normal(generator, (samples,))
        X[rows] = np.c_[x_noise * 0.1 + class_number / 3, y_noise * 0.1 + 0.5]
        y[rows] = class_number
    return X, y


def sine_data(samples: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """One period of a sine wave sampled on [0, 1), the book's regression data.

    ``X = arange(samples) / samples`` and ``y = sin(2 pi X)``; nothing is random.

    Parameters
    ----------
    samples : int, default 1000
        Number of points, at least 1.

    Returns
    -------
    X : numpy.ndarray, shape (samples, 1), float32
        Inputs.
    y : numpy.ndarray, shape (samples, 1), float32
        Targets.

    Raises
    ------
    TypeError
        If ``samples`` is not an int.
    ValueError
        If ``samples`` is less than 1.
    """
    samples = check_positive_int(samples, "samples")
    # Compute in float64 like the book, then store float32 like the other datasets.
    X = np.arange(samples, dtype=np.float64).reshape(-1, 1) / samples
    y = np.sin(2 * np.pi * X)
    return X.astype(np.float32), y.astype(np.float32)
