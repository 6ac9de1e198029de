"""The book's Fashion-MNIST network with He initial weights, trained in full: 784-128-128-10,
ReLU, Adam(decay 1e-3), batch 128, 10 epochs; what `scratchnn train --dataset fashion-mnist` runs.

The issue asks for >= 0.875 test accuracy after 10 epochs (the book's own code reached 0.8746
on this machine). With the book's 0.01 * randn weights, the CLI's set-up (data shuffled once by
the seed) measured 0.8717-0.8764 over seeds 0-7 (mean 0.874, the book's own result) and this
test's set-up 0.8687, so the bar sat inside the run-to-run noise. With
He initial weights, sqrt(2 / n_inputs) * randn, which `scratchnn train --dataset fashion-mnist`
uses, seeds 0-7 measured 0.8824-0.8853 (docs/cli.md). This test's own set-up (no shuffle
before training, one BLAS thread) measured 0.8800-0.8852 over seeds 0-4 (seed 0: 0.8800). It
runs seed 0 only and asserts the issue's bar itself.
"""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.datasets import load_fashion_mnist, preprocess_images


@pytest.mark.slow
def test_book_fashion_mnist_model_after_10_epochs(data_dir):
    (X, y), (X_test, y_test) = load_fashion_mnist(data_dir / "fashion-mnist", download=False)
    X, X_test = preprocess_images(X), preprocess_images(X_test)
    rng = np.random.default_rng(0)
    model = snn.Model(
        [snn.Dense(784, 128, init="he", rng=rng), snn.ReLU(),
         snn.Dense(128, 128, init="he", rng=rng), snn.ReLU(),
         snn.Dense(128, 10, init="he", rng=rng), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(decay=1e-3), seed=0,
    )
    history = model.fit(X, y, epochs=10, batch_size=128, verbose=0)
    result = model.evaluate(X_test, y_test, batch_size=1000, verbose=0)
    assert history.history["accuracy"][-1] > 0.90
    assert result["accuracy"] >= 0.875
