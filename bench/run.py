"""Speed benchmark: scratchnn against PyTorch (CPU), scikit-learn and the matrix-product floor.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py [--quick]

Trains the book's Fashion-MNIST MLP (784-128-128-10, ReLU, softmax + categorical
cross-entropy, Adam(0.001, decay=1e-3), batch 128, float32, 60,000 images in [-1, 1]) with
each library, one epoch at a time, the libraries taking turns (rep 1 of each, rep 2 of
each, ...) so that a slow spell of the machine hits all of them; then a wider net
(784-512-512-10), inference on the 10,000 test images (batch 32 and 512) and the peak memory
of a fresh process per library. Prints the tables and writes bench/results.md and
bench/results.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _data  # noqa: E402
import _runners  # noqa: E402
from _memory import TARGET_MB, memory_child, run_memory_children  # noqa: E402

SMALL = (784, 128, 128, 10)
WIDE = (784, 512, 512, 10)
TRAIN_BATCH = 128
INFER_BATCHES = (32, 512)
INSTALL_TORCH = (
    "pip install -r bench/requirements.txt   (torch==2.13.0, scikit-learn, threadpoolctl)"
)
#: The targets of the issue "Speed on every CPU" (throughput ratio = torch time / scratchnn
#: time; floor ratio = scratchnn time / the matmul floor's time).
TARGETS = {
    "train_vs_torch": {32: 1.5, 128: 1.5, 512: 1.0, "wide": 1.0},  # by batch size, or the net
    "infer_vs_torch": 1.2,
    "floor_ratio": 1.6,  # small net, batch 128 only
}


def blas_threads() -> tuple[int, str]:
    """NumPy's BLAS thread count (threadpoolctl if present, else os.cpu_count())."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.cpu_count() or 1, "os.cpu_count() (threadpoolctl not installed)"
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return (
                int(pool["num_threads"]),
                f"threadpoolctl: {pool.get('internal_api')} "
                f"{pool.get('version')} ({pool.get('architecture')})",
            )
    return os.cpu_count() or 1, "os.cpu_count() (threadpoolctl found no BLAS)"


def available(names):
    """Contenders whose libraries are importable, with a note for each one left out."""
    keep, notes = [], []
    for name in names:
        module = {"torch": "torch", "sklearn": "sklearn"}.get(name)
        if module and not _runners.has_module(module):
            hint = INSTALL_TORCH if name == "torch" else "pip install scikit-learn"
            notes.append(f"{name} not installed: its column is empty. Install with: {hint}")
            continue
        keep.append(name)
    return keep, notes


# Seconds of rest before every timed call. After a NumPy call, OpenBLAS's idle threads spin for
# a while; on 2 cores that slowed whichever contender came next (measured: PyTorch inference
# 2x slower straight after scratchnn than after a pause). The rest, and an order rotated every
# round, keep one contender from paying for another.
PAUSE_S = 0.5


def time_interleaved(runners, reps, action, warmup=1):
    """``action(runner)`` for each runner in turn, ``warmup + reps`` rounds; seconds per rep.

    The order rotates every round and each call starts after ``PAUSE_S`` of rest.
    """
    times = {name: [] for name in runners}
    names = list(runners)
    for rnd in range(warmup + reps):
        shift = rnd % len(names)
        for name in names[shift:] + names[:shift]:
            runner = runners[name]
            time.sleep(PAUSE_S)
            start = time.perf_counter()
            action(runner)
            elapsed = time.perf_counter() - start
            if rnd >= warmup:
                times[name].append(elapsed)
    return times


def summarise(samples):
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "reps": len(samples),
        "samples_s": [round(s, 5) for s in samples],
    }


def accuracy(runner, X, y):
    probabilities = runner.predict(X, 512)
    return float(np.mean(np.argmax(probabilities, axis=1) == y))


