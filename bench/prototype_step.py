"""What each candidate optimisation of the training step is worth, measured.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/prototype_step.py [--reps 3]

A standalone training step for 784-128-128-10 (ReLU, softmax + cross-entropy, Adam with
decay, batch 128, float32, reshuffled every epoch with ``np.take(out=)`` as Model.fit does),
written so that each optimisation can be switched on or off:

  skip_dinputs0  do not compute d(loss)/d(X) for the first layer (nobody uses it)
  buffers        every product and activation written into preallocated arrays (``out=``),
                 bias added in place, ReLU and softmax in place, gradient built in place
  fused_adam     Adam's bias corrections folded into two scalars
                 (``lr_t = lr*sqrt(1-b2^t)/(1-b1^t)``, ``eps_t = eps*sqrt(1-b2^t)``) and
                 every temporary written into one scratch array per parameter
  flat_params    all weights and biases views of one flat array (gradients too), so Adam
                 runs once over 118k numbers instead of six times
  no_backup      no copy of every parameter before each update (Model.fit's divergence guard)
  one_thread     BLAS limited to one thread (threadpoolctl) for the whole step
  chunked_adam   (with fused_adam) Adam's passes run over blocks of 16,384 numbers, so that
                 after the first pass a block is in L1/L2 instead of streaming all of m, v,
                 the gradient and the parameters from L3 for each of its ~12 passes

"plain" is the library's way (new arrays each step, the book's Adam, the backup copy,
first-layer dinputs); each option is measured alone on top of plain, all together, and all
but one. Every configuration must reach the same parameters as plain after one epoch on the
same batches (checked, up to float32 rounding), so a speed-up never comes from doing less.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _data  # noqa: E402
import _runners  # noqa: E402

OPTIONS = ("skip_dinputs0", "buffers", "fused_adam", "flat_params", "no_backup", "one_thread")
EXTRA = ("chunked_adam",)  # measured only where named with --configs
CHUNK = 16384
SIZES = (784, 128, 128, 10)
BATCH = 128
LR, DECAY, EPS, B1, B2 = 0.001, 1e-3, 1e-7, 0.9, 0.999


class Proto:
    def __init__(self, opts: set[str], seed: int = 0) -> None:
        self.opts = opts
        f32 = np.float32
        shapes = [(a, b) for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)]
        n_params = sum(a * b + b for a, b in shapes)
        self.flat = np.zeros(n_params, f32)
        self.flat_grad = np.zeros(n_params, f32)
        self.W, self.b, self.dW, self.db = [], [], [], []
        offset = 0
        for i, (a, b) in enumerate(shapes):
            draws = np.random.default_rng(seed + i).standard_normal((a, b))
            for target, grads, shape in ((self.W, self.dW, (a, b)), (self.b, self.db, (1, b))):
                size = shape[0] * shape[1]
                if "flat_params" in opts:
                    target.append(self.flat[offset : offset + size].reshape(shape))
                    grads.append(self.flat_grad[offset : offset + size].reshape(shape))
                else:
                    target.append(np.zeros(shape, f32))
                    grads.append(np.zeros(shape, f32))
                offset += size
            self.W[-1][...] = (0.01 * draws).astype(f32)
        params = (
            [self.flat]
            if "flat_params" in opts
            else [p for pair in zip(self.W, self.b, strict=True) for p in pair]
        )
        self.params = params
        self.grads = (
            [self.flat_grad]
            if "flat_params" in opts
            else [g for pair in zip(self.dW, self.db, strict=True) for g in pair]
        )
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.zeros_like(p) for p in params]
        self.iterations = 0
        self.buffers: dict[int, tuple] = {}

    def _buffers(self, rows):
        if rows not in self.buffers:
            acts = [np.empty((rows, w.shape[1]), np.float32) for w in self.W]
            dacts = [np.empty((rows, w.shape[0]), np.float32) for w in self.W]
            self.buffers[rows] = (acts, dacts, np.arange(rows))
        return self.buffers[rows]

    # ---------------------------------------------------------------- plain (library-like)
    def step_plain_forward_backward(self, xb, yb):
        inputs, a = [], xb
        for i, (w, b) in enumerate(zip(self.W, self.b, strict=True)):
            inputs.append(a)
            z = a @ w + b
            a = np.maximum(z, 0) if i < len(self.W) - 1 else z
        exp = np.exp(a - a.max(axis=1, keepdims=True))
        probs = exp / exp.sum(axis=1, keepdims=True)
        n = len(probs)
        loss = -np.log(np.clip(probs, EPS, 1 - EPS)[np.arange(n), yb]).mean()
        acc = np.mean(np.argmax(probs, axis=1) == yb)
        d = probs.copy()
        d[np.arange(n), yb] -= 1
        d /= n
        for i in range(len(self.W) - 1, -1, -1):
            self.dW[i][...] = inputs[i].T @ d
            self.db[i][...] = d.sum(axis=0, keepdims=True)
            if i > 0 or "skip_dinputs0" not in self.opts:
                d = d @ self.W[i].T
                if i > 0:
                    d = d * (inputs[i] > 0)
        return loss, acc

    # ---------------------------------------------------------------- buffers
    def step_buffered_forward_backward(self, xb, yb):
        acts, dacts, rows = self._buffers(len(xb))
        a = xb
        last = len(self.W) - 1
        for i in range(len(self.W)):
            np.matmul(a, self.W[i], out=acts[i])
            acts[i] += self.b[i]
            if i < last:
                np.maximum(acts[i], 0, out=acts[i])
            a = acts[i]
        probs = acts[last]  # softmax in place on the logits
        probs -= probs.max(axis=1, keepdims=True)
        np.exp(probs, out=probs)
        probs /= probs.sum(axis=1, keepdims=True)
        n = len(probs)
        correct = probs[rows, yb]
        loss = -np.log(np.clip(correct, EPS, 1 - EPS)).mean()
        acc = np.mean(np.argmax(probs, axis=1) == yb)
        probs[rows, yb] -= 1  # gradient in place: (p - onehot) / n
        probs /= n
        d = probs
        for i in range(last, -1, -1):
            inp = xb if i == 0 else acts[i - 1]
            np.matmul(inp.T, d, out=self.dW[i])
            np.sum(d, axis=0, keepdims=True, out=self.db[i])
            if i > 0 or "skip_dinputs0" not in self.opts:
                np.matmul(d, self.W[i].T, out=dacts[i])
                if i > 0:
                    np.multiply(dacts[i], inp > 0, out=dacts[i])
                d = dacts[i]
        return loss, acc

    # ---------------------------------------------------------------- Adam
    def adam(self):
        lr = LR / (1.0 + DECAY * self.iterations)
        t = self.iterations + 1
        if "fused_adam" in self.opts:
            lr_t = lr * np.sqrt(1 - B2**t) / (1 - B1**t)
            eps_t = EPS * np.sqrt(1 - B2**t)
            arrays = zip(self.params, self.grads, self.m, self.v, self.tmp, strict=True)
            if "chunked_adam" in self.opts:
                arrays = [
                    tuple(a.reshape(-1)[s : s + CHUNK] for a in group)
                    for group in arrays
                    for s in range(0, group[0].size, CHUNK)
                ]
            for p, g, m, v, tmp in arrays:
                m *= B1
                np.multiply(g, 1 - B1, out=tmp)
                m += tmp
                v *= B2
                np.multiply(g, g, out=tmp)
                tmp *= 1 - B2
                v += tmp
                np.sqrt(v, out=tmp)
                tmp += eps_t
                np.divide(m, tmp, out=tmp)
                tmp *= lr_t
                p -= tmp
        else:  # the library's Adam._update
            for p, g, m, v in zip(self.params, self.grads, self.m, self.v, strict=True):
                m *= B1
                m += (1 - B1) * g
                v *= B2
                v += (1 - B2) * g * g
                m_hat = m / (1 - B1**t)
                v_hat = v / (1 - B2**t)
                p -= lr * m_hat / (np.sqrt(v_hat) + EPS)
        self.iterations += 1

    def accuracy(self, X, y):
        a = X
        for i, (w, b) in enumerate(zip(self.W, self.b, strict=True)):
            a = a @ w + b
            if i < len(self.W) - 1:
                a = np.maximum(a, 0)
        return float(np.mean(np.argmax(a, axis=1) == y))

    def epoch(self, X, y, order):
        xbuf = np.empty((BATCH, X.shape[1]), X.dtype)
        ybuf = np.empty(BATCH, y.dtype)
        step = (
            self.step_buffered_forward_backward
            if "buffers" in self.opts
            else self.step_plain_forward_backward
        )
        for start in range(0, len(X), BATCH):
            idx = order[start : start + BATCH]
            xb = np.take(X, idx, axis=0, out=xbuf[: len(idx)])
            yb = np.take(y, idx, axis=0, out=ybuf[: len(idx)])
            loss, _ = step(xb, yb)
            if not np.isfinite(loss):
                raise FloatingPointError("diverged")
            if "no_backup" not in self.opts:
                backup = [p.copy() for p in self.params]  # noqa: F841  (Model.fit keeps one)
            self.adam()


def thread_limit(opts):
    if "one_thread" not in opts:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--configs", default="", help="comma list of configuration names to run (default all)"
    )
    args = parser.parse_args()
    data, _ = _data.load()
    X, y = data["X_train"], data["y_train"]

    configs = {"plain": set()}
    for opt in OPTIONS:
        configs[f"plain + {opt}"] = {opt}
    configs["all"] = set(OPTIONS)
    for opt in OPTIONS:
        configs[f"all - {opt}"] = set(OPTIONS) - {opt}
    configs["all - one_thread - flat_params"] = set(OPTIONS) - {"one_thread", "flat_params"}
    configs["all + chunked_adam"] = set(OPTIONS) | {"chunked_adam"}
    configs["all - one_thread + chunked_adam"] = (set(OPTIONS) - {"one_thread"}) | {"chunked_adam"}
    configs["plain + fused_adam + chunked_adam"] = {"fused_adam", "chunked_adam"}
    if args.configs:
        wanted = [name.strip() for name in args.configs.split(",")]
        configs = {name: configs[name] for name in wanted}

    # Correctness: one epoch on the same batches from the same start must train as well as
    # plain. Parameters cannot match to rounding: Adam moves a parameter by ~lr whatever the
    # size of its gradient, so where a gradient is ~0 its rounding noise (which even the BLAS
    # thread count changes) decides the direction; compare the whole vector and the test
    # accuracy instead.
    order = np.random.default_rng(5).permutation(len(X))
    reference = Proto(set())
    reference.epoch(X, y, order)
    ref_params = np.concatenate([p.ravel() for p in reference.params])
    print("after one epoch on the same batches: ||params - plain|| / ||plain||, test accuracy")
    for name, opts in configs.items():
        proto = Proto(opts)
        with thread_limit(opts):
            proto.epoch(X, y, order)
        got = np.concatenate([p.ravel() for p in proto.params])
        rel = np.linalg.norm(got - ref_params) / np.linalg.norm(ref_params)
        print(f"  {name:34s} {rel:.2e}  {proto.accuracy(data['X_test'], data['y_test']):.4f}")

    # Library reference, timed alongside: the real Model.fit epoch and the matmul floor.
    library = _runners.scratchnn_runner(SIZES, X, y, BATCH)
    floor = _runners.MatmulFloor(SIZES, X, y, BATCH)
    protos = {name: Proto(opts) for name, opts in configs.items()}
    floor_names = ["matmul floor", "matmul floor (1 BLAS thread)"]
    times = {name: [] for name in ["library " + library.label, *floor_names, *configs]}
    rng = np.random.default_rng(0)
    for rnd in range(args.reps + 1):
        t = time.perf_counter()
        library.train_epoch()
        lib_t = time.perf_counter() - t
        floor_t = []
        for limit in (set(), {"one_thread"}):
            with thread_limit(limit):
                t = time.perf_counter()
                floor.train_epoch()
                floor_t.append(time.perf_counter() - t)
        if rnd:
            times["library " + library.label].append(lib_t)
            for name, value in zip(floor_names, floor_t, strict=True):
                times[name].append(value)
        for name, proto in protos.items():
            order = rng.permutation(len(X))
            with thread_limit(configs[name]):
                t = time.perf_counter()
                proto.epoch(X, y, order)
                elapsed = time.perf_counter() - t
            if rnd:
                times[name].append(elapsed)
    plain = min(times["plain"]) if "plain" in times else float("nan")
    floor_min = min(times["matmul floor"])
    print(f"\nseconds per epoch, median and min of {args.reps} interleaved reps (+1 warm-up);")
    print("other processes share the 2 cores: min is the least disturbed estimate")
    print(f"  {'configuration':34s} {'median':>7s} {'min':>7s}  plain/this  this/floor (by min)")
    for name, samples in times.items():
        med, low = statistics.median(samples), min(samples)
        print(f"  {name:34s} {med:7.3f} {low:7.3f}  {plain / low:8.2f}x  {low / floor_min:8.2f}x")


if __name__ == "__main__":
    main()
