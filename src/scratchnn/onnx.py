"""Export a finished :class:`~scratchnn.Model` to an ONNX file for inference elsewhere.

``to_onnx(model, path)`` writes one graph: input ``"input"`` shaped ``("batch", *sample)``,
output ``"output"``, opset :data:`OPSET`, IR version :data:`IR_VERSION`, in the model's dtype
(float32 or float64, never cast). scratchnn's layers are all channels-first (NCHW, NCL), as
ONNX's operators are, so no Transpose is needed and Flatten keeps scratchnn's element order.
Needs the ``onnx`` package: ``pip install "scratchnn[onnx]"``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import activations as act
from ._files import atomic_write
from .layers import (
    AvgPool2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool1D,
    MaxPool2D,
)

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        'scratchnn.to_onnx needs the onnx package: pip install "scratchnn[onnx]"'
    ) from error

__all__ = ["IR_VERSION", "OPSET", "GraphBuilder", "register_onnx_rule", "to_onnx"]

#: The ai.onnx opset the graph uses, and the file's IR version (onnxruntime >= 1.14 reads both).
OPSET = 17
IR_VERSION = 8

INPUT_NAME = "input"
_TEMP_SUFFIX = ".onnx-tmp"   # the temporary file beside the target while it is written
OUTPUT_NAME = "output"


class GraphBuilder:
    """The graph being built: nodes and initializers, with fresh names for each.

    An export rule ``rule(layer, builder, x) -> y`` takes the name of the layer's input
    tensor and returns the name of its output, adding nodes with :meth:`node` and constants
    with :meth:`constant`.
    """

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self.dtype = dtype
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def fresh(self, stem: str) -> str:
        """A tensor name not used before."""
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, values: Any, dtype: Any = None) -> str:
        """An initializer holding ``values`` (in the graph's dtype unless ``dtype``)."""
        name = self.fresh(stem)
        array = np.asarray(values, dtype=self.dtype if dtype is None else dtype)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        """Add one node of ``op``; returns the name of its (single) output."""
        output = self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


Rule = Callable[[Any, GraphBuilder, str], str]
_RULES: dict[type, Rule] = {}


def register_onnx_rule(cls: type) -> Callable[[Rule], Rule]:
    """Decorator registering ``rule(layer, builder, x) -> y`` as the export of ``cls``.

    >>> import scratchnn as snn
    >>> @register_onnx_rule(snn.Linear)
    ... def _identity(layer, builder, x):
    ...     return builder.node("Identity", [x])
    >>> _ = register_onnx_rule(snn.Linear)(_identity)   # put the built-in rule back
    """

    def decorator(rule: Rule) -> Rule:
        _RULES[cls] = rule
        return rule

    return decorator


def rule_for(cls: type) -> Rule | None:
    """The export rule of ``cls`` (exact class first, then its bases), or None."""
    for klass in cls.__mro__:
        if klass in _RULES:
            return _RULES[klass]
    return None


# -- the built-in rules ----------------------------------------------------------------------

def _dense(layer: Dense, b: GraphBuilder, x: str) -> str:
    # weights (n_inputs, n_neurons), biases (1, n_neurons): output = x @ W + b.
    product = b.node("MatMul", [x, b.constant("weights", layer.weights)])
    return b.node("Add", [product, b.constant("biases", layer.biases.reshape(-1))])


def _conv(layer: Any, b: GraphBuilder, x: str) -> str:
    # weights (out, in, *kernel) as ONNX's Conv wants; zero padding on both sides per axis.
    pads = list(layer.padding) * 2
    return b.node("Conv", [x, b.constant("weights", layer.weights),
                           b.constant("biases", layer.biases.reshape(-1))],
                  kernel_shape=list(layer.kernel_size), strides=list(layer.stride), pads=pads)


def _pool(op: str, spatial: int) -> Rule:
    def rule(layer: Any, b: GraphBuilder, x: str) -> str:
        # scratchnn: no padding, windows that do not fit dropped (floor), as ONNX's default.
        pool, stride = list(layer.pool_size)[-spatial:], list(layer.stride)[-spatial:]
        return b.node(op, [x], kernel_shape=pool, strides=stride)
    return rule


def _batchnorm(layer: BatchNorm, b: GraphBuilder, x: str) -> str:
    # Inference form over axis 1: gamma (x - mean) / sqrt(var + eps) + beta.
    return b.node("BatchNormalization",
                  [x, b.constant("gamma", layer.gamma), b.constant("beta", layer.beta),
                   b.constant("mean", layer.running_mean), b.constant("var", layer.running_var)],
                  epsilon=float(layer.epsilon))


def _flatten(layer: Flatten, b: GraphBuilder, x: str) -> str:
    # NCHW flattened in C order: scratchnn's reshape(n, -1) exactly.
    return b.node("Flatten", [x], axis=1)


def _identity(layer: Layer, b: GraphBuilder, x: str) -> str:
    """Dropout at inference and Linear: no node, the input goes on."""
    return x


def _elu(layer: act.ELU, b: GraphBuilder, x: str) -> str:
    return b.node("Elu", [x], alpha=float(layer.alpha))


def _leaky(layer: act.LeakyReLU, b: GraphBuilder, x: str) -> str:
    return b.node("LeakyRelu", [x], alpha=float(layer.alpha))


def _silu(layer: act.SiLU, b: GraphBuilder, x: str) -> str:
    return b.node("Mul", [x, b.node("Sigmoid", [x])])


def _gelu(layer: act.GELU, b: GraphBuilder, x: str) -> str:
    if layer.approximate == "tanh":
        # x * sigmoid(2 c (x + 0.044715 x**3)), scratchnn's form of 0.5 x (1 + tanh(.)).
        cube = b.node("Mul", [b.node("Mul", [x, x]), x])
        inner = b.node("Add", [x, b.node("Mul", [cube, b.constant("k", 0.044715)])])
        scaled = b.node("Mul", [inner, b.constant("c", 2 * math.sqrt(2 / math.pi))])
        return b.node("Mul", [x, b.node("Sigmoid", [scaled])])
    # x * 0.5 (1 + erf(x / sqrt 2)).
    erf = b.node("Erf", [b.node("Div", [x, b.constant("sqrt2", math.sqrt(2))])])
    half = b.node("Mul", [b.node("Add", [erf, b.constant("one", 1.0)]),
                          b.constant("half", 0.5)])
    return b.node("Mul", [x, half])


def _simple(op: str, **attributes: Any) -> Rule:
    def rule(layer: Any, b: GraphBuilder, x: str) -> str:
        return b.node(op, [x], **attributes)
    return rule


_RULES.update({
    Dense: _dense,
    Conv2D: _conv,
    Conv1D: _conv,
    MaxPool2D: _pool("MaxPool", 2),
    MaxPool1D: _pool("MaxPool", 1),
    AvgPool2D: _pool("AveragePool", 2),
    BatchNorm: _batchnorm,
    Flatten: _flatten,
    Dropout: _identity,
    act.ReLU: _simple("Relu"),
    act.Sigmoid: _simple("Sigmoid"),
    act.Tanh: _simple("Tanh"),
    act.Softmax: _simple("Softmax", axis=1),
    act.Linear: _identity,
    act.LeakyReLU: _leaky,
    act.ELU: _elu,
    act.SiLU: _silu,
    act.GELU: _gelu,
})


# -- the export --------------------------------------------------------------------------------

def build_model(model: Any) -> onnx.ModelProto:
    """The ONNX model of a scratchnn ``model`` (checked with ``onnx.checker``), not written."""
    if not model.layers:
        raise ValueError("cannot export an empty model: add layers first")
    if not model.finalized:
        raise ValueError("cannot export a model that is not finalized: call model.finalize()")
    rules = []
    for index, layer in enumerate(model.layers):
        rule = rule_for(type(layer))
        if rule is None:
            raise ValueError(
                f"layer {index} ({type(layer).__name__}) has no ONNX export rule; register one "
                "with scratchnn.onnx.register_onnx_rule"
            )
        rules.append(rule)
    dtype = np.dtype(model.dtype)
    elem = {np.dtype(np.float32): TensorProto.FLOAT,
            np.dtype(np.float64): TensorProto.DOUBLE}[dtype]
    builder = GraphBuilder(dtype)
    x = INPUT_NAME
    for layer, rule in zip(model.layers, rules, strict=True):
        x = rule(layer, builder, x)
    builder.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name="output"))
    sample = model.layers[0].expected_input_shape() or getattr(model, "sample_shape", None)
    first = model.layers[0]
    if sample is not None:
        dims: list[Any] = ["batch", *sample]
    elif isinstance(first, (Conv2D, Conv1D)):
        # Sizes free: a convolution takes pictures (sequences) of any size.
        spatial = ["height", "width"] if isinstance(first, Conv2D) else ["length"]
        dims = ["batch", first.in_channels, *spatial]
    else:
        dims = ["batch", "features"]
    input_info = helper.make_tensor_value_info(INPUT_NAME, elem, dims)
    proto = _assemble(builder, input_info, helper.make_tensor_value_info(OUTPUT_NAME, elem, []))
    # The output's shape as onnx infers it (symbolic where the input's sizes are).
    inferred = onnx.shape_inference.infer_shapes(proto)
    shape = next((info.type for info in inferred.graph.value_info if info.name == x), None)
    output_info = onnx.ValueInfoProto(name=OUTPUT_NAME)
    if shape is not None:
        output_info.type.CopyFrom(shape)
    else:
        output_info = helper.make_tensor_value_info(OUTPUT_NAME, elem, dims)
    proto = _assemble(builder, input_info, output_info)
    onnx.checker.check_model(proto)
    return proto


def _assemble(builder: GraphBuilder, input_info: onnx.ValueInfoProto,
              output_info: onnx.ValueInfoProto) -> onnx.ModelProto:
    graph = helper.make_graph(builder.nodes, "scratchnn", [input_info], [output_info],
                              builder.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="scratchnn")
    proto.ir_version = IR_VERSION
    return proto


def to_onnx(model: Any, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` as ONNX, atomically (as model files are written:
    :func:`scratchnn._files.atomic_write`, a temporary file renamed over ``path``)."""
    data = build_model(model).SerializeToString()
    atomic_write(Path(os.fspath(path)), [data], _TEMP_SUFFIX, action="export to")
