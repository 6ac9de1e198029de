"""Optimizers with the book's protocol and learning-rate decay.

Each step is ``pre_update_params()``, ``update_params(layer)`` for every trainable layer,
``post_update_params()``. The learning rate decays as ``lr / (1 + decay * iterations)``,
or follows a schedule (:mod:`scratchnn.schedules`) passed as ``learning_rate``: then
``current_learning_rate = schedule(iterations)``. Either is multiplied by
``learning_rate_scale`` (1.0 unless a callback such as ReduceLROnPlateau lowers it).
State (momentums, caches) belongs to the optimizer, one dict of slots per parameter, aligned
with ``layer.parameters()``; updates are applied in place, so a step allocates little.

An optimizer keeps counting across models: one reused for a second model goes on from its
``iterations`` (a decayed learning rate, Adam's bias correction at step t), as in Keras and
PyTorch. Give each model its own optimizer to start fresh. Copying or pickling an optimizer
on its own gives one without state (the state is keyed by layers, which the copy does not
share); copy or pickle the whole model to keep it.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from ._typing import Array
from ._validation import check_real, describe
from .layers.base import Layer
from .registry import build_entry, describe_entry, register
from .schedules import Schedule

if TYPE_CHECKING:
    from .storage import FlatParameters

#: Magnitudes below which a flat step's parameters and slots are flushed to 0, per dtype:
#: 2**24 times the smallest normal number, so that nothing decaying by up to 0.9 a step
#: (Adam's first moment) reaches the subnormal range between two flushes 64 steps apart.
FLUSH_BELOW = {np.dtype(np.float32): float(np.finfo(np.float32).tiny) * 2.0**24,
               np.dtype(np.float64): float(np.finfo(np.float64).tiny) * 2.0**24}


class Optimizer:
    """Base class: decay schedule, iteration count and per-parameter state."""

    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: float | Schedule, decay: float = 0.0) -> None:
        self.decay = check_real(decay, "decay", low=0.0)
        self.learning_rate: float | Schedule
        if isinstance(learning_rate, Schedule):
            if self.decay:
                raise ValueError(
                    "decay cannot be combined with a learning-rate schedule (the schedule "
                    "sets the rate; use InverseTimeDecay for the book's decay)"
                )
            self.learning_rate = learning_rate
        else:
            self.learning_rate = check_real(
                learning_rate, "learning_rate", low=0.0, low_inclusive=False
            )
        #: Multiplies the rate the decay or schedule gives (ReduceLROnPlateau lowers it);
        #: saved in model files.
        self.learning_rate_scale = 1.0
        self.iterations = 0
        self.current_learning_rate: float = (
            self._scheduled_rate() if isinstance(self.learning_rate, Schedule)
            else self.learning_rate
        )
        # layer -> [slots of parameter 0, slots of parameter 1, ...]; weak, so an optimizer
        # reused for several models does not keep the discarded ones alive.
        self._state: weakref.WeakKeyDictionary[Layer, list[dict[str, Array]]] = (
            weakref.WeakKeyDictionary()
        )
        # (shape, dtype) -> a scratch array: the updates below write every intermediate there
        # (``out=``) instead of allocating temporaries each step. Its contents never outlive
        # one update, so parameters of the same shape share it.
        self._scratch: dict[tuple[tuple[int, ...], np.dtype], Array] = {}
        self._reset_flat()

    def _reset_flat(self) -> None:
        # The slots of a model's packed parameters (scratchnn.storage) as buffers lined up
        # with its parameter buffers: (weak reference to the storage, the slots' version when
        # they were made, {dtype: {slot name: buffer}}). ``_version`` counts set_slots calls,
        # which replace slots behind the buffers' back (new slots of a layer are made before
        # its buffers, or for a layer left unpacked: neither concerns them).
        self._flat: tuple[Any, int, dict[np.dtype, dict[str, Array]]] | None = None
        self._version = 0
        self._since_flush = 0

    def __getstate__(self) -> dict[str, Any]:
        # pickle and copy cannot take a WeakKeyDictionary: store (layer, slots) pairs; the
        # scratch arrays and flat slot buffers are rebuilt on use.
        state = self.__dict__.copy()
        state["_state"] = list(self._state.items())
        state["_scratch"] = {}
        state["_flat"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        pairs = state.pop("_state", [])
        self._reset_flat()
        self.__dict__.update(state)
        self._state = weakref.WeakKeyDictionary(pairs)

    def pre_update_params(self) -> None:
        """Set ``current_learning_rate`` for this step: ``lr * (1 / (1 + decay * iterations))``
        (or ``schedule(iterations)``), times ``learning_rate_scale``.

        Written as the book writes it, so that the printed rate agrees to the last digit.
        """
        if self.decay or self.learning_rate_scale != 1.0 or isinstance(
            self.learning_rate, Schedule
        ):
            self.current_learning_rate = self._scheduled_rate()

    def _decayed_rate(self) -> float:
        """The rate for the current step, written as the book writes it (a float rate)."""
        if isinstance(self.learning_rate, Schedule):
            raise TypeError("the rate follows a schedule: it has no decay of its own")
        return self.learning_rate * (1.0 / (1.0 + self.decay * self.iterations))

    def _scheduled_rate(self) -> float:
        """The rate for the current step: decay or schedule, times ``learning_rate_scale``."""
        if isinstance(self.learning_rate, Schedule):
            base = float(self.learning_rate(self.iterations))
        else:
            base = self._decayed_rate()
        return base * self.learning_rate_scale

    def update_params(self, layer: Layer) -> None:
        """Update every parameter of ``layer`` in place from its gradient."""
        if not isinstance(layer, Layer):
            raise TypeError(
                f"layer must be a scratchnn Layer with parameters (e.g. Dense); got "
                f"{describe(layer)}"
            )
        for param, grad, slots in zip(
            layer.parameters(), layer.gradients(), self.get_slots(layer), strict=True
        ):
            self._update(param, grad, slots)

    def post_update_params(self) -> None:
        self.iterations += 1

    # -- whole-model steps over flat buffers (what Model.fit uses) --------------------------

    #: Every this many flat steps, parameters and slots below :data:`FLUSH_BELOW` are set to
    #: 0 (see :meth:`update_storage`).
    FLUSH_EVERY = 64

    def flat_slots(self, storage: FlatParameters) -> dict[np.dtype, dict[str, Array]]:
        """The slots of ``storage``'s packed parameters as one buffer per dtype and slot name,
        lined up with ``storage.parameters``; each packed layer's :meth:`get_slots` are views
        into them, so files, copies and :meth:`update_params` see the same state.

        Made on first use and again when the slots changed behind the buffers' back
        (:meth:`set_slots`, a loaded model); the values the layers had are kept.
        """
        cached = self._flat
        if cached is not None and cached[0]() is storage and cached[1] == self._version:
            return cached[2]
        buffers = {dtype: {name: np.zeros_like(params) for name in self.slot_names}
                   for dtype, params in storage.parameters.items()}
        slots: dict[Layer, list[dict[str, Array]]] = {}
        for layer, index, dtype, start, stop, shape in storage.entries:
            views = {name: buffers[dtype][name][start:stop].reshape(shape)
                     for name in self.slot_names}
            old = self._state.get(layer)
            if old is not None and index < len(old):
                for name, view in views.items():
                    if name in old[index] and old[index][name].shape == shape:
                        view[...] = old[index][name]
            slots.setdefault(layer, []).append(views)
        for layer, per_parameter in slots.items():
            self._state[layer] = per_parameter
        self._flat = (weakref.ref(storage), self._version, buffers)
        return buffers

    def update_storage(self, storage: FlatParameters) -> None:
        """Update every parameter of ``storage``: the packed ones in one pass per dtype (the
        same arithmetic as :meth:`update_params`, element by element, over whole buffers),
        then the layers left unpacked one by one.

        Every :attr:`FLUSH_EVERY` calls, packed parameters and slots whose magnitude is
        below :data:`FLUSH_BELOW` (2**24 times the dtype's smallest normal number, ~2e-31
        in float32) are set to 0. Such values can no longer change any update within the
        dtype's precision, but as they decay (Adam's moments shrink by 0.9 and 0.999 every
        step once a unit's gradient is 0) they would reach the subnormal range, where Intel
        cores compute many times slower. The per-layer path, :meth:`update_params`, flushes
        nothing.
        """
        storage.sync()        # gradients a backward bound anew, back into the buffers
        slots = self.flat_slots(storage)
        for dtype, params in storage.parameters.items():
            self._update(params, storage.gradients[dtype], slots[dtype])
        for layer in storage.unpacked:
            self.update_params(layer)
        self._since_flush += 1
        if self._since_flush >= self.FLUSH_EVERY:
            self._since_flush = 0
            for dtype, params in storage.parameters.items():
                for array in (params, *slots[dtype].values()):
                    _flush(array, self._buffer(array))

    def _update(self, param: Array, grad: Array, slots: dict[str, Array]) -> None:
        raise NotImplementedError

    def _buffer(self, param: Array) -> Array:
        """Scratch space shaped like ``param`` (its contents never outlive one update)."""
        key = (param.shape, param.dtype)
        buffer = self._scratch.get(key)
        if buffer is None:
            buffer = self._scratch[key] = np.empty(param.shape, dtype=param.dtype)
        return buffer

    def get_slots(self, layer: Layer) -> list[dict[str, Array]]:
        """The state arrays of ``layer``'s parameters (zeros on first use)."""
        slots = self._state.get(layer)
        if slots is None:
            slots = [
                {name: np.zeros_like(param) for name in self.slot_names}
                for param in layer.parameters()
            ]
            self._state[layer] = slots
        return slots

    def set_slots(self, layer: Layer, slots: list[dict[str, Array]]) -> None:
        """Restore state saved with :meth:`get_slots` (used when loading a model)."""
        self._state[layer] = slots
        self._version += 1

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments; a schedule as its own ``{"class", "config"}`` entry."""
        rate = self.learning_rate
        if isinstance(rate, Schedule):
            return {"learning_rate": describe_entry("schedule", rate), "decay": self.decay}
        return {"learning_rate": rate, "decay": self.decay}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """The optimizer :meth:`get_config` described (a schedule entry rebuilt first)."""
        options = dict(config)
        if isinstance(options.get("learning_rate"), dict):
            options["learning_rate"] = build_entry("schedule", options["learning_rate"])
        return cls(**options)

    def __repr__(self) -> str:
        config = {**self.get_config(), "learning_rate": self.learning_rate}
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{type(self).__name__}({args})"


@register("optimizer")
class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Without momentum: ``w -= lr * dw``.
    With momentum:    ``m = momentum * m - lr * dw``; ``w += m``.
    Nesterov:         ``m = momentum * m - lr * dw``; ``w += momentum * m - lr * dw``
    (the gradient taken a momentum step ahead; for a constant rate this is
    ``torch.optim.SGD(nesterov=True)``, whose buffer is ``-m / lr``).
    """

    def __init__(self, learning_rate: float | Schedule = 1.0, decay: float = 0.0,
                 momentum: float = 0.0, nesterov: bool = False):
        super().__init__(learning_rate, decay)
        self.momentum = check_real(momentum, "momentum", low=0.0, high=1.0, high_inclusive=False)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be True or False; got {describe(nesterov)}")
        if nesterov and not self.momentum:
            raise ValueError(
                "nesterov=True needs momentum > 0 (Nesterov's step is a momentum step taken "
                "ahead); got momentum=0"
            )
        self.nesterov = nesterov
        self.slot_names = ("momentum",) if self.momentum else ()

    def _update(self, param: Array, grad: Array, slots: dict[str, Array]) -> None:
        step = np.multiply(grad, self.current_learning_rate, out=self._buffer(param))
        if self.momentum:
            m = slots["momentum"]
            m *= self.momentum
            m -= step
            if self.nesterov:
                param -= step
                param += np.multiply(m, self.momentum, out=step)
            else:
                param += m
        else:
            param -= step

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


