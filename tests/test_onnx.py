"""ONNX export: onnxruntime gives Model.predict's outputs for every built-in layer."""

import os
import sys

import numpy as np
import onnx  # a dev dependency: imported, not importorskip'd, so that a missing one fails
import onnxruntime as ort
import pytest

import scratchnn as snn
from scratchnn import onnx as export
from scratchnn.registry import _REGISTRIES

ACTIVATIONS = [snn.ReLU(), snn.LeakyReLU(0.2), snn.Sigmoid(), snn.Tanh(), snn.Softmax(),
               snn.Linear(), snn.ELU(0.7), snn.GELU(), snn.GELU("tanh"), snn.SiLU()]


def _run(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": X})[0]


def _finalized(*layers):
    model = snn.Model(seed=0) if "seed" in snn.Model.__init__.__code__.co_varnames else snn.Model()
    for layer in layers:
        model.add(layer)
    model.finalize()
    return model


def _check(model, X, path):
    snn.to_onnx(model, path)
    onnx.checker.check_model(onnx.load(str(path)))
    got, want = _run(path, X), model.predict(X)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: repr(a.__dict__))
def test_mlp_per_activation(activation, tmp_path):
    model = _finalized(snn.Dense(5, 8, rng=0), activation, snn.Dropout(0.3),
                       snn.Dense(8, 3, rng=1))
    X = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32) * 3
    _check(model, X, tmp_path / "m.onnx")
    _check(model, X[:1], tmp_path / "m.onnx")


def test_cnn_with_batchnorm_and_pools(tmp_path):
    bn = snn.BatchNorm(4)
    model = _finalized(snn.Conv2D(2, 4, 3, padding=1, stride=1, rng=0), bn, snn.ReLU(),
                       snn.MaxPool2D(2), snn.AvgPool2D(2), snn.Flatten(),
                       snn.Dense(4 * 2 * 2, 3, rng=1), snn.Softmax())
    rng = np.random.default_rng(1)
    bn.running_mean[:] = rng.normal(size=4)
    bn.running_var[:] = rng.uniform(0.5, 2.0, size=4)
    bn.gamma[:] = rng.normal(size=4)
    bn.beta[:] = rng.normal(size=4)
    X = rng.normal(size=(7, 2, 9, 9)).astype(np.float32)
    path = tmp_path / "cnn.onnx"
    _check(model, X, path)
    np.testing.assert_allclose(_run(path, X[:1]), model.predict(X[:1]), atol=1e-5, rtol=0)


def test_conv1d_maxpool1d(tmp_path):
    model = _finalized(snn.Conv1D(3, 4, 5, stride=2, padding=2, rng=0), snn.Tanh(),
                       snn.MaxPool1D(2), snn.Flatten(), snn.Dense(4 * 5, 2, rng=1))
    X = np.random.default_rng(2).normal(size=(7, 3, 20)).astype(np.float32)
    _check(model, X, tmp_path / "c1.onnx")


def test_dropout_is_dropped(tmp_path):
    model = _finalized(snn.Dense(3, 3, rng=0), snn.Dropout(0.5))
    path = tmp_path / "d.onnx"
    snn.to_onnx(model, path)
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert "Dropout" not in ops


def test_every_registered_layer_has_a_rule():
    for name, cls in _REGISTRIES["layers"].items():
        if cls.__module__.startswith("scratchnn."):
            assert export.rule_for(cls) is not None, name


def test_opset_and_ir(tmp_path):
    path = tmp_path / "m.onnx"
    snn.to_onnx(_finalized(snn.Dense(2, 2, rng=0)), path)
    proto = onnx.load(str(path))
    assert proto.ir_version == export.IR_VERSION == 8
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "batch"


@pytest.fixture
def forget_registrations():
    """The layer registry and the export rules are global: what a test adds is removed."""
    layers, rules = dict(_REGISTRIES["layers"]), dict(export._RULES)
    yield
    _REGISTRIES["layers"].clear()
    _REGISTRIES["layers"].update(layers)
    export._RULES.clear()
    export._RULES.update(rules)


def test_custom_layer_refused(tmp_path, forget_registrations):
    @snn.register_layer
    class Doubler(snn.Layer):
        def forward(self, inputs, training=False):
            self.output = 2 * inputs
            return self.output

        def backward(self, dvalues):
            self.dinputs = 2 * dvalues
            return self.dinputs

    model = _finalized(snn.Dense(2, 2, rng=0), Doubler())
    path = tmp_path / "x.onnx"
    with pytest.raises(ValueError, match=r"layer 1 \(Doubler\)"):
        snn.to_onnx(model, path)
    assert not path.exists()
    export.register_onnx_rule(Doubler)(
        lambda layer, b, x: b.node("Mul", [x, b.constant("two", 2.0)]))
    X = np.ones((3, 2), dtype=np.float32)
    _check(model, X, path)


def test_empty_and_unfinalized(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        snn.to_onnx(snn.Model(), tmp_path / "e.onnx")
    model = snn.Model()
    model.add(snn.Dense(2, 2, rng=0))
    with pytest.raises(ValueError, match="finalize"):
        snn.to_onnx(model, tmp_path / "e.onnx")


def test_atomic_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous")

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        snn.to_onnx(_finalized(snn.Dense(2, 2, rng=0)), path)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_import_scratchnn_does_not_import_onnx():
    import subprocess

    code = "import scratchnn, sys; assert 'onnx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_float64_model_gives_a_float64_graph(tmp_path):
    model = _finalized(snn.Dense(3, 4, rng=0, dtype=np.float64), snn.Tanh(),
                       snn.Dense(4, 2, rng=1, dtype=np.float64))
    X = np.random.default_rng(3).normal(size=(7, 3))
    path = tmp_path / "f64.onnx"
    snn.to_onnx(model, path)
    got = _run(path, X)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, model.predict(X), atol=1e-12, rtol=0)
