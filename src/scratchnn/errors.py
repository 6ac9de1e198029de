"""Exceptions raised by scratchnn."""

from __future__ import annotations


class ScratchnnError(Exception):
    """Base class for errors specific to scratchnn."""


class ModelFileError(ScratchnnError, ValueError):
    """A model file is damaged, foreign or unsafe; the message names the file and the problem."""


class TrainingDivergedError(ScratchnnError, FloatingPointError):
    """Training diverged: the loss became NaN or infinite, a cross-entropy's running mean
    over the epoch climbed to the probability clip ceiling (half of -log(1e-7) for
    categorical, or log(n_classes) + 3 when that is higher; a quarter for binary; a run that
    starts there gets its first epoch to come down), or the parameters overflowed. The
    parameters and the optimizer's state (slots, iteration count, rates) of a recent step
    with a healthy loss, at most 8 updates back, are restored first, so the model can be
    saved and trained on."""


class DatasetError(ScratchnnError, ValueError):
    """A dataset file is damaged, has the wrong checksum, or could not be downloaded."""