@register("optimizer")
class Adagrad(Optimizer):
    """Per-parameter rates: ``cache += dw**2``; ``w -= lr * dw / (sqrt(cache) + eps)``."""

    slot_names = ("cache",)

    def __init__(self, learning_rate: float | Schedule = 1.0, decay: float = 0.0,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate, decay)
        self.epsilon = check_real(epsilon, "epsilon", low=0.0, low_inclusive=False)

    def _update(self, param: Array, grad: Array, slots: dict[str, Array]) -> None:
        cache, work = slots["cache"], self._buffer(param)
        cache += np.multiply(grad, grad, out=work)
        _scaled_step(param, grad, cache, work, self.current_learning_rate, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


@register("optimizer")
class RMSprop(Optimizer):
    """``cache = rho * cache + (1 - rho) * dw**2``; ``w -= lr * dw / (sqrt(cache) + eps)``."""

    slot_names = ("cache",)

    def __init__(
        self,
        learning_rate: float | Schedule = 0.001,
        decay: float = 0.0,
        epsilon: float = 1e-7,
        rho: float = 0.9,
    ):
        super().__init__(learning_rate, decay)
        self.epsilon = check_real(epsilon, "epsilon", low=0.0, low_inclusive=False)
        self.rho = check_real(rho, "rho", low=0.0, high=1.0, high_inclusive=False)

    def _update(self, param: Array, grad: Array, slots: dict[str, Array]) -> None:
        cache, work = slots["cache"], self._buffer(param)
        _moving_average(cache, np.multiply(grad, grad, out=work), self.rho, work)
        _scaled_step(param, grad, cache, work, self.current_learning_rate, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon, "rho": self.rho}


@register("optimizer")
class Adam(Optimizer):
    """Momentum plus RMSprop caches, both bias-corrected (t = iterations + 1)::

        m = beta_1 * m + (1 - beta_1) * dw
        v = beta_2 * v + (1 - beta_2) * dw**2
        w -= lr * (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + eps)
    """

    slot_names = ("momentum", "cache")

    def __init__(
        self,
        learning_rate: float | Schedule = 0.001,
        decay: float = 0.0,
        epsilon: float = 1e-7,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
    ):
        super().__init__(learning_rate, decay)
        self.epsilon = check_real(epsilon, "epsilon", low=0.0, low_inclusive=False)
        self.beta_1 = check_real(beta_1, "beta_1", low=0.0, high=1.0, high_inclusive=False)
        self.beta_2 = check_real(beta_2, "beta_2", low=0.0, high=1.0, high_inclusive=False)

    def _update(self, param: Array, grad: Array, slots: dict[str, Array]) -> None:
        m, v, work = slots["momentum"], slots["cache"], self._buffer(param)
        t = self.iterations + 1
        _moving_average(m, grad, self.beta_1, work)
        _moving_average(v, np.multiply(grad, grad, out=work), self.beta_2, work)
        # lr * m_hat / (sqrt(v_hat) + eps) with both corrections folded into two scalars:
        #   = lr * sqrt(c2) / c1 * m / (sqrt(v) + eps * sqrt(c2)),  c1 = 1 - b1**t, c2 = 1 - b2**t
        # (the same number, without dividing two whole arrays by c1 and c2 every step).
        c1, c2 = 1 - self.beta_1**t, 1 - self.beta_2**t
        _scaled_step(param, m, v, work, self.current_learning_rate * c2**0.5 / c1,
                     self.epsilon * c2**0.5)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
        }


