"""Hostile model files with valid checksums, for the loading tests and the fuzz test.

A crafted file is a real saved model whose header (or one array) was changed and whose
checksums were recomputed, so that it gets past the checksum checks and reaches the field
checks behind them. The models cover what the library writes: every optimizer, Dropout
layers with generators of every bit generator (Generator and legacy RandomState), a shared
generator (``same_as``), a regression precision and a layer's non-trainable state
(:class:`RunningMean`, registered only inside :func:`registered`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

import scratchnn as snn
from scratchnn import registry
from scratchnn.datasets import sine_data, spiral_data
from scratchnn.io import _PREFIX, ALIGNMENT, FORMAT_VERSION, MAGIC, read_file, save_model
from scratchnn.model import Model

Generator, RandomState = np.random.Generator, np.random.RandomState


def adam_classifier() -> Model:
    """Adam; Dropouts on PCG64 and Philox generators, a third sharing the model's."""
    model = Model(
        [snn.Dense(2, 16, rng=1), snn.ReLU(), snn.Dropout(0.2, rng=Generator(np.random.PCG64(1))),
         snn.Dense(16, 16, rng=2), snn.ReLU(), snn.Dropout(0.1, rng=Generator(np.random.Philox(2))),
         snn.Dense(16, 3, rng=3), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(learning_rate=0.02, decay=1e-3),
        seed=7,
    )
    return model


def sgd_binary() -> Model:
    """SGD with momentum; MT19937 as a Generator and as the book's legacy RandomState."""
    model = Model(
        [snn.Dense(2, 8, rng=4), snn.ReLU(), snn.Dropout(0.3, rng=Generator(np.random.MT19937(3))),
         snn.Dense(8, 8, rng=5), snn.ReLU(), snn.Dropout(0.3, rng=RandomState(4)),
         snn.Dense(8, 1, rng=6), snn.Sigmoid()],
        loss=snn.BinaryCrossentropy(), optimizer=snn.SGD(learning_rate=0.5, momentum=0.9),
        seed=8,
    )
    model.rng = Generator(np.random.MT19937(5))   # the model's own stream: MT19937 too
    return model


def rmsprop_regression() -> Model:
    """RMSprop and a derived RegressionAccuracy precision; SFC64, RandomState on PCG64."""
    shared = RandomState(np.random.PCG64(6))
    return Model(
        [snn.Dense(1, 8, rng=7), snn.Tanh(), snn.Dropout(0.1, rng=Generator(np.random.SFC64(7))),
         snn.Dense(8, 8, rng=8), snn.Tanh(), snn.Dropout(0.1, rng=shared),
         snn.Dense(8, 1, rng=9), snn.Dropout(0.1, rng=shared), snn.Linear()],
        loss=snn.MeanSquaredError(), optimizer=snn.RMSprop(learning_rate=0.01, decay=1e-2),
        seed=9,
    )


def adagrad_float64() -> Model:
    """Adagrad in float64; PCG64DXSM, and RandomState on Philox (cached Gaussian)."""
    legacy = RandomState(np.random.Philox(8))
    legacy.standard_normal()   # leaves has_gauss=1 and a gauss value in the state
    return Model(
        [snn.Dense(2, 8, rng=10, dtype=np.float64), snn.ReLU(),
         snn.Dropout(0.2, rng=Generator(np.random.PCG64DXSM(9))),
         snn.Dense(8, 3, rng=11, dtype=np.float64), snn.Dropout(0.2, rng=legacy), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adagrad(learning_rate=0.5),
        seed=10,
    )


class RunningMean(snn.Layer):
    """``output = inputs - running_mean``: a running mean of the training inputs, per feature,
    kept as non-trainable state (as a batch normalisation keeps its running statistics).

    running_mean: (1, n_features), zeros at first. While training, each batch moves it
    ``running_mean = momentum * running_mean + (1 - momentum) * inputs.mean(axis=0)``, after
    the output is computed; it is a constant for the gradient, so ``dinputs = dvalues``.
    """

    state_names = ("running_mean",)

    def __init__(self, n_features: int, *, momentum: float = 0.9, dtype=np.float32) -> None:
        self.n_features = n_features
        self.momentum = momentum
        self.dtype = np.dtype(dtype)
        self.running_mean = np.zeros((1, n_features), dtype=self.dtype)

    def forward(self, inputs, training=False):
        self.inputs = inputs
        self.output = inputs - self.running_mean
        if training:
            self.running_mean *= self.momentum
            self.running_mean += (1 - self.momentum) * inputs.mean(axis=0, keepdims=True)
        return self.output

    def backward(self, dvalues):
        self.dinputs = dvalues
        return self.dinputs

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"n_features": self.n_features, "momentum": self.momentum}
        if self.dtype != np.float32:
            config["dtype"] = self.dtype.name
        return config

    @classmethod
    def array_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        n_features = config.get("n_features")
        if type(n_features) is not int or n_features < 1:
            raise ValueError(f"n_features must be a positive int; got {n_features!r}")
        return {"running_mean": (1, n_features)}


@contextlib.contextmanager
def registered(*classes: type) -> Iterator[None]:
    """``classes`` registered as layers inside the block, the registry as it was after it
    (the registry is global: a class registered by one test must not leak into the next)."""
    saved = {kind: dict(known) for kind, known in registry._REGISTRIES.items()}
    try:
        for cls in classes:
            snn.register_layer(cls)
        yield
    finally:
        for kind, known in registry._REGISTRIES.items():
            known.clear()
            known.update(saved[kind])


def state_classifier() -> Model:
    """A RunningMean (non-trainable state) between Dense layers; Adam. Needs ``registered``."""
    return Model(
        [snn.Dense(2, 8, rng=12), RunningMean(8), snn.ReLU(), snn.Dense(8, 3, rng=13),
         RunningMean(3, momentum=0.5), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(learning_rate=0.02), seed=11,
    )


BUILDERS = [adam_classifier, sgd_binary, rmsprop_regression, adagrad_float64, state_classifier]


def training_data(model: Model) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(model.loss, snn.MeanSquaredError):
        return sine_data(64)
    X, y = spiral_data(samples=20, classes=3, rng=0)
    if isinstance(model.loss, snn.BinaryCrossentropy):
        return X, (y == 0).astype(np.float32).reshape(-1, 1)
    return X, y


def trained(build) -> Model:
    """``build()`` after one epoch: optimizer slots, iterations and precision are set."""
    model = build()
    X, y = training_data(model)
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    return model


def save_and_split(model: Model, path: Path) -> tuple[dict[str, Any], bytes]:
    """Save ``model`` to ``path``: its full header (array table included) and data bytes."""
    save_model(model, path)
    header, _ = read_file(path)
    raw = path.read_bytes()
    return header, raw[len(raw) - header["data_bytes"] :]


# Values that json.dumps cannot write as they must appear in a hostile file: replaced in the
# JSON text after dumping (a list nested 2,000 deep would also exhaust json.dumps itself).
class Raw:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:20]!r})"


