"""Learning-rate schedules: the rate as a function of the step number ``t``.

A schedule is called with the optimizer's ``iterations`` (the number of updates made so
far, from 0) and returns the rate for the next update. Pass one as ``learning_rate=`` to
any optimizer; its ``pre_update_params`` sets ``current_learning_rate = schedule(t)``.
A schedule holds no state (only its arguments), so a model file saves it as its config
and a resumed ``fit`` gets the same rates as an uninterrupted one.

>>> from scratchnn.schedules import CosineDecay
>>> schedule = CosineDecay(0.1, decay_steps=100, warmup_steps=10)
>>> schedule(0), schedule(5), schedule(10), schedule(100)
(0.0, 0.05, 0.1, 0.0)
"""

from __future__ import annotations

import math
from typing import Any

from ._validation import check_non_negative_int, check_positive_int, check_real
from .registry import register

__all__ = ["CosineDecay", "ExponentialDecay", "InverseTimeDecay", "Schedule", "StepDecay"]

#: Step counts a schedule accepts, as the optimizer's iteration count in a model file.
MAX_STEPS = 2**63 - 1


class Schedule:
    """Base class: ``schedule(t)`` is the rate at step ``t`` (a float >= 0)."""

    def __call__(self, t: int) -> float:
        return self.rate(check_non_negative_int(t, "the step number t"))

    def rate(self, t: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule) or type(other) is not type(self):
            return NotImplemented
        return other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self.get_config().items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _rate(value: Any, name: str) -> float:
    return check_real(value, name, low=0.0, low_inclusive=False)


def _steps(value: Any, name: str, *, positive: bool = True) -> int:
    count = (check_positive_int if positive else check_non_negative_int)(value, name)
    if count > MAX_STEPS:
        raise ValueError(f"{name} must be at most 2**63 - 1; got {count}")
    return count


def _factor(value: Any, name: str) -> float:
    # At most 1: a schedule that grows would overflow to an infinite rate.
    return check_real(value, name, low=0.0, high=1.0, low_inclusive=False)


@register("schedule")
class InverseTimeDecay(Schedule):
    """``initial / (1 + decay * t)``: the book's ``decay`` as a schedule."""

    def __init__(self, initial: float, decay: float) -> None:
        self.initial = _rate(initial, "initial")
        self.decay = check_real(decay, "decay", low=0.0)

    def rate(self, t: int) -> float:
        return self.initial / (1.0 + self.decay * t)

    def get_config(self) -> dict[str, Any]:
        return {"initial": self.initial, "decay": self.decay}


@register("schedule")
class StepDecay(Schedule):
    """``initial * gamma ** (t // step_size)``: multiplied by ``gamma`` every ``step_size``
    steps (``torch.optim.lr_scheduler.StepLR`` counted in updates)."""

    def __init__(self, initial: float, step_size: int, gamma: float = 0.1) -> None:
        self.initial = _rate(initial, "initial")
        self.step_size = _steps(step_size, "step_size")
        self.gamma = _factor(gamma, "gamma")

    def rate(self, t: int) -> float:
        return self.initial * self.gamma ** (t // self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {"initial": self.initial, "step_size": self.step_size, "gamma": self.gamma}


@register("schedule")
class ExponentialDecay(Schedule):
    """``initial * decay_rate ** (t / decay_steps)``: multiplied by ``decay_rate`` over every
    ``decay_steps`` steps, smoothly (Keras's ``ExponentialDecay``, not staircase)."""

    def __init__(self, initial: float, decay_rate: float, decay_steps: int) -> None:
        self.initial = _rate(initial, "initial")
        self.decay_rate = _factor(decay_rate, "decay_rate")
        self.decay_steps = _steps(decay_steps, "decay_steps")

    def rate(self, t: int) -> float:
        return self.initial * self.decay_rate ** (t / self.decay_steps)

    def get_config(self) -> dict[str, Any]:
        return {"initial": self.initial, "decay_rate": self.decay_rate,
                "decay_steps": self.decay_steps}


@register("schedule")
class CosineDecay(Schedule):
    """Linear warm-up to ``peak``, then half a cosine down to ``final``::

        t < warmup_steps:            peak * t / warmup_steps
        warmup_steps <= t < decay_steps:
            final + (peak - final) * (1 + cos(pi * (t - warmup_steps)
                                               / (decay_steps - warmup_steps))) / 2
        t >= decay_steps:            final

    ``decay_steps`` counts from step 0, warm-up included (so the cosine lasts
    ``decay_steps - warmup_steps`` steps). Warming up keeps Adam's first, noisy moment
    estimates from taking full-size steps.
    """

    def __init__(self, peak: float, decay_steps: int, warmup_steps: int = 0,
                 final: float = 0.0) -> None:
        self.peak = _rate(peak, "peak")
        self.decay_steps = _steps(decay_steps, "decay_steps")
        self.warmup_steps = _steps(warmup_steps, "warmup_steps", positive=False)
        if self.warmup_steps > self.decay_steps:
            raise ValueError(
                f"warmup_steps ({self.warmup_steps}) must be at most decay_steps "
                f"({self.decay_steps}): decay_steps counts from step 0, warm-up included"
            )
        self.final = check_real(final, "final", low=0.0, high=self.peak)

    def rate(self, t: int) -> float:
        if t < self.warmup_steps:
            return self.peak * t / self.warmup_steps
        if t >= self.decay_steps:
            return self.final
        progress = (t - self.warmup_steps) / (self.decay_steps - self.warmup_steps)
        return self.final + (self.peak - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "decay_steps": self.decay_steps,
                "warmup_steps": self.warmup_steps, "final": self.final}
