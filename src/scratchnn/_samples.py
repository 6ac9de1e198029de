"""What a model accepts: ``X``, ``y``, parameters, layers that connect; explained when wrong.

A batch ``X`` is shaped ``(n_samples, *sample_shape)``; the model's layers say which sample
shapes they take (:meth:`Layer.output_shape <scratchnn.Layer.output_shape>`). Targets take
the form the loss wants: class ids for a cross-entropy over classes, one value per output
otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._typing import Array
from ._validation import (
    all_finite,
    as_float_array,
    cast_float,
    check_finite,
    describe,
    plain_array,
)
from .layers.base import Layer
from .losses import Loss, SoftmaxCategoricalCrossentropy
from .metrics import Accuracy
from .optimizers import Optimizer

Shape = tuple[int, ...]


def check_inputs(
    X: Any, name: str, *, dtype: np.dtype, first: Any, expected: Shape | None, index: int = 0
) -> Array:
    """``X`` as an array of ``dtype`` with at least one finite sample.

    ``expected`` is the sample shape the first layer (``first``) fixes, if it does; then a
    wrong shape is explained here, in terms of that layer (a transposed batch, a lone
    sample, pictures for a Dense). Otherwise the layers judge it (``Model.layer_shapes``).
    ``index`` is that layer's position, after layers that keep the shape (Dropout, ReLU).
    """
    array = as_float_array(X, name, dtype)
    if expected is not None and (array.ndim < 1 or array.shape[1:] != expected):
        dims = ", ".join(str(d) for d in expected)
        hint = ""
        if array.shape == expected:
            hint = "; a single sample must still be a batch: use x.reshape(1, -1)"
        elif array.ndim == 2 and len(expected) == 1 and array.shape[0] == expected[0]:
            hint = "; the batch looks transposed: pass X.T so that samples are rows"
        elif array.ndim > 2 and len(expected) == 1:
            hint = (f"; flatten each sample first: {name}.reshape(len({name}), -1), or start "
                    "the model with Flatten()")
        where = ("the first layer" if index == 0 else
                 f"layer {index} (the layers before it keep the shape)")
        raise ValueError(
            f"{name} must be shaped (n_samples, {dims}) for {where}, "
            f"{first.describe()}; got {array.shape}{hint}"
        )
    if array.ndim == 0:
        raise ValueError(f"{name} must be a batch shaped (n_samples, ...); got a single number")
    if len(array) == 0:
        raise ValueError(f"{name} must hold at least one sample; got shape {array.shape}")
    check_finite(array, name)
    return array


def check_targets(
    y: Any, n_samples: int, name: str, *, loss: Any, output_shape: Shape, dtype: np.dtype
) -> Array:
    """Targets in the form ``loss`` wants: class ids (n,) or values (n, *output_shape).

    ``output_shape`` is one sample's output, the model's last layer's.
    """
    y = plain_array(y, name)
    if not isinstance(y, np.ndarray):
        # Lists and tuples keep their kind (True/False stay booleans, to be refused below).
        try:
            candidate = np.asarray(y)
        except (ValueError, TypeError):
            candidate = None
        if candidate is not None and candidate.ndim and candidate.dtype.kind in "iub":
            y = candidate
    if isinstance(y, np.ndarray) and y.dtype.kind in "fiub":
        array = y
    else:
        array = as_float_array(y, name, np.float64) if not isinstance(y, np.ndarray) else y
        if array.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold numbers; got dtype {array.dtype}")
    if array.ndim == 0:
        raise TypeError(
            f"{name} must be an array with one target per sample; got {describe(y)}"
        )
    if len(array) != n_samples:
        raise ValueError(
            f"len(X) must equal len({name}): X has {n_samples} samples but {name} has "
            f"{len(array)}"
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; got NaN or infinite values")
    classes = math.prod(output_shape)
    expects = getattr(loss, "expects", None)
    if len(output_shape) > 1:
        return _values_like_outputs(array, y, n_samples, name, output_shape, dtype)
    if expects == "class_probabilities" or loss is None:
        if array.ndim == 2 and array.shape[1] == classes and classes > 1:
            if not np.all((array == 0) | (array == 1)) or not np.all(array.sum(1) == 1):
                raise ValueError(
                    f"{name} given as a 2-D array must be one-hot rows (one 1 per row, "
                    f"width {classes}); got other values"
                )
            return np.argmax(array, axis=1)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.dtype.kind == "b" and classes != 2:
            raise TypeError(
                f"{name} holds True/False values, which would be read as classes 0 and 1 "
                f"of the {classes} the last layer has; pass integer class labels in "
                f"0..{classes - 1} (e.g. {name}.astype(int) if 0/1 is really meant)"
            )
        if array.ndim != 1:
            raise ValueError(
                f"{name} must be class labels shaped ({n_samples},) or one-hot shaped "
                f"({n_samples}, {classes}) for a last layer with {classes} outputs; "
                f"got {array.shape}"
            )
        if array.dtype.kind == "f":
            if not np.all(array == np.round(array)):
                raise ValueError(f"{name} class labels must be integers; got fractions")
        low, high = array.min(), array.max()
        if low < 0 or high >= classes:
            raise ValueError(
                f"{name} class labels must be in 0..{classes - 1} (the last layer has "
                f"{classes} outputs); got labels from {low:g} to {high:g}"
            )
        return array.astype(np.intp, copy=False)
    # Binary cross-entropy and regression: one target per output.
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or array.shape[1] != classes:
        raise ValueError(
            f"{name} must be shaped ({n_samples}, {classes}) (one target per output of the "
            f"last layer){' or (' + str(n_samples) + ',)' if classes == 1 else ''}; "
            f"got {np.shape(y)}"
        )
    if expects == "binary_probabilities":
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(f"{name} must hold 0/1 targets for BinaryCrossentropy")
    return cast_float(array, name, dtype)


def _values_like_outputs(
    array: Array, y: Any, n_samples: int, name: str, output_shape: Shape, dtype: np.dtype
) -> Array:
    """Targets for outputs that are not one row per sample: one value per output value."""
    if array.shape[1:] != output_shape:
        raise ValueError(
            f"{name} must be shaped ({n_samples}, {', '.join(map(str, output_shape))}) (one "
            f"target per output value of the last layer); got {np.shape(y)}"
        )
    return cast_float(array, name, dtype)


def check_parameters(layers: list[Any], parameters: Any) -> list[tuple[Array, Array]]:
    """``parameters`` for ``Model.set_parameters``: one list of arrays per trainable layer,
    each shaped like the layer's own and finite; returned as (target, array) pairs."""
    if not isinstance(parameters, Sequence) or len(parameters) != len(layers):
        count = len(parameters) if isinstance(parameters, Sequence) else describe(parameters)
        raise ValueError(
            f"parameters must hold one [weights, biases] list per trainable layer "
            f"({len(layers)}); got {count}"
        )
    checked: list[tuple[Array, Array]] = []
    for index, (layer, given) in enumerate(zip(layers, parameters, strict=True)):
        own = layer.parameters()
        if not isinstance(given, (Sequence, np.ndarray)) or isinstance(given, str):
            raise TypeError(
                f"parameters[{index}] must be a list [weights, biases] for "
                f"{layer.describe()}; got {describe(given)}"
            )
        if len(given) != len(own):
            raise ValueError(
                f"parameters[{index}] must hold {len(own)} arrays for "
                f"{layer.describe()}; got {len(given)}"
            )
        for slot, (target, value) in enumerate(zip(own, given, strict=True)):
            array = as_float_array(value, f"parameters[{index}][{slot}]", target.dtype)
            if array.shape != target.shape:
                raise ValueError(
                    f"parameters[{index}][{slot}] of {layer.describe()} must be "
                    f"shaped {target.shape}; got {array.shape}"
                )
            if not all_finite(array):
                raise ValueError(f"parameters[{index}][{slot}] must be finite")
            checked.append((target, array))
    return checked


