"""Peak memory of a fresh process per library: imports, data, then training.

The child (``run.py --memory-child NAME``) reads ``VmRSS`` after its imports and after
loading the data, then resets the kernel's high-water mark (``echo 5 > /proc/self/clear_refs``,
Linux) so that the peak of loading the files (gzip buffers) does not count, trains, and reads
``VmHWM``. Where the reset is not possible it falls back to ``ru_maxrss`` and says so.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN_SET_MB = 60000 * 784 * 4 / 1e6  # float32 training images: 188.16 MB
TARGET_MB = 1.5 * TRAIN_SET_MB + 50
LIBRARY_IMPORTS = {
    "scratchnn": ["scratchnn"],
    "torch": ["torch"],
    "sklearn": ["sklearn.neural_network"],
    "book": [],
    "none": [],
}


def _kb_to_mb(kb: float) -> float:
    return kb * 1024 / 1e6


def _rss() -> dict[str, float]:
    """VmRSS and VmHWM in MB (10^6 bytes)."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":")
                    out[key] = _kb_to_mb(int(value.split()[0]))
    except OSError:
        out["VmRSS"] = out["VmHWM"] = _kb_to_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return out


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(name: str, epochs: int, threads: int) -> int:
    """Runs in the fresh process: prints one JSON line with the measurements."""
    import importlib

    sys.path.insert(0, str(HERE))
    for module in LIBRARY_IMPORTS[name]:
        importlib.import_module(module)
    if name == "torch":
        import torch

        torch.set_num_threads(threads)
    after_imports = _rss()["VmRSS"]
    import _data
    import _runners

    data, _ = _data.load()
    X, y = data["X_train"], data["y_train"]
    del data
    gc.collect()
    with_data = _rss()["VmRSS"]
    reset = _reset_peak()
    if name != "none":
        runner = _runners.CONTENDERS[name]((784, 128, 128, 10), X, y, 128)
        for _ in range(epochs):
            runner.train_epoch()
    peak = _rss()["VmHWM"]
    result = {
        "contender": name,
        "label": getattr(_runners.CONTENDERS.get(name), "label", "python + numpy + data only"),
        "epochs": epochs,
        "rss_after_imports_mb": after_imports,
        "rss_with_data_mb": with_data,
        "peak_training_mb": peak,
        "peak_method": "VmHWM after clear_refs reset" if reset else "VmHWM since process start",
    }
    if name == "scratchnn":
        result["label"] = type(runner).label
    print(json.dumps(result))
    return 0


def run_memory_children(names: list[str], epochs: int, threads: int) -> list[dict]:
    """One fresh ``python bench/run.py --memory-child NAME`` per library (and a data-only one)."""
    rows = []
    for name in ["none", *[n for n in names if n in LIBRARY_IMPORTS]]:
        cmd = [
            sys.executable,
            str(HERE / "run.py"),
            "--memory-child",
            name,
            "--epochs",
            str(epochs),
            "--threads",
            str(threads),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            rows.append(
                {"contender": name, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
            )
            continue
        row = json.loads(lines[-1])
        rows.append(row)
        print(f"  {name}: {row['peak_training_mb']:.1f} MB peak", flush=True)
    return rows
