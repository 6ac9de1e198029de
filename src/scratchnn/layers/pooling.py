"""Pooling: each output is the maximum (or the mean) of one window of its channel.

Pictures come in NCHW order, ``(n_samples, channels, height, width)``; each channel of each
sample is pooled on its own. A window of ``pool_size`` moves by ``stride`` (``pool_size`` by
default, so that windows tile the picture); there is no padding, so along each axis

    output size = (input size - pool) // stride + 1,

and what the last window does not reach is left out (a 2x2 pool takes 28x28 to 14x14, 7x7 to
3x3). ``MaxPool1D`` is the same layer on sequences ``(n_samples, channels, length)``, pooled
as pictures one row high.

How it is computed: a window has ``ph * pw`` offsets ``(i, j)``, and the values at offset
``(i, j)`` of every window form one strided view of the inputs,
``inputs[:, :, i::sh, j::sw]`` cut to the output's size. The forward pass combines these few
views (4 for a 2x2 pool) element-wise, each step one NumPy call over the whole batch; the
backward pass writes the gradient back through the same views. Nothing is copied window by
window and no ``np.add.at`` is needed: when windows overlap (stride < pool), adding offset
view after offset view is what accumulates the gradient of an input shared by several windows.
On a 2x2 pool this is also faster than reducing a ``(n, c, oh, ph, ow, pw)`` reshape over its
two window axes, which NumPy does with slow strided inner loops (measured: ~9x).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._typing import Array
from .._validation import as_float_input, check_dvalues, describe
from .base import Layer, register_layer

Pair = tuple[int, int]


class _Pool(Layer):
    """What the pooling layers share: their arguments, shape checks and NCHW handling.

    Subclasses say how many spatial axes their samples have (``_spatial``: 2 for pictures,
    1 for sequences) and pool 4-D ``planes`` ``(n, c, h, w)`` in ``_pool``/``_unpool``; a
    sequence is pooled as a picture of height 1.
    """

    _spatial = 2

    def __init__(
        self, pool_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
    ) -> None:
        name = type(self).__name__
        self.pool_size: Pair = _window_pair(pool_size, "pool_size", name, self._spatial)
        self.stride: Pair = (self.pool_size if stride is None
                             else _window_pair(stride, "stride", name, self._spatial))

    # -- the book's two methods -------------------------------------------------------------

    def forward(self, inputs: Array, training: bool = False) -> Array:
        """``inputs`` (n, c, h, w) -> ``output`` (n, c, oh, ow) (1-D: (n, c, length))."""
        inputs = as_float_input(inputs, "inputs")
        if inputs.ndim != self._spatial + 2:
            raise ValueError(f"{self.describe()} expects {self._layout()}; got inputs shaped "
                             f"{inputs.shape}{self._rank_hint(inputs.shape[1:])}")
        self.inputs = inputs
        self._training = training
        planes = inputs if self._spatial == 2 else inputs[:, :, np.newaxis, :]
        out_size = self._out_size(planes.shape[2:])
        self.output = self._pool(planes, out_size).reshape(
            inputs.shape[:2] + out_size[2 - self._spatial:])
        return self.output

    def backward(self, dvalues: Array) -> Array:
        """``dvalues`` shaped like ``output`` -> ``dinputs`` shaped like ``inputs``."""
        dvalues = check_dvalues(self, dvalues)
        if not self.needs_dinputs:
            # First layer of a model: nobody uses d(loss)/d(X); an empty array makes any
            # accidental use fail loudly.
            self.dinputs = np.empty((0, *self.inputs.shape[1:]), dtype=dvalues.dtype)
            return self.dinputs
        planes = self.inputs if self._spatial == 2 else self.inputs[:, :, np.newaxis, :]
        d_planes = dvalues if self._spatial == 2 else dvalues[:, :, np.newaxis, :]
        self.dinputs = self._unpool(d_planes, planes.shape).reshape(self.inputs.shape)
        return self.dinputs

    def _pool(self, planes: Array, out_size: Pair) -> Array:
        raise NotImplementedError

    def _unpool(self, dvalues: Array, shape: tuple[int, ...]) -> Array:
        raise NotImplementedError

    # -- shapes -----------------------------------------------------------------------------

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(c, h, w)`` -> ``(c, oh, ow)``; 1-D: ``(c, length)`` -> ``(c, out_length)``."""
        shape = tuple(input_shape)
        if len(shape) != self._spatial + 1:
            raise ValueError(f"{self.describe()} takes samples shaped {self._sample_layout()}, "
                             f"batches {self._layout()}; it would get samples shaped "
                             f"{shape}{self._rank_hint(shape)}")
        sizes = shape[1:] if self._spatial == 2 else (1, *shape[1:])
        return (shape[0], *self._out_size(sizes)[2 - self._spatial:])

    def _out_size(self, sizes: tuple[int, ...]) -> Pair:
        """``(oh, ow)`` for planes ``sizes`` (h, w); ValueError when a window does not fit."""
        (h, w), (ph, pw), (sh, sw) = sizes, self.pool_size, self.stride
        if h < ph or w < pw:
            if self._spatial == 2:
                got = f"inputs of {h}x{w} (height x width)"
                needs = f"at least {ph}x{pw}"
            else:
                got, needs = f"sequences of length {w}", f"at least {pw}"
            raise ValueError(
                f"{self.describe()}: its window (pool_size {self._show(self.pool_size)}) does "
                f"not fit in {got}, so no output is left; its inputs must be {needs} (there is "
                "no padding): use a smaller pool_size, or pool before the inputs get so small"
            )
        return (h - ph) // sh + 1, (w - pw) // sw + 1

    def _layout(self) -> str:
        if self._spatial == 2:
            return "a batch of pictures in NCHW order, (n_samples, channels, height, width)"
        return "a batch of sequences, (n_samples, channels, length)"

    def _sample_layout(self) -> str:
        return "(channels, height, width)" if self._spatial == 2 else "(channels, length)"

    def _rank_hint(self, sample_shape: tuple[int, ...]) -> str:
        """Advice for samples of the wrong rank (one channel forgotten, or flattened)."""
        if self._spatial == 2 and len(sample_shape) == 2:
            h, w = sample_shape
            return (f": one channel per picture still needs its axis, e.g. "
                    f"X.reshape(len(X), 1, {h}, {w})")
        if self._spatial == 2 and len(sample_shape) == 1:
            return ": pictures flattened to rows must be reshaped to (n, channels, height, width)"
        if self._spatial == 1 and len(sample_shape) == 1:
            return (f": one channel per sequence still needs its axis, e.g. "
                    f"X.reshape(len(X), 1, {sample_shape[0]})")
        return ""

    # -- configuration ----------------------------------------------------------------------

    def _show(self, pair: Pair) -> str:
        """A pair as the user would write it: ``2`` for (2, 2) (always one number in 1-D)."""
        if self._spatial == 1:
            return str(pair[1])
        return str(pair[0]) if pair[0] == pair[1] else str(pair)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"pool_size": _stored(self.pool_size, self._spatial)}
        if self.stride != self.pool_size:
            config["stride"] = _stored(self.stride, self._spatial)
        return config

    def describe(self) -> str:
        """``MaxPool2D(2)``, ``MaxPool2D(3, stride=2)``, ``AvgPool2D((2, 3))``."""
        stride = "" if self.stride == self.pool_size else f", stride={self._show(self.stride)}"
        return f"{type(self).__name__}({self._show(self.pool_size)}{stride})"


