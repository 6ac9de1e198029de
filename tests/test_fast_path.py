"""The optimized training path (Model.fit) against a plain reference written from the book.

Model.fit takes shortcuts for speed: the fused softmax + cross-entropy gradient, no input
gradient for the first layer, in-place optimizer updates with folded bias corrections and
scratch buffers, one gathered batch buffer reused across steps. The reference below does none
of that: new arrays everywhere, the softmax Jacobian per sample as the book writes it, the
textbook Adam. Both must end with the same parameters up to floating-point rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.datasets import spiral_data


def reference_training(X, y, weights, biases, *, epochs, batch_size, order, lr, decay,
                       beta_1=0.9, beta_2=0.999, eps=1e-7):
    W = [w.copy() for w in weights]
    b = [v.copy() for v in biases]
    m = [np.zeros_like(p) for p in W + b]
    v = [np.zeros_like(p) for p in W + b]
    iterations = 0
    for epoch in range(epochs):
        idx_all = order[epoch]
        for start in range(0, len(X), batch_size):
            idx = idx_all[start:start + batch_size]
            xb, yb = X[idx], y[idx]
            # forward: Dense, ReLU, Dense, Softmax
            z1 = np.dot(xb, W[0]) + b[0]
            a1 = np.maximum(0, z1)
            z2 = np.dot(a1, W[1]) + b[1]
            exp = np.exp(z2 - np.max(z2, axis=1, keepdims=True))
            probs = exp / np.sum(exp, axis=1, keepdims=True)
            # backward: cross-entropy, then the softmax Jacobian sample by sample
            one_hot = np.eye(probs.shape[1], dtype=probs.dtype)[yb]
            dprobs = -one_hot / np.clip(probs, 1e-7, 1 - 1e-7) / len(probs)
            dz2 = np.empty_like(dprobs)
            for i, (out, grad) in enumerate(zip(probs, dprobs, strict=True)):
                out = out.reshape(-1, 1)
                jacobian = np.diagflat(out) - np.dot(out, out.T)
                dz2[i] = np.dot(jacobian, grad)
            dW1, db1 = np.dot(a1.T, dz2), np.sum(dz2, axis=0, keepdims=True)
            da1 = np.dot(dz2, W[1].T)
            dz1 = da1.copy()
            dz1[z1 <= 0] = 0
            dW0, db0 = np.dot(xb.T, dz1), np.sum(dz1, axis=0, keepdims=True)
            # textbook Adam with the book's decay
            rate = lr / (1 + decay * iterations)
            params, grads = W + b, [dW0, dW1, db0, db1]
            for k, (p, g) in enumerate(zip(params, grads, strict=True)):
                m[k] = beta_1 * m[k] + (1 - beta_1) * g
                v[k] = beta_2 * v[k] + (1 - beta_2) * g**2
                m_hat = m[k] / (1 - beta_1 ** (iterations + 1))
                v_hat = v[k] / (1 - beta_2 ** (iterations + 1))
                p -= rate * m_hat / (np.sqrt(v_hat) + eps)
            iterations += 1
    return W, b


@pytest.mark.parametrize(("dtype", "rtol", "atol"),
                         [(np.float64, 1e-9, 1e-12), (np.float32, 2e-3, 2e-5)])
def test_fit_matches_the_plain_reference(dtype, rtol, atol):
    X, y = spiral_data(samples=50, classes=3, rng=0)
    X = X.astype(dtype)
    dense1 = snn.Dense(2, 16, rng=1, dtype=dtype, weight_scale=0.5)
    dense2 = snn.Dense(16, 3, rng=2, dtype=dtype, weight_scale=0.5)
    start = ([dense1.weights.copy(), dense2.weights.copy()],
             [dense1.biases.copy(), dense2.biases.copy()])
    model = snn.Model([dense1, snn.ReLU(), dense2, snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(),
                      optimizer=snn.Adam(learning_rate=0.01, decay=1e-3), seed=5)

    # Record the order fit shuffles into by replaying the model's generator.
    replay = np.random.Generator(np.random.PCG64())
    replay.bit_generator.state = model.rng.bit_generator.state
    epochs, batch_size = 4, 32          # 150 samples: 5 steps per epoch, the last of 22
    order = [replay.permutation(len(X)) for _ in range(epochs)]

    model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
    W, b = reference_training(X, y, *start, epochs=epochs, batch_size=batch_size,
                              order=order, lr=0.01, decay=1e-3)

    assert dense1.weights.dtype == dtype
    moved = np.abs(dense1.weights - start[0][0]).max()
    assert moved > 1e-2                  # the comparison is about real training
    for got, want in [(dense1.weights, W[0]), (dense2.weights, W[1]),
                      (dense1.biases, b[0]), (dense2.biases, b[1])]:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
