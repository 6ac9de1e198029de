"""The Fashion-MNIST CNN, scratchnn against PyTorch (CPU), side by side in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/cnn.py            # 3 reps
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/cnn.py --quick    # 1 rep, 12k

The network is ``scratchnn train --dataset fashion-mnist --model cnn``'s: Conv2D(1, 16, 3,
padding=1), BatchNorm(16), ReLU, MaxPool2D(2), Conv2D(16, 32, 3, padding=1), BatchNorm(32),
ReLU, MaxPool2D(2), Flatten,
Dropout(0.25), Dense(1568, 128), ReLU, Dropout(0.25), Dense(128, 10), softmax +
cross-entropy, Adam(0.001) with 1 / (1 + 1e-4 t) decay, batches of 64, float32, the same
thread count for both (PyTorch with its fused Adam). Training is timed per epoch over the
60,000 training images (``--quick``: 12,000, scaled to an epoch), inference over the 10,000
test images at batch 512. The contenders take turns, each timed call after a rest, as in
``run.py``. Then one scratchnn epoch on 6,000 images is timed layer by layer ("where the time
goes"). Results go to ``bench/results-cnn.md`` and ``.json`` (``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _data  # noqa: E402
import run as _run  # noqa: E402  (blas_threads, time_interleaved, summarise, environment)

BATCH = 64
LEARNING_RATE, DECAY, EPSILON = 0.001, 1e-4, 1e-7


def load():
    arrays, _ = _data.load()
    return (arrays["X_train"].reshape(-1, 1, 28, 28), arrays["y_train"],
            arrays["X_test"].reshape(-1, 1, 28, 28), arrays["y_test"])


class Scratchnn:
    label = "scratchnn"

    def __init__(self, X, y, seed=0):
        import scratchnn as snn

        rng = np.random.default_rng(seed)
        self.model = snn.Model(
            [snn.Conv2D(1, 16, 3, padding=1, rng=rng), snn.BatchNorm(16), snn.ReLU(),
             snn.MaxPool2D(2),
             snn.Conv2D(16, 32, 3, padding=1, rng=rng), snn.BatchNorm(32), snn.ReLU(),
             snn.MaxPool2D(2),
             snn.Flatten(), snn.Dropout(0.25), snn.Dense(1568, 128, init="he", rng=rng),
             snn.ReLU(), snn.Dropout(0.25), snn.Dense(128, 10, init="glorot", rng=rng),
             snn.Softmax()],
            loss=snn.CategoricalCrossentropy(),
            optimizer=snn.Adam(learning_rate=LEARNING_RATE, decay=DECAY, epsilon=EPSILON),
            seed=seed,
        )
        self.X, self.y = X, y

    def train_epoch(self):
        self.model.fit(self.X, self.y, epochs=1, batch_size=BATCH, verbose=0)

    def predict(self, X, batch_size):
        return self.model.predict(X, batch_size=batch_size)


class Torch(_run._runners.Torch):
    """The same network in PyTorch; training epochs and prediction as bench/_runners.py's."""

    label = "PyTorch (CPU, fused Adam)"

    def __init__(self, X, y, seed=0):
        import torch
        from torch import nn

        torch.manual_seed(seed)
        self.torch = torch
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(1568, 128), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(128, 10),
        )
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=LEARNING_RATE, eps=EPSILON,
                                          fused=True)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: 1.0 / (1.0 + DECAY * step))
        self.loss = nn.CrossEntropyLoss()
        self.generator = torch.Generator().manual_seed(seed)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.batch_size = BATCH


