"""Seedable randomness: one library generator, never NumPy's global state."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._validation import check_non_negative_int

RandomLike = np.random.Generator | np.random.RandomState | int | None

_default_generator = np.random.default_rng()


def seed(value: int | None) -> None:
    """Re-seed the library's default generator (used when ``rng=None``).

    NumPy's own global state is left untouched. ``value`` is a non-negative int, or ``None``
    for fresh entropy from the operating system.
    """
    global _default_generator
    if value is not None:
        value = check_non_negative_int(value, "seed")
    _default_generator = np.random.default_rng(value)


def default_generator() -> np.random.Generator:
    """The library's default generator (re-seeded by :func:`seed`)."""
    return _default_generator


def check_random_state(rng: RandomLike) -> np.random.Generator | np.random.RandomState:
    """Turn ``rng`` into a generator object.

    ``None`` gives the library's default generator, an int a fresh seeded
    ``numpy.random.Generator``; a ``Generator`` or a legacy ``RandomState`` is used as it is.
    """
    if rng is None:
        return _default_generator
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(check_non_negative_int(rng, "rng"))
    raise TypeError(
        "rng must be None, an int seed, a numpy.random.Generator or a numpy.random.RandomState; "
        f"got {type(rng).__name__}"
    )


def standard_normal(
    rng: np.random.Generator | np.random.RandomState, shape: tuple[int, ...]
) -> np.ndarray:
    """Standard normal draws in float64; ``RandomState`` uses ``randn`` as the book does."""
    if isinstance(rng, np.random.RandomState):
        return rng.randn(*shape)
    return rng.standard_normal(shape)


def uniform(rng: np.random.Generator | np.random.RandomState, size: tuple[int, ...]) -> np.ndarray:
    """Uniform draws on [0, 1) in float64 from either kind of generator."""
    return rng.random_sample(size) if isinstance(rng, np.random.RandomState) else rng.random(size)


def give_streams(layers: Iterable[Any], seed_sequence: np.random.SeedSequence) -> None:
    """Seeded streams for the layers that draw random numbers and were given no ``rng``.

    Such layers keep their generator in ``rng``; those built without one
    (``uses_default_rng``) get a child of the model's ``seed_sequence`` instead of the shared
    library generator, so a seeded model (and a resumed one) is reproducible. One child per
    layer with an ``rng``, in order, whether it is replaced or not.
    """
    random_layers = [layer for layer in layers if hasattr(layer, "rng")]
    children = seed_sequence.spawn(len(random_layers) + 1)[1:] if random_layers else []
    for layer, child in zip(random_layers, children, strict=True):
        if getattr(layer, "uses_default_rng", False):
            layer.rng = np.random.Generator(np.random.PCG64(child))
            layer.uses_default_rng = False
