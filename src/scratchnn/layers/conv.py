"""Convolutions: ``Conv2D`` on pictures, ``Conv1D`` on sequences, each the seed's dot product
on patches.

A convolution layer slides ``out_channels`` small filters over its inputs; at every position
each filter gives one number, the dot product of its weights with the patch of the inputs it
covers (a cross-correlation, as in every deep-learning library: the filter is not flipped)::

    output[s, o, y, x] = biases[o] + sum over c, i, j of
                         weights[o, c, i, j] * padded[s, c, stride*y + i, stride*x + j]

Looping over ``s, o, y, x`` in Python would be far too slow, so the layer rearranges the work
into one matrix product, in two explained steps (as chainer's ``utils/conv.py`` does):

1. **im2col.** Every patch becomes a column of a matrix ``columns`` shaped
   ``(in_channels * kh * kw, n * oh * ow)``: one row per (channel, kernel row, kernel column),
   one column per output position (sample, y, x). Built with one strided copy per kernel
   offset ``(i, j)``, after padding once.
2. **The product.** ``weights.reshape(out_channels, -1) @ columns`` is then every filter's dot
   product with every patch, ``(out_channels, n * oh * ow)``: the seed's ``inputs @ weights``
   with patches for samples. One product for the whole batch keeps the work in BLAS.

The backward pass reverses both steps: ``dweights`` is one product of the output gradient with
the saved ``columns``, and ``d(loss)/d(columns)`` goes back to the inputs by **col2im**, which
adds each column entry to the input value it was copied from (entries of overlapping patches
add up), again one strided slice per kernel offset.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, TypeVar

import numpy as np

from .._random import RandomLike, check_random_state
from .._typing import Array, DTypeLike
from .._validation import (
    as_float_array,
    check_dvalues,
    check_float_dtype,
    check_positive_int,
    check_real,
    describe,
)
from ._penalties import add_penalty_gradients, penalty_config, penalty_loss, set_penalties
from .base import Layer, register_layer
from .dense import _initial_weights

C = TypeVar("C", bound="_Convolution")



class _Convolution(Layer):
    """What Conv2D and Conv1D share; a Conv1D is computed as a Conv2D on pictures of height 1.

    The per-axis options (``kernel_size``, ``stride``, ``padding``) are tuples with one entry
    per spatial axis; ``_kernel2d``, ``_stride2d`` and ``_padding2d`` are the same as pairs
    (height, width), with height 1, stride 1 and padding 0 for a Conv1D.
    """

    parameter_names = ("weights", "biases")
    gradient_names = ("dweights", "dbiases")

    #: The names of the spatial axes, after (n_samples, channels).
    _axes: tuple[str, ...] = ()

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        *,
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        init: str | None = "he",
        weight_scale: float = 0.01,
        weight_regularizer_l1: float = 0.0,
        weight_regularizer_l2: float = 0.0,
        bias_regularizer_l1: float = 0.0,
        bias_regularizer_l2: float = 0.0,
        dtype: DTypeLike = np.float32,
        rng: RandomLike = None,
    ) -> None:
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = _per_axis(kernel_size, "kernel_size", self._axes, minimum=1)
        self.stride = _per_axis(stride, "stride", self._axes, minimum=1)
        self.padding = _per_axis(padding, "padding", self._axes, minimum=0)
        self.dtype = check_float_dtype(dtype)
        if init not in (None, "he", "glorot"):
            raise ValueError(f"init must be 'he', 'glorot' or None; got {init!r}")
        self.init = init
        self.weight_scale = check_real(
            weight_scale, "weight_scale", low=0.0, low_inclusive=False
        )
        set_penalties(self, weight_regularizer_l1, weight_regularizer_l2,
                      bias_regularizer_l1, bias_regularizer_l2)
        # A Conv1D is a Conv2D on pictures of height 1: kernel height 1, stride 1, no padding.
        flat = len(self._axes) == 1
        self._kernel2d = (1, *self.kernel_size) if flat else self.kernel_size
        self._stride2d = (1, *self.stride) if flat else self.stride
        self._padding2d = (0, *self.padding) if flat else self.padding

        # Each filter sees in_channels * kh * kw inputs (fan in) and each input feeds
        # out_channels * kh * kw outputs (fan out).
        window = math.prod(self.kernel_size)
        fan_in, fan_out = self.in_channels * window, self.out_channels * window
        scale = self.weight_scale
        if init == "he":
            scale = math.sqrt(2.0 / fan_in)
        elif init == "glorot":
            scale = math.sqrt(2.0 / (fan_in + fan_out))
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        generator = check_random_state(rng)
        try:
            # Dense's draws, (out_channels, fan_in) in row order: the same numbers as one
            # draw of the 4-D shape, in float64 and then cast (one seed, one model in both
            # dtypes); with a RandomState exactly weight_scale * rng.randn(*shape).
            weights = _initial_weights(generator, self.out_channels, fan_in, scale, self.dtype)
        except MemoryError:
            raise MemoryError(
                f"{self.describe()} needs {math.prod(shape):,} weights shaped {shape}, more "
                "memory than this machine can give; check in_channels, out_channels and "
                "kernel_size"
            ) from None
        # A copy, not a view of the 2-D draws: an array of its own, as the model's flat
        # storage packs (it leaves views of other memory alone: tied weights).
        self.weights: Array = weights.reshape(shape).copy()
        # (1, out_channels, 1, 1): one bias per filter, broadcast over samples and positions.
        self.biases: Array = np.zeros((1, self.out_channels) + (1,) * len(self._axes),
                                      dtype=self.dtype)
        self.dweights: Array = np.zeros_like(self.weights)
        self.dbiases: Array = np.zeros_like(self.biases)
        # Work arrays reused from step to step while the batch shape stays the same (see
        # _buffer); never handed out, so output and dinputs are new arrays every call.
        self._scratch: dict[str, Array] = {}

    # -- forward and backward: im2col, one product, col2im ----------------------------------

    def forward(self, inputs: Array, training: bool = False) -> Array:
        """``inputs`` (n, in_channels, *sizes) -> ``output`` (n, out_channels, *output sizes)."""
        inputs = self._check_inputs(inputs)
        self.inputs = inputs                       # kept for backward (its shape)
        output = self._forward_2d(self._as_pictures(inputs))
        self.output = output.reshape(len(inputs), self.out_channels,
                                     *self._output_sizes(inputs.shape[2:]))
        return self.output

    def _as_pictures(self, batch: Array) -> Array:
        """A batch as NCHW pictures: a Conv1D's sequences (n, c, length) become pictures one
        row high, (n, c, 1, length), a view."""
        return batch if len(self._axes) == 2 else batch[:, :, np.newaxis, :]

    def _forward_2d(self, inputs: Array) -> Array:
        """The convolution of NCHW ``inputs`` (n, c, h, w): im2col, then one product."""
        n, channels, height, width = inputs.shape
        (kh, kw), (sh, sw), (ph, pw) = self._kernel2d, self._stride2d, self._padding2d
        oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
        # Padded once, channels first, (c, n, h + 2ph, w + 2pw): the order of the columns'
        # rows, so that every copy below moves whole rows in the same order on both sides
        # (col2im's adds were 1.4x faster so). The border is zeroed when the array is made
        # and never written, so reusing it saves clearing it at every step.
        padded = self._buffer("padded", (channels, n, height + 2 * ph, width + 2 * pw),
                              zeros=True)
        padded[:, :, ph:ph + height, pw:pw + width] = inputs.transpose(1, 0, 2, 3)
        # im2col: columns[(c, i, j), (s, y, x)] = padded[c, s, sh*y + i, sw*x + j], one
        # strided slice of the padded inputs per kernel offset (i, j).
        columns = self._buffer("columns", (channels * kh * kw, n * oh * ow))
        blocks = columns.reshape(channels, kh, kw, n, oh, ow)
        for i in range(kh):
            for j in range(kw):
                blocks[:, i, j] = padded[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
        # The one product: (out, c*kh*kw) @ (c*kh*kw, n*oh*ow) -> (out, n*oh*ow).
        product = self._buffer("product", (self.out_channels, n * oh * ow))
        np.matmul(self.weights.reshape(self.out_channels, -1), columns, out=product)
        # Back to NCHW, (n, out, oh, ow), with the biases added in the same pass.
        output = np.empty((n, self.out_channels, oh, ow), dtype=self.dtype)
        np.add(product.reshape(self.out_channels, n, oh, ow).transpose(1, 0, 2, 3),
               self.biases.reshape(1, self.out_channels, 1, 1), out=output)
        return output

    def backward(self, dvalues: Array) -> Array:
        """Gradients of the loss w.r.t. weights, biases and inputs, regularisation included.

        With ``dproduct`` = dvalues as (out_channels, n * oh * ow), the product's layout:
        ``dweights = dproduct @ columns.T``, ``dbiases`` = its row sums and
        ``dcolumns = weights.reshape(out_channels, -1).T @ dproduct``, sent back to the
        inputs by col2im.
        """
        dvalues = check_dvalues(self, dvalues)
        dinputs = self._backward_2d(dvalues=self._as_pictures(dvalues),
                                    inputs=self._as_pictures(self.inputs))
        add_penalty_gradients(self)
        if dinputs is None:
            # First layer of a model: d(loss)/d(X) is never used, so the product and col2im
            # were skipped. An empty array (not a stale one) makes any accidental use fail.
            self.dinputs = np.empty((0, *self.inputs.shape[1:]), dtype=self.dtype)
        else:
            self.dinputs = dinputs.reshape(self.inputs.shape)
        return self.dinputs

    def _backward_2d(self, dvalues: Array, inputs: Array) -> Array | None:
        """dweights and dbiases written in place; d(loss)/d(inputs) as NCHW, or None when
        ``needs_dinputs`` is False. ``inputs`` are forward's, as pictures (for their shape)."""
        n, out_channels, oh, ow = dvalues.shape
        height, width = inputs.shape[2:]
        (kh, kw), (sh, sw), (ph, pw) = self._kernel2d, self._stride2d, self._padding2d
        columns = self._scratch["columns"]
        # The forward product is no longer needed: its array takes the gradient, transposed
        # to the product's (out, n*oh*ow) layout (one copy, which the products need anyway).
        dproduct = self._buffer("product", (out_channels, n * oh * ow))
        dproduct.reshape(out_channels, n, oh, ow)[...] = dvalues.transpose(1, 0, 2, 3)
        # Written into the gradient arrays (out=), which a model may keep as views of one
        # buffer for its optimizer.
        self.dweights = _product_into(self.dweights, dproduct, columns.T, self.weights.shape)
        # Row sums as a product with ones: BLAS does it 3x faster than np.add.reduce here.
        ones = self._buffer("ones", (n * oh * ow,), fill=1.0)
        self.dbiases = _product_into(self.dbiases, dproduct, ones, self.biases.shape)
        if not self.needs_dinputs:
            return None
        dcolumns = self._buffer("dcolumns", columns.shape)
        np.matmul(self.weights.reshape(out_channels, -1).T, dproduct, out=dcolumns)
        # col2im: each column entry is added back where im2col copied it from; kernel
        # offsets whose patches overlap add up. One strided slice per offset, no np.add.at.
        dpadded = self._buffer("dpadded", (self.in_channels, n, height + 2 * ph, width + 2 * pw))
        dpadded.fill(0)
        blocks = dcolumns.reshape(self.in_channels, kh, kw, n, oh, ow)
        for i in range(kh):
            for j in range(kw):
                dpadded[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += blocks[:, i, j]
        # The unpadded part, back to NCHW, in a new array (the user may keep dinputs).
        dinputs = np.empty((n, self.in_channels, height, width), dtype=self.dtype)
        np.copyto(dinputs, dpadded[:, :, ph:ph + height, pw:pw + width].transpose(1, 0, 2, 3))
        return dinputs

    def regularization_loss(self) -> float:
        """``l1 * sum|w| + l2 * sum(w**2)`` for weights and biases."""
        return penalty_loss(self)

    def _buffer(self, name: str, shape: tuple[int, ...], *, zeros: bool = False,
                fill: float | None = None) -> Array:
        """The work array ``name`` shaped ``shape`` in the layer's dtype, made again only when
        the shape changes (a new batch size). Saves allocating (and, for the padded inputs,
        clearing) several input-sized arrays at every step."""
        array = self._scratch.get(name)
        if array is None or array.shape != shape or array.dtype != self.dtype:
            array = np.zeros(shape, self.dtype) if zeros else np.empty(shape, self.dtype)
            if fill is not None:
                array.fill(fill)
            self._scratch[name] = array
        return array

    def __getstate__(self) -> dict[str, Any]:
        # Copies and pickles leave the work arrays behind (they can be as large as a batch's
        # columns); the layer makes them again at its next forward.
        state = self.__dict__.copy()
        state["_scratch"] = {
            name: array for name, array in self._scratch.items() if name == "columns"
        }
        return state

    # -- shapes -----------------------------------------------------------------------------

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(in_channels, *sizes)`` -> ``(out_channels, *output sizes)``, each output size
        ``(size + 2 * padding - kernel) // stride + 1``; other samples are refused."""
        problem = self._sample_problem(tuple(input_shape))
        if problem:
            raise ValueError(f"{self.describe()} {problem}")
        return (self.out_channels, *self._output_sizes(tuple(input_shape[1:])))

    def _output_sizes(self, sizes: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(
            (size + 2 * padding - kernel) // stride + 1
            for size, kernel, stride, padding
            in zip(sizes, self.kernel_size, self.stride, self.padding, strict=True)
        )

    def _sample_problem(self, shape: tuple[int, ...]) -> str | None:
        """What is wrong with samples shaped ``shape`` for this layer, or None."""
        layout = f"(channels, {', '.join(self._axes)})"
        if len(shape) != 1 + len(self._axes):
            return (f"takes batches in {self._order()} order, (n_samples, channels, "
                    f"{', '.join(self._axes)}), so samples shaped {layout} with "
                    f"{self.in_channels} channel(s); it would get samples shaped {shape}: "
                    f"{self._reshape_hint(shape)}")
        if shape[0] != self.in_channels:
            if shape[-1] == self.in_channels:
                axes = (0, len(shape), *range(1, len(shape)))
                hint = f"the channels look last; put them first with X.transpose{axes}"
            else:
                hint = (f"the layer before gives {shape[0]} channels: build this layer with "
                        f"in_channels={shape[0]}, or change the layer before")
            return (f"takes samples shaped {layout} with {self.in_channels} channel(s); it "
                    f"would get samples shaped {shape}, with {shape[0]} channels: {hint}")
        sizes = shape[1:]
        padded = tuple(size + 2 * p for size, p in zip(sizes, self.padding, strict=True))
        if any(p < k for p, k in zip(padded, self.kernel_size, strict=True)):
            given = " and ".join(f"{axis} {size}"
                                 for axis, size in zip(self._axes, sizes, strict=True))
            return (f"cannot slide its kernel of {_by(self.kernel_size)} over samples of "
                    f"{given} padded by {_shown(self.padding)} on each side ({_by(padded)} in "
                    "all): the kernel must fit inside the padded sample; use a smaller "
                    "kernel_size, more padding or larger samples")
        return None

    def _reshape_hint(self, shape: tuple[int, ...]) -> str:
        spatial = len(self._axes)
        sizes = ", ".join(self._axes)
        generic = f"reshape the batch, e.g. X.reshape(len(X), {self.in_channels}, {sizes})"
        if len(shape) == spatial and self.in_channels == 1:
            dims = ", ".join(map(str, shape))
            return f"the samples have no channel axis: use X.reshape(len(X), 1, {dims})"
        if len(shape) == 1 and spatial == 2 and shape[0] % self.in_channels == 0:
            side = math.isqrt(shape[0] // self.in_channels)
            if side * side * self.in_channels == shape[0]:
                return (f"flat pictures must be reshaped, e.g. "
                        f"X.reshape(len(X), {self.in_channels}, {side}, {side})")
        return generic

    def _order(self) -> str:
        return "NCHW" if len(self._axes) == 2 else "NCL"

    @classmethod
    def array_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """``weights`` (out_channels, in_channels, *kernel_size), ``biases`` (1, out_channels,
        1, ...), from a config checked like the constructor's arguments."""
        in_channels = check_positive_int(config.get("in_channels"), "in_channels")
        out_channels = check_positive_int(config.get("out_channels"), "out_channels")
        kernel = _per_axis(config.get("kernel_size"), "kernel_size", cls._axes, minimum=1)
        _per_axis(config.get("stride", 1), "stride", cls._axes, minimum=1)
        _per_axis(config.get("padding", 0), "padding", cls._axes, minimum=0)
        return {"weights": (out_channels, in_channels, *kernel),
                "biases": (1, out_channels, *(1,) * len(cls._axes))}

    # -- configuration ----------------------------------------------------------------------

    def describe(self) -> str:
        text = f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
        text += _shown(self.kernel_size)
        if self.stride != (1,) * len(self._axes):
            text += f", stride={_shown(self.stride)}"
        if self.padding != (0,) * len(self._axes):
            text += f", padding={_shown(self.padding)}"
        return text + ")"

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": _compact(self.kernel_size),
        }
        if self.stride != (1,) * len(self._axes):
            config["stride"] = _compact(self.stride)
        if self.padding != (0,) * len(self._axes):
            config["padding"] = _compact(self.padding)
        # How the first weights were drawn, so that from_config draws them alike.
        if self.init != "he":
            config["init"] = self.init
        if self.init is None and self.weight_scale != 0.01:
            config["weight_scale"] = self.weight_scale
        config.update(penalty_config(self))
        if self.dtype != np.float32:
            config["dtype"] = self.dtype.name
        return config

    @classmethod
    def from_config(cls: type[C], config: dict[str, Any], *, rng: RandomLike = None) -> C:
        """The layer ``config`` describes, its initial weights drawn from ``rng``."""
        return cls(**{**config, "rng": rng})

    def _check_inputs(self, inputs: Array) -> Array:
        if not (type(inputs) is np.ndarray and inputs.dtype == self.dtype):
            inputs = as_float_array(inputs, "inputs", self.dtype)
        problem = None
        if (inputs.ndim != 2 + len(self._axes) or inputs.shape[1] != self.in_channels
                or any(size < 1 for size in self._output_sizes(inputs.shape[2:]))):
            problem = self._sample_problem(inputs.shape[1:])
        if problem:
            raise ValueError(f"inputs shaped {inputs.shape}: {self.describe()} {problem}")
        return inputs


@register_layer
class Conv2D(_Convolution):
    """2-D convolution over pictures in NCHW order, ``(n, channels, height, width)``.

    weights: (out_channels, in_channels, kh, kw), one filter per output channel, each as
             deep as the inputs (PyTorch's and ONNX's layout): ``weights.reshape(out, -1)``
             is then the matrix of the one product, a filter per row.
    biases:  (1, out_channels, 1, 1), zeros, broadcast over samples and positions as Dense's
             (1, n_neurons) are over samples.

    The steps (the module's docstring explains them), with ``P = n * oh * ow`` positions::

        columns  = im2col(padded inputs)                  # (in*kh*kw, P), a patch per column
        output   = weights.reshape(out, -1) @ columns     # (out, P) -> (n, out, oh, ow), + biases
        dweights = dvalues_as(out, P) @ columns.T         # (out, in*kh*kw), one product
        dinputs  = col2im(weights.reshape(out, -1).T @ dvalues_as(out, P))

    Each output size is ``(size + 2 * padding - kernel) // stride + 1``: ``Conv2D(1, 16, 3,
    padding=1)`` keeps 28x28 pictures 28x28; with ``stride=2`` as well it halves them.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels coming in (1 for grey pictures, 3 for RGB) and filters (channels going out).
    kernel_size, stride, padding : int or (int, int)
        Filter size, step between positions and zeros added on each side, as (height,
        width) or one int for both.
    init : {"he", "glorot"} or None
        Normal initial weights with standard deviation ``sqrt(2 / fan_in)`` ("he", the
        default, for ReLU networks) or ``sqrt(2 / (fan_in + fan_out))`` ("glorot"), where
        ``fan_in = in_channels * kh * kw`` and ``fan_out = out_channels * kh * kw``; None
        uses ``weight_scale``.
    weight_scale : float
        Standard deviation of the initial weights when ``init`` is None.
    weight_regularizer_l1, weight_regularizer_l2, bias_regularizer_l1, bias_regularizer_l2 : float
        Penalty strengths (lambda) added to the loss, as Dense's.
    dtype : numpy.float32 (default) or numpy.float64
    rng : None, int, numpy.random.Generator or numpy.random.RandomState
        Source of the initial weights (drawn as Dense draws them).

    Examples
    --------
    >>> import numpy as np
    >>> layer = Conv2D(1, 16, 3, padding=1, rng=0)
    >>> layer.forward(np.zeros((2, 1, 28, 28), dtype=np.float32)).shape
    (2, 16, 28, 28)
    >>> layer.output_shape((1, 28, 28))
    (16, 28, 28)
    """

    _axes = ("height", "width")


@register_layer
class Conv1D(_Convolution):
    """1-D convolution over sequences, ``(n, channels, length)``.

    weights: (out_channels, in_channels, k); biases: (1, out_channels, 1).
    Computed as a :class:`Conv2D` on pictures of height 1 (the same im2col and product), so
    its options are Conv2D's with one int each for ``kernel_size``, ``stride`` and
    ``padding``; the output length is ``(length + 2 * padding - k) // stride + 1``.

    >>> import numpy as np
    >>> Conv1D(2, 4, 5, stride=2, rng=0).forward(np.zeros((3, 2, 40))).shape
    (3, 4, 18)
    """

    _axes = ("length",)


def _per_axis(value: Any, name: str, axes: tuple[str, ...], *, minimum: int) -> tuple[int, ...]:
    """``value``, an int or one int per axis in ``axes`` (a tuple or a list, which model
    files give), as a tuple of ints >= ``minimum``; else an error naming ``name``."""
    what = "a positive integer" if minimum == 1 else "a non-negative integer"
    if len(axes) > 1:
        what += f" or a tuple of {len(axes)} of them ({', '.join(axes)})"
    if isinstance(value, (tuple, list)):
        if len(value) != len(axes):
            raise ValueError(f"{name} must be {what}; got {value!r}, {len(value)} value(s)")
        items = tuple(value)
    else:
        items = (value,) * len(axes)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{name} must be {what}; got {describe(value)}")
        if item < minimum:
            raise ValueError(f"{name} must be {what}; got {value!r}")
    return tuple(int(item) for item in items)


def _compact(values: tuple[int, ...]) -> int | list[int]:
    """One int when every axis has the same value, else a list (model files store JSON)."""
    return values[0] if len(set(values)) == 1 else list(values)


def _shown(values: tuple[int, ...]) -> str:
    """(3, 3) -> "3", (3, 5) -> "(3, 5)", as a constructor call would say it."""
    return str(values[0]) if len(set(values)) == 1 else str(values)


def _by(values: tuple[int, ...]) -> str:
    """(3, 5) -> "3x5", (3,) -> "3"."""
    return "x".join(map(str, values))


def _product_into(gradient: Array, left: Array, right: Array, shape: tuple[int, ...]) -> Array:
    """``(left @ right).reshape(shape)``, written into ``gradient`` when it is a C-contiguous
    array of that shape and dtype (the model's flat storage holds such views)."""
    if (gradient.shape == shape and gradient.dtype == left.dtype
            and gradient.flags.c_contiguous):
        np.matmul(left, right, out=gradient.reshape(left.shape[0], *right.shape[1:]))
        return gradient
    return np.matmul(left, right).reshape(shape)
