"""Per-operation cost of one training step (784-128-128-10, batch 128), best of many calls.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/micro_ops.py

The minimum over many repeats is the cost without interference from other processes; times
469 it is the cost per epoch. Matrix products are timed with 1 and 2 BLAS threads; Adam as
the library runs it (scratchnn.Adam.update_params over three Dense layers) and as the
prototypes in prototype_step.py run it.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prototype_step import OPTIONS, Proto  # noqa: E402

STEPS = 469


def best(fn, number=200, repeat=7):
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def report(name, seconds):
    print(f"  {seconds * 1e6:9.1f} us/step  {seconds * STEPS * 1e3:7.1f} ms/epoch  {name}")


def main():
    import scratchnn

    rng = np.random.default_rng(0)
    f32 = np.float32
    X = rng.standard_normal((60000, 784), dtype=f32)
    x = X[:128].copy()
    a1 = rng.standard_normal((128, 128), dtype=f32)
    d10 = rng.standard_normal((128, 10), dtype=f32)
    W1 = rng.standard_normal((784, 128), dtype=f32)
    W2 = rng.standard_normal((128, 128), dtype=f32)
    W3 = rng.standard_normal((128, 10), dtype=f32)
    products = {
        "forward  x(128x784) @ W1": lambda: x @ W1,
        "dweights x.T @ d1 (784x128)": lambda: x.T @ a1,
        "dinputs  d1 @ W1.T (skipped now)": lambda: a1 @ W1.T,
        "forward  a(128x128) @ W2": lambda: a1 @ W2,
        "dweights a.T @ d2 (128x128)": lambda: a1.T @ a1,
        "dinputs  d2 @ W2.T": lambda: a1 @ W2.T,
        "forward  a @ W3 (128x10)": lambda: a1 @ W3,
        "dweights a.T @ d3 (128x10)": lambda: a1.T @ d10,
        "dinputs  d3 @ W3.T": lambda: d10 @ W3.T,
    }
    print("matrix products (1 BLAS thread | 2 BLAS threads):")
    for name, fn in products.items():
        with threadpool_limits(limits=1, user_api="blas"):
            one = best(fn)
        with threadpool_limits(limits=2, user_api="blas"):
            two = best(fn)
        print(f"  {one * 1e6:8.1f} us | {two * 1e6:8.1f} us  ({two / one:4.2f}x)  {name}")

    print("\nthe rest of a step (library code, default threads):")
    layers = [
        scratchnn.Dense(784, 128, rng=0),
        scratchnn.Dense(128, 128, rng=1),
        scratchnn.Dense(128, 10, rng=2),
    ]
    for layer in layers:
        layer.dweights = np.ones_like(layer.weights) * 1e-3
        layer.dbiases = np.ones_like(layer.biases) * 1e-3
    adam = scratchnn.Adam(learning_rate=0.001, decay=1e-3)

    def library_adam():
        adam.pre_update_params()
        for layer in layers:
            adam.update_params(layer)
        adam.post_update_params()

    report("scratchnn.Adam, 3 Dense layers (6 parameters)", best(library_adam))
    for opts in ({"fused_adam"}, {"fused_adam", "flat_params"}, {"flat_params"}):
        proto = Proto(opts)
        for g in proto.grads:
            g[...] = 1e-3
        report(f"prototype Adam {sorted(opts)}", best(proto.adam))
    backup = [p.copy() for layer in layers for p in layer.parameters()]

    def copy_params():
        for saved, p in zip(
            backup, (p for layer in layers for p in layer.parameters()), strict=True
        ):
            np.copyto(saved, p)

    report("divergence backup (np.copyto of every parameter)", best(copy_params))
    idx = rng.permutation(60000)[:128]
    out = np.empty((128, 784), f32)
    report(
        "gather a batch: np.take(X, idx, axis=0, out=)",
        best(lambda: np.take(X, idx, axis=0, out=out)),
    )
    relu, softmax = scratchnn.ReLU(), scratchnn.Softmax()
    z = rng.standard_normal((128, 128), dtype=f32)
    relu.forward(z)
    report("ReLU forward (128x128)", best(lambda: relu.forward(z, training=True)))
    report("ReLU backward (128x128)", best(lambda: relu.backward(z)))
    logits = rng.standard_normal((128, 10), dtype=f32)
    probs = softmax.forward(logits)
    labels = rng.integers(0, 10, 128)
    report("Softmax forward (128x10)", best(lambda: softmax.forward(logits, training=True)))
    loss, acc = scratchnn.CategoricalCrossentropy(), scratchnn.CategoricalAccuracy()
    report("CategoricalCrossentropy.calculate", best(lambda: loss.calculate(probs, labels)))
    report(
        "CategoricalAccuracy.calculate(argmax)",
        best(lambda: acc.calculate(softmax.predictions(probs), labels)),
    )

    def fused_grad():
        d = probs.copy()
        d[np.arange(128), labels] -= 1
        d /= 128
        return d

    report("fused softmax-CE gradient (copy, index, divide)", best(fused_grad))
    dense = layers[1]
    dense.forward(z, training=True)
    report("Dense(128,128).forward incl. checks", best(lambda: dense.forward(z, training=True)))
    report("  bare a @ W + b", best(lambda: z @ dense.weights + dense.biases))
    assert set(OPTIONS)  # the prototype's options are what the Adam rows refer to


if __name__ == "__main__":
    main()
