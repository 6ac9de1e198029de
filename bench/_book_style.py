"""The book's own code style, as a reference column for the benchmark (not part of scratchnn).

Written the way *Neural Networks from Scratch* writes its chapter-19 classes: ``np.dot``,
weights drawn as ``0.01 * randn`` (float64, so every layer after the first computes in
float64 even though the images are float32), ReLU copying its gradient, Adam keeping its
caches on the layer, and one forward/backward/update per batch slice.
"""

from __future__ import annotations

import numpy as np


class LayerDense:
    def __init__(self, n_inputs, n_neurons, rng):
        self.weights = 0.01 * rng.standard_normal((n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class ActivationReLU:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class SoftmaxCrossentropy:
    def forward(self, inputs, y_true):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        clipped = np.clip(self.output, 1e-7, 1 - 1e-7)
        return np.mean(-np.log(clipped[range(len(clipped)), y_true]))

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


class OptimizerAdam:
    def __init__(self, learning_rate=0.001, decay=0.0, epsilon=1e-7, beta_1=0.9, beta_2=0.999):
        self.learning_rate = learning_rate
        self.current_learning_rate = learning_rate
        self.decay = decay
        self.iterations = 0
        self.epsilon = epsilon
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def pre_update_params(self):
        if self.decay:
            self.current_learning_rate = self.learning_rate * (
                1.0 / (1.0 + self.decay * self.iterations)
            )

    def update_params(self, layer):
        if not hasattr(layer, "weight_cache"):
            layer.weight_momentums = np.zeros_like(layer.weights)
            layer.weight_cache = np.zeros_like(layer.weights)
            layer.bias_momentums = np.zeros_like(layer.biases)
            layer.bias_cache = np.zeros_like(layer.biases)
        b1, b2, t = self.beta_1, self.beta_2, self.iterations + 1
        layer.weight_momentums = b1 * layer.weight_momentums + (1 - b1) * layer.dweights
        layer.bias_momentums = b1 * layer.bias_momentums + (1 - b1) * layer.dbiases
        weight_momentums_corrected = layer.weight_momentums / (1 - b1**t)
        bias_momentums_corrected = layer.bias_momentums / (1 - b1**t)
        layer.weight_cache = b2 * layer.weight_cache + (1 - b2) * layer.dweights**2
        layer.bias_cache = b2 * layer.bias_cache + (1 - b2) * layer.dbiases**2
        weight_cache_corrected = layer.weight_cache / (1 - b2**t)
        bias_cache_corrected = layer.bias_cache / (1 - b2**t)
        layer.weights += (
            -self.current_learning_rate
            * weight_momentums_corrected
            / (np.sqrt(weight_cache_corrected) + self.epsilon)
        )
        layer.biases += (
            -self.current_learning_rate
            * bias_momentums_corrected
            / (np.sqrt(bias_cache_corrected) + self.epsilon)
        )

    def post_update_params(self):
        self.iterations += 1


class BookModel:
    """Dense/ReLU stack, softmax + cross-entropy, Adam; the book's training loop per epoch."""

    def __init__(self, sizes, *, learning_rate=0.001, decay=1e-3, seed=0):
        rng = np.random.default_rng(seed)
        self.dense = [LayerDense(a, b, rng) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        self.relu = [ActivationReLU() for _ in self.dense[:-1]]
        self.loss_activation = SoftmaxCrossentropy()
        self.optimizer = OptimizerAdam(learning_rate=learning_rate, decay=decay)

    def _forward(self, x):
        for dense, relu in zip(self.dense[:-1], self.relu, strict=True):
            dense.forward(x)
            relu.forward(dense.output)
            x = relu.output
        self.dense[-1].forward(x)
        return self.dense[-1].output

    def train_epoch(self, X, y, batch_size):
        """One pass in the book's order: batches are consecutive slices (shuffled once, before)."""
        steps = -(-len(X) // batch_size)
        for step in range(steps):
            batch_X = X[step * batch_size : (step + 1) * batch_size]
            batch_y = y[step * batch_size : (step + 1) * batch_size]
            logits = self._forward(batch_X)
            self.loss_activation.forward(logits, batch_y)
            predictions = np.argmax(self.loss_activation.output, axis=1)
            np.mean(predictions == batch_y)  # the book computes the batch accuracy every step
            self.loss_activation.backward(self.loss_activation.output, batch_y)
            dvalues = self.loss_activation.dinputs
            self.dense[-1].backward(dvalues)
            dvalues = self.dense[-1].dinputs
            for dense, relu in zip(reversed(self.dense[:-1]), reversed(self.relu), strict=True):
                relu.backward(dvalues)
                dense.backward(relu.dinputs)
                dvalues = dense.dinputs
            self.optimizer.pre_update_params()
            for dense in self.dense:
                self.optimizer.update_params(dense)
            self.optimizer.post_update_params()

    def predict_proba(self, X, batch_size):
        out = []
        for start in range(0, len(X), batch_size):
            logits = self._forward(X[start : start + batch_size])
            exp_values = np.exp(logits - logits.max(axis=1, keepdims=True))
            out.append(exp_values / exp_values.sum(axis=1, keepdims=True))
        return np.concatenate(out)