def connect(layers: list[Any]) -> Shape | None:
    """The output sample shape, checked from the first layer that fixes its input on.

    None when no layer fixes one (the data will tell). Raises ValueError
    saying which layer gives what the next cannot take.
    """
    start = next((i for i, layer in enumerate(layers)
                  if layer.expected_input_shape() is not None), None)
    if start is None:
        return None
    shape = tuple(layers[start].expected_input_shape() or ())
    source = start
    for index in range(start, len(layers)):
        layer = layers[index]
        try:
            new = tuple(layer.output_shape(shape))
        except ValueError as error:
            expected = layer.expected_input_shape()
            given = layers[source].describe()
            if index > start and expected is not None and len(expected) == len(shape) == 1:
                raise ValueError(
                    f"layers do not connect: {given} outputs {shape[0]} features but the next "
                    f"{type(layer).__name__} (layer {index}, {layer.describe()}) expects "
                    f"{expected[0]}"
                ) from None
            raise ValueError(f"layers do not connect at layer {index}: {error}") from None
        if new != shape or layer.expected_input_shape() is not None:
            source = index
        shape = new
    return shape


def sample_shapes(layers: list[Any], sample_shape: Shape) -> list[Shape]:
    """Every layer's output sample shape for input samples shaped ``sample_shape``;
    ValueError naming the first layer that cannot take what it would get."""
    shapes = []
    shape = sample_shape
    for index, layer in enumerate(layers):
        try:
            shape = tuple(layer.output_shape(shape))
        except ValueError as error:
            raise ValueError(
                f"samples shaped {sample_shape} do not fit the model at layer {index} "
                f"({layer.describe()}): {error}"
            ) from None
        shapes.append(shape)
    return shapes