@register("optimizer")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter; ``torch.optim.AdamW``)::

        w -= lr * weight_decay * w        # shrink first, apart from the gradient
        w -= lr * m_hat / (sqrt(v_hat) + eps)   # then Adam's step, as in Adam

    The decay does not pass through the moments, so every weight shrinks at the same
    relative rate whatever its gradient's history (L2 in the loss would be divided by
    ``sqrt(v_hat)``).
    """

    def __init__(
        self,
        learning_rate: float | Schedule = 0.001,
        weight_decay: float = 0.01,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        decay: float = 0.0,
    ):
        super().__init__(learning_rate, decay, epsilon, beta_1, beta_2)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0.0)

    def _update(self, param: Array, grad: Array, slots: dict[str, Array]) -> None:
        # w * (1 - lr * wd) is w - lr * wd * w in one pass, as torch writes it.
        param *= 1.0 - self.current_learning_rate * self.weight_decay
        super()._update(param, grad, slots)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}


def _moving_average(average: Array, sample: Array, rate: float, work: Array) -> None:
    """``average = rate * average + (1 - rate) * sample`` in place (``work`` may be ``sample``)."""
    average *= rate
    average += np.multiply(sample, 1 - rate, out=work)


def _scaled_step(
    param: Array, numerator: Array, cache: Array, work: Array, rate: float, epsilon: float
) -> None:
    """``param -= rate * numerator / (sqrt(cache) + epsilon)``, every step into ``work``."""
    np.sqrt(cache, out=work)
    work += epsilon
    np.divide(numerator, work, out=work)
    work *= rate
    param -= work


def _flush(array: Array, work: Array) -> None:
    """Set the values of ``array`` below :data:`FLUSH_BELOW` in magnitude to 0, in place."""
    np.abs(array, out=work)
    np.putmask(array, work < FLUSH_BELOW[array.dtype], 0)