def deep(levels: int) -> Raw:
    return Raw("[" * levels + "]" * levels)


def write_crafted(path: Path, header: dict[str, Any], data: bytes) -> None:
    """``header`` exactly as given (Raw values spliced in), the header checksum recomputed."""
    raws: dict[str, str] = {}

    def placeholder(value: Any) -> Any:
        if isinstance(value, Raw):
            key = f"__raw_{len(raws)}__"
            raws[key] = value.text
            return key
        if isinstance(value, dict):
            return {k: placeholder(v) for k, v in value.items()}
        if isinstance(value, list):
            return [placeholder(v) for v in value]
        return value

    text = json.dumps(placeholder(header), separators=(",", ":"))
    for key, raw in raws.items():
        text = text.replace(json.dumps(key), raw, 1)
    header_bytes = text.encode("utf-8")
    prefix = _PREFIX.pack(
        MAGIC, FORMAT_VERSION, len(header_bytes), hashlib.sha256(header_bytes).digest()
    )
    padding = b"\0" * (-(len(prefix) + len(header_bytes)) % ALIGNMENT)
    path.write_bytes(prefix + header_bytes + padding + data)


def replace_array(header: dict[str, Any], data: bytes, name: str, values: np.ndarray) -> bytes:
    """``data`` with array ``name`` holding ``values`` (same shape), its sha256 recomputed."""
    entry = next(e for e in header["arrays"] if e["name"] == name)
    dtype = np.dtype(entry["dtype"]).newbyteorder("<")
    raw = np.ascontiguousarray(values, dtype=dtype).tobytes()
    assert len(raw) == entry["nbytes"]
    entry["sha256"] = hashlib.sha256(raw).hexdigest()
    start = entry["offset"]
    return data[:start] + raw + data[start + len(raw) :]


def at(header: dict[str, Any], path: tuple[Any, ...]) -> Any:
    value: Any = header
    for step in path:
        value = value[step]
    return value


def put(header: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    at(header, path[:-1])[path[-1]] = value


def generator_entry(header: dict[str, Any], bit_generator: str, kind: str) -> tuple[Any, ...]:
    """The header path of the first stored state of ``bit_generator`` in a ``kind`` object."""
    states = header["random_state"]
    if states["model"]["state"]["bit_generator"] == bit_generator:
        if states["model"]["type"] == kind:
            return ("random_state", "model", "state")
    for index, entry in enumerate(states["layers"]):
        state = entry.get("state")
        if state and state["type"] == kind and state["state"]["bit_generator"] == bit_generator:
            return ("random_state", "layers", index, "state", "state")
    raise LookupError(f"no {kind} of {bit_generator} in this header")
