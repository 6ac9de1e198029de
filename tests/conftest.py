"""Shared fixtures: the shared datasets folder, float errors raised, a seeded generator."""

from __future__ import annotations

import os
from pathlib import Path

# The suite trains many tiny networks: BLAS threads only add synchronisation there (on a busy
# 2-core machine 300 small steps took 6 s with default threads, 0.3 s with one). Set before
# NumPy loads; an explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def shared_datasets_dir() -> Path | None:
    """Folder holding ``fashion-mnist/`` and ``mnist1d/``: $SCRATCHNN_DATA_DIR or ../shared."""
    env = os.environ.get("SCRATCHNN_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "datasets")
    for candidate in candidates:
        if (candidate / "fashion-mnist").is_dir():
            return candidate
    return None


@pytest.fixture
def data_dir() -> Path:
    found = shared_datasets_dir()
    if found is None:
        # CI always has ../shared beside the clone; missing data is an error, never a skip.
        raise RuntimeError(
            "the shared datasets were not found: set SCRATCHNN_DATA_DIR to the folder holding "
            "fashion-mnist/ (../shared/datasets beside the project root)"
        )
    return found


@pytest.fixture
def raise_float_errors():
    """Make any silent NumPy overflow/invalid operation a failing test."""
    with np.errstate(all="raise"):
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