def where_the_time_goes(X, y, samples=6000):
    """One scratchnn epoch on ``samples`` images with every layer's forward and backward
    timed (the wrappers add ~1 us a call), plus the optimizer's updates."""
    runner = Scratchnn(X[:samples], y[:samples])
    model = runner.model
    spent = defaultdict(float)
    for index, layer in enumerate(model.layers):
        name = f"{index:2d} {layer.describe()}"
        for method in ("forward", "backward"):
            original = getattr(layer, method)

            def timed(*args, _original=original, _key=(name, method), **kwargs):
                start = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    spent[_key] += time.perf_counter() - start

            setattr(layer, method, timed)
    update = model.update

    def timed_update(*args):
        start = time.perf_counter()
        update(*args)
        spent[("optimizer", "update")] += time.perf_counter() - start

    model.update = timed_update
    runner.train_epoch()     # warm-up (buffers)
    spent.clear()
    start = time.perf_counter()
    runner.train_epoch()
    total = time.perf_counter() - start
    rows = sorted(spent.items(), key=lambda item: -item[1])
    return total, [(f"{name} {method}", seconds) for (name, method), seconds in rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 rep on 12,000 images")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    threads, source = _run.blas_threads()
    if args.threads:
        threads, source = args.threads, "--threads"
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    reps = 1 if args.quick else args.reps
    X, y, X_test, y_test = load()
    n = 12000 if args.quick else len(X)
    runners = {"scratchnn": Scratchnn(X[:n], y[:n])}
    notes = []
    if _run._runners.has_module("torch"):
        import torch

        torch.set_num_threads(threads)
        runners["torch"] = Torch(X[:n], y[:n])
    else:
        notes.append("torch not installed: its column is empty. Install with: "
                     + _run.INSTALL_TORCH)
    meta = _run.environment(threads, source, sys.argv[1:])
    meta["command"] = meta["command"].replace("bench/run.py", "bench/cnn.py")
    train = _run.time_interleaved(runners, reps, lambda r: r.train_epoch())
    infer = _run.time_interleaved(runners, reps, lambda r: r.predict(X_test, 512))
    scale = len(X) / n
    results = {"meta": meta, "notes": notes, "samples_per_rep": n, "rows": {}}
    for name, runner in runners.items():
        accuracy = float(np.mean(np.argmax(runner.predict(X_test, 512), axis=1) == y_test))
        results["rows"][name] = {
            "label": runner.label,
            "train_epoch_s": {k: v * scale if k.endswith("_s") else v
                              for k, v in _run.summarise(train[name]).items()
                              if k != "samples_s"},
            "inference_s": {k: v for k, v in _run.summarise(infer[name]).items()
                            if k != "samples_s"},
            "test_accuracy_after_reps": accuracy,
        }
    total, layers = where_the_time_goes(X, y)
    results["where_the_time_goes"] = {"epoch_6000_s": total,
                                      "layers": [[k, v] for k, v in layers]}
    text = report(results)
    print(text)
    if not args.no_write:
        (HERE / "results-cnn.json").write_text(json.dumps(results, indent=1) + "\n")
        (HERE / "results-cnn.md").write_text(text + "\n")


def report(results):
    meta, rows = results["meta"], results["rows"]
    lines = [
        "# Fashion-MNIST CNN: scratchnn and PyTorch (CPU)",
        "",
        f"{meta['date']}, {meta['cpu']} ({meta['cpu_count']} CPUs), {meta['threads']} threads "
        f"({meta['thread_source']}), numpy {meta['numpy']}, torch {meta.get('torch', '-')}, "
        f"commit {meta.get('git_commit', '?')}; `{meta['command']}`",
        "",
        "| | train s/epoch (median) | min | inference s, 10k at batch 512 (median) | min | "
        "test acc. after the reps |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows.values():
        t, i = row["train_epoch_s"], row["inference_s"]
        lines.append(f"| {row['label']} | {t['median_s']:.2f} | {t['min_s']:.2f} | "
                     f"{i['median_s']:.3f} | {i['min_s']:.3f} | "
                     f"{row['test_accuracy_after_reps']:.4f} |")
    if "torch" in rows:
        s, t = rows["scratchnn"], rows["torch"]
        for what, key in (("training", "train_epoch_s"), ("inference", "inference_s")):
            lines.append("")
            lines.append(
                f"{what} throughput, scratchnn / PyTorch: "
                f"{t[key]['median_s'] / s[key]['median_s']:.2f}x by medians, "
                f"{t[key]['min_s'] / s[key]['min_s']:.2f}x by minima")
    lines += ["", f"Where scratchnn's time goes (one epoch of 6,000 images, "
              f"{results['where_the_time_goes']['epoch_6000_s']:.2f} s):", "",
              "| layer, pass | s | share |", "|---|---:|---:|"]
    total = results["where_the_time_goes"]["epoch_6000_s"]
    for name, seconds in results["where_the_time_goes"]["layers"]:
        if seconds / total >= 0.01:
            lines.append(f"| {name} | {seconds:.3f} | {seconds / total:.0%} |")
    lines += [*(f"\nNote: {note}" for note in results["notes"])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
