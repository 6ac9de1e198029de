"""The book's generated datasets: nnfs formulas, shapes, dtypes, seeding and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn
from scratchnn.datasets import sine_data, spiral_data, vertical_data


def nnfs_spiral(samples: int, classes: int, random_state: np.random.RandomState):
    """The nnfs package's ``spiral_data``, with its global ``np.random`` made explicit."""
    X = np.zeros((samples * classes, 2))
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        ix = range(samples * class_number, samples * (class_number + 1))
        r = np.linspace(0.0, 1, samples)
        t = (
            np.linspace(class_number * 4, (class_number + 1) * 4, samples)
            + random_state.randn(samples) * 0.2
        )
        X[ix] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[ix] = class_number
    return X, y


def nnfs_vertical(samples: int, classes: int, random_state: np.random.RandomState):
    """The nnfs package's ``vertical_data``, with its global ``np.random`` made explicit."""
    X = np.zeros((samples * classes, 2))
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        ix = range(samples * class_number, samples * (class_number + 1))
        X[ix] = np.c_[
            random_state.randn(samples) * 0.1 + class_number / 3,
            random_state.randn(samples) * 0.1 + 0.5,
        ]
        y[ix] = class_number
    return X, y


@pytest.mark.parametrize(
    ("ours", "reference"), [(spiral_data, nnfs_spiral), (vertical_data, nnfs_vertical)]
)
def test_random_state_zero_reproduces_the_book(ours, reference):
    X, y = ours(100, 3, rng=np.random.RandomState(0))
    X_book, y_book = reference(100, 3, np.random.RandomState(0))
    assert X.shape == (300, 2) and X.dtype == np.float32
    assert y.shape == (300,) and y.dtype == np.uint8
    np.testing.assert_array_equal(X, X_book.astype(np.float32))
    np.testing.assert_array_equal(y, y_book)


@pytest.mark.parametrize("make", [spiral_data, vertical_data])
def test_shapes_labels_and_class_order(make):
    X, y = make(7, 4, rng=1)
    assert X.shape == (28, 2) and X.dtype == np.float32
    np.testing.assert_array_equal(y, np.repeat(np.arange(4, dtype=np.uint8), 7))
    assert np.isfinite(X).all()


def test_spiral_geometry():
    # Noise only moves the angle: each point's distance from the origin is exactly r.
    X, _ = spiral_data(50, 2, rng=np.random.default_rng(3))
    radius = np.hypot(X[:, 0], X[:, 1])
    expected = np.tile(np.linspace(0, 1, 50), 2)
    np.testing.assert_allclose(radius, expected, atol=1e-6)


def test_vertical_clusters_sit_at_k_over_three():
    X, y = vertical_data(2000, 3, rng=0)
    for k in range(3):
        centre = X[y == k].mean(axis=0)
        np.testing.assert_allclose(centre, [k / 3, 0.5], atol=0.01)


@pytest.mark.parametrize("make", [spiral_data, vertical_data])
def test_int_and_generator_seeds_are_reproducible(make):
    first = make(20, 3, rng=42)
    again = make(20, 3, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(first[0], again[0])
    other = make(20, 3, rng=43)
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("make", [spiral_data, vertical_data])
def test_default_generator_follows_scratchnn_seed_and_leaves_numpy_alone(make):
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking it is untouched)
    try:
        scratchnn.seed(7)
        first, _ = make(10, 2)
        following, _ = make(10, 2)
        scratchnn.seed(7)
        again, _ = make(10, 2)
    finally:
        scratchnn.seed(None)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, following)  # the generator moves on between calls
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_sine_data_is_the_books_wave():
    X, y = sine_data()
    assert X.shape == (1000, 1) and y.shape == (1000, 1)
    assert X.dtype == np.float32 and y.dtype == np.float32
    X_book = np.arange(1000).reshape(-1, 1) / 1000
    np.testing.assert_array_equal(X, X_book.astype(np.float32))
    np.testing.assert_array_equal(y, np.sin(2 * np.pi * X_book).astype(np.float32))
    X_small, y_small = sine_data(samples=4)
    np.testing.assert_allclose(y_small.ravel(), [0, 1, 0, -1], atol=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: spiral_data(0, 3), ValueError, "samples must be a positive integer; got 0"),
        (lambda: spiral_data(10, -1), ValueError, "classes must be a positive integer; got -1"),
        (lambda: vertical_data(10, 257), ValueError, "classes must be at most 256"),
        (lambda: spiral_data(10.0, 3), TypeError, "samples must be a positive integer"),
        (lambda: vertical_data(10, "3"), TypeError, "classes must be a positive integer"),
        (lambda: spiral_data(True, 3), TypeError, "samples must be a positive integer"),
        (lambda: spiral_data(10, 3, rng="seed"), TypeError, "rng must be None, an int seed"),
        (lambda: vertical_data(10, 3, rng=1.5), TypeError, "rng must be None, an int seed"),
        (lambda: sine_data(0), ValueError, "samples must be a positive integer; got 0"),
        (lambda: sine_data(None), TypeError, "samples must be a positive integer"),
    ],
)
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_rng_is_keyword_only():
    with pytest.raises(TypeError):
        spiral_data(10, 3, 0)  # type: ignore[misc]
