"""Seeded fuzzing of model files: crafted headers and arrays with valid checksums.

Every field of the headers the library writes (containers and leaves, generator states of
every bit generator, optimizer slots, layer state, the array table, the precision) is changed
to values
of wrong types, out of range, of wrong length or nested too deep, the checksums recomputed,
and each file is loaded in a child process under a memory limit. A loaded model also trains
one epoch and predicts, so that a state NumPy trusted and crashes on later (an MT19937 pos
past its key) is caught too. Expected: no crash, no hang, and every failure a
ModelFileError, TypeError or ValueError with a message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

import _crafted_files as crafted
from scratchnn.io import read_file, save_parameters

SEED = 20_261_212
N_FILES = 3_000
FILES_PER_CHILD = 600
MEMORY_LIMIT = 2 * 1024**3   # bytes of address space per child
CHILD_TIMEOUT = 600          # seconds per child: a hang detector, not a speed requirement

CHILD = r'''
import json, sys, traceback, warnings
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[3]), int(sys.argv[3])))
except (ImportError, ValueError, OSError):
    pass   # no limit where the platform has none (Windows) or refuses one
warnings.simplefilter("error")   # as the suite's filterwarnings = error

import numpy as np
import scratchnn as snn
from scratchnn.book import Model as BookModel

sys.path.insert(0, sys.argv[5])
import _crafted_files   # the tests' RunningMean layer: a child registers it for good
snn.register_layer(_crafted_files.RunningMean)

manifest = json.loads(open(sys.argv[1]).read())
start = int(sys.argv[2])
out = open(sys.argv[4], "a", buffering=1)

def tiny_batch(model):
    dense = [layer for layer in model.layers if isinstance(layer, snn.Dense)]
    X = np.zeros((4, dense[0].n_inputs), dtype=dense[0].dtype)
    width = dense[-1].n_neurons
    if isinstance(model.loss, snn.CategoricalCrossentropy):
        return X, np.zeros(4, dtype=np.int64)
    return X, np.zeros((4, width), dtype=dense[-1].dtype)

def run(entry):
    stage = "load"
    try:
        if entry["how"] == "parameters":
            model = snn.Model.from_config(entry["config"], rng=0)
            snn.io.load_parameters(model, entry["path"])
        elif entry["how"] == "book":
            model = BookModel.load(entry["path"])
        else:
            model = snn.load_model(entry["path"])
        stage = "fit"
        X, y = tiny_batch(model)
        if entry["how"] != "parameters":
            model.fit(X, y, epochs=1, batch_size=2, verbose=0)
        stage = "predict"
        model.predict(X)
        return {"outcome": "loaded"}
    except Exception as error:
        return {"outcome": "error", "stage": stage, "type": type(error).__name__,
                "model_file_error": isinstance(error, snn.ModelFileError),
                "value_or_type": isinstance(error, (ValueError, TypeError)),
                "diverged": isinstance(error, snn.TrainingDivergedError),
                "message": str(error)[:300],
                "where": traceback.format_exc().splitlines()[-3:-1]}

for index in range(start, len(manifest)):
    out.write(json.dumps({"index": index, "begin": True}) + "\n")
    out.write(json.dumps({"index": index, **run(manifest[index])}) + "\n")
'''


# --------------------------------------------------------------------------- mutations

CLASS_NAMES = ["Dense", "Dropout", "Softmax", "Adam", "SGD", "Generator", "RandomState",
               "MT19937", "PCG64", "Philox", "SFC64", "PCG64DXSM", "model", "parameters"]
ANY_JUNK: list[Any] = [
    None, True, False, 0, 1, -1, 2, 4, 5, 624, 625, -2**31, 2**31, 2**32, 2**53 + 1, 2**64,
    2**128, -2**128, 10**400, 0.0, -0.0, 1.5, -1.5, 1e308, 5e-324, "", "x", "NaN", "Infinity",
    [], [0], [[]], {}, {"a": 1}, {"__array__": "uint32", "values": []},
    crafted.Raw("NaN"), crafted.Raw("Infinity"), crafted.Raw("-Infinity"), crafted.Raw("1e400"),
    crafted.deep(40), crafted.deep(65), crafted.deep(1000),
]


def header_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every container and leaf below the root; of a long list only some of its items."""
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += header_paths(item, (*prefix, key))
    elif isinstance(value, list):
        indices = range(len(value))
        if len(value) > 8:
            indices = sorted({0, 1, len(value) // 2, len(value) - 1})
        for index in indices:
            paths += header_paths(value[index], (*prefix, index))
    return paths


def near_misses(value: Any, names: list[str]) -> list[Any]:
    """Values of (or close to) ``value``'s own type that a loader could mistake for valid."""
    near: list[Any] = []
    if type(value) is int:
        near = [value + 1, value - 1, -value - 1, value * 2**64, float(value), str(value),
                -2**31, 10**6, 2**31, 2**32, 2**64, 2**128, 10**400]
    elif type(value) is float:
        near = [-value, 0.0, value * 1e300, int(value), str(value), crafted.Raw("1e400"),
                crafted.Raw("-1e400")]
    elif isinstance(value, str):
        near = [value + "x", value.upper(), *names, *CLASS_NAMES]
    elif isinstance(value, list):
        near = [[], value[:-1], value + value[-1:], [value], value[::-1], value * 2,
                [str(v) for v in value]]
    elif isinstance(value, dict):
        for key in value:
            near.append({k: v for k, v in value.items() if k != key})   # a field missing
        near += [{**value, "extra": 1}, list(value.values())]
    return near


ARRAY_DAMAGE = ["nan", "inf", "negative", "huge", "subnormal"]


def damage_array(header: dict[str, Any], data: bytes, rng: np.random.Generator) -> bytes:
    """One array's values changed (its sha256 recomputed): NaN, inf, negative, extreme."""
    entry = header["arrays"][int(rng.integers(len(header["arrays"])))]
    dtype = np.dtype(entry["dtype"])
    start = entry["offset"]
    values = np.frombuffer(data[start : start + entry["nbytes"]], dtype=dtype.newbyteorder("<"))
    values = values.astype(dtype).reshape(entry["shape"])
    if values.size == 0:
        return data
    kind = ARRAY_DAMAGE[int(rng.integers(len(ARRAY_DAMAGE)))]
    flat = values.reshape(-1)
    where = int(rng.integers(flat.size))
    if kind == "nan":
        flat[where] = np.nan
    elif kind == "inf":
        flat[where] = -np.inf
    elif kind == "negative":
        flat[:] = -np.abs(flat) - 1
    elif kind == "huge":
        flat[where] = np.finfo(dtype).max
    else:
        flat[:] = np.finfo(dtype).smallest_subnormal
    return crafted.replace_array(header, data, entry["name"], values)


def saved_bases(folder: Path) -> list[tuple[dict[str, Any], bytes, str, dict[str, Any]]]:
    """``(header, data, kind, config)`` of each base model's file, and of two parameters
    files (one with layer state)."""
    bases = []
    with crafted.registered(crafted.RunningMean):
        for build in crafted.BUILDERS:
            model = crafted.trained(build)
            header, data = crafted.save_and_split(model, folder / f"{build.__name__}.snn")
            bases.append((header, data, "model", model.get_config()))
            if build in (crafted.adam_classifier, crafted.state_classifier):
                path = folder / f"{build.__name__}-parameters.snn"
                save_parameters(model, path)
                raw = path.read_bytes()
                parameters_header = read_file(path)[0]
                parameters_data = raw[len(raw) - parameters_header["data_bytes"] :]
                bases.append(
                    (parameters_header, parameters_data, "parameters", model.get_config())
                )
    return bases


def craft_all(folder: Path) -> list[dict[str, Any]]:
    """Write the crafted files; returns the manifest the children load them by."""
    bases = saved_bases(folder)
    rng = np.random.default_rng(SEED)
    # Every field of every base three times (twice a near miss, once junk); every near miss
    # of every integer of a generator state (NumPy indexes its buffers with some); then
    # seeded picks of any kind until N_FILES.
    plan: list[tuple[int, tuple[Any, ...], str | int]] = []
    for b, base in enumerate(bases):
        for path in header_paths(base[0]):
            plan += [(b, path, "near"), (b, path, "near"), (b, path, "junk")]
            value = crafted.at(base[0], path)
            if path[0] == "random_state" and type(value) is int:
                plan += [(b, path, j) for j in range(len(near_misses(value, [])))]
    covered = len(plan)
    while len(plan) < N_FILES:
        b = int(rng.integers(len(bases)))
        paths = header_paths(bases[b][0])
        plan.append((b, paths[int(rng.integers(len(paths)))], "any"))
    manifest = []
    for index, (b, first_path, first_choice) in enumerate(plan):
        header, data, kind, config = bases[b]
        header = json.loads(json.dumps(header))
        names = [entry["name"] for entry in header["arrays"]]
        if index >= covered and rng.random() < 0.15:   # before the header changes, which may
            data = damage_array(header, data, rng)     # break the array table
        paths = [first_path]
        if index >= covered and rng.random() < 0.25:   # a few files with 2-3 changes at once
            all_paths = header_paths(header)
            paths += [all_paths[int(rng.integers(len(all_paths)))] for _ in range(2)]
        for path, choice in zip(paths, [first_choice, "any", "any"], strict=False):
            try:
                old = crafted.at(header, path)
            except (KeyError, IndexError, TypeError):
                continue   # removed by an earlier change of this file
            near = near_misses(old, names)
            if isinstance(choice, int):
                crafted.put(header, path, near[choice])
                continue
            options = {"near": near or ANY_JUNK, "junk": ANY_JUNK, "any": near + ANY_JUNK}
            picks = options[choice]
            crafted.put(header, path, picks[int(rng.integers(len(picks)))])
        file = folder / f"crafted-{index:04d}.snn"
        crafted.write_crafted(file, header, data)
        how = kind
        if kind == "model" and index % 9 == 4:
            how = "book"         # the book's Model.load goes through the same checks
        elif kind == "model" and index % 9 == 7:
            how = "parameters"   # parameters of a whole-model file, into a fresh model
        manifest.append({"path": str(file), "how": how, "config": config,
                         "changed": [list(map(str, p)) for p in paths]})
    return manifest


# --------------------------------------------------------------------------- the run


def load_all(folder: Path, manifest: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Load every file in children of FILES_PER_CHILD files; a crash or hang names its file."""
    manifest_path = folder / "manifest.json"
    results: dict[int, dict[str, Any]] = {}
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    next_index, restarts = 0, 0
    while next_index < len(manifest):
        chunk = manifest[: next_index + FILES_PER_CHILD]
        manifest_path.write_text(json.dumps(chunk))
        log = folder / f"results-{next_index}.jsonl"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(manifest_path), str(next_index),
             str(MEMORY_LIMIT), str(log), str(Path(__file__).parent)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            _, stderr = child.communicate(timeout=CHILD_TIMEOUT)
            failure = {"outcome": "crash", "returncode": child.returncode}
        except subprocess.TimeoutExpired:
            child.kill()
            _, stderr = child.communicate()
            failure = {"outcome": "hang"}
        begun = None
        for line in log.read_text().splitlines() if log.exists() else []:
            record = json.loads(line)
            if record.pop("begin", False):
                begun = record["index"]
            else:
                results[record.pop("index")] = record
                begun = None
        if child.returncode == 0:
            next_index = len(chunk)
            continue
        # The file being loaded when the child died or stopped answering is the culprit.
        culprit = begun if begun is not None else next_index
        results[culprit] = {**failure, "stderr": stderr.decode(errors="replace")[-500:]}
        next_index = culprit + 1
        restarts += 1
        assert restarts <= 20, "too many crashed children: see the first ones"
    return results


def test_crafted_files_never_crash_hang_or_raise_unexpected_errors(tmp_path):
    manifest = craft_all(tmp_path)
    assert len(manifest) >= 2000
    results = load_all(tmp_path, manifest)
    assert sorted(results) == list(range(len(manifest)))
    for entry in manifest:   # ~50 MB of crafted files: not kept among pytest's temp folders
        Path(entry["path"]).unlink()

    def described(index: int) -> dict[str, Any]:
        return {"file": Path(manifest[index]["path"]).name, "how": manifest[index]["how"],
                "changed": manifest[index]["changed"], **results[index]}

    crashes = [described(i) for i, r in results.items() if r["outcome"] in ("crash", "hang")]
    assert not crashes, crashes[:5]
    errors = {i: r for i, r in results.items() if r["outcome"] == "error"}
    # While loading only ModelFileError; after a load (training a model the file validly
    # describes, e.g. with a loss that does not fit its last layer) TypeError/ValueError,
    # or TrainingDivergedError for a valid but huge learning rate.
    unexpected = [
        described(i) for i, r in errors.items()
        if not r["message"]
        or (r["stage"] == "load" and not r["model_file_error"])
        or (r["stage"] != "load" and not (r["value_or_type"] or r["diverged"]))
    ]
    assert not unexpected, unexpected[:5]
    refused = sum(1 for r in errors.values() if r["stage"] == "load")
    loaded = sum(1 for r in results.values() if r["outcome"] == "loaded")
    assert refused > len(manifest) // 2 and loaded > 0   # both kinds of outcome happened