class _MaxPool(_Pool):
    """Max pooling of planes; MaxPool2D and MaxPool1D differ only in their samples' rank."""

    argmax: Array | None   # (n, c, oh, ow): the offset i * pw + j of each window's maximum

    def _pool(self, planes: Array, out_size: Pair) -> Array:
        if not getattr(self, "_training", True):
            # Predicting: the maxima alone (3 np.maximum calls for a 2x2 window, a third of
            # the work); where they are is found only if backward is called after all.
            self.argmax = None
            return _max_only(planes, self.pool_size, self.stride, out_size)
        output, self.argmax = _max_pool(planes, self.pool_size, self.stride, out_size)
        return output

    def _unpool(self, dvalues: Array, shape: tuple[int, ...]) -> Array:
        if self.argmax is None:
            planes = self.inputs if self._spatial == 2 else self.inputs[:, :, np.newaxis, :]
            _, self.argmax = _max_pool(planes, self.pool_size, self.stride, dvalues.shape[2:])
        return _max_unpool(dvalues, self.argmax, shape, self.pool_size, self.stride)


@register_layer
class MaxPool2D(_MaxPool):
    """The maximum of each ``pool_size`` window: ``(n, c, h, w)`` -> ``(n, c, oh, ow)``.

    Backward: each output's gradient goes to the input that was the window's maximum (the
    first one in row-major window order when several tie, as in PyTorch), nothing to the
    others; an input that is the maximum of several overlapping windows gets the sum.

    Parameters
    ----------
    pool_size : int or (int, int)
        Window height and width; one number for a square window.
    stride : int or (int, int), optional
        Step between windows, ``pool_size`` by default (windows side by side).

    Examples
    --------
    >>> import numpy as np
    >>> MaxPool2D(2).forward(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    array([[[[ 5.,  7.],
             [13., 15.]]]], dtype=float32)
    """


