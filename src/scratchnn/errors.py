"""Exceptions raised by scratchnn."""

from __future__ import annotations


class ScratchnnError(Exception):
    """Base class for errors specific to scratchnn."""


class ModelFileError(ScratchnnError, ValueError):
    """A model file is damaged, foreign or unsafe; the message names the file and the problem."""


class TrainingDivergedError(ScratchnnError, FloatingPointError):
    """Training diverged: the loss became NaN or infinite, a cross-entropy's running mean
    reached the probability clip ceiling, or the parameters overflowed. The parameters and
    the optimizer's state of a recent step with a healthy loss (at most 8 updates back) are
    restored first."""


class DatasetError(ScratchnnError, ValueError):
    """A dataset file is damaged, has the wrong checksum, or could not be downloaded."""
