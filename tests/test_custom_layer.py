"""docs/writing-layers.md's example layer, run as the page writes it, then checked.

The code blocks of the page's example section are executed in a fresh namespace, so the layer
tested here is the one readers copy: it must train in a model, pass the float64 gradient
check, save and load, and appear in ``summary()``.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import registry

# Registrations made by a test (the page registers Scale) are forgotten afterwards.
from test_registry import _registry_as_it_was  # noqa: F401

PAGE = Path(__file__).resolve().parents[1] / "docs" / "writing-layers.md"
SECTION = "## A complete example: Scale"


def example_blocks() -> list[str]:
    """The ```python blocks between the example's heading and the next heading, in order."""
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    section = text[start:] if end == -1 else text[start:end]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_example() -> dict[str, Any]:
    """The namespace the page's example leaves behind, run in the current directory."""
    blocks = example_blocks()
    assert len(blocks) >= 4, "the example section lost its code blocks"
    namespace: dict[str, Any] = {"__name__": "writing_layers"}
    with contextlib.redirect_stdout(io.StringIO()):
        for number, block in enumerate(blocks, 1):
            exec(compile(block, f"{PAGE} (python block {number})", "exec"), namespace)
    return namespace


@pytest.fixture
def example(tmp_path, monkeypatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)      # the example saves a file
    return run_example()


def test_the_example_layer_is_registered_and_declares_its_arrays(example):
    Scale = example["Scale"]
    assert registry.lookup("layers", "Scale") is Scale
    layer = Scale(5)
    assert layer.parameter_names == ("gamma", "beta")
    assert layer.gradient_names == ("dgamma", "dbeta")
    assert Scale.array_shapes(layer.get_config()) == {"gamma": (1, 5), "beta": (1, 5)}
    assert [p.dtype for p in layer.parameters()] == [np.float32, np.float32]
    assert layer.expected_input_shape() == (5,)
    assert layer.output_shape((5,)) == (5,)
    with pytest.raises(ValueError, match=r"Scale\(5\) takes samples shaped \(5,\)"):
        layer.output_shape((4,))
    with pytest.raises(ValueError, match="n_features"):
        Scale.array_shapes({"n_features": -1})
    assert Scale.from_config(Scale(3, dtype=np.float64).get_config()).dtype == np.float64


def test_the_example_layer_trains_in_a_model(example):
    losses = example["history"].history["loss"]
    assert len(losses) == 100
    assert losses[-1] < 0.7 * losses[0], losses           # clearly learning
    scale = example["model"].layers[1]
    assert not np.all(scale.gamma == 1) and not np.all(scale.beta == 0)   # Scale was trained

    # The page's seeds fix the run: the example run again gives the same losses.
    assert run_example()["history"].history["loss"] == losses


def test_the_example_layer_passes_the_gradient_check(example, raise_float_errors):
    assert example["result"].ok                             # the page's own check
    Scale = example["Scale"]
    rng = np.random.default_rng(7)
    layer = Scale(6, dtype=np.float64)
    layer.gamma[...] = rng.normal(size=(1, 6))
    layer.beta[...] = rng.normal(size=(1, 6))
    inputs = rng.normal(size=(8, 6))
    result = snn.gradcheck(layer, inputs)
    assert result.ok, str(result)
    assert len(result.errors) == 3                          # dinputs, dgamma, dbeta
    assert result.max_error < 1e-7

    class WrongScale(Scale):
        def backward(self, dvalues):
            super().backward(dvalues)
            self.dbeta = dvalues.mean(axis=0, keepdims=True)   # the mean, not the sum
            return self.dinputs

    wrong = WrongScale(6, dtype=np.float64)
    wrong.gamma[...] = layer.gamma
    assert not snn.gradcheck(wrong, inputs).ok              # the check has teeth

    # As a model's first layer it skips dinputs and fills the same parameter gradients.
    dvalues = rng.normal(size=(8, 6))
    layer.forward(inputs)
    layer.backward(dvalues)
    dgamma, dbeta = layer.dgamma.copy(), layer.dbeta.copy()
    layer.needs_dinputs = False
    assert layer.backward(dvalues).size == 0
    assert np.array_equal(layer.dgamma, dgamma) and np.array_equal(layer.dbeta, dbeta)


def test_the_example_model_saves_and_loads(example, tmp_path):
    Scale, model, X = example["Scale"], example["model"], example["X"]
    loaded = snn.load_model(tmp_path / "spiral-scale.snn")   # the file the page saved
    assert type(loaded.layers[1]) is Scale
    assert loaded.layers[1].get_config() == {"n_features": 64}
    assert np.array_equal(loaded.layers[1].gamma, model.layers[1].gamma)
    assert np.array_equal(loaded.layers[1].beta, model.layers[1].beta)
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_the_summary_lists_the_example_layer(example):
    lines = example["model"].summary().splitlines()
    row = next((line for line in lines if line.startswith("Scale")), None)
    assert row is not None, "\n".join(lines)
    fields = row.split()
    assert fields[-1] == "128"                              # 2 * n_features parameters
    # The output column shows the layer's output width (64), bare or as a shape.
    assert re.search(r"\b64\b", " ".join(fields[1:-1])), row