def training_section(title, sizes, names, data, reps, threads, batch=None):
    batch = batch or TRAIN_BATCH
    X, y = data["X_train"], data["y_train"]
    runners = {}
    for name in names:
        runners[name] = _runners.CONTENDERS[name](sizes, X, y, batch)
    print(
        f"\n== {title}: {'-'.join(map(str, sizes))}, batch {batch}, "
        f"{reps} timed reps (+1 warm-up), interleaved ==",
        flush=True,
    )
    times = time_interleaved(runners, reps, lambda r: r.train_epoch())
    rows = []
    for name, runner in runners.items():
        row = {"contender": name, "label": runner.label, **summarise(times[name])}
        if name != "floor":
            row["test_accuracy"] = accuracy(runner, data["X_test"], data["y_test"])
            row["epochs_trained"] = reps + 1
        rows.append(row)
    add_ratios(rows)
    return {"title": title, "sizes": list(sizes), "batch_size": batch, "rows": rows}, runners


def add_ratios(rows):
    """Ratios from the medians, and from the minima (least disturbed by other processes)."""
    by_name = {row["contender"]: row for row in rows}
    torch_row, floor_row = by_name.get("torch"), by_name.get("floor")
    for row in rows:
        if torch_row:
            row["throughput_vs_torch"] = torch_row["median_s"] / row["median_s"]
            row["throughput_vs_torch_min"] = torch_row["min_s"] / row["min_s"]
        if floor_row:
            row["time_vs_floor"] = row["median_s"] / floor_row["median_s"]
            row["time_vs_floor_min"] = row["min_s"] / floor_row["min_s"]


def inference_section(runners, data, reps):
    X = data["X_test"]
    runners = {k: v for k, v in runners.items() if k != "floor"}
    sections = []
    for batch in INFER_BATCHES:
        print(f"\n== inference: {len(X)} test images, batch {batch}, {reps} reps ==", flush=True)
        times = time_interleaved(runners, reps, lambda r, b=batch: r.predict(X, b))
        rows = [
            {
                "contender": name,
                "label": getattr(r, "predict_label", r.label),
                **summarise(times[name]),
            }
            for name, r in runners.items()
        ]
        add_ratios(rows)
        sections.append({"title": f"inference, batch {batch}", "batch_size": batch, "rows": rows})
    return sections


def fmt(value, spec=".3f"):
    return "-" if value is None else format(value, spec)


def ratio(row, key):
    if key not in row:
        return "-"
    return f"{row[key]:.2f}x; {row[key + '_min']:.2f}x"


