"""Seedable randomness: scratchnn.seed, rng arguments, and NumPy's global state left alone."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn
from scratchnn import Dense, Dropout
from scratchnn._random import check_random_state, default_generator, standard_normal, uniform


@pytest.fixture(autouse=True)
def restore_library_seed():
    yield
    scratchnn.seed(None)  # later tests get a fresh unseeded default generator


def default_rng_draws() -> tuple[np.ndarray, np.ndarray]:
    weights = Dense(4, 3).weights
    mask = Dropout(0.5).forward(np.ones((4, 6), dtype=np.float32), training=True)
    return weights, mask


def test_seed_makes_default_rng_layers_reproducible():
    scratchnn.seed(123)
    first = default_rng_draws()
    scratchnn.seed(123)
    second = default_rng_draws()
    scratchnn.seed(124)
    third = default_rng_draws()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], third[0])


# NumPy's legacy global state is read (and once set, then restored) on purpose below: these
# tests prove the library never uses it.


def test_seed_never_touches_numpys_global_state():
    before = np.random.get_state()  # noqa: NPY002
    scratchnn.seed(7)
    default_rng_draws()
    Dense(3, 3, rng=5)
    Dropout(0.2, rng=np.random.default_rng(0)).forward(np.ones((3, 3)), training=True)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_global_numpy_seed_does_not_drive_the_library():
    saved = np.random.get_state()  # noqa: NPY002
    try:
        scratchnn.seed(1)
        np.random.seed(0)  # noqa: NPY002
        a = Dense(4, 3).weights
        scratchnn.seed(1)
        np.random.seed(99)  # noqa: NPY002
        b = Dense(4, 3).weights
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    np.testing.assert_array_equal(a, b)


def test_check_random_state():
    scratchnn.seed(3)
    assert check_random_state(None) is default_generator()
    generator = np.random.default_rng(0)
    legacy = np.random.RandomState(0)
    assert check_random_state(generator) is generator
    assert check_random_state(legacy) is legacy
    from_int = check_random_state(5)
    assert isinstance(from_int, np.random.Generator)
    np.testing.assert_array_equal(
        from_int.standard_normal(3), np.random.default_rng(5).standard_normal(3)
    )
    assert isinstance(check_random_state(np.int64(5)), np.random.Generator)
    for bad in (True, 1.5, "0", [1, 2]):
        with pytest.raises(TypeError, match="^rng must be None, an int seed"):
            check_random_state(bad)


def test_draw_helpers_follow_the_generator_kind():
    np.testing.assert_array_equal(
        standard_normal(np.random.RandomState(0), (2, 3)), np.random.RandomState(0).randn(2, 3)
    )
    np.testing.assert_array_equal(
        standard_normal(np.random.default_rng(0), (2, 3)),
        np.random.default_rng(0).standard_normal((2, 3)),
    )
    legacy = uniform(np.random.RandomState(1), (5,))
    modern = uniform(np.random.default_rng(1), (5,))
    for draws in (legacy, modern):
        assert draws.shape == (5,) and draws.dtype == np.float64
        assert ((draws >= 0) & (draws < 1)).all()


def test_int_seed_gives_the_same_layer_twice():
    np.testing.assert_array_equal(Dense(5, 5, rng=8).weights, Dense(5, 5, rng=8).weights)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: scratchnn.seed(-1), ValueError, r"seed must be a non-negative integer; got -1"),
        (lambda: scratchnn.seed("a"), TypeError, r"seed must be a non-negative integer; got 'a'"),
        (lambda: scratchnn.seed(1.5), TypeError, r"seed must be a non-negative integer"),
        (lambda: check_random_state(-1), ValueError, r"rng must be a non-negative integer"),
        (lambda: Dense(2, 2, rng=-1), ValueError, r"rng must be a non-negative integer; got -1"),
        (lambda: scratchnn.datasets.spiral_data(10, 3, rng=-1), ValueError,
         r"rng must be a non-negative integer; got -1"),
    ],
)
def test_bad_seeds_name_the_argument(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_seed_none_and_numpy_ints_stay_allowed():
    scratchnn.seed(None)
    scratchnn.seed(np.int64(3))
    first = default_generator().random()
    scratchnn.seed(3)
    assert default_generator().random() == first
    assert check_random_state(np.uint8(5)).random() == np.random.default_rng(5).random()