# -- what a model is built from ----------------------------------------------------------------


def check_layer_list(layers: Any) -> None:
    """``Model(layers)`` takes a list of layers (or None), not one layer or another thing."""
    if isinstance(layers, Layer) or (layers is not None and not isinstance(layers, Iterable)):
        hint = "; wrap a single layer in a list: [layer]" if isinstance(layers, Layer) else ""
        raise TypeError(
            "layers must be a list of layers, e.g. [Dense(2, 64), ReLU()]; "
            f"got {describe(layers)}{hint}"
        )


def check_layer(layer: Any) -> None:
    """A layer instance (a class given instead gets a hint)."""
    if not isinstance(layer, Layer):
        hint = ""
        if isinstance(layer, type) and issubclass(layer, Layer):
            hint = f"; did you mean {layer.__name__}() (an instance, not the class)?"
        raise TypeError(f"layers must be scratchnn layers; got {describe(layer)}{hint}")


def check_parts(*, loss: Any, optimizer: Any, accuracy: Any) -> None:
    """``Model.set``'s arguments: None or an instance of the right kind."""
    if loss is not None:
        if isinstance(loss, SoftmaxCategoricalCrossentropy):
            raise TypeError(
                "loss must be a Loss such as CategoricalCrossentropy(); the fused "
                "softmax + cross-entropy is used automatically when the last layer is Softmax"
            )
        if not isinstance(loss, Loss):
            raise TypeError(f"loss must be a scratchnn Loss instance; got {describe(loss)}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be a scratchnn Optimizer instance; got {describe(optimizer)}"
        )
    if accuracy is not None and not isinstance(accuracy, Accuracy):
        raise TypeError(
            f"accuracy must be a scratchnn Accuracy instance; got {describe(accuracy)}"
        )


def check_layers(layers: list[Layer]) -> np.dtype:
    """Each position its own layer object, one dtype for every array; returns that dtype
    (float32 when no layer has arrays)."""
    if not layers:
        raise ValueError("the model has no layers; add some with model.add(Dense(...))")
    seen: dict[int, int] = {}
    for index, layer in enumerate(layers):
        if id(layer) in seen:
            name = type(layer).__name__
            raise ValueError(
                f"layer {index} ({layer.describe()}) is the same object as layer "
                f"{seen[id(layer)]}; a layer keeps its inputs for the backward pass, so each "
                f"position needs its own instance, e.g. {name}() twice"
            )
        seen[id(layer)] = index
    dtypes = {array.dtype for layer in layers
              for array in (*layer.parameters(), *layer.state().values())}
    if len(dtypes) > 1:
        names = ", ".join(sorted(np.dtype(d).name for d in dtypes))
        raise ValueError(f"all layers with parameters must share one dtype; got {names}")
    return np.dtype(dtypes.pop() if dtypes else np.float32)


def check_sample_shape(shape: Any) -> Shape:
    """A saved sample shape: a list of 1 to 8 positive integers below 2**31."""
    if (not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= 8
            or not all(type(size) is int and 0 < size < 2**31 for size in shape)):
        raise ValueError(
            f"config: sample_shape must be a list of 1 to 8 positive integers; got "
            f"{describe(shape)}"
        )
    return tuple(shape)


def fixed_input(layers: list[Any]) -> tuple[int, Any, Shape] | None:
    """(position, layer, shape) of the first layer that fixes its input shape, when every
    layer before it keeps the shape (the protocol's element-wise ``output_shape``), so
    that ``X`` must have it; None otherwise."""
    for index, layer in enumerate(layers):
        expected = layer.expected_input_shape()
        if expected is not None:
            return index, layer, tuple(expected)
        if type(layer).output_shape is not Layer.output_shape:
            return None
    return None


def summary_table(layers: list[Any], shapes: list[Any]) -> str:
    """``Model.summary``'s table: each layer, its output sample shape (or ?), its parameters."""
    lines = [f"{'layer':<28}{'output shape':>16}{'parameters':>14}"]
    total = 0
    for layer, shape in zip(layers, shapes, strict=True):
        count = sum(param.size for param in layer.parameters())
        total += count
        shown = "?" if shape is None else "(" + ", ".join(map(str, shape)) + (
            ",)" if len(shape) == 1 else ")")
        lines.append(f"{layer.describe():<28}{shown:>16}{count:>14,}")
    lines.append(f"{'total':<28}{'':>16}{total:>14,}")
    return "\n".join(lines)
