"""Where one scratchnn training epoch spends its time (784-128-128-10, batch 128, float32).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/profile_epoch.py [--reps 3]

Part 1: cProfile of ``Model.fit(epochs=1)``, functions by own time.
Part 2: the same step taken apart: the model's own layers, loss and optimizer, called one
piece at a time with a clock around each (Dense.backward split into its three products),
so each line is the cost of one piece of library code over an epoch. Summed, it is compared
with the whole fit epoch and with the matmul floor.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _data  # noqa: E402
import _runners  # noqa: E402

SIZES = (784, 128, 128, 10)
BATCH = 128


def broken_down_epoch(model, X, y, rng, clock):
    """One epoch of the fit loop with the model's own objects, each piece timed."""
    n = len(X)
    order = rng.permutation(n)
    X_batch = np.empty((BATCH, X.shape[1]), X.dtype)
    y_batch = np.empty(BATCH, y.dtype)
    dense = [layer for layer in model.layers if hasattr(layer, "weights")]
    opt = model.optimizer
    for start in range(0, n, BATCH):
        stop = min(start + BATCH, n)
        idx = order[start:stop]
        t = time.perf_counter()
        xb = np.take(X, idx, axis=0, out=X_batch[: stop - start])
        yb = np.take(y, idx, axis=0, out=y_batch[: stop - start])
        clock["gather batch (np.take)"] += time.perf_counter() - t
        out = xb
        for layer in model.layers:
            t = time.perf_counter()
            out = layer.forward(out, training=True)
            clock[f"forward {type(layer).__name__}{_shape(layer)}"] += time.perf_counter() - t
        t = time.perf_counter()
        model.loss.calculate(out, yb)
        clock["loss value (clip, log, mean)"] += time.perf_counter() - t
        t = time.perf_counter()
        dvalues = out.copy()
        dvalues[np.arange(len(out)), yb] -= 1
        dvalues /= len(out)
        clock["fused softmax-CE gradient"] += time.perf_counter() - t
        for layer in reversed(model.layers[:-1]):
            name = f"{type(layer).__name__}{_shape(layer)}"
            if hasattr(layer, "weights"):
                t = time.perf_counter()
                layer.dweights = layer.inputs.T @ dvalues
                clock[f"backward {name} dweights"] += time.perf_counter() - t
                t = time.perf_counter()
                layer.dbiases = dvalues.sum(axis=0, keepdims=True)
                clock[f"backward {name} dbiases"] += time.perf_counter() - t
                if getattr(layer, "needs_dinputs", True):
                    t = time.perf_counter()
                    layer.dinputs = dvalues @ layer.weights.T
                    clock[f"backward {name} dinputs"] += time.perf_counter() - t
                dvalues = layer.dinputs
            else:
                t = time.perf_counter()
                dvalues = layer.backward(dvalues)
                clock[f"backward {name}"] += time.perf_counter() - t
        t = time.perf_counter()
        for layer in dense:
            for param in layer.parameters():
                param.copy()
        clock["divergence backup copy of parameters"] += time.perf_counter() - t
        t = time.perf_counter()
        opt.pre_update_params()
        for layer in dense:
            opt.update_params(layer)
        opt.post_update_params()
        clock["Adam update (3 layers)"] += time.perf_counter() - t
        t = time.perf_counter()
        model.accuracy.calculate(model.layers[-1].predictions(out), yb)
        clock["accuracy (argmax, compare)"] += time.perf_counter() - t


def _shape(layer):
    if hasattr(layer, "weights"):
        return f"({layer.weights.shape[0]}x{layer.weights.shape[1]})"
    return ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    data, _ = _data.load()
    X, y = data["X_train"], data["y_train"]
    runner = _runners.scratchnn_runner(SIZES, X, y, BATCH)
    floor = _runners.MatmulFloor(SIZES, X, y, BATCH)
    runner.train_epoch()  # warm-up (first-touch of buffers, Adam slots)
    floor.train_epoch()

    profile = cProfile.Profile()
    profile.enable()
    runner.train_epoch()
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(18)
    print("== Part 1: cProfile of one", runner.label, "epoch ==")
    print("\n".join(line for line in text.getvalue().splitlines() if line.strip())[:6000])

    if not hasattr(runner, "model"):
        print("Part 2 needs scratchnn.Model; stopping.")
        return
    whole, floor_t, pieces = [], [], []
    clock_total = defaultdict(float)
    rng = np.random.default_rng(1)
    for _ in range(args.reps):
        t = time.perf_counter()
        runner.train_epoch()
        whole.append(time.perf_counter() - t)
        t = time.perf_counter()
        floor.train_epoch()
        floor_t.append(time.perf_counter() - t)
        clock = defaultdict(float)
        broken_down_epoch(runner.model, X, y, rng, clock)
        pieces.append(sum(clock.values()))
        for key, value in clock.items():
            clock_total[key] += value / args.reps
    print(f"\n== Part 2: one epoch taken apart (mean of {args.reps} reps) ==")
    print(
        f"Model.fit epoch (median): {statistics.median(whole):.3f} s; "
        f"matmul floor: {statistics.median(floor_t):.3f} s; "
        f"sum of timed pieces: {statistics.median(pieces):.3f} s"
    )
    total = sum(clock_total.values())
    for key, value in sorted(clock_total.items(), key=lambda kv: -kv[1]):
        print(f"  {value * 1000:8.1f} ms  {100 * value / total:5.1f}%  {key}")


if __name__ == "__main__":
    main()