def table_training(section):
    lines = [
        f"### {section['title']} ({'-'.join(map(str, section['sizes']))}, batch "
        f"{section['batch_size']}): seconds per epoch",
        "",
        "| contender | median s | min s | max s | torch/this (median; min) "
        "| this/floor (median; min) | test acc. |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in section["rows"]:
        acc = row.get("test_accuracy")
        acc_text = "-" if acc is None else f"{acc:.3f} after {row['epochs_trained']} ep."
        lines.append(
            f"| {row['label']} | {fmt(row['median_s'])} | {fmt(row['min_s'])} | "
            f"{fmt(row['max_s'])} | {ratio(row, 'throughput_vs_torch')} | "
            f"{ratio(row, 'time_vs_floor')} | "
            f"{acc_text} |"
        )
    return "\n".join(lines)


def table_inference(section):
    lines = [
        f"### {section['title']}: seconds for the 10,000 test images",
        "",
        "| contender | median s | min s | max s | torch/this (median; min) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in section["rows"]:
        lines.append(
            f"| {row['label']} | {fmt(row['median_s'], '.4f')} | {fmt(row['min_s'], '.4f')} | "
            f"{fmt(row['max_s'], '.4f')} | {ratio(row, 'throughput_vs_torch')} |"
        )
    return "\n".join(lines)


def table_memory(rows):
    lines = [
        f"### peak memory: fresh process per library, training {rows[0]['epochs']} epoch(s)"
        if rows
        else "### peak memory",
        "",
        f"Target: peak RSS <= 1.5 x float32 training set (188.2 MB) + 50 MB = {TARGET_MB:.1f} MB "
        "(MB = 10^6 bytes).",
        "",
        "| contender | RSS after imports MB | RSS with data MB | peak RSS while training MB "
        "| vs target |",
        "|---|---:|---:|---:|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['contender']} | error: {row['error']} | | | |")
            continue
        ok = "meets" if row["peak_training_mb"] <= TARGET_MB else "over"
        lines.append(
            f"| {row['label']} | {row['rss_after_imports_mb']:.1f} | {row['rss_with_data_mb']:.1f} "
            f"| {row['peak_training_mb']:.1f} | {ok} ({row['peak_training_mb'] / TARGET_MB:.2f}x) |"
        )
    return "\n".join(lines)


def targets_table(results):
    """Each target of the issue against the median-based and the min-based ratio."""
    lines = [
        "### targets of the Speed issue (scratchnn)",
        "",
        "| target | by medians | by minima | met? |",
        "|---|---:|---:|---|",
    ]
    checks = []

    def row_of(section, name):
        return next((r for r in section["rows"] if r["contender"] == name), None)

    def add(text, row, key, limit, above):
        if row is None or key not in row:
            return
        values = (row[key], row[key + "_min"])
        met = [v >= limit if above else v <= limit for v in values]
        checks.append((text, *values, "yes" if all(met) else "no" if not any(met) else "mixed"))

    for section in results["training"]:
        s = row_of(section, "scratchnn")
        wide = section["title"].startswith("wide")
        limit = TARGETS["train_vs_torch"].get("wide" if wide else section["batch_size"])
        if limit is not None:
            add(
                f"training, {section['title']}: throughput >= {limit:.1f}x PyTorch",
                s,
                "throughput_vs_torch",
                limit,
                True,
            )
        if not wide and section["batch_size"] == 128:
            limit = TARGETS["floor_ratio"]
            add(
                f"training, {section['title']}: time <= {limit}x matmul floor",
                s,
                "time_vs_floor",
                limit,
                False,
            )
    for section in results["inference"]:
        s = row_of(section, "scratchnn")
        limit = TARGETS["infer_vs_torch"]
        add(
            f"{section['title']}: throughput >= {limit:.1f}x PyTorch",
            s,
            "throughput_vs_torch",
            limit,
            True,
        )
    for text, by_median, by_min, met in checks:
        lines.append(f"| {text} | {by_median:.2f}x | {by_min:.2f}x | {met} |")
    mem = next(
        (r for r in results["memory"] if r.get("contender") == "scratchnn" and "error" not in r),
        None,
    )
    if mem:
        ok = mem["peak_training_mb"] <= TARGET_MB
        lines.append(
            f"| peak memory <= {TARGET_MB:.1f} MB | {mem['peak_training_mb']:.1f} MB | "
            f"| {'yes' if ok else 'no'} |"
        )
        checks.append(("peak memory MB", mem["peak_training_mb"], None, "yes" if ok else "no"))
    results["targets"] = [
        {"target": t, "by_medians": a, "by_minima": b, "met": m} for t, a, b, m in checks
    ]
    return "\n".join(lines)


def environment(threads, thread_source, argv):
    meta = {
        "command": (
            "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "
            if not ({"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"} & set(os.environ))
            else ""
        )
        + " ".join(["python bench/run.py", *argv]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "thread_source": thread_source,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "load_average_at_start": os.getloadavg(),
    }
    meta["cpu_vendor"] = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read().splitlines()
        fields = dict(line.split(":", 1) for line in info if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        meta["cpu"] = fields.get("model name", meta["cpu"])
        # GenuineIntel or AuthenticAMD: Intel cores compute on subnormal floats much slower.
        meta["cpu_vendor"] = fields.get("vendor_id", "unknown")
    except OSError:
        pass
    # The BLAS kernel NumPy's OpenBLAS picked for this CPU (SkylakeX, Haswell, Zen...).
    meta["blas_kernel"] = (thread_source.rsplit("(", 1)[-1].rstrip(")")
                           if thread_source.startswith("threadpoolctl:") else
                           "unknown (install threadpoolctl to see it)")
    try:
        meta["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    for module in ("torch", "sklearn", "scratchnn"):
        if _runners.has_module(module):
            meta[module] = __import__(module).__version__
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 reps instead of 5, 1 epoch in the memory runs"
    )
    parser.add_argument(
        "--reps", type=int, default=None, help="timed reps per measurement (default 5)"
    )
    parser.add_argument(
        "--skip", default="", help="comma list of sections to skip: batches,wide,inference,memory"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.* alone")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS and PyTorch threads (default: NumPy's BLAS thread count)",
    )
    args = parser.parse_args(argv)
    if args.memory_child:
        return memory_child(args.memory_child, args.epochs, args.threads or 1)

    argv = sys.argv[1:] if argv is None else argv
    reps = args.reps or (2 if args.quick else 5)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    threads, thread_source = blas_threads()
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads, user_api="blas")
        threads, thread_source = args.threads, "--threads (threadpoolctl limit on BLAS)"
    names, notes = available(["scratchnn", "torch", "sklearn", "book", "floor"])
    if "torch" in names:
        import torch

        torch.set_num_threads(threads)
    meta = environment(threads, thread_source, argv)
    meta["notes"] = notes
    meta["scratchnn_path"] = (
        "Model.fit / Model.predict"
        if _runners.scratchnn_has_model()
        else "core layers in the book's protocol loop (scratchnn.Model not available yet)"
    )
    for note in notes:
        print("NOTE:", note)
    print(
        json.dumps(
            {k: meta[k] for k in ("cpu", "threads", "thread_source", "numpy", "scratchnn_path")},
            indent=1,
        )
    )

    data, source = _data.load()
    meta["data"] = source
    results = {"meta": meta, "training": [], "inference": [], "memory": []}
    section, runners = training_section("small net", SMALL, names, data, reps, threads)
    results["training"].append(section)
    print(table_training(section))
    if "inference" not in skip:
        results["inference"] = inference_section(runners, data, max(reps, 5))
        for sec in results["inference"]:
            print(table_inference(sec))
    del runners
    if "batches" not in skip:
        for batch in (32, 512):
            title = f"small net, batch {batch}"
            section, _ = training_section(title, SMALL, names, data, max(2, reps // 2 + 1),
                                          threads, batch)
            results["training"].append(section)
            print(table_training(section))
    if "wide" not in skip:
        wide_reps = max(2, reps // 2 + 1)
        section, _ = training_section("wide net", WIDE, names, data, wide_reps, threads)
        results["training"].append(section)
        print(table_training(section))
    if "memory" not in skip:
        epochs = 1 if args.quick else 2
        print(f"\n== peak memory: fresh process per library, {epochs} epoch(s) ==", flush=True)
        results["memory"] = run_memory_children(names, epochs, threads)
        print(table_memory(results["memory"]))
    targets = targets_table(results)
    print("\n" + targets)

    if not args.no_write:
        write(results, targets)
    return 0


def write(results, targets):
    meta = results["meta"]
    parts = [
        "# scratchnn speed benchmark",
        "",
        f"Command: `{meta['command']}` (see bench/README.md)  ",
        f"Date: {meta['date']}, commit {meta.get('git_commit', '?')}; CPU: {meta['cpu']} "
        f"({meta.get('cpu_vendor', 'unknown')}), {meta['cpu_count']} cores; BLAS kernel: "
        f"{meta.get('blas_kernel', 'unknown')}; threads: {meta['threads']} "
        f"({meta['thread_source']})  ",
        f"Python {meta['python']}, NumPy {meta['numpy']}, "
        f"PyTorch {meta.get('torch', 'not installed')}, "
        f"scikit-learn {meta.get('sklearn', 'not installed')}, scratchnn {meta.get('scratchnn')}  ",
        f"scratchnn path: {meta['scratchnn_path']}; load average at start: "
        f"{', '.join(f'{x:.2f}' for x in meta['load_average_at_start'])}",
        "",
        "Times are medians of interleaved reps (one warm-up epoch each, not counted). "
        "Ratios: `torch/this` = PyTorch time / this time (above 1: faster than PyTorch); "
        "`this/floor` = this time / matmul-floor time. scikit-learn runs Adam without "
        "learning-rate decay (it has none) and its predict_proba is called once per batch.",
        "",
    ]
    for note in meta["notes"]:
        parts += [f"**Note:** {note}", ""]
    parts += [targets, ""]
    for section in results["training"]:
        parts += [table_training(section), ""]
    for section in results["inference"]:
        parts += [table_inference(section), ""]
    if results["memory"]:
        parts += [table_memory(results["memory"]), ""]
    (HERE / "results.md").write_text("\n".join(parts))
    (HERE / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(f"\nwrote {HERE / 'results.md'} and {HERE / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
