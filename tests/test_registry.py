"""scratchnn.register_layer: a layer class of the user's own code saved and loaded by name."""

from __future__ import annotations

import re

import numpy as np
import pytest

import _crafted_files as crafted
import scratchnn as snn
from scratchnn import ModelFileError, registry
from scratchnn.datasets import spiral_data


@pytest.fixture(autouse=True)
def _registry_as_it_was():
    """Classes registered by a test are forgotten afterwards (the registry is global)."""
    saved = {kind: dict(known) for kind, known in registry._REGISTRIES.items()}
    yield
    for kind, known in registry._REGISTRIES.items():
        known.clear()
        known.update(saved[kind])


class Scale(snn.Layer):
    """A learned factor per feature: ``output = inputs * scales``, scales (1, n_features)."""

    def __init__(self, n_features: int, *, initial: float = 1.0) -> None:
        self.n_features = n_features
        self.initial = initial
        self.scales = np.full((1, n_features), initial, dtype=np.float32)
        self.dscales = np.zeros_like(self.scales)

    def forward(self, inputs, training=False):
        self.inputs = inputs
        self.output = inputs * self.scales
        return self.output

    def backward(self, dvalues):
        self.dscales = (dvalues * self.inputs).sum(axis=0, keepdims=True)
        self.dinputs = dvalues * self.scales
        return self.dinputs

    def parameters(self):
        return [self.scales]

    def gradients(self):
        return [self.dscales]

    def get_config(self):
        return {"n_features": self.n_features, "initial": self.initial}


def scaled_classifier() -> snn.Model:
    return snn.Model(
        [snn.Dense(2, 16, rng=1), Scale(16, initial=0.5), snn.ReLU(), snn.Dense(16, 3, rng=2),
         snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(learning_rate=0.02), seed=3,
    )


def test_a_registered_layer_trains_saves_and_loads(tmp_path):
    assert snn.register_layer(Scale) is Scale
    X, y = spiral_data(samples=50, classes=3, rng=0)
    model = scaled_classifier()
    model.fit(X, y, epochs=3, batch_size=32, verbose=0)
    assert not np.all(model.layers[1].scales == 0.5)      # its parameter was trained
    model.save(tmp_path / "scaled.snn")
    loaded = snn.load_model(tmp_path / "scaled.snn")
    assert type(loaded.layers[1]) is Scale
    assert loaded.layers[1].get_config() == {"n_features": 16, "initial": 0.5}
    assert np.array_equal(loaded.predict(X), model.predict(X))
    # Training on goes on exactly as it would have without the save (optimizer slots too).
    model.fit(X, y, epochs=2, batch_size=32, verbose=0)
    loaded.fit(X, y, epochs=2, batch_size=32, verbose=0)
    assert np.array_equal(loaded.layers[1].scales, model.layers[1].scales)
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_an_unregistered_layer_cannot_be_saved(tmp_path):
    X, y = spiral_data(samples=20, classes=3, rng=0)
    model = scaled_classifier()
    model.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(TypeError, match=r"Scale is not a registered layers class.*"
                                        r"@scratchnn\.register_layer"):
        model.save(tmp_path / "scaled.snn")
    assert not (tmp_path / "scaled.snn").exists()


def test_a_file_naming_an_unregistered_class_is_refused(tmp_path):
    snn.register_layer(Scale)
    model = scaled_classifier()
    header, data = crafted.save_and_split(model, tmp_path / "scaled.snn")
    # Forgotten again, as in a program that never imported the module defining it.
    del registry._REGISTRIES["layers"]["Scale"]
    with pytest.raises(ModelFileError, match=r"scaled\.snn.*unknown layers class 'Scale'.*"
                                             r"register_layer"):
        snn.load_model(tmp_path / "scaled.snn")
    # A name that is no class at all, or one of another kind (Adam is an optimizer), too:
    # nothing is looked up anywhere but in the registry of its own kind.
    for name in ("os.system", "Adam", "Model", "__builtins__"):
        header["config"]["layers"][1]["class"] = name
        crafted.write_crafted(tmp_path / "crafted.snn", header, data)
        with pytest.raises(ModelFileError, match=rf"crafted\.snn.*{re.escape(repr(name))}"):
            snn.load_model(tmp_path / "crafted.snn")


def test_name_clashes_are_refused():
    snn.register_layer(Scale)
    snn.register_layer(Scale)            # the same class again: harmless

    def another_scale() -> type:
        class Scale(snn.Layer):
            pass

        return Scale

    with pytest.raises(ValueError, match=r"test_registry\..*<locals>\.Scale.*'Scale'.*"
                                         r"test_registry\.Scale is registered"):
        snn.register_layer(another_scale())

    class Dense(snn.Layer):
        pass

    with pytest.raises(ValueError, match=r"'Dense'.*scratchnn\.layers\.dense\.Dense"):
        snn.register_layer(Dense)
    assert registry.lookup("layers", "Dense") is snn.Dense


def test_running_a_definition_again_replaces_it():
    """A notebook cell or module reload defines the class again: same module and name."""
    namespace: dict = {"snn": snn, "__name__": "notebook_cell"}
    source = "@snn.register_layer\nclass Twice(snn.Layer):\n    pass\n"
    exec(source, namespace)
    first = namespace["Twice"]
    exec(source, namespace)
    assert namespace["Twice"] is not first
    assert registry.lookup("layers", "Twice") is namespace["Twice"]


@pytest.mark.parametrize("value", [Scale(3), int, snn.Adam, "Scale"])
def test_only_layer_classes_register(value):
    with pytest.raises(TypeError, match="register_layer takes a subclass of scratchnn.Layer"):
        snn.register_layer(value)


def test_lookup_lists_the_known_names():
    with pytest.raises(ValueError, match=r"unknown optimizer class 'Nadam'; known: Adagrad, "
                                         r"Adam, AdamW, RMSprop, SGD"):
        registry.lookup("optimizer", "Nadam")
    assert registry.lookup("loss", "MeanSquaredError") is snn.MeanSquaredError


def test_the_library_classes_are_registered_where_they_are_defined():
    assert registry.known_names("layers") == [
        "AvgPool2D", "BatchNorm", "Conv1D", "Conv2D", "Dense", "Dropout", "ELU", "Flatten",
        "GELU", "LeakyReLU", "Linear", "MaxPool1D", "MaxPool2D", "ReLU", "SiLU", "Sigmoid",
        "Softmax", "Tanh"]
    assert registry.known_names("accuracy") == ["CategoricalAccuracy", "RegressionAccuracy"]
    from scratchnn import book

    # The book's classes are saved as the library classes they specialise.
    assert registry.library_class_name(book.Layer_Dense(2, 3)) == "Dense"
    assert registry.library_class_name(book.Loss_MeanSquaredError()) == "MeanSquaredError"
    assert book._BOOK_CLASSES[snn.Adam] is book.Optimizer_Adam
    assert None not in book._BOOK_CLASSES and len(book._BOOK_CLASSES) == 16


def test_layer_from_config_default_and_dense_rng():
    assert snn.LeakyReLU.from_config({"alpha": 0.2}).alpha == 0.2
    a = snn.Dense.from_config({"n_inputs": 3, "n_neurons": 2}, rng=5)
    b = snn.Dense(3, 2, rng=5)
    assert np.array_equal(a.weights, b.weights)
