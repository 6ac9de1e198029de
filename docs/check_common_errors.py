"""Trigger every error message quoted in docs/common-errors.md and check its wording.

Run ``python docs/check_common_errors.py``: each entry below makes one mistake, and the words
quoted for it in the page (split at ``...``) must all occur in the message the code gives, and
the quote must occur in the page. Exit status 1, naming the entries, when one drifts.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import scratchnn as snn
from scratchnn.datasets import load_fashion_mnist, spiral_data
from scratchnn.images import load_image

PAGE = Path(__file__).resolve().parent / "common-errors.md"
X, Y = spiral_data(30, 3, rng=0)   # 90 samples, 2 features, 3 classes


def model(layers: list[Any] | None = None, **options: Any) -> snn.Model:
    layers = layers or [snn.Dense(2, 4, rng=0), snn.ReLU(), snn.Dense(4, 3, rng=1), snn.Softmax()]
    settings: dict[str, Any] = {"loss": snn.CategoricalCrossentropy(),
                                "optimizer": snn.Adam(0.01), "seed": 0}
    settings.update(options)
    return snn.Model(layers, **settings)


def fit(X: Any = X, y: Any = Y, **options: Any) -> Any:
    return model().fit(X, y, **{"verbose": 0, **options})


def with_nan() -> np.ndarray:
    bad = X.copy()
    bad[3, 1] = np.nan
    return bad


def relu_backward() -> None:
    relu = snn.ReLU()
    relu.forward(np.ones((5, 4), dtype=np.float32))
    relu.backward(np.ones((4, 5), dtype=np.float32))


def diverged_model_save(folder: Path) -> None:
    m = model()
    m.layers[0].weights[0, :3] = np.nan
    m.save(folder / "diverged.snn")


def files(folder: Path) -> list[tuple[str, Callable[[], Any]]]:
    good = folder / "model.snn"
    model().save(good)
    data = good.read_bytes()

    def write(name: str, content: bytes) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    flipped = bytearray(data)
    flipped[60] ^= 1
    array_flipped = bytearray(data)
    header_length = struct.unpack_from("<Q", data, 12)[0]
    array_flipped[-(-(52 + header_length) // 64) * 64] ^= 1   # first byte of the first array
    fashion = folder / "fashion-mnist"
    fashion.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (fashion / name).write_bytes(b"not gzip")
    return [
        ("the file is 4098 bytes but its header describes 4108 (truncated or extended)",
         lambda: snn.load_model(write("cut.snn", data[:-10]))),
        ("the file is truncated or damaged (header of ... bytes)",
         lambda: snn.load_model(write("short.snn", data[:60]))),
        ("its header is damaged (sha256 mismatch)",
         lambda: snn.load_model(write("flipped.snn", bytes(flipped)))),
        ("array 'parameters/0/0' is damaged (sha256 mismatch)",
         lambda: snn.load_model(write("array.snn", bytes(array_flipped)))),
        ("the file is empty", lambda: snn.load_model(write("empty.snn", b""))),
        ("it is not a scratchnn model file (its first bytes are b'hello wo', not the scratchnn "
         "magic b'\\x89SNN\\r\\n\\x1a\\n')",
         lambda: snn.load_model(write("text.snn", b"hello world"))),
        ("it is not a scratchnn model file (it looks like a Python pickle, which scratchnn "
         "never loads: unpickling runs code)",
         lambda: snn.load_model(write("pickle.snn", pickle.dumps([1, 2])))),
        ("it is a folder, not a model file", lambda: snn.load_model(folder)),
        ("its header is malformed (", lambda: snn.load_model(write("bad.snn", header_with(
            data, lambda h: h.replace(
                f',"library_version":"{snn.__version__}"'.encode(), b"").replace(
                b'"parameters":[{"layer":0', b'"parameters":[{"layer":true'))))),
        ("the folder '.../models' does not exist; create it first "
         "(e.g. pathlib.Path(folder).mkdir(parents=True))",
         lambda: model().save(folder / "models" / "x.snn")),
        ("is a folder; give a file name to save to", lambda: model().save(folder)),
        ("refusing to save: trainable layer 0 (Dense) has 3 NaN or infinite parameter value(s); "
         "the training diverged, and the file on disk (if any) was left as it was",
         lambda: diverged_model_save(folder)),
        ("Fashion-MNIST files ... not found in ...; set SCRATCHNN_DATA_DIR",
         lambda: load_fashion_mnist(folder / "nothing", download=False)),
        ("is not a valid gzip file", lambda: load_fashion_mnist(fashion, download=False)),
        ("is not a picture Pillow can read", lambda: load_image(write("notes.png", b"text"))),
    ]


def header_with(data: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """The file with its header edited and its header checksum updated to match."""
    length = struct.unpack_from("<Q", data, 12)[0]
    header = change(data[52 : 52 + length])
    if len(header) > length:
        raise RuntimeError("the edited header must not be longer than the original")
    header = header.ljust(length)
    return data[:12] + struct.pack("<Q", length) + hashlib.sha256(header).digest() + header + data[
        52 + length :
    ]


ENTRIES: list[tuple[str, Callable[[], Any]]] = [
    ("Dense(4, 3) expects inputs shaped (n_samples, 4); got (3, 5). Each row is one sample and "
     "must have one value per input feature.", lambda: snn.Dense(4, 3).forward(np.ones((3, 5)))),
    ("got (4,). A single sample must still be a batch: use x.reshape(1, -1).",
     lambda: snn.Dense(4, 3).forward(np.ones(4))),
    ("The batch looks transposed: pass X.T so that samples are rows.",
     lambda: snn.Dense(4, 3).forward(np.ones((4, 3)))),
    ("Flatten each sample first, e.g. X.reshape(len(X), -1).",
     lambda: snn.Dense(784, 3).forward(np.ones((2, 28, 28)))),
    ("X must be shaped (n_samples, 784) ...; flatten each sample first",
     lambda: model([snn.Dense(784, 3), snn.Softmax()]).predict(np.ones((2, 28, 28)))),
    ("layers do not connect: Dense(2, 8) outputs 8 features but the next Dense (layer 2, "
     "Dense(4, 3)) expects 4",
     lambda: model([snn.Dense(2, 8), snn.ReLU(), snn.Dense(4, 3), snn.Softmax()]).fit(
         X, Y, verbose=0)),
    ("dvalues must have the shape of ReLU's last output (5, 4) (one gradient per output value); "
     "got (4, 5)", relu_backward),
    ("Dense.backward was called before Dense.forward: call forward on a batch first",
     lambda: snn.Dense(4, 3).backward(np.ones((2, 3), dtype=np.float32))),
    ("Softmax expects inputs shaped (n_samples, n_classes), one row of logits per sample; got "
     "(3,); a single sample must still be a batch: use x.reshape(1, -1)",
     lambda: snn.Softmax().forward(np.ones(3))),
    ("y_pred must be (n_samples, *output_shape) with at least one sample and one output; got "
     "shape (3,); use y_pred.reshape(-1, 1) for one output",
     lambda: snn.MeanSquaredError().calculate(np.ones(3), np.ones(3))),
    ("y_true must have the shape of the predictions (4, 2), one target per output of each "
     "sample; got (4, 3)",
     lambda: snn.MeanSquaredError().calculate(np.ones((4, 2)), np.ones((4, 3)))),
    ("predictions and y must describe the same samples: ...",
     lambda: snn.CategoricalAccuracy().calculate(np.ones((4, 3)), np.array([0, 1, 2]))),
    ("inputs must hold numbers (float or int); got dtype <U3; strings? convert with "
     "numpy.asarray(..., dtype=float)",
     lambda: snn.Dense(2, 3).forward(np.array([["1.0", "2.0"]]))),
    ("inputs must be a numeric array; got ... which NumPy cannot turn into a rectangular array",
     lambda: snn.Dense(2, 3).forward([[1, 2], [3]])),
    ("X must be finite; got 1 NaN or infinite value(s)", lambda: fit(with_nan())),
    ("X holds values too large for float32 (beyond +-3.4e+38); scale the data (e.g. to about "
     "[-1, 1]) or compute in float64", lambda: fit(X.astype(np.float64) * 1e39)),
    ("X must hold at least one sample; got shape (0, 2)",
     lambda: fit(np.zeros((0, 2)), np.zeros(0, dtype=int))),
    ("y class labels must be in 0..2 (the last layer has 3 outputs); got labels from 1 to 3",
     lambda: fit(y=Y + 1)),
    ("y_true class labels must be in 0..2 (the predictions have 3 columns)",
     lambda: snn.CategoricalCrossentropy().calculate(np.full((4, 3), 1 / 3), [1, 2, 3, 1])),
    ("y must be class labels shaped (90,) or one-hot shaped (90, 3) for a last layer with 3 "
     "outputs; got (90, 5)", lambda: fit(y=np.eye(5)[Y])),
    ("y class labels must be integers; got fractions", lambda: fit(y=Y + 0.5)),
    ("y_true class labels must be integers; got dtype float64. Convert them with "
     "y_true.astype(int), or pass one-hot rows shaped (4, 3)",
     lambda: snn.CategoricalCrossentropy().calculate(np.full((4, 3), 1 / 3),
                                                     np.array([0.0, 1, 2, 1]))),
    ("len(X) must equal len(y): X has 90 samples but y has 89", lambda: fit(y=Y[:-1])),
    ("y_true must hold one class label per sample: the predictions have 4 samples but y_true "
     "has 3", lambda: snn.CategoricalCrossentropy().calculate(np.full((4, 3), 1 / 3), [0, 1, 2])),
    ("n_inputs must be a positive integer; got 0", lambda: snn.Dense(0, 3)),
    ("n_neurons must be a positive integer; got '3' (str)", lambda: snn.Dense(2, "3")),  # type: ignore[arg-type]
    ("weight_scale must be in (0.0, inf); got 0.0", lambda: snn.Dense(2, 3, weight_scale=0.0)),
    ("init must be None, 'he' or 'glorot'; got 'xavier'",
     lambda: snn.Dense(2, 3, init="xavier")),  # type: ignore[arg-type]
    ("weight_regularizer_l2 must be in [0.0, inf); got -0.0001",
     lambda: snn.Dense(2, 3, weight_regularizer_l2=-1e-4)),
    ("dtype must be numpy.float32 or numpy.float64; got int32",
     lambda: snn.Dense(2, 3, dtype=np.int32)),
    ("rate must be in [0.0, 1.0); got 1.0", lambda: snn.Dropout(1.0)),
    ("learning_rate must be in (0.0, inf); got 0.0", lambda: snn.SGD(learning_rate=0.0)),
    ("learning_rate must be a finite number in (0.0, inf); got inf",
     lambda: snn.SGD(learning_rate=float("inf"))),
    ("momentum must be in [0.0, 1.0); got 1.5", lambda: snn.SGD(momentum=1.5)),
    ("epsilon must be in (0.0, inf); got 0.0", lambda: snn.Adam(epsilon=0.0)),
    ("batch_size must be a positive integer; got 0", lambda: fit(batch_size=0)),
    ("epochs must be a non-negative integer; got -1", lambda: fit(epochs=-1)),
    ("validation_split must be in [0.0, 1.0); got 1.0", lambda: fit(validation_split=1.0)),
    ("verbose must be 0, 1 or 2; got 3 (int)", lambda: fit(verbose=3)),
    ("callbacks must be scratchnn.Callback instances; got 'stop' (str)",
     lambda: fit(callbacks=["stop"])),
    ("validation_data must be a pair (X_val, y_val); got an array of shape (90, 2) ...",
     lambda: fit(validation_data=X)),
    ("the model has no loss; set one, e.g. model.set(loss=...)",
     lambda: snn.Model([snn.Dense(2, 3), snn.Softmax()], optimizer=snn.SGD()).fit(X, Y)),
    ("gradcheck needs float64 parameters; Dense holds float32: build it with "
     "dtype=numpy.float64", lambda: snn.gradcheck(snn.Dense(2, 3), X[:4])),
    ("training diverged at epoch 2, step 0: the loss became nan (learning rate 1e+30). The "
     "parameters and the optimizer's state of a recent step with a healthy loss (at most 8 "
     "updates back) were kept, so the model can be saved or trained on. Try a lower "
     "learning_rate (e.g. 10x smaller), more decay, or inputs scaled to about [-1, 1].",
     lambda: model(optimizer=snn.SGD(learning_rate=1e30)).fit(X, Y, epochs=5, verbose=0)),
    ("a cross-entropy at the probability clip ceiling",
     lambda: model([snn.Dense(2, 64, rng=0), snn.ReLU(), snn.Dense(64, 3, rng=1), snn.Softmax()],
                   optimizer=snn.SGD(learning_rate=1e6)).fit(X, Y, epochs=50, verbose=0)),
]


def main() -> int:
    page = PAGE.read_text(encoding="utf-8")
    failures = []
    with tempfile.TemporaryDirectory() as folder, np.errstate(all="ignore"):
        entries = ENTRIES + files(Path(folder))
        for quote, trigger in entries:
            try:
                trigger()
            except Exception as error:   # noqa: BLE001 - any exception's text is compared
                message = str(error)
            else:
                failures.append(f"no error for: {quote}")
                continue
            if quote not in page:
                failures.append(f"not quoted in {PAGE.name}: {quote}")
            parts = [part for part in re.split(r"\.\.\.(?!, dtype)", quote) if part.strip()]
            if not all(part in message for part in parts):
                failures.append(f"message changed:\n  page: {quote}\n  code: {message}")
    for failure in failures:
        print(failure)
    print(f"{len(entries) - len(failures)} of {len(entries)} messages as quoted")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