@register_layer
class MaxPool1D(_MaxPool):
    """The maximum of each window of ``pool_size`` steps: ``(n, c, length)`` ->
    ``(n, c, (length - pool_size) // stride + 1)``; MaxPool2D on rows one picture high.

    Parameters
    ----------
    pool_size : int
    stride : int, optional
        ``pool_size`` by default.

    Examples
    --------
    >>> import numpy as np
    >>> MaxPool1D(2).forward(np.array([[[1, 3, 2, 0, 5]]], dtype=np.float32))
    array([[[3., 2.]]], dtype=float32)
    """

    _spatial = 1

    def __init__(self, pool_size: int, stride: int | None = None) -> None:
        super().__init__(pool_size, stride)


@register_layer
class AvgPool2D(_Pool):
    """The mean of each ``pool_size`` window: ``(n, c, h, w)`` -> ``(n, c, oh, ow)``.

    Backward: each output's gradient is shared equally, ``dvalues / (ph * pw)``, by the inputs
    of its window (summed where windows overlap).

    Parameters
    ----------
    pool_size : int or (int, int)
    stride : int or (int, int), optional
        ``pool_size`` by default.

    Examples
    --------
    >>> import numpy as np
    >>> AvgPool2D(2).forward(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]], dtype=float32)
    """

    def _pool(self, planes: Array, out_size: Pair) -> Array:
        return _avg_pool(planes, self.pool_size, self.stride, out_size)

    def _unpool(self, dvalues: Array, shape: tuple[int, ...]) -> Array:
        return _avg_unpool(dvalues, shape, self.pool_size, self.stride)


# -- the computations on (n, c, h, w) planes ------------------------------------------------


def _offset_view(planes: Array, i: int, j: int, stride: Pair, out_size: Pair) -> Array:
    """The value at offset ``(i, j)`` of every window, ``(n, c, oh, ow)``: a strided view."""
    (sh, sw), (oh, ow) = stride, out_size
    return planes[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]


def _offsets(pool: Pair) -> list[tuple[int, int]]:
    """The window's offsets in row-major order, the order ties are broken in."""
    return [(i, j) for i in range(pool[0]) for j in range(pool[1])]


def _max_pool(planes: Array, pool: Pair, stride: Pair, out_size: Pair) -> tuple[Array, Array]:
    """The windows' maxima and where they are (offset ``i * pw + j``), both (n, c, oh, ow).

    Offsets are visited in row-major order and one replaces the maximum so far only when it
    is strictly larger, so a tie keeps the first. Since the offset ``k`` grows, "set argmax
    to k where larger" is ``maximum(argmax, larger * k)``: cheaper than a masked write.
    """
    offsets = _offsets(pool)
    output = _offset_view(planes, 0, 0, stride, out_size).copy()
    argmax = np.zeros(output.shape, dtype=np.min_scalar_type(len(offsets) - 1))
    larger = np.empty(output.shape, dtype=bool)
    for k, (i, j) in enumerate(offsets[1:], start=1):
        values = _offset_view(planes, i, j, stride, out_size)
        np.greater(values, output, out=larger)
        np.maximum(argmax, np.multiply(larger, k, dtype=argmax.dtype), out=argmax)
        np.maximum(output, values, out=output)
    return output, argmax


