"""Exceptions raised by scratchnn."""

from __future__ import annotations


class ScratchnnError(Exception):
    """Base class for errors specific to scratchnn."""


class ModelFileError(ScratchnnError, ValueError):
    """A model file is damaged, foreign or unsafe; the message names the file and the problem."""


class TrainingDivergedError(ScratchnnError, FloatingPointError):
    """The loss became NaN or infinite; the model keeps the parameters of the last finite step."""


class DatasetError(ScratchnnError, ValueError):
    """A dataset file is damaged, has the wrong checksum, or could not be downloaded."""
