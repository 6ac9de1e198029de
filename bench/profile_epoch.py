"""Where one scratchnn training epoch spends its time (784-128-128-10, batch 128, float32).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/profile_epoch.py [--reps 3]

Part 1: cProfile of ``Model.fit(epochs=1)``, functions by own time.
Part 2: the same step taken apart: the model's own layers, loss and optimizer, called one
piece at a time with a clock around each, as fit takes them (the optimizer's flat-buffer
step, the divergence backup every 8 steps), so each line is the cost of one piece of
library code over an epoch. Summed, it is compared with the whole fit epoch and with the
matmul floor.
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
    """One epoch of the fit loop (scratchnn.training._Run._epoch) with the model's own
    objects, each piece timed: the same calls in the same order, a clock around each."""
    n = len(X)
    order = rng.permutation(n)
    X_batch = np.empty((BATCH, X.shape[1]), X.dtype)
    y_batch = np.empty(BATCH, y.dtype)
    storage = model.parameter_storage()
    opt = model.optimizer
    live = [*storage.parameters.values(),
            *(a for per_dtype in opt.flat_slots(storage).values() for a in per_dtype.values())]
    saved = [a.copy() for a in live]
    loss, accuracy = model.loss, model.accuracy
    loss.new_pass()
    accuracy.new_pass()
    for step, start in enumerate(range(0, n, BATCH)):
        stop = min(start + BATCH, n)
        idx = order[start:stop]
        t = time.perf_counter()
        xb = np.take(X, idx, axis=0, out=X_batch[: stop - start], mode="clip")
        yb = np.take(y, idx, axis=0, out=y_batch[: stop - start], mode="clip")
        clock["gather batch (np.take)"] += time.perf_counter() - t
        out = xb
        for layer in model.layers:
            t = time.perf_counter()
            out = layer.forward(out, training=True)
            clock[f"forward {type(layer).__name__}{_shape(layer)}"] += time.perf_counter() - t
        t = time.perf_counter()
        float(loss.calculate(out, yb))
        clock["loss value"] += time.perf_counter() - t
        layers = model.layers
        t = time.perf_counter()
        dvalues = layers[-1].backward_from_loss(loss, yb)
        if dvalues is None:
            dvalues = loss.backward(out, yb)
        else:
            layers[-1].dinputs = dvalues
            layers = layers[:-1]
        clock["loss gradient"] += time.perf_counter() - t
        for layer in reversed(layers):
            t = time.perf_counter()
            dvalues = layer.backward(dvalues)
            clock[f"backward {type(layer).__name__}{_shape(layer)}"] += time.perf_counter() - t
        t = time.perf_counter()
        accuracy.calculate(model.layers[-1].predictions(out), yb)
        clock["accuracy"] += time.perf_counter() - t
        t = time.perf_counter()
        if step % 8 == 0:          # training._Backup.EVERY
            for to, frm in zip(saved, live, strict=True):
                np.copyto(to, frm)
        clock["divergence backup (every 8 steps)"] += time.perf_counter() - t
        t = time.perf_counter()
        opt.pre_update_params()
        opt.update_storage(storage)
        opt.post_update_params()
        clock[f"{type(opt).__name__} update (flat buffers)"] += time.perf_counter() - t


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
