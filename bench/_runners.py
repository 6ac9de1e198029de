"""The contenders: one object per library with ``train_epoch()`` and ``predict(X, batch_size)``.

Every contender trains the same network (Dense/ReLU stack, softmax + categorical
cross-entropy, Adam(lr=0.001, decay=1e-3, eps=1e-7), float32, shuffled every epoch) on the
same float32 arrays, and keeps its state between calls, so repeated ``train_epoch()`` calls
are consecutive epochs of one training run.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np

LEARNING_RATE = 0.001
DECAY = 1e-3
EPSILON = 1e-7


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# --------------------------------------------------------------------------- scratchnn
def scratchnn_has_model() -> bool:
    import scratchnn

    return hasattr(scratchnn, "Model") or importlib.util.find_spec("scratchnn.model") is not None


class ScratchnnModel:
    """The real user path: ``Model(...).fit(X, y, epochs=1, batch_size=...)`` and ``predict``."""

    label = "scratchnn Model.fit"
    predict_label = "scratchnn Model.predict"

    def __init__(self, sizes, X, y, batch_size, seed=0):
        from scratchnn import (
            Adam,
            CategoricalAccuracy,
            CategoricalCrossentropy,
            Dense,
            ReLU,
            Softmax,
        )

        try:
            from scratchnn import Model
        except ImportError:
            from scratchnn.model import Model

        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Dense(a, b, rng=seed + i))
            layers.append(ReLU() if i < len(sizes) - 2 else Softmax())
        self.model = Model(
            layers,
            loss=CategoricalCrossentropy(),
            optimizer=Adam(learning_rate=LEARNING_RATE, decay=DECAY, epsilon=EPSILON),
            accuracy=CategoricalAccuracy(),
            seed=seed,
        )
        self.X, self.y, self.batch_size = X, y, batch_size

    def train_epoch(self):
        self.model.fit(self.X, self.y, epochs=1, batch_size=self.batch_size, verbose=0)

    def predict(self, X, batch_size):
        return self.model.predict(X, batch_size=batch_size)


class ScratchnnCore:
    """scratchnn's layers driven by the book's protocol loop (used while Model is missing)."""

    label = "scratchnn core loop"

    def __init__(self, sizes, X, y, batch_size, seed=0):
        from scratchnn import Adam, Dense, ReLU, SoftmaxCategoricalCrossentropy

        self.dense = [
            Dense(a, b, rng=seed + i)
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        ]
        self.relu = [ReLU() for _ in self.dense[:-1]]
        self.loss_activation = SoftmaxCategoricalCrossentropy()
        self.optimizer = Adam(learning_rate=LEARNING_RATE, decay=DECAY, epsilon=EPSILON)
        self.dense[0].needs_dinputs = False
        self.rng = np.random.default_rng(seed)
        self.X, self.y, self.batch_size = X, y, batch_size

    def _forward(self, x, training):
        for dense, relu in zip(self.dense[:-1], self.relu, strict=True):
            x = relu.forward(dense.forward(x, training), training)
        return self.dense[-1].forward(x, training)

    def train_epoch(self):
        order = self.rng.permutation(len(self.X))
        for start in range(0, len(self.X), self.batch_size):
            batch = order[start : start + self.batch_size]
            xb, yb = self.X[batch], self.y[batch]
            logits = self._forward(xb, True)
            self.loss_activation.forward(logits, yb)
            dvalues = self.loss_activation.backward(self.loss_activation.output, yb)
            dvalues = self.dense[-1].backward(dvalues)
            for dense, relu in zip(reversed(self.dense[:-1]), reversed(self.relu), strict=True):
                dvalues = dense.backward(relu.backward(dvalues))
            self.optimizer.pre_update_params()
            for dense in self.dense:
                self.optimizer.update_params(dense)
            self.optimizer.post_update_params()

    def predict(self, X, batch_size):
        out = []
        for start in range(0, len(X), batch_size):
            logits = self._forward(X[start : start + batch_size], False)
            out.append(self.loss_activation.activation.forward(logits))
        return np.concatenate(out)


def scratchnn_runner(sizes, X, y, batch_size, seed=0):
    cls = ScratchnnModel if scratchnn_has_model() else ScratchnnCore
    return cls(sizes, X, y, batch_size, seed)


# --------------------------------------------------------------------------- PyTorch
class Torch:
    """``nn.Sequential`` of Linear/ReLU, ``CrossEntropyLoss`` on logits, fused Adam +
    1/(1+decay*t)."""

    label = "PyTorch (CPU, fused Adam)"

    def __init__(self, sizes, X, y, batch_size, seed=0):
        import torch

        torch.manual_seed(seed)
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(torch.nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        self.torch = torch
        self.net = torch.nn.Sequential(*layers)
        # fused=True: PyTorch's fastest CPU Adam (one kernel for all parameters); the default
        # updates parameter by parameter, about 3x slower per step for this net.
        self.optimizer = torch.optim.Adam(
            self.net.parameters(), lr=LEARNING_RATE, eps=EPSILON, fused=True
        )
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: 1.0 / (1.0 + DECAY * step)
        )
        self.loss = torch.nn.CrossEntropyLoss()
        self.generator = torch.Generator().manual_seed(seed)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.batch_size = batch_size

    def train_epoch(self):
        self.net.train()
        order = self.torch.randperm(len(self.X), generator=self.generator)
        for start in range(0, len(self.X), self.batch_size):
            batch = order[start : start + self.batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.net(self.X[batch]), self.y[batch]).backward()
            self.optimizer.step()
            self.schedule.step()

    def predict(self, X, batch_size):
        torch = self.torch
        self.net.eval()
        X = torch.from_numpy(X)
        with torch.inference_mode():
            out = [
                torch.softmax(self.net(X[start : start + batch_size]), dim=1)
                for start in range(0, len(X), batch_size)
            ]
        return torch.cat(out).numpy()


# --------------------------------------------------------------------------- scikit-learn
class Sklearn:
    """``MLPClassifier`` (adam, relu, alpha=0, float32 kept), one ``partial_fit`` per epoch.

    scikit-learn has no learning-rate decay for Adam, so it runs at a constant 0.001.
    """

    label = "scikit-learn MLPClassifier"

    def __init__(self, sizes, X, y, batch_size, seed=0):
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(
            hidden_layer_sizes=tuple(sizes[1:-1]),
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=batch_size,
            learning_rate_init=LEARNING_RATE,
            epsilon=EPSILON,
            shuffle=True,
            random_state=seed,
        )
        self.classes = np.arange(sizes[-1])
        self.X, self.y = X, y

    def train_epoch(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model.partial_fit(self.X, self.y, classes=self.classes)

    def predict(self, X, batch_size):
        # predict_proba has no batch size; it is called once per batch so that every library
        # pays the same per-call cost.
        return np.concatenate(
            [self.model.predict_proba(X[s : s + batch_size]) for s in range(0, len(X), batch_size)]
        )


# --------------------------------------------------------------------------- the book
class Book:
    """The book's chapter-19 code style (see _book_style.py): float64 weights, np.dot."""

    label = "book-style NumPy"

    def __init__(self, sizes, X, y, batch_size, seed=0):
        from _book_style import BookModel

        self.model = BookModel(sizes, learning_rate=LEARNING_RATE, decay=DECAY, seed=seed)
        # The book shuffles once, before training, and then walks consecutive slices.
        order = np.random.default_rng(seed).permutation(len(X))
        self.X, self.y, self.batch_size = X[order], y[order], batch_size

    def train_epoch(self):
        self.model.train_epoch(self.X, self.y, self.batch_size)

    def predict(self, X, batch_size):
        return self.model.predict_proba(X, batch_size)