def _max_only(planes: Array, pool: Pair, stride: Pair, out_size: Pair) -> Array:
    """The windows' maxima, (n, c, oh, ow), without their positions."""
    offsets = _offsets(pool)
    output = _offset_view(planes, 0, 0, stride, out_size).copy()
    for i, j in offsets[1:]:
        np.maximum(output, _offset_view(planes, i, j, stride, out_size), out=output)
    return output


def _max_unpool(dvalues: Array, argmax: Array, shape: tuple[int, ...], pool: Pair,
                stride: Pair) -> Array:
    """d(loss)/d(inputs) (``shape``): each window's gradient at its maximum's offset."""
    dinputs = _gradient_array(shape, dvalues, pool, stride)
    out_size = dvalues.shape[2:]
    for k, (i, j) in enumerate(_offsets(pool)):
        view = _offset_view(dinputs, i, j, stride, out_size)
        if _overlap(pool, stride):
            view += dvalues * (argmax == k)
        else:
            np.multiply(dvalues, argmax == k, out=view)   # each input in one window at most
    return dinputs


def _avg_pool(planes: Array, pool: Pair, stride: Pair, out_size: Pair) -> Array:
    """The windows' means, (n, c, oh, ow): the offset views added, then divided by ph * pw."""
    offsets = _offsets(pool)
    output = _offset_view(planes, 0, 0, stride, out_size).copy()
    for i, j in offsets[1:]:
        output += _offset_view(planes, i, j, stride, out_size)
    output /= len(offsets)
    return output


def _avg_unpool(dvalues: Array, shape: tuple[int, ...], pool: Pair, stride: Pair) -> Array:
    """d(loss)/d(inputs) (``shape``): ``dvalues / (ph * pw)`` at every offset of its window."""
    dinputs = _gradient_array(shape, dvalues, pool, stride)
    share = dvalues / (pool[0] * pool[1])
    for i, j in _offsets(pool):
        view = _offset_view(dinputs, i, j, stride, dvalues.shape[2:])
        if _overlap(pool, stride):
            view += share
        else:
            view[...] = share
    return dinputs


def _overlap(pool: Pair, stride: Pair) -> bool:
    return stride[0] < pool[0] or stride[1] < pool[1]


def _gradient_array(shape: tuple[int, ...], dvalues: Array, pool: Pair, stride: Pair) -> Array:
    """Where d(loss)/d(inputs) is written: uninitialised when the windows tile the inputs
    exactly (every value is then written once), zeros when windows overlap or leave inputs out.
    """
    _, _, h, w = shape
    oh, ow = dvalues.shape[2:]
    tiles = stride == pool and h == oh * pool[0] and w == ow * pool[1]
    return (np.empty if tiles else np.zeros)(shape, dtype=dvalues.dtype)


# -- arguments ------------------------------------------------------------------------------


def _window_pair(value: Any, name: str, layer: str, spatial: int) -> Pair:
    """``pool_size`` or ``stride`` as (height, width); 1-D sizes as (1, size)."""
    def positive(number: Any) -> bool:
        return (isinstance(number, numbers.Integral) and not isinstance(number, bool)
                and int(number) >= 1)

    if positive(value):
        return (int(value), int(value)) if spatial == 2 else (1, int(value))
    is_pair = isinstance(value, (tuple, list))
    if spatial == 2 and is_pair and len(value) == 2 and all(map(positive, value)):
        return int(value[0]), int(value[1])
    expected = ("a positive integer or a pair of them, (height, width)" if spatial == 2
                else "a positive integer")
    integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    error = ValueError if integer or (is_pair and spatial == 2) else TypeError
    raise error(f"{layer}: {name} must be {expected}; got {describe(value)}")


def _stored(pair: Pair, spatial: int) -> int | Pair:
    """How a pair goes into a config: one number when it can be (1-D: always)."""
    if spatial == 1 or pair[0] == pair[1]:
        return pair[1]
    return pair
