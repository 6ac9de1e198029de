"""A catalogue of bad inputs thrown at the public API.

Each entry calls one documented function with one mistake a user can make and states the
exception type and a regex the message must match: the argument's name and the words that say
what is wrong. No entry may end in a bare NumPy error (IndexError, broadcasting, matmul).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.datasets import load_fashion_mnist, spiral_data, vertical_data
from scratchnn.datasets.preprocessing import flatten, scale_images
from scratchnn.errors import DatasetError, ModelFileError

N = 30  # samples per class in the small data sets below


def _data() -> tuple[np.ndarray, np.ndarray]:
    return spiral_data(N, 3, rng=0)


def _model(**kwargs: Any) -> snn.Model:
    """A small 2 -> 4 -> 3 classifier with the fused softmax + cross-entropy."""
    layers = [snn.Dense(2, 4, rng=0), snn.ReLU(), snn.Dense(4, 3, rng=1), snn.Softmax()]
    options: dict[str, Any] = {
        "loss": snn.CategoricalCrossentropy(),
        "optimizer": snn.Adam(learning_rate=0.01),
        "seed": 0,
    }
    options.update(kwargs)
    return snn.Model(layers, **options)


def _fit(X: Any = None, y: Any = None, **kwargs: Any) -> Any:
    X0, y0 = _data()
    options = {"epochs": 1, "verbose": 0}
    options.update(kwargs)
    return _model().fit(X0 if X is None else X, y0 if y is None else y, **options)


def _regressor() -> snn.Model:
    layers = [snn.Dense(2, 1, rng=0), snn.Linear()]
    return snn.Model(layers, loss=snn.MeanSquaredError(), optimizer=snn.SGD(0.01), seed=0)


def _with_nan(X: np.ndarray) -> np.ndarray:
    X = X.copy()
    X[3, 1] = np.nan
    return X


def _forward(layer: Any, inputs: Any) -> Any:
    return layer.forward(inputs)


def _backward(layer: Any, inputs: Any, dvalues: Any) -> Any:
    layer.forward(np.asarray(inputs, dtype=np.float32))
    return layer.backward(dvalues)


PROBS = np.full((4, 3), 1 / 3, dtype=np.float32)
LABELS = np.array([0, 1, 2, 1])


def _fused_forward(logits: Any, y_true: Any) -> Any:
    return snn.SoftmaxCategoricalCrossentropy().forward(logits, y_true)


def _fused_backward(y_true: Any) -> Any:
    loss = snn.SoftmaxCategoricalCrossentropy()
    loss.forward(np.zeros((4, 3), dtype=np.float32), LABELS)
    return loss.backward(loss.output, y_true)


def _optimizer_step(optimizer: snn.Optimizer, layer: Any) -> None:
    optimizer.pre_update_params()
    optimizer.update_params(layer)
    optimizer.post_update_params()


# -- files -------------------------------------------------------------------------------------


def _saved_model(folder: Path) -> Path:
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=1, verbose=0)
    path = folder / "model.snn"
    model.save(path)
    return path


def _load_truncated(folder: Path) -> Any:
    path = _saved_model(folder)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return snn.load_model(path)


def _load_garbage(folder: Path) -> Any:
    path = folder / "garbage.snn"
    path.write_bytes(bytes(range(256)) * 4)
    return snn.load_model(path)


def _load_flipped_byte(folder: Path) -> Any:
    path = _saved_model(folder)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF   # inside the last array
    path.write_bytes(bytes(data))
    return snn.load_model(path)


def _load_empty(folder: Path) -> Any:
    path = folder / "empty.snn"
    path.write_bytes(b"")
    return snn.load_model(path)


def _load_missing(folder: Path) -> Any:
    return snn.load_model(folder / "no-such-model.snn")


_FASHION = {
    "train-images-idx3-ubyte": (2051, (2, 28, 28)),
    "train-labels-idx1-ubyte": (2049, (2,)),
    "t10k-images-idx3-ubyte": (2051, (2, 28, 28)),
    "t10k-labels-idx1-ubyte": (2049, (2,)),
}


def _idx_bytes(magic: int, shape: tuple[int, ...]) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
    return header + bytes(int(np.prod(shape)))


def _fashion_folder(folder: Path, damage: str) -> Path:
    """The four Fashion-MNIST files, tiny but valid, except for one ``damage``."""
    for stem, (magic, shape) in _FASHION.items():
        data = _idx_bytes(magic, shape)
        if stem == "train-images-idx3-ubyte":
            if damage == "truncated":
                data = data[: len(data) - 100]
            elif damage == "wrong magic":
                data = _idx_bytes(2049, shape)
        if stem == "train-labels-idx1-ubyte" and damage == "count mismatch":
            data = _idx_bytes(magic, (3,))
        if stem == "t10k-labels-idx1-ubyte" and damage == "label 10":
            data = _idx_bytes(magic, shape)[:-1] + bytes([10])
        packed = gzip.compress(data)
        if stem == "t10k-images-idx3-ubyte" and damage == "not gzip":
            packed = b"this is not gzip data at all"
        (folder / f"{stem}.gz").write_bytes(packed)
    return folder


def _load_fashion(folder: Path, damage: str) -> Any:
    return load_fashion_mnist(_fashion_folder(folder, damage), download=False)


def _text_file(folder: Path) -> Path:
    path = folder / "notes.png"
    path.write_text("not a picture, only text pretending to be a PNG\n")
    return path


# -- the catalogue -----------------------------------------------------------------------------
# (call, exception type, message regex). A call taking one argument gets pytest's tmp_path.

X2 = np.ones((5, 4), dtype=np.float32)

CATALOGUE: list[Any] = [
    # Dense construction
    pytest.param(lambda: snn.Dense(0, 3), ValueError, r"n_inputs.*positive.*got 0",
                 id="Dense n_inputs=0"),
    pytest.param(lambda: snn.Dense(4, -1), ValueError, r"n_neurons.*positive.*got -1",
                 id="Dense n_neurons=-1"),
    pytest.param(lambda: snn.Dense(2.5, 3), TypeError, r"n_inputs.*integer.*2\.5",
                 id="Dense n_inputs=2.5"),
    pytest.param(lambda: snn.Dense(True, 3), TypeError, r"n_inputs.*integer.*True.*bool",
                 id="Dense n_inputs=True"),
    pytest.param(lambda: snn.Dense(4, "3"), TypeError, r"n_neurons.*integer.*'3'.*str",
                 id="Dense n_neurons='3'"),
    pytest.param(lambda: snn.Dense(4, 3, weight_scale=0.0), ValueError,
                 r"weight_scale.*\(0\.0, inf\).*got 0\.0", id="Dense weight_scale=0"),
    pytest.param(lambda: snn.Dense(4, 3, weight_scale=-0.1), ValueError,
                 r"weight_scale.*got -0\.1", id="Dense weight_scale<0"),
    pytest.param(lambda: snn.Dense(4, 3, weight_scale=float("nan")), ValueError,
                 r"weight_scale.*finite.*nan", id="Dense weight_scale=NaN"),
    pytest.param(lambda: snn.Dense(4, 3, init="xavier"), ValueError,
                 r"init.*'he'.*'glorot'.*'xavier'", id="Dense init unknown"),
    pytest.param(lambda: snn.Dense(4, 3, weight_regularizer_l2=-1e-4), ValueError,
                 r"weight_regularizer_l2.*\[0\.0, inf\).*-0\.0001", id="Dense l2<0"),
    pytest.param(lambda: snn.Dense(4, 3, bias_regularizer_l1=-1), ValueError,
                 r"bias_regularizer_l1.*got -1", id="Dense bias l1<0"),
    pytest.param(lambda: snn.Dense(4, 3, dtype=np.int32), TypeError,
                 r"dtype.*float32.*float64.*int32", id="Dense dtype=int32"),
    pytest.param(lambda: snn.Dense(4, 3, rng="seed"), TypeError,
                 r"rng must be None, an int seed.*got str", id="Dense rng='seed'"),
    # Dropout, LeakyReLU
    pytest.param(lambda: snn.Dropout(-0.1), ValueError, r"rate.*\[0\.0, 1\.0\).*-0\.1",
                 id="Dropout rate=-0.1"),
    pytest.param(lambda: snn.Dropout(1.0), ValueError, r"rate.*\[0\.0, 1\.0\).*got 1\.0",
                 id="Dropout rate=1.0"),
    pytest.param(lambda: snn.Dropout(float("nan")), ValueError, r"rate.*finite.*nan",
                 id="Dropout rate=NaN"),
    pytest.param(lambda: snn.Dropout("x"), TypeError, r"rate.*real number.*'x'",
                 id="Dropout rate='x'"),
    pytest.param(lambda: snn.LeakyReLU(alpha=-0.5), ValueError, r"alpha.*-0\.5",
                 id="LeakyReLU alpha<0"),
    pytest.param(lambda: snn.LeakyReLU(alpha=None), TypeError, r"alpha.*real number.*None",
                 id="LeakyReLU alpha=None"),
    # Optimizers
    pytest.param(lambda: snn.SGD(learning_rate=0), ValueError,
                 r"learning_rate.*\(0\.0, inf\).*got 0", id="SGD lr=0"),
    pytest.param(lambda: snn.Adam(learning_rate=-1), ValueError, r"learning_rate.*got -1",
                 id="Adam lr=-1"),
    pytest.param(lambda: snn.RMSprop(learning_rate=float("inf")), ValueError,
                 r"learning_rate.*finite.*inf", id="RMSprop lr=inf"),
    pytest.param(lambda: snn.SGD(decay=-0.1), ValueError, r"decay.*got -0\.1",
                 id="SGD decay<0"),
    pytest.param(lambda: snn.SGD(momentum=1.5), ValueError, r"momentum.*\[0\.0, 1\.0\).*1\.5",
                 id="SGD momentum=1.5"),
    pytest.param(lambda: snn.Adam(beta_1=1.0), ValueError, r"beta_1.*\[0\.0, 1\.0\).*1\.0",
                 id="Adam beta_1=1.0"),
    pytest.param(lambda: snn.Adam(beta_2=-0.1), ValueError, r"beta_2.*-0\.1",
                 id="Adam beta_2<0"),
    pytest.param(lambda: snn.Adagrad(epsilon=0), ValueError, r"epsilon.*\(0\.0, inf\).*got 0",
                 id="Adagrad epsilon=0"),
    pytest.param(lambda: snn.RMSprop(rho=1.0), ValueError, r"rho.*\[0\.0, 1\.0\).*1\.0",
                 id="RMSprop rho=1.0"),
    pytest.param(lambda: snn.Adam(learning_rate="fast"), TypeError,
                 r"learning_rate.*real number.*'fast'", id="Adam lr='fast'"),
    pytest.param(lambda: _optimizer_step(snn.SGD(), "dense"), TypeError,
                 r"layer.*scratchnn Layer.*'dense'", id="SGD update_params(str)"),
    # Dense.forward / backward
    pytest.param(lambda: _forward(snn.Dense(4, 3), np.ones((3, 5))), ValueError,
                 r"Dense\(4, 3\) expects inputs shaped \(n_samples, 4\); got \(3, 5\)",
                 id="Dense(4,3) forward (3,5)"),
    pytest.param(lambda: _forward(snn.Dense(4, 3), np.ones(4)), ValueError,
                 r"inputs shaped \(n_samples, 4\); got \(4,\).*reshape\(1, -1\)",
                 id="Dense forward 1-D sample"),
    pytest.param(lambda: _forward(snn.Dense(4, 3), np.ones((4, 7))), ValueError,
                 r"got \(4, 7\).*transposed.*X\.T", id="Dense forward transposed"),
    pytest.param(lambda: _forward(snn.Dense(4, 3), np.ones((5, 2, 2))), ValueError,
                 r"got \(5, 2, 2\).*Flatten.*reshape", id="Dense forward 3-D images"),
    pytest.param(lambda: _forward(snn.Dense(4, 3), np.full((2, 4), "1.0")), TypeError,
                 r"inputs must hold numbers.*<U3.*strings", id="Dense forward strings"),
    pytest.param(lambda: _forward(snn.Dense(4, 3), np.array([[1, None, 2, 3]], dtype=object)),
                 TypeError, r"inputs must hold numbers.*object", id="Dense forward object"),
    pytest.param(lambda: _forward(snn.Dense(4, 3), np.ones((2, 4), dtype=complex)), TypeError,
                 r"inputs must hold (real )?numbers.*complex", id="Dense forward complex"),
    pytest.param(lambda: _forward(snn.Dense(4, 3), [[1, 2], [3]]), TypeError,
                 r"inputs must be a numeric array.*rectangular", id="Dense forward ragged"),
    pytest.param(lambda: _backward(snn.Dense(4, 3), X2, np.ones((5, 4))), ValueError,
                 r"dvalues.*shape.*\(5, 3\).*got \(5, 4\)", id="Dense backward wrong shape"),
    pytest.param(lambda: snn.Dense(4, 3).backward(np.ones((5, 3))), ValueError,
                 r"Dense.backward.*before.*forward", id="Dense backward before forward"),
    # Activations and Dropout on direct calls
    pytest.param(lambda: _forward(snn.Softmax(), np.ones(3)), ValueError,
                 r"Softmax expects inputs shaped \(n_samples, n_classes\).*got \(3,\)"
                 r".*reshape\(1, -1\)",
                 id="Softmax forward 1-D"),
    pytest.param(lambda: _forward(snn.ReLU(), np.array(["a", "b"])), TypeError,
                 r"inputs must hold numbers.*<U1", id="ReLU forward strings"),
    pytest.param(lambda: _forward(snn.Sigmoid(), np.array([[1, "x"]], dtype=object)), TypeError,
                 r"inputs must hold numbers.*object", id="Sigmoid forward object"),
    pytest.param(lambda: _backward(snn.ReLU(), X2, np.ones((4, 5))), ValueError,
                 r"dvalues.*ReLU.*output.*\(5, 4\).*got \(4, 5\)", id="ReLU backward shape"),
    pytest.param(lambda: _backward(snn.Softmax(), X2, np.ones((5, 3))), ValueError,
                 r"dvalues.*Softmax.*\(5, 4\).*got \(5, 3\)", id="Softmax backward shape"),
    pytest.param(lambda: snn.Tanh().backward(np.ones((2, 2))), ValueError,
                 r"Tanh.backward.*before.*forward", id="Tanh backward before forward"),
    pytest.param(lambda: _forward(snn.Dropout(0.5), np.array(["a"])), TypeError,
                 r"inputs must hold numbers", id="Dropout forward strings"),
    # Losses on direct calls
    pytest.param(lambda: snn.CategoricalCrossentropy().forward(PROBS, np.array([0, 1, 7, 2])),
                 ValueError, r"y_true.*class labels.*0\.\.2.*7", id="CCE label 7 of 3"),
    pytest.param(lambda: snn.CategoricalCrossentropy().forward(PROBS, np.array([0, -1, 1, 2])),
                 ValueError, r"y_true.*class labels.*0\.\.2.*-1", id="CCE label -1"),
    pytest.param(lambda: snn.CategoricalCrossentropy().forward(PROBS, np.eye(5)[[0, 1, 2, 3]]),
                 ValueError, r"y_true.*one-hot.*\(4, 3\).*got \(4, 5\)",
                 id="CCE one-hot width 5 of 3"),
    pytest.param(lambda: snn.CategoricalCrossentropy().forward(PROBS, np.array([0, 1, 2])),
                 ValueError, r"y_true.*4 samples.*3", id="CCE labels length mismatch"),
    pytest.param(lambda: snn.CategoricalCrossentropy().forward(PROBS, np.array([0., .5, 1, 2])),
                 TypeError, r"y_true.*class labels.*integers.*float64",
                 id="CCE float labels"),
    pytest.param(lambda: snn.CategoricalCrossentropy().backward(PROBS, np.array([0, 1, 3, 2])),
                 ValueError, r"y_true.*0\.\.2.*3", id="CCE backward label out of range"),
    pytest.param(lambda: snn.CategoricalCrossentropy().forward(np.full(3, 0.3), np.array([0])),
                 ValueError, r"y_pred.*2-D.*\(3,\)", id="CCE y_pred 1-D"),
    pytest.param(lambda: snn.CategoricalCrossentropy().calculate(
                     np.empty((0, 3), np.float32), np.empty(0, np.int64)),
                 ValueError, r"y_pred.*at least one sample", id="CCE empty batch"),
    pytest.param(lambda: snn.MeanSquaredError().forward(np.ones((4, 2)), np.ones((4, 3))),
                 ValueError, r"y_true.*shape.*\(4, 2\).*got \(4, 3\)", id="MSE shape mismatch"),
    pytest.param(lambda: snn.MeanSquaredError().forward(np.ones((4, 2)), np.ones(3)),
                 ValueError, r"y_true.*\(4, 2\).*got \(3,\)", id="MSE targets length"),
    pytest.param(lambda: snn.MeanAbsoluteError().backward(np.ones((4, 1)), np.ones((5, 1))),
                 ValueError, r"y_true.*\(4, 1\).*got \(5, 1\)", id="MAE backward mismatch"),
    pytest.param(lambda: snn.BinaryCrossentropy().forward(np.full((4, 1), .5), np.ones((4, 2))),
                 ValueError, r"y_true.*\(4, 1\).*got \(4, 2\)", id="BCE shape mismatch"),
    pytest.param(lambda: snn.MeanSquaredError().forward(np.ones((2, 1)), np.array([["a"], ["b"]])),
                 TypeError, r"y_true must hold numbers.*<U1", id="MSE string targets"),
    pytest.param(lambda: _fused_forward(np.zeros((4, 3)), np.array([0, 1, 9, 2])), ValueError,
                 r"y_true.*0\.\.2.*9", id="Softmax+CCE label 9 of 3"),
    pytest.param(lambda: _fused_backward(np.array([0, 1, 5, 2])), ValueError,
                 r"y_true.*0\.\.2.*5", id="Softmax+CCE backward label 5"),
    # Metrics
    pytest.param(lambda: snn.CategoricalAccuracy().calculate(np.zeros(4, int), np.zeros(3, int)),
                 ValueError, r"predictions.*\(4,\).*y.*\(3,\)", id="Accuracy length mismatch"),
    pytest.param(lambda: snn.RegressionAccuracy(precision=-1.0), ValueError,
                 r"precision.*-1\.0", id="RegressionAccuracy precision<0"),
    # Model: building
    pytest.param(lambda: snn.Model(loss=snn.CategoricalCrossentropy(),
                                   optimizer=snn.SGD()).fit(*_data(), verbose=0),
                 ValueError, r"no layers", id="Model no layers"),
    pytest.param(lambda: snn.Model([snn.Dense(2, 3), snn.Softmax()],
                                   optimizer=snn.SGD()).fit(*_data(), verbose=0),
                 ValueError, r"no loss.*model\.set\(loss=", id="Model no loss"),
    pytest.param(lambda: snn.Model([snn.Dense(2, 3), snn.Softmax()],
                                   loss=snn.CategoricalCrossentropy()).fit(*_data(), verbose=0),
                 ValueError, r"no optimizer", id="Model no optimizer"),
    pytest.param(lambda: snn.Model([snn.Dense(2, 8), snn.ReLU(), snn.Dense(4, 3)]).finalize(),
                 ValueError, r"layers do not connect.*Dense\(2, 8\) outputs 8.*expects 4",
                 id="Model layers do not connect"),
    pytest.param(lambda: snn.Model([snn.Dense, snn.ReLU()]), TypeError,
                 r"layers must be scratchnn layers.*did you mean Dense\(\)",
                 id="Model layer class not instance"),
    pytest.param(lambda: snn.Model(snn.Dense(2, 3)), TypeError,
                 r"layers must be a (list|sequence).*Dense", id="Model layers=one layer"),
    pytest.param(lambda: snn.Model([snn.Dense(2, 3)], loss="mse"), TypeError,
                 r"loss must be a scratchnn Loss.*'mse'", id="Model loss='mse'"),
    pytest.param(lambda: snn.Model([snn.Dense(2, 3)], optimizer=snn.Adam), TypeError,
                 r"optimizer must be a scratchnn Optimizer", id="Model optimizer class"),
    pytest.param(lambda: snn.Model([snn.Dense(2, 3)], seed=-1), ValueError,
                 r"seed.*non-negative.*-1", id="Model seed=-1"),
    # Model.fit: data
    pytest.param(lambda: _fit(X=_data()[0][:, 0]), ValueError,
                 r"X must be shaped \(n_samples, 2\).*got \(90,\)", id="fit X 1-D"),
    pytest.param(lambda: _fit(X=_data()[0].T), ValueError, r"X must be shaped.*\(2, 90\).*X\.T",
                 id="fit X transposed"),
    pytest.param(lambda: _fit(X=_with_nan(_data()[0])), ValueError,
                 r"X must be finite.*1 NaN", id="fit X NaN"),
    pytest.param(lambda: _fit(X=_data()[0].astype(str)), TypeError, r"X must hold numbers.*<U",
                 id="fit X strings"),
    pytest.param(lambda: _fit(X=np.empty((0, 2))), ValueError, r"X must hold at least one sample",
                 id="fit X empty"),
    pytest.param(lambda: _fit(y=_data()[1][:-1]), ValueError,
                 r"len\(X\) must equal len\(y\).*90.*89", id="fit len mismatch"),
    pytest.param(lambda: _fit(y=_data()[1] + 1), ValueError,
                 r"y class labels must be in 0\.\.2.*from 1 to 3", id="fit labels out of range"),
    pytest.param(lambda: _fit(y=np.eye(5)[_data()[1]]), ValueError,
                 r"y must be class labels.*\(90, 3\).*got \(90, 5\)", id="fit one-hot width 5"),
    pytest.param(lambda: _fit(y=_data()[1] + 0.5), ValueError,
                 r"y class labels must be integers.*fractions", id="fit float labels"),
    pytest.param(lambda: _fit(y=3), TypeError, r"y must be.*array.*3", id="fit y scalar"),
    pytest.param(lambda: _fit(y=np.full(3 * N, 1e300)), ValueError,
                 r"y class labels must be in 0\.\.2", id="fit labels 1e300"),
    pytest.param(lambda: _regressor().fit(_data()[0], np.full(3 * N, 1e300), verbose=0),
                 ValueError, r"y holds values too large for float32", id="fit targets 1e300"),
    pytest.param(lambda: _fit(X=np.full((3 * N, 2), 1e300)), ValueError,
                 r"X holds values too large for float32.*scale", id="fit X 1e300"),
    pytest.param(lambda: _fit(shuffle="no"), TypeError, r"shuffle must be True or False.*'no'",
                 id="fit shuffle='no'"),
    pytest.param(lambda: _fit(epochs=2.0), TypeError, r"epochs.*integer.*2\.0",
                 id="fit epochs=2.0"),
    pytest.param(lambda: _model(optimizer=snn.SGD(1e30)).fit(*_data(), epochs=5, verbose=0),
                 snn.TrainingDivergedError, r"training diverged.*learning rate 1e\+30",
                 id="fit diverges"),
    pytest.param(lambda: _fit(epochs=2, callbacks=[snn.EarlyStopping(monitor="val_loss")]),
                 ValueError, r"EarlyStopping monitors 'val_loss'.*validation_data",
                 id="EarlyStopping without validation"),
    # Model.fit: options
    pytest.param(lambda: _fit(batch_size=0), ValueError, r"batch_size.*positive.*got 0",
                 id="fit batch_size=0"),
    pytest.param(lambda: _fit(batch_size=-1), ValueError, r"batch_size.*positive.*got -1",
                 id="fit batch_size=-1"),
    pytest.param(lambda: _fit(batch_size=2.5), TypeError, r"batch_size.*integer.*2\.5",
                 id="fit batch_size=2.5"),
    pytest.param(lambda: _fit(epochs=-1), ValueError, r"epochs.*non-negative.*-1",
                 id="fit epochs=-1"),
    pytest.param(lambda: _fit(validation_split=1.0), ValueError,
                 r"validation_split.*\[0\.0, 1\.0\).*1\.0", id="fit validation_split=1.0"),
    pytest.param(lambda: _fit(verbose=3), ValueError, r"verbose must be 0, 1 or 2.*3",
                 id="fit verbose=3"),
    pytest.param(lambda: _fit(callbacks=["stop"]), TypeError,
                 r"callbacks must be scratchnn\.Callback.*'stop'", id="fit callbacks str"),
    pytest.param(lambda: _fit(validation_data=(_data()[0],)), ValueError,
                 r"validation_data must be a pair \(X_val, y_val\)", id="fit validation_data 1"),
    pytest.param(lambda: _fit(validation_data=(np.ones((4, 3)), np.zeros(4, int))), ValueError,
                 r"validation_data\[0\] \(X_val\) must be shaped \(n_samples, 2\).*\(4, 3\)",
                 id="fit validation X width"),
    # Model: predict, evaluate, parameters
    pytest.param(lambda: _model().predict(np.ones((3, 2, 2))), ValueError,
                 r"X must be shaped \(n_samples, 2\).*\(3, 2, 2\).*flatten",
                 id="predict 3-D X"),
    pytest.param(lambda: _model().predict(np.array([[1, None]], dtype=object)), TypeError,
                 r"X must hold numbers.*object", id="predict object X"),
    pytest.param(lambda: _model().evaluate(*_data(), batch_size=0, verbose=0), ValueError,
                 r"batch_size.*positive.*0", id="evaluate batch_size=0"),
    pytest.param(lambda: _model().set_parameters([[np.ones((3, 4)), np.ones((1, 4))],
                                                  [np.ones((4, 3)), np.ones((1, 3))]]),
                 ValueError, r"parameters\[0\]\[0\].*Dense\(2, 4\).*\(2, 4\).*got \(3, 4\)",
                 id="set_parameters wrong shape"),
    pytest.param(lambda: _model().set_parameters([[np.ones((2, 4)), np.ones((1, 4))]]),
                 ValueError, r"parameters must hold one \[weights, biases\].*\(2\).*got 1",
                 id="set_parameters too few"),
    # Callbacks
    pytest.param(lambda: snn.EarlyStopping(patience=-1), ValueError, r"patience.*-1",
                 id="EarlyStopping patience=-1"),
    pytest.param(lambda: snn.EarlyStopping(mode="best"), ValueError,
                 r"mode must be 'auto', 'min' or 'max'.*'best'", id="EarlyStopping mode"),
    pytest.param(lambda: snn.LearningRateScheduler(0.1), TypeError, r"schedule must be callable",
                 id="LearningRateScheduler not callable"),
    # gradcheck
    pytest.param(lambda: snn.gradcheck(snn.Dense(3, 2, rng=0), np.ones((2, 3))), TypeError,
                 r"gradcheck needs float64 parameters.*float32.*dtype=numpy\.float64",
                 id="gradcheck float32 params"),
    pytest.param(lambda: snn.gradcheck(snn.MeanSquaredError(), np.ones((2, 3))), ValueError,
                 r"gradcheck of a loss needs y_true", id="gradcheck loss without y_true"),
    pytest.param(lambda: snn.gradcheck("relu", np.ones((2, 3))), TypeError,
                 r"obj must be a layer.*or a loss.*'relu'", id="gradcheck obj str"),
    pytest.param(lambda: snn.gradcheck(snn.ReLU(), np.ones((2, 3)), eps=0), ValueError,
                 r"eps.*\(0\.0, inf\).*got 0", id="gradcheck eps=0"),
    # data sets
    pytest.param(lambda: spiral_data(0, 3), ValueError, r"samples.*positive.*got 0",
                 id="spiral_data samples=0"),
    pytest.param(lambda: spiral_data(10, 0), ValueError, r"classes.*positive.*got 0",
                 id="spiral_data classes=0"),
    pytest.param(lambda: vertical_data(10, 300), ValueError, r"classes.*at most 256.*300",
                 id="vertical_data classes=300"),
    pytest.param(lambda: flatten(np.ones(5)), ValueError, r"images", id="flatten 1-D"),
    pytest.param(lambda: scale_images(np.array(["a"])), TypeError, r"images.*<U1",
                 id="scale_images strings"),
    # files
    pytest.param(_load_truncated, ModelFileError, r"model\.snn.*truncated",
                 id="load_model truncated"),
    pytest.param(_load_garbage, ModelFileError, r"garbage\.snn.*not a scratchnn model file",
                 id="load_model garbage"),
    pytest.param(_load_flipped_byte, ModelFileError, r"model\.snn.*(damaged|checksum|sha256)",
                 id="load_model flipped byte"),
    pytest.param(_load_empty, ModelFileError, r"empty\.snn.*empty", id="load_model empty"),
    pytest.param(_load_missing, FileNotFoundError, r"no-such-model\.snn",
                 id="load_model missing"),
    pytest.param(lambda tmp: _load_fashion(tmp, "truncated"), DatasetError,
                 r"train-images.*truncated|train-images.*(size|bytes)",
                 id="fashion truncated images"),
    pytest.param(lambda tmp: _load_fashion(tmp, "wrong magic"), DatasetError,
                 r"train-images.*magic", id="fashion wrong magic"),
    pytest.param(lambda tmp: _load_fashion(tmp, "not gzip"), DatasetError,
                 r"t10k-images.*not a valid gzip", id="fashion not gzip"),
    pytest.param(lambda tmp: _load_fashion(tmp, "count mismatch"), DatasetError,
                 r"train.*2 images.*3 labels|train.*3 labels.*2 images", id="fashion counts"),
    pytest.param(lambda tmp: _load_fashion(tmp, "label 10"), DatasetError,
                 r"t10k-labels.*10", id="fashion label 10"),
    pytest.param(lambda tmp: load_fashion_mnist(tmp, download=False), FileNotFoundError,
                 r"not found in .*SCRATCHNN_DATA_DIR", id="fashion missing files"),
    # images and plots
    pytest.param(lambda tmp: _images().load_image(_text_file(tmp)), ValueError,
                 r"notes\.png is not a picture", id="load_image text file"),
    pytest.param(lambda tmp: _images().load_image(tmp / "none.png"), FileNotFoundError,
                 r"no picture at .*none\.png", id="load_image missing"),
    pytest.param(lambda tmp: _images().load_image(_text_file(tmp), size=(0, 28)), ValueError,
                 r"size must be \(width, height\)", id="load_image size 0"),
    pytest.param(lambda: _plot().plot_history("loss"), TypeError,
                 r"history must be the History returned by Model\.fit", id="plot_history str"),
    pytest.param(lambda: _plot().plot_history({"accuracy": [0.5]}), ValueError,
                 r"history has no 'loss'", id="plot_history no loss"),
    pytest.param(lambda: _plot().plot_history({"loss": [1.0, 0.5], "val_loss": [1.0]}),
                 ValueError, r"history\['val_loss'\] has 1 values.*2", id="plot_history lengths"),
    pytest.param(lambda: _plot().plot_decision_boundary(_model(), np.ones((4, 3)), np.zeros(4)),
                 ValueError, r"X must be 2-D points shaped \(n_samples, 2\).*\(4, 3\)",
                 id="plot_decision_boundary X width 3"),
    pytest.param(lambda: _plot().plot_decision_boundary("model", *_data()), TypeError,
                 r"model must have a predict_classes", id="plot_decision_boundary model str"),
    pytest.param(lambda: _plot().confusion_matrix([0, 1, 2], [0, 1, 2], n_classes=2),
                 ValueError, r"class id 2 found but n_classes is 2", id="confusion_matrix small"),
    pytest.param(lambda: _plot().confusion_matrix([0, 1, 2], [0, 1]), ValueError,
                 r"y_pred has 2 labels but there are 3 samples", id="confusion_matrix lengths"),
    pytest.param(lambda: _plot().confusion_matrix([0, -1], [0, 1]), ValueError,
                 r"y_true must hold class ids >= 0.*-1", id="confusion_matrix negative"),
    pytest.param(lambda: snn.seed(-1), ValueError,
                 r"seed must be a non-negative integer; got -1", id="seed negative"),
    pytest.param(lambda: snn.Dense(2, 2, rng=-1), ValueError,
                 r"rng must be a non-negative integer; got -1", id="Dense rng negative"),
    pytest.param(lambda: spiral_data(10, 3, rng=-1), ValueError,
                 r"rng must be a non-negative integer; got -1", id="spiral_data rng negative"),
]


def _images() -> Any:
    from scratchnn import images

    return images


def _plot() -> Any:
    from scratchnn import plot

    return plot


def test_catalogue_is_large_and_ids_are_unique() -> None:
    ids = [entry.id for entry in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60


@pytest.mark.parametrize(("call", "error", "pattern"), CATALOGUE)
def test_bad_input_raises_a_clear_error(
    call: Callable[..., Any], error: type[Exception], pattern: str, tmp_path: Path
) -> None:
    takes_path = call.__code__.co_argcount == 1
    with pytest.raises(Exception) as caught:   # noqa: PT011 - the type is checked below
        call(tmp_path) if takes_path else call()
    # Exact class checks would reject subclasses (ModelFileError is a ValueError): isinstance.
    assert isinstance(caught.value, error), (
        f"expected {error.__name__}, got {type(caught.value).__name__}: {caught.value}"
    )
    message = str(caught.value)
    assert re.search(pattern, message, flags=re.DOTALL), (
        f"message does not match {pattern!r}:\n{message}"
    )