# --------------------------------------------------------------------------- the floor
class MatmulFloor:
    """Only the matrix products one training step needs, back to back over an epoch.

    Per step: the forward product of every layer, the weight gradient of every layer
    (``inputs.T @ dvalues``) and the input gradient of every layer but the first; float32,
    every result written into a preallocated array (``out=``), no other work.
    """

    label = "matmul floor"

    def __init__(self, sizes, X, y, batch_size, seed=0):
        rng = np.random.default_rng(seed)
        f32 = np.float32
        self.weights = [
            rng.standard_normal((a, b), dtype=f32) * 0.01
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        self.n_samples, self.batch_size = len(X), batch_size
        self.buffers = {}
        for rows in {batch_size, len(X) % batch_size} - {0}:
            x = np.ascontiguousarray(X[:rows])
            outputs = [np.empty((rows, w.shape[1]), f32) for w in self.weights]
            dinputs = [np.empty((rows, w.shape[0]), f32) for w in self.weights]
            dweights = [np.empty_like(w) for w in self.weights]
            self.buffers[rows] = (x, outputs, dinputs, dweights)

    def _step(self, rows):
        x, outputs, dinputs, dweights = self.buffers[rows]
        inputs = [x, *outputs[:-1]]
        for i, w in enumerate(self.weights):
            np.matmul(inputs[i], w, out=outputs[i])
        dvalues = outputs[-1]  # stands in for the loss gradient: same shape, same cost
        for i in range(len(self.weights) - 1, -1, -1):
            np.matmul(inputs[i].T, dvalues, out=dweights[i])
            if i > 0:
                np.matmul(dvalues, self.weights[i].T, out=dinputs[i])
                dvalues = dinputs[i]

    def train_epoch(self):
        full, rest = divmod(self.n_samples, self.batch_size)
        for _ in range(full):
            self._step(self.batch_size)
        if rest:
            self._step(rest)

    def predict(self, X, batch_size):
        raise NotImplementedError


CONTENDERS = {
    "scratchnn": scratchnn_runner,
    "torch": Torch,
    "sklearn": Sklearn,
    "book": Book,
    "floor": MatmulFloor,
}
