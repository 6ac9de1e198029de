"""Model files end to end: round trips, exact resume, refusals, damage, crashes mid-save,
layer state, old format versions and the guard against huge layers."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import _crafted_files as crafted
import scratchnn as snn
from scratchnn import ModelFileError, load_model, registry
from scratchnn.datasets import sine_data, spiral_data
from scratchnn.io import (
    FORMAT_VERSION,
    load_parameters,
    open_model,
    read_file,
    save_model,
    save_parameters,
    write_file,
)
from scratchnn.model import Model

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _running_mean_registered():
    """The tests' RunningMean (a layer with state) is registered during each test only."""
    with crafted.registered(crafted.RunningMean):
        yield


def classifier(dtype=np.float32, dropout_rng=None) -> Model:
    return Model(
        [
            snn.Dense(2, 32, rng=1, dtype=dtype, weight_regularizer_l2=5e-4),
            snn.ReLU(),
            snn.Dropout(0.2, rng=dropout_rng),
            snn.Dense(32, 3, rng=2, dtype=dtype),
            snn.Softmax(),
        ],
        loss=snn.CategoricalCrossentropy(),
        optimizer=snn.Adam(learning_rate=0.02, decay=1e-3),
        seed=7,
    )


def binary() -> Model:
    return Model(
        [snn.Dense(2, 16, rng=3), snn.ReLU(), snn.Dense(16, 1, rng=4), snn.Sigmoid()],
        loss=snn.BinaryCrossentropy(),
        optimizer=snn.SGD(learning_rate=0.5, momentum=0.9),
        seed=8,
    )


def regression() -> Model:
    return Model(
        [snn.Dense(1, 16, rng=5), snn.Tanh(), snn.Dense(16, 1, rng=6), snn.Linear()],
        loss=snn.MeanSquaredError(),
        optimizer=snn.RMSprop(learning_rate=0.01, decay=1e-2),
        seed=9,
    )


def float64_adagrad() -> Model:
    model = classifier(np.float64)
    model.set(optimizer=snn.Adagrad(learning_rate=0.5))
    return model


def data_for(model: Model):
    if isinstance(model.loss, snn.MeanSquaredError):
        return sine_data(200)
    X, y = spiral_data(samples=60, classes=3, rng=0)
    if isinstance(model.loss, snn.BinaryCrossentropy):
        return X, (y == 0).astype(np.float32).reshape(-1, 1)
    return X, y


def params_equal(a: Model, b: Model) -> bool:
    return all(
        np.array_equal(p, q) and p.dtype == q.dtype
        for pa, pb in zip(a.get_parameters(), b.get_parameters(), strict=True)
        for p, q in zip(pa, pb, strict=True)
    )


BUILDERS = [classifier, binary, regression, float64_adagrad]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__)
def test_round_trip_gives_identical_predictions(tmp_path, build):
    model = build()
    X, y = data_for(model)
    model.fit(X, y, epochs=3, batch_size=32, verbose=0)
    path = tmp_path / "model.snn"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is Model
    assert loaded.get_config() == model.get_config()
    assert params_equal(loaded, model)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert loaded.predict(X).dtype == model.predict(X).dtype
    assert loaded.optimizer.iterations == model.optimizer.iterations > 0
    assert loaded.optimizer.current_learning_rate == model.optimizer.current_learning_rate
    assert loaded.evaluate(X, y, verbose=0) == model.evaluate(X, y, verbose=0)


@pytest.mark.parametrize(
    "build",
    [
        classifier,
        lambda: classifier(dropout_rng=np.random.RandomState(11)),  # the book's legacy generator
        lambda: classifier(np.float64, dropout_rng=np.random.default_rng(12)),
        binary,
        regression,
    ],
    ids=["dropout", "dropout-randomstate", "float64-generator", "binary", "regression"],
)
def test_resume_is_bit_identical(tmp_path, build):
    """k epochs, save, load, m more == k + m epochs in one go (dropout and shuffling on)."""
    X, y = data_for(build())
    straight = build()
    straight.fit(X, y, epochs=5, batch_size=16, shuffle=True, verbose=0)

    first = build()
    first.fit(X, y, epochs=2, batch_size=16, shuffle=True, verbose=0)
    path = tmp_path / "checkpoint.snn"
    save_model(first, path)
    resumed = load_model(path)
    resumed.fit(X, y, epochs=3, batch_size=16, shuffle=True, verbose=0)

    assert params_equal(resumed, straight)
    assert resumed.optimizer.iterations == straight.optimizer.iterations
    assert resumed.optimizer.current_learning_rate == straight.optimizer.current_learning_rate
    # The check has teeth: a model loaded without its generator states drifts.
    assert not params_equal(first, straight)


def test_shared_generators_stay_shared(tmp_path):
    shared = np.random.default_rng(5)
    model = Model(
        [snn.Dense(2, 8, rng=0), snn.Dropout(0.3, rng=shared), snn.Dense(8, 8, rng=1),
         snn.Dropout(0.3, rng=shared), snn.Dense(8, 3, rng=2), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=1,
    )
    save_model(model, tmp_path / "m.snn")
    loaded = load_model(tmp_path / "m.snn")
    assert loaded.layers[1].rng is loaded.layers[3].rng
    assert loaded.layers[1].rng.bit_generator.state == shared.bit_generator.state


def test_parameters_only_files(tmp_path):
    model = classifier()
    X, y = data_for(model)
    model.fit(X, y, epochs=2, verbose=0)
    path = tmp_path / "params.snn"
    save_parameters(model, path)
    fresh = classifier()
    assert not params_equal(fresh, model)
    load_parameters(fresh, path)
    assert params_equal(fresh, model)
    with pytest.raises(ModelFileError, match="load_parameters"):
        load_model(path)
    # A whole-model file also serves its parameters.
    save_model(model, tmp_path / "whole.snn")
    other = classifier()
    other.load_parameters(tmp_path / "whole.snn")
    assert params_equal(other, model)


def test_load_parameters_checks_shapes_and_dtypes(tmp_path):
    path = tmp_path / "params.snn"
    save_parameters(classifier(), path)
    wider = Model([snn.Dense(2, 33), snn.ReLU(), snn.Dropout(0.2), snn.Dense(33, 3), snn.Softmax()])
    before = wider.get_parameters()
    with pytest.raises(ModelFileError, match=r"float32\[2, 32\].*float32\[2, 33\]"):
        load_parameters(wider, path)
    after = wider.get_parameters()
    assert all(np.array_equal(a, b) for pa, pb in zip(before, after, strict=True)
               for a, b in zip(pa, pb, strict=True))
    with pytest.raises(ModelFileError, match="float64"):
        load_parameters(classifier(np.float64), path)
    with pytest.raises(ModelFileError, match="2 trainable layer"):
        load_parameters(Model([snn.Dense(2, 3)]), path)


def test_saving_nan_parameters_is_refused_and_keeps_the_good_file(tmp_path):
    model = classifier()
    path = tmp_path / "model.snn"
    save_model(model, path)
    good = path.read_bytes()
    model.layers[3].weights[0, 0] = np.nan
    with pytest.raises(ValueError, match="trainable layer 1 \\(Dense\\)"):
        save_model(model, path)
    with pytest.raises(ValueError, match="NaN"):
        save_parameters(model, path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.snn"]


# ---------------------------------------------------------------------------- refusals


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_files_are_refused_and_run_no_code(tmp_path):
    marker = tmp_path / "code-ran"
    bare = tmp_path / "bare.snn"
    bare.write_bytes(pickle.dumps(Payload(marker)))
    npz = tmp_path / "objects.npz"
    with open(npz, "wb") as file:
        np.savez(file, weights=np.array([Payload(marker)], dtype=object))
    for path in (bare, npz):
        with pytest.raises(ModelFileError, match="pickle|npz"):
            load_model(path)
        with pytest.raises(ModelFileError):
            load_parameters(classifier(), path)
    assert not marker.exists()


def rewrite(source: Path, target: Path, change) -> None:
    """Re-save ``source`` with its header changed by ``change`` (checksums recomputed)."""
    header, arrays = read_file(source)
    for key in ("format", "library_version", "arrays", "data_bytes"):
        del header[key]
    change(header, arrays)
    write_file(target, header, arrays)


def test_consistent_but_wrong_files_are_refused(tmp_path):
    good = tmp_path / "good.snn"
    save_model(classifier(), good)
    bad = tmp_path / "bad.snn"

    def wider(header, arrays):
        header["config"]["layers"][0]["config"]["n_neurons"] = 40

    def unknown_layer(header, arrays):
        header["config"]["layers"][1]["class"] = "os.system"

    def nan_weights(header, arrays):
        arrays["parameters/1/0"][0, 0] = np.inf

    def no_dropout_state(header, arrays):
        header["random_state"]["layers"] = []

    def bad_generator(header, arrays):
        header["random_state"]["model"]["state"]["bit_generator"] = "builtins.eval"

    def huge_layer(header, arrays):
        header["config"]["layers"][0]["config"]["n_inputs"] = 10**12

    cases = [
        (wider, r"layer 0 \(Dense\) needs weights \(2, 40\) and biases \(1, 40\) by its "
                r"config, but the file stores arrays shaped \(2, 32\) and \(1, 32\)"),
        (unknown_layer, "unknown layers class 'os.system'"),
        (nan_weights, "NaN or infinite"),
        (no_dropout_state, "random state"),
        (bad_generator, "random generator state"),
        (huge_layer, r"layer 0 \(Dense\) needs weights \(1000000000000, 32\)"),
    ]
    for change, message in cases:
        rewrite(good, bad, change)
        with pytest.raises(ModelFileError, match=message) as info:
            load_model(bad)
        assert str(bad) in str(info.value)


def test_foreign_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.snn").write_bytes(b"")
    (tmp_path / "text.snn").write_text("weights = [1, 2, 3]\n")
    with pytest.raises(ModelFileError, match="empty"):
        load_model(tmp_path / "empty.snn")
    with pytest.raises(ModelFileError, match="not a scratchnn model file"):
        load_model(tmp_path / "text.snn")
    with pytest.raises(ModelFileError, match="folder"):
        load_model(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.snn")


def test_fuzzed_damage_is_always_refused(tmp_path):
    """1,200 seeded truncations and byte changes of a real model file: each is detected."""
    source = tmp_path / "model.snn"
    model = classifier()
    X, y = data_for(model)
    model.fit(X, y, epochs=1, verbose=0)
    save_model(model, source)
    data = source.read_bytes()
    rng = np.random.default_rng(2024)
    damaged = tmp_path / "damaged.snn"
    refused = 0
    for trial in range(1200):
        if trial % 3 == 0:
            blob = data[: int(rng.integers(0, len(data)))]
        else:
            changed = bytearray(data)
            for position in rng.integers(0, len(data), size=int(rng.integers(1, 5))):
                changed[position] ^= int(rng.integers(1, 256))   # never zero: a real change
            blob = bytes(changed)
        damaged.write_bytes(blob)
        try:
            loaded = load_model(damaged)
        except ModelFileError:
            refused += 1
            continue
        # Not expected (checksums cover every byte), but a load must still be sane.
        for got, want in zip(loaded.get_parameters(), model.get_parameters(), strict=True):
            for a, b in zip(got, want, strict=True):
                assert a.shape == b.shape and np.isfinite(a).all()
    assert refused == 1200


def leaf_paths(value, prefix=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*prefix, index))
    yield prefix


def test_hostile_headers_with_valid_checksums_raise_only_model_file_errors(tmp_path):
    """300 seeded edits of header values (checksums recomputed): refused or loaded sanely."""
    source = tmp_path / "model.snn"
    model = classifier(dropout_rng=np.random.RandomState(0))
    save_model(model, source)
    header, arrays = read_file(source)
    for key in ("format", "library_version", "arrays", "data_bytes"):
        del header[key]
    paths = [p for p in leaf_paths(header) if p]
    junk = [None, -1, 0, 10**30, "x", "Dense", [], {}, 1.5, True, [1], {"a": 1}, float("1e308")]
    rng = np.random.default_rng(7)
    target = tmp_path / "hostile.snn"
    outcomes = {"refused": 0, "loaded": 0}
    for _ in range(300):
        edited = json.loads(json.dumps(header))
        where = paths[int(rng.integers(len(paths)))]
        parent = edited
        for step in where[:-1]:
            parent = parent[step]
        parent[where[-1]] = junk[int(rng.integers(len(junk)))]
        write_file(target, edited, arrays)
        try:
            loaded = load_model(target)
        except ModelFileError:
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1   # e.g. a changed learning rate: a different but valid model
        for got, want in zip(loaded.get_parameters(), model.get_parameters(), strict=True):
            for a, b in zip(got, want, strict=True):
                assert a.shape == b.shape and a.dtype == b.dtype and np.isfinite(a).all()
    assert outcomes["refused"] > 200



def write_raw_header(
    target: Path, header: dict, data_section: bytes, version: int = FORMAT_VERSION
) -> None:
    """A file with ``header`` exactly as given (array table included), checksums recomputed."""
    from scratchnn.io import _PREFIX, ALIGNMENT, MAGIC

    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    prefix = _PREFIX.pack(
        MAGIC, version, len(header_bytes), hashlib.sha256(header_bytes).digest()
    )
    end = len(prefix) + len(header_bytes)
    padding = b"\0" * (-end % ALIGNMENT)
    target.write_bytes(prefix + header_bytes + padding + data_section)


JUNK_OF_EVERY_TYPE = [None, True, False, 1.5, -1, "x", [], {}, [1], {"a": 1}, [[]], {"": []}]


def test_every_header_field_of_every_json_type_gives_only_model_file_errors(tmp_path):
    """Each field (the array table too) replaced by each JSON type: no TypeError, no KeyError."""
    source = tmp_path / "model.snn"
    model = classifier()
    save_model(model, source)
    header, _ = read_file(source)
    raw = source.read_bytes()
    data_start = len(raw) - header["data_bytes"]
    data_section = raw[data_start:]
    target = tmp_path / "hostile.snn"
    loaded_paths = []
    for where in [p for p in leaf_paths(header) if p]:
        for junk in JUNK_OF_EVERY_TYPE:
            edited = json.loads(json.dumps(header))
            parent = edited
            for step in where[:-1]:
                parent = parent[step]
            parent[where[-1]] = junk
            write_raw_header(target, edited, data_section)
            try:
                loaded = load_model(target)
            except ModelFileError:
                continue
            loaded_paths.append((where, junk))
            for got, want in zip(loaded.get_parameters(), model.get_parameters(), strict=True):
                for a, b in zip(got, want, strict=True):
                    assert a.shape == b.shape and a.dtype == b.dtype and np.isfinite(a).all()
    # What may load: values the loader does not read back (the saving version, the name of
    # the Softmax class...), a new learning rate, or an integer NumPy accepts in a generator
    # state (e.g. has_uint32=-1 is truthy); no structural field may take a value of a wrong type.
    structural = {"arrays", "data_bytes", "parameters", "random_state", "content"}
    bad = [
        (w, j)
        for w, j in loaded_paths
        if w[0] in structural and not (w[0] == "random_state" and type(j) is int)
    ]
    assert not bad, bad


def test_a_boolean_layer_index_is_not_taken_for_an_int(tmp_path):
    source = tmp_path / "model.snn"
    save_model(binary(), source)
    header, _ = read_file(source)
    raw = source.read_bytes()
    data_section = raw[len(raw) - header["data_bytes"] :]
    header["parameters"][0]["layer"] = False   # False == 0 and hashes like 0
    write_raw_header(tmp_path / "bool.snn", header, data_section)
    with pytest.raises(ModelFileError, match="malformed"):
        load_model(tmp_path / "bool.snn")


# ---------------------------------------------------------------------------- crashes mid-save

SAVER = """
import sys
import numpy as np
import scratchnn as snn
import scratchnn.io as io
from scratchnn.model import Model

# Saves whole snapshots, then stops inside the next save's write loop and says so: the
# parent kills it there, with the temp file open and half written. No timing involved.
path, value, complete, stop_at = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
real_atomic_write = io._atomic_write
saves = 0

def announcing_atomic_write(target, chunks):
    def announced():
        for index, chunk in enumerate(chunks):
            if saves == complete and index == stop_at:
                print("writing", flush=True)
                sys.stdin.readline()          # never answered: the parent kills us here
            yield chunk
    real_atomic_write(target, announced())

io._atomic_write = announcing_atomic_write
model = Model([snn.Dense(300, 400, rng=0), snn.ReLU(), snn.Dense(400, 300, rng=1)],
              loss=snn.MeanSquaredError(), optimizer=snn.SGD(), seed=0)
model.finalize()
while True:
    value += 1
    for layer in model.trainable_layers:
        layer.weights.fill(value)
        layer.biases.fill(value)
    io.save_model(model, path)
    saves += 1
    print("saved", value, flush=True)
"""

# Chunks of a save: 0 prefix, 1 header, then (zero padding, array bytes) per array, then the
# tail. Stopping before chunk k means chunks 0..k-1 are in the temp file.
STOP_BEFORE_CHUNK = [1, 2, 3, 4, 6, 8, 9, 10]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_during_saves_never_breaks_the_file(tmp_path):
    """A saving process is SIGKILLed inside a write, 8 times: the file is always whole.

    The child announces that it is inside the write loop and waits; every kill therefore
    lands mid-write, at a different point of the file each round.
    """
    path = tmp_path / "big.snn"
    model = Model([snn.Dense(300, 400, rng=0), snn.ReLU(), snn.Dense(400, 300, rng=1)],
                  loss=snn.MeanSquaredError(), optimizer=snn.SGD(), seed=0)
    model.finalize()
    expected = -1.0
    for layer in model.trainable_layers:
        layer.weights.fill(expected)
        layer.biases.fill(expected)
    save_model(model, path)
    for round_, stop_at in enumerate(STOP_BEFORE_CHUNK):
        complete = round_ % 3   # whole saves before the interrupted one
        process = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path), str(1000.0 * round_), str(complete),
             str(stop_at)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert process.stdout is not None and process.stdin is not None
        for line in process.stdout:
            if line.startswith("saved"):
                expected = float(line.split()[1])
            else:
                assert line.strip() == "writing"
                break
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".scratchnn-tmp")]
        assert len(temps) == 1    # the save in progress; earlier ones were cleaned
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
        process.stdout.close()
        process.stdin.close()
        loaded = load_model(path)
        weights = [p for layer in loaded.get_parameters() for p in layer]
        assert [w.shape for w in weights] == [(300, 400), (1, 400), (400, 300), (1, 300)]
        # The last whole snapshot, every value the same: never half of two saves.
        assert all(np.all(w == expected) for w in weights)
    save_model(loaded, path)
    assert [p.name for p in tmp_path.iterdir()] == ["big.snn"]


# ---------------------------------------------------------------------------- fixture file


@pytest.mark.parametrize("version", [1, 2])
def test_fixture_files_of_every_version_load_and_predict(version):
    """tests/fixtures/classifier-v{version}.snn, written by tests/fixtures/make_fixture.py."""
    path = FIXTURES / f"classifier-v{version}.snn"
    expected = json.loads(path.with_suffix(".json").read_text())
    assert path.read_bytes()[8:12] == version.to_bytes(4, "little")
    model = load_model(path)
    X = np.array(expected["inputs"], dtype=np.float32)
    probabilities = model.predict(X)
    assert probabilities.dtype == np.float32
    assert np.array_equal(probabilities, np.array(expected["probabilities"], dtype=np.float32))
    assert model.optimizer.iterations == expected["iterations"]
    header, _ = read_file(path)
    assert header["library_version"] == expected["library_version"]
    state = {str(position): {name: array.tolist() for name, array in layer.state().items()}
             for position, layer in enumerate(model.layers) if layer.state()}
    assert state == expected.get("state", {})
    if version == 1:
        assert "state" not in header      # version 1 had no layer state
    else:
        assert [entry["class"] for entry in header["state"]] == ["RunningMean"]


def test_a_version_1_file_serves_its_parameters_and_saves_as_version_2(tmp_path):
    old = FIXTURES / "classifier-v1.snn"
    original = load_model(old)
    X = np.array(json.loads(old.with_suffix(".json").read_text())["inputs"], np.float32)
    fresh = Model.from_config(original.get_config(), rng=0)
    load_parameters(fresh, old)
    assert params_equal(fresh, original)
    assert np.array_equal(fresh.predict(X), original.predict(X))
    original.save(tmp_path / "resaved.snn")
    assert (tmp_path / "resaved.snn").read_bytes()[8:12] == (2).to_bytes(4, "little")
    assert read_file(tmp_path / "resaved.snn")[0]["state"] == []
    again = load_model(tmp_path / "resaved.snn")
    assert params_equal(again, original)
    assert np.array_equal(again.predict(X), original.predict(X))


# ---------------------------------------------------------------------------- ModelCheckpoint


class Probe(snn.callbacks.Callback):
    """Runs after the checkpoint each epoch: loads the file and notes whether it changed."""

    def __init__(self, path: Path, X):
        self.path, self.X = path, X
        self.changed: list[bool] = []
        self.previous: bytes | None = None

    def on_epoch_end(self, epoch, logs=None):
        data = self.path.read_bytes() if self.path.exists() else None
        self.changed.append(data is not None and data != self.previous)
        self.previous = data
        if self.changed[-1]:
            loaded = load_model(self.path)       # never a broken file
            assert loaded.optimizer.iterations == self.model.optimizer.iterations
            assert np.array_equal(loaded.predict(self.X), self.model.predict(self.X))


def test_checkpoint_every_epoch(tmp_path):
    from scratchnn.callbacks import ModelCheckpoint

    model = classifier()
    X, y = data_for(model)
    path = tmp_path / "every.snn"
    probe = Probe(path, X)
    checkpoint = ModelCheckpoint(path, monitor="val_loss", save_best_only=False)
    model.fit(X, y, epochs=4, batch_size=32, verbose=0, callbacks=[checkpoint, probe])
    assert probe.changed == [True] * 4
    assert checkpoint.saved_epochs == [0, 1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["every.snn"]


def test_checkpoint_only_on_improvement(tmp_path):
    from scratchnn.callbacks import ModelCheckpoint

    model = classifier()
    model.set(optimizer=snn.SGD(learning_rate=3.0))   # large steps: val_loss goes up and down
    X, y = data_for(model)
    X_val, y_val = spiral_data(samples=30, classes=3, rng=1)
    path = tmp_path / "best.snn"
    probe = Probe(path, X)
    checkpoint = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    history = model.fit(X, y, epochs=12, batch_size=32, verbose=0,
                        validation_data=(X_val, y_val), callbacks=[checkpoint, probe])
    val_loss = history.history["val_loss"]
    expected = [loss < min(val_loss[:epoch], default=np.inf) for epoch, loss in enumerate(val_loss)]
    assert probe.changed == expected
    assert True in expected[1:] and False in expected      # both cases happened
    assert checkpoint.best == min(val_loss)


def test_checkpoint_needs_the_monitored_metric(tmp_path):
    from scratchnn.callbacks import ModelCheckpoint

    model = classifier()
    X, y = data_for(model)
    checkpoint = ModelCheckpoint(tmp_path / "m.snn", save_best_only=True)
    with pytest.raises(ValueError, match="val_loss.*validation_data"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[checkpoint])
    assert not (tmp_path / "m.snn").exists()
    with pytest.raises(TypeError, match="path"):
        ModelCheckpoint(3)


def test_resume_with_a_learning_rate_schedule_goes_on_from_initial_epoch(tmp_path):
    from scratchnn.callbacks import LearningRateScheduler

    def halve_every_second(epoch, rate):
        return rate / 2 if epoch and epoch % 2 == 0 else rate

    X, y = data_for(classifier())
    straight = classifier()
    history = straight.fit(X, y, epochs=6, batch_size=16, verbose=0,
                           callbacks=[LearningRateScheduler(halve_every_second)])

    first = classifier()
    first.fit(X, y, epochs=3, batch_size=16, verbose=0,
              callbacks=[LearningRateScheduler(halve_every_second)])
    save_model(first, tmp_path / "m.snn")
    resumed = load_model(tmp_path / "m.snn")
    tail = resumed.fit(X, y, epochs=6, initial_epoch=3, batch_size=16, verbose=0,
                       callbacks=[LearningRateScheduler(halve_every_second)])

    assert tail.epoch == [3, 4, 5]
    assert tail.history["learning_rate"] == history.history["learning_rate"][3:]
    assert params_equal(resumed, straight)


def test_initial_epoch_after_the_last_epoch_is_explained():
    model = classifier()
    X, y = data_for(model)
    with pytest.raises(ValueError, match=r"initial_epoch \(5\) is after the last epoch"):
        model.fit(X, y, epochs=3, initial_epoch=5, verbose=0)


# ---------------------------------------------------------------------------- hostile fields
# Files crafted with valid checksums (tests/_crafted_files.py): each reaches the field checks.


@pytest.fixture(scope="module")
def saved_headers(tmp_path_factory):
    """Each crafted-file base model, saved once: {name: (header, data bytes)}."""
    folder = tmp_path_factory.mktemp("bases")
    with crafted.registered(crafted.RunningMean):
        return {
            build.__name__: crafted.save_and_split(crafted.trained(build), folder / "m.snn")
            for build in crafted.BUILDERS
        }


def load_changed(tmp_path, saved_headers, base, change):
    """Load ``base`` with ``change(header, data) -> data`` applied (checksums recomputed)."""
    header, data = saved_headers[base]
    header = json.loads(json.dumps(header))
    data = change(header, data) or data
    path = tmp_path / "crafted.snn"
    crafted.write_crafted(path, header, data)
    return load_model(path)


def refused(tmp_path, saved_headers, base, change, message):
    with pytest.raises(ModelFileError, match=message) as info:
        load_changed(tmp_path, saved_headers, base, change)
    assert str(tmp_path / "crafted.snn") in str(info.value)


def set_state_field(bit_generator, kind, field, value):
    def change(header, data):
        where = crafted.generator_entry(header, bit_generator, kind)
        crafted.put(header, (*where, *field), value)
    return change


STATE_BASES = {
    ("MT19937", "Generator"): "sgd_binary",
    ("MT19937", "RandomState"): "sgd_binary",
    ("Philox", "Generator"): "adam_classifier",
    ("Philox", "RandomState"): "adagrad_float64",
    ("PCG64", "Generator"): "adam_classifier",
    ("PCG64", "RandomState"): "rmsprop_regression",
    ("PCG64DXSM", "Generator"): "adagrad_float64",
    ("SFC64", "Generator"): "rmsprop_regression",
}


def u32_array(values):
    return {"__array__": "uint32", "values": values}


def u64_array(values):
    return {"__array__": "uint64", "values": values}


@pytest.mark.parametrize(
    ("bit_generator", "kind", "field", "value"),
    [
        # MT19937's pos indexes its 624-word key: NumPy trusted it and crashed at fit().
        ("MT19937", "Generator", ("state", "pos"), 10**6),
        ("MT19937", "Generator", ("state", "pos"), -2**31),
        ("MT19937", "Generator", ("state", "pos"), 625),
        ("MT19937", "RandomState", ("state", "pos"), 10**6),
        ("MT19937", "Generator", ("state", "key"), u32_array([])),   # was a bare IndexError
        ("MT19937", "Generator", ("state", "key"), u32_array([1] * 623)),
        ("MT19937", "Generator", ("state", "key"), u32_array([2**32] * 624)),
        ("MT19937", "Generator", ("state", "key"), u64_array([1] * 624)),
        ("Philox", "Generator", ("buffer_pos",), 5),
        ("Philox", "Generator", ("buffer_pos",), -1),
        ("Philox", "Generator", ("buffer",), u64_array([0] * 5)),
        ("Philox", "Generator", ("state", "counter"), u64_array([0] * 3)),
        ("Philox", "Generator", ("state", "key"), u64_array([0] * 3)),
        ("Philox", "Generator", ("state", "key"), u64_array([-1, 0])),
        ("Philox", "Generator", ("has_uint32",), 2),
        ("Philox", "Generator", ("uinteger",), 2**32),
        ("Philox", "RandomState", ("buffer_pos",), 10**6),
        ("PCG64", "Generator", ("state", "state"), 2**128),
        ("PCG64", "Generator", ("state", "inc"), -1),
        ("PCG64", "Generator", ("has_uint32",), -1),
        ("PCG64DXSM", "Generator", ("uinteger",), -1),
        ("SFC64", "Generator", ("state", "state"), u64_array([1, 2, 3])),
        ("SFC64", "Generator", ("state", "state"), [1, 2, 3, 4]),
        ("PCG64", "RandomState", ("has_gauss",), 2),
        ("PCG64", "RandomState", ("has_gauss",), -1),
        ("PCG64", "RandomState", ("gauss",), 1),          # NumPy writes a float
        ("PCG64", "RandomState", ("gauss",), "NaN"),
        ("MT19937", "RandomState", ("has_gauss",), 10**400),
        ("Philox", "RandomState", ("gauss",), 1e308 * 10),   # inf: refused as JSON
        ("PCG64", "Generator", ("extra",), 0),
    ],
)
def test_out_of_range_generator_states_are_refused(
    tmp_path, saved_headers, bit_generator, kind, field, value
):
    base = STATE_BASES[bit_generator, kind]
    change = set_state_field(bit_generator, kind, field, value)
    if value == float("inf"):
        change = set_state_field(bit_generator, kind, field, crafted.Raw("1e400"))
    refused(tmp_path, saved_headers, base, change, "random generator state|not valid JSON")


def test_a_missing_state_field_is_refused(tmp_path, saved_headers):
    def change(header, data):
        where = crafted.generator_entry(header, "Philox", "Generator")
        del crafted.at(header, where)["buffer_pos"]
    refused(tmp_path, saved_headers, "adam_classifier", change, "must have the fields")


def test_every_generator_state_at_its_limits_loads_and_trains(tmp_path, saved_headers):
    """The edges of every range are valid states: they load and train like any other."""
    edges = [
        ("MT19937", "Generator", ("state", "pos"), 624),
        ("MT19937", "Generator", ("state", "pos"), 0),
        ("MT19937", "RandomState", ("state", "key"), u32_array([2**32 - 1] * 624)),
        ("Philox", "Generator", ("buffer_pos",), 0),
        ("Philox", "Generator", ("uinteger",), 2**32 - 1),
        ("PCG64", "Generator", ("state", "state"), 2**128 - 1),
        ("PCG64", "RandomState", ("gauss",), -1.5),
        ("SFC64", "Generator", ("state", "state"), u64_array([2**64 - 1] * 4)),
    ]
    for bit_generator, kind, field, value in edges:
        base = STATE_BASES[bit_generator, kind]
        model = load_changed(tmp_path, saved_headers, base,
                             set_state_field(bit_generator, kind, field, value))
        X, y = crafted.training_data(model)
        model.fit(X, y, epochs=1, batch_size=16, verbose=0)
        assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("levels", [65, 500, 980, 5000])
def test_deep_nesting_is_refused_before_parsing(tmp_path, saved_headers, levels):
    def change(header, data):
        header["config"]["seed"] = crafted.deep(levels)
    refused(tmp_path, saved_headers, "adam_classifier", change, "nests more than 64 levels")


def test_nesting_inside_strings_does_not_count(tmp_path, saved_headers):
    def change(header, data):
        header["notes"] = "[" * 1000 + '\\"{' * 100
    assert isinstance(load_changed(tmp_path, saved_headers, "sgd_binary", change), Model)


def test_a_65_dimension_shape_is_refused(tmp_path, saved_headers):
    def change(header, data):
        entry = header["arrays"][0]
        entry["shape"] = [1] * 63 + entry["shape"]
    refused(tmp_path, saved_headers, "sgd_binary", change, "65 dimensions.*NumPy allows")


def test_an_impossible_shape_is_refused(tmp_path, saved_headers):
    def change(header, data):
        header["arrays"].append({"name": "x", "dtype": "float64", "shape": [0, 2**62],
                                 "offset": header["data_bytes"] + 64, "nbytes": 0,
                                 "sha256": hashlib.sha256(b"").hexdigest()})
    refused(tmp_path, saved_headers, "sgd_binary", change, "impossible shape")


@pytest.mark.parametrize("iterations", [10**400, 2**63, -1, 1.0, True])
def test_impossible_iteration_counts_are_refused(tmp_path, saved_headers, iterations):
    def change(header, data):
        header["optimizer"]["iterations"] = iterations
    refused(tmp_path, saved_headers, "adam_classifier", change, "iteration count")


def test_the_largest_iteration_count_still_trains(tmp_path, saved_headers):
    def change(header, data):
        header["optimizer"]["iterations"] = 2**63 - 2
    model = load_changed(tmp_path, saved_headers, "adam_classifier", change)
    X, y = crafted.training_data(model)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.optimizer.iterations == 2**63 - 1
    model.save(tmp_path / "resaved.snn")          # what saving writes, loading reads
    assert snn.load_model(tmp_path / "resaved.snn").optimizer.iterations == 2**63 - 1
    model.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="iteration count .* outside 0..2"):
        model.save(tmp_path / "beyond.snn")
    assert not (tmp_path / "beyond.snn").exists()


@pytest.mark.parametrize("rate", [-1.0, -0.5, crafted.Raw("1e400"), crafted.Raw("NaN"), 1, "1"])
def test_impossible_learning_rates_are_refused(tmp_path, saved_headers, rate):
    def change(header, data):
        header["optimizer"]["current_learning_rate"] = rate
    refused(tmp_path, saved_headers, "adam_classifier", change, "learning rate|not valid JSON")


@pytest.mark.parametrize(
    ("base", "slot"),
    [("adam_classifier", "cache"), ("rmsprop_regression", "cache"), ("adagrad_float64", "cache")],
)
def test_negative_caches_are_refused(tmp_path, saved_headers, base, slot):
    def change(header, data):
        name = header["optimizer"]["slots"][0][0][slot]
        entry = next(e for e in header["arrays"] if e["name"] == name)
        values = -np.ones(entry["shape"])
        return crafted.replace_array(header, data, name, values)
    refused(tmp_path, saved_headers, base, change, "negative values")


def test_a_negative_momentum_is_a_valid_state(tmp_path, saved_headers):
    def change(header, data):
        name = header["optimizer"]["slots"][0][0]["momentum"]
        entry = next(e for e in header["arrays"] if e["name"] == name)
        return crafted.replace_array(header, data, name, -np.ones(entry["shape"]))
    model = load_changed(tmp_path, saved_headers, "adam_classifier", change)
    assert (model.optimizer.get_slots(model.trainable_layers[0])[0]["momentum"] == -1).all()


def test_two_slots_naming_one_array_are_refused(tmp_path, saved_headers):
    def alias_slots(header, data):
        slots = header["optimizer"]["slots"][0][0]
        slots["cache"] = slots["momentum"]

    def alias_parameters(header, data):
        header["parameters"][1]["arrays"][1] = header["parameters"][0]["arrays"][1]

    def slot_is_a_parameter(header, data):
        header["optimizer"]["slots"][0][1]["momentum"] = header["parameters"][0]["arrays"][1]

    for change in (alias_slots, alias_parameters, slot_is_a_parameter):
        refused(tmp_path, saved_headers, "adam_classifier", change, "named by two")


@pytest.mark.parametrize(
    "precision", [crafted.Raw("1e400"), crafted.Raw("Infinity"), -1.0, -1e-300, 1, "0.1", None]
)
def test_impossible_precisions_are_refused(tmp_path, saved_headers, precision):
    def change(header, data):
        header["accuracy"]["precision"] = precision
    refused(tmp_path, saved_headers, "rmsprop_regression", change, "precision|not valid JSON")


def test_a_zero_precision_is_what_constant_targets_give(tmp_path):
    """RegressionAccuracy derives std(y) / 250, 0.0 for constant targets: it loads."""
    model = crafted.rmsprop_regression()
    X = np.linspace(0, 1, 32, dtype=np.float32).reshape(-1, 1)
    model.fit(X, np.ones_like(X), epochs=1, verbose=0)
    assert model.accuracy.precision == 0.0
    model.save(tmp_path / "m.snn")
    assert load_model(tmp_path / "m.snn").accuracy.precision == 0.0


def test_a_precision_for_a_classifier_is_refused(tmp_path, saved_headers):
    def change(header, data):
        header["accuracy"] = {"precision": 0.5}
    refused(tmp_path, saved_headers, "adam_classifier", change, "precision for an accuracy")


@pytest.mark.parametrize("bad", [None, 123, b"m.snn"])
def test_paths_that_are_not_paths_are_type_errors_naming_path(tmp_path, bad):
    model = crafted.sgd_binary()
    message = f"path must be a str or os.PathLike file path; got .*{type(bad).__name__}"
    with pytest.raises(TypeError, match=message):
        snn.load_model(bad)
    with pytest.raises(TypeError, match=message):
        model.save(bad)
    with pytest.raises(TypeError, match=message):
        model.save_parameters(bad)
    with pytest.raises(TypeError, match=message):
        model.load_parameters(bad)
    with pytest.raises(TypeError, match=message):
        snn.book.Model.load(bad)
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_loading_a_fifo_returns_at_once(tmp_path):
    fifo = tmp_path / "pipe.snn"
    os.mkfifo(fifo)
    code = (
        "import sys, scratchnn as snn\n"
        "from scratchnn.book import Model\n"
        "for load in (snn.load_model, Model.load,\n"
        "             lambda p: snn.io.load_parameters(snn.Model([snn.Dense(1, 1)]), p)):\n"
        "    try:\n"
        "        load(sys.argv[1])\n"
        "    except snn.ModelFileError as error:\n"
        "        print('refused', error)\n"
    )
    # A child with a generous timeout: a regression fails the test instead of hanging it.
    done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                          text=True, timeout=120)
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and all("not a regular file" in line for line in lines), done


def test_loading_holds_about_the_memory_of_the_arrays(tmp_path):
    """No read of the whole file: each array is read into its own buffer, once.

    ~50 MB of arrays (a 2000x2000 float32 Dense with Adam's two slots). read_file's peak is
    the arrays themselves. load_model's is what the loaded model holds (its parameters, their
    gradient buffers and the slots) or what building the architecture costs (Dense draws its
    placeholder weights in float64), whichever is more, plus little: the parameters are read
    into the built model's own arrays. The old reader took about twice the file.
    """
    model = Model([snn.Dense(2000, 2000, rng=0), snn.ReLU(), snn.Dense(2000, 10, rng=1)],
                  loss=snn.MeanSquaredError(), optimizer=snn.Adam(), seed=0)
    model.fit(np.ones((4, 2000), np.float32), np.ones((4, 10), np.float32), epochs=1,
              verbose=0)
    path = tmp_path / "big.snn"
    save_model(model, path)
    arrays_size = sum(int(np.prod(e["shape"])) * 4 for e in read_file(path)[0]["arrays"])
    assert arrays_size > 45e6
    tracemalloc.start()
    try:
        Model.from_config(model.get_config(), rng=0)
        build_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        _, arrays = read_file(path)
        read_peak = tracemalloc.get_traced_memory()[1]
        del arrays
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        loaded = load_model(path)
        held, load_peak = (m - before for m in tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    assert read_peak < 1.02 * arrays_size + 2**20
    assert load_peak < 1.05 * max(held, build_peak) + 2**20
    assert held < 1.4 * arrays_size   # parameters + gradients + slots: 4 of the 3 stored
    assert params_equal(loaded, model)


def test_a_rate_that_decayed_to_zero_saves_and_loads(tmp_path):
    # A huge decay underflows the rate to 0.0: a state training makes, so a file may hold it.
    X, y = crafted.training_data(crafted.adam_classifier())
    model = crafted.adam_classifier()
    model.optimizer.decay = 1e308
    model.fit(X, y, epochs=3, verbose=0)     # full batch: the third step's rate is 0.0
    assert model.optimizer.current_learning_rate == 0.0
    model.save(tmp_path / "zero-rate.snn")
    assert snn.load_model(tmp_path / "zero-rate.snn").optimizer.current_learning_rate == 0.0


# ---------------------------------------------------------------------------- a reviewer's finds


def test_blanking_strings_takes_one_pass_even_when_a_string_never_ends():
    from scratchnn.io import _JSON_STRING

    # An unterminated string runs to the end in one match, so the scan is linear; a pattern
    # that needs the closing quote retried from every escaped quote (200 kB took 3 minutes).
    text = b'"' + b'\\"' * 10_000
    assert [m.span() for m in _JSON_STRING.finditer(text)] == [(0, len(text))]
    assert [m.span() for m in _JSON_STRING.finditer(b'"ab" "c')] == [(0, 4), (5, 7)]


def test_a_header_of_unterminated_strings_is_refused(tmp_path):
    body = b'{"a":"' + b'\\"' * 100_000          # 200 kB, never closed: not valid JSON
    write_raw_bytes_header(tmp_path / "quotes.snn", body)
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(tmp_path / "quotes.snn")


def write_raw_bytes_header(target: Path, header_bytes: bytes) -> None:
    from scratchnn.io import _PREFIX, ALIGNMENT, FORMAT_VERSION, MAGIC

    prefix = _PREFIX.pack(
        MAGIC, FORMAT_VERSION, len(header_bytes), hashlib.sha256(header_bytes).digest()
    )
    padding = b"\0" * (-(len(prefix) + len(header_bytes)) % ALIGNMENT)
    target.write_bytes(prefix + header_bytes + padding)


def test_a_header_of_countless_containers_is_refused_before_parsing(tmp_path, saved_headers):
    # 200,001 empty objects are 600 kB of text but ~13 MB of Python objects once parsed.
    def change(header, data):
        header["junk"] = [{} for _ in range(200_001)]
    refused(tmp_path, saved_headers, "sgd_binary", change, "more than 200,000 JSON objects")


def test_arrays_that_nothing_uses_are_refused(tmp_path, saved_headers):
    def change(header, data):
        entry = dict(header["arrays"][0], name="spare", offset=header["data_bytes"])
        entry["offset"] = -(-header["data_bytes"] // 64) * 64
        padding = b"\0" * (entry["offset"] - len(data))
        header["arrays"].append(entry)
        raw = data[header["arrays"][0]["offset"]:][: entry["nbytes"]]
        header["data_bytes"] = entry["offset"] + entry["nbytes"]
        return data + padding + raw
    refused(tmp_path, saved_headers, "sgd_binary", change, "1 of its arrays are used by no")


def test_text_from_the_file_is_escaped_in_messages(tmp_path, saved_headers):
    def change(header, data):
        header["parameters"][0]["class"] = "\x1b[2J\x1b[31mDense\ud800"
    with pytest.raises(ModelFileError) as info:
        load_changed(tmp_path, saved_headers, "sgd_binary", change)
    message = str(info.value)
    assert "\x1b" not in message and "\\x1b[2J" in message and "\\ud800" in message
    message.encode("utf-8")                          # printable: no lone surrogate left


# ---------------------------------------------------------------------------- layer state
# crafted.RunningMean keeps a running mean of its training inputs as state (not trained).


def trained_with_state() -> Model:
    model = crafted.state_classifier()
    X, y = crafted.training_data(model)
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    return model


def state_of(model: Model) -> dict[int, dict[str, np.ndarray]]:
    """Copies of every layer's state, by position."""
    return {position: {name: array.copy() for name, array in layer.state().items()}
            for position, layer in enumerate(model.layers) if layer.state()}


def same_arrays(a: list[list[np.ndarray]], b: list[list[np.ndarray]]) -> bool:
    return all(np.array_equal(x, y) for xs, ys in zip(a, b, strict=True)
               for x, y in zip(xs, ys, strict=True))


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[p].keys() == b[p].keys()
        and all(np.array_equal(a[p][n], b[p][n]) and a[p][n].dtype == b[p][n].dtype for n in a[p])
        for p in a
    )


def test_layer_state_round_trips_through_a_model_file(tmp_path):
    model = trained_with_state()
    X, y = crafted.training_data(model)
    assert np.abs(model.layers[1].running_mean).min() > 0     # training moved it
    path = tmp_path / "state.snn"
    save_model(model, path)
    header, _ = read_file(path)
    assert header["state"] == [
        {"layer": 1, "class": "RunningMean", "arrays": {"running_mean": "state/1/running_mean"}},
        {"layer": 4, "class": "RunningMean", "arrays": {"running_mean": "state/4/running_mean"}},
    ]
    loaded = load_model(path)
    assert same_state(state_of(loaded), state_of(model))
    assert params_equal(loaded, model)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    # Training on moves the state (and the parameters) exactly as without the save.
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    loaded.fit(X, y, epochs=1, batch_size=16, verbose=0)
    assert same_state(state_of(loaded), state_of(model))
    assert params_equal(loaded, model)


def test_layer_state_round_trips_through_a_parameters_file(tmp_path):
    model = trained_with_state()
    X, _ = crafted.training_data(model)
    save_parameters(model, tmp_path / "params.snn")
    save_model(model, tmp_path / "whole.snn")
    for path in (tmp_path / "params.snn", tmp_path / "whole.snn"):
        fresh = crafted.state_classifier()
        fresh.finalize()
        own = fresh.layers[1].running_mean
        assert not same_state(state_of(fresh), state_of(model))
        load_parameters(fresh, path)
        assert fresh.layers[1].running_mean is own              # copied into its own array
        assert same_state(state_of(fresh), state_of(model))
        assert params_equal(fresh, model)
        assert np.array_equal(fresh.predict(X), model.predict(X))


def edit(function):
    """A ``change(header, data)`` that edits the header only, whatever ``function`` returns."""
    def change(header, data):
        function(header)
    return change


def change_stored_state(source: Path, target: Path, values) -> None:
    def change(header, arrays):
        arrays["state/1/running_mean"] = values(arrays["state/1/running_mean"])
    rewrite(source, target, change)


def with_nan(array):
    array = array.copy()
    array[0, 2] = np.nan
    return array


@pytest.mark.parametrize(
    ("values", "load_message", "parameters_message"),
    [
        (lambda a: np.zeros((1, 9), a.dtype),
         r"layer 1 \(RunningMean\) keeps the state running_mean \(1, 8\) by its config, but "
         r"the file stores running_mean \(1, 9\) for it",
         r"layer 1 \(RunningMean\): array 'state/1/running_mean' is float32\[1, 9\] in the file "
         r"but the model expects float32\[1, 8\]"),
        (lambda a: a.astype(np.float64),
         r"layer 1 \(RunningMean\): array 'state/1/running_mean' is float64\[1, 8\] in the file "
         r"but the model expects float32\[1, 8\]",
         None),
        (with_nan,
         r"layer 1 \(RunningMean\): state array 'state/1/running_mean' holds NaN or infinite",
         None),
    ],
    ids=["shape", "dtype", "nan"],
)
def test_a_wrong_stored_state_is_refused_and_changes_nothing(
    tmp_path, values, load_message, parameters_message
):
    good = tmp_path / "good.snn"
    save_model(trained_with_state(), good)
    bad = tmp_path / "bad.snn"
    change_stored_state(good, bad, values)
    with pytest.raises(ModelFileError, match=load_message) as info:
        load_model(bad)
    assert str(bad) in str(info.value)
    model = crafted.state_classifier()
    model.finalize()
    parameters, state = model.get_parameters(), state_of(model)
    with pytest.raises(ModelFileError, match=parameters_message or load_message):
        load_parameters(model, bad)
    assert same_state(state_of(model), state)
    assert same_arrays(model.get_parameters(), parameters)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # The arrays stay in the table: nothing uses them (a file without them: below).
        (edit(lambda h: h.update(state=[])), "2 of its arrays are used by no parameter, state"),
        (edit(lambda h: h["state"].pop()), "1 of its arrays are used by no parameter, state"),
        (edit(lambda h: h["state"][0].update(layer=2)),
         r"layer 1 \(RunningMean\) keeps the state running_mean \(1, 8\) by its config, but the "
         r"file stores none for it"),
        (edit(lambda h: h["state"][0].update(arrays={"mean": "state/1/running_mean"})),
         r"layer 1 \(RunningMean\) keeps the state running_mean \(1, 8\) by its config, but the "
         r"file stores mean \(1, 8\) for it"),
        (edit(lambda h: h["state"][0].update(**{"class": "Dense"})),
         r"layer 1 \(RunningMean\) is a Dense in the file's state"),
        (edit(lambda h: h["state"].reverse()), "in the order of the layers"),
        (edit(lambda h: h["state"][1].update(layer=1)), "in the order of the layers"),
        (edit(lambda h: h["state"][0]["arrays"].update(running_mean="parameters/0/0")),
         "named by two parameters, state arrays or optimizer slots"),
        (edit(lambda h: h["state"][0].update(extra=1)), "exactly a layer, a class and arrays"),
        (edit(lambda h: h.pop("state")), r"malformed \(KeyError: 'state'\)"),
    ],
    ids=["no-state", "one-missing", "moved", "renamed", "class", "order", "repeated",
         "aliased", "extra-key", "no-entry"],
)
def test_a_state_entry_that_does_not_fit_is_refused(tmp_path, saved_headers, change, message):
    refused(tmp_path, saved_headers, "state_classifier", change, message)


def test_a_file_without_a_layers_state_is_refused(tmp_path):
    save_model(trained_with_state(), tmp_path / "good.snn")

    def drop(header, arrays):
        header["state"].pop()
        del arrays["state/4/running_mean"]
    rewrite(tmp_path / "good.snn", tmp_path / "bad.snn", drop)
    with pytest.raises(ModelFileError, match=r"layer 4 \(RunningMean\) keeps the state "
                                             r"running_mean \(1, 3\) by its config, but the "
                                             "file stores none for it"):
        load_model(tmp_path / "bad.snn")
    model = crafted.state_classifier()
    with pytest.raises(ModelFileError, match=r"layer 4 \(RunningMean\) keeps the state "
                                             r"'running_mean', but the file stores none for it"):
        load_parameters(model, tmp_path / "bad.snn")


def test_state_for_a_layer_that_keeps_none_is_refused(tmp_path, saved_headers):
    def swap(header, data):   # the Softmax where the file stores the RunningMean's state
        layers = header["config"]["layers"]
        layers[4], layers[5] = layers[5], layers[4]
    refused(tmp_path, saved_headers, "state_classifier", swap,
            r"layer 4 \(Softmax\) keeps no state by its config, but the file stores "
            r"running_mean \(1, 3\) for it")
    # The same file's parameters into a model whose layer 4 keeps none.
    model = Model([snn.Dense(2, 8), crafted.RunningMean(8), snn.ReLU(), snn.Dense(8, 3),
                   snn.Linear(), snn.Softmax()])
    save_model(trained_with_state(), tmp_path / "state.snn")
    with pytest.raises(ModelFileError, match=r"layer 4 \(Linear\) keeps no state, but the "
                                             r"file stores \['running_mean'\] for it"):
        load_parameters(model, tmp_path / "state.snn")


def test_every_state_field_of_every_json_type_is_refused(tmp_path, saved_headers):
    """Each value of the state entry (the list, its entries, their fields) replaced by each
    JSON type: refused by load_model and load_parameters alike, never another error."""
    header, data = saved_headers["state_classifier"]
    target = tmp_path / "hostile.snn"
    paths = list(leaf_paths(header["state"], ("state",)))
    assert len(paths) == 11
    for where in paths:
        for junk in JUNK_OF_EVERY_TYPE:
            edited = json.loads(json.dumps(header))
            if crafted.at(edited, where) == junk:
                continue
            crafted.put(edited, where, junk)
            crafted.write_crafted(target, edited, data)
            with pytest.raises(ModelFileError):
                load_model(target)
            with pytest.raises(ModelFileError):
                load_parameters(crafted.state_classifier(), target)


def test_saving_nan_state_is_refused_and_keeps_the_good_file(tmp_path):
    model = trained_with_state()
    path = tmp_path / "model.snn"
    save_model(model, path)
    good = path.read_bytes()
    model.layers[4].running_mean[0, 1] = np.inf
    for save in (save_model, save_parameters):
        with pytest.raises(ValueError, match=r"the state 'running_mean' of layer 4 "
                                             r"\(RunningMean\) holds NaN or infinity"):
            save(model, path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.snn"]


def test_a_version_1_file_holds_no_state(tmp_path):
    old = FIXTURES / "classifier-v1.snn"
    header, _ = read_file(old)
    raw = old.read_bytes()
    data = raw[len(raw) - header["data_bytes"]:]
    # Its parameters into a model with a layer that keeps state (after the Softmax, so that
    # the parameters still match): refused, nothing changed.
    model = Model([snn.Dense(2, 16), snn.ReLU(), snn.Dropout(0.1), snn.Dense(16, 3),
                   snn.Softmax(), crafted.RunningMean(3)])
    model.finalize()
    parameters, state = model.get_parameters(), state_of(model)
    with pytest.raises(ModelFileError, match=r"layer 5 \(RunningMean\) keeps the state "
                                             r"'running_mean', but the file is of format "
                                             "version 1, which stores no layer state"):
        load_parameters(model, old)
    assert same_arrays(model.get_parameters(), parameters)
    assert same_state(state_of(model), state)
    # An architecture with one, refused before building.
    with_state = json.loads(json.dumps(header))
    with_state["config"]["layers"].insert(
        1, {"class": "RunningMean", "config": {"n_features": 16}})
    write_raw_header(tmp_path / "v1-state.snn", with_state, data, version=1)
    with pytest.raises(ModelFileError, match=r"layer 1 \(RunningMean\) keeps the state "
                                             r"'running_mean', but the file is of format "
                                             "version 1"):
        load_model(tmp_path / "v1-state.snn")
    # A version-1 header has no state entry: one is refused, not ignored.
    header["state"] = []
    write_raw_header(tmp_path / "v1-entry.snn", header, data, version=1)
    with pytest.raises(ModelFileError, match="a version-1 file has no state entry"):
        load_model(tmp_path / "v1-entry.snn")


# ---------------------------------------------------------------------------- huge layers
# Every layer's arrays are compared with what its class declares (array_shapes) before the
# model is built: a file cannot make a layer larger than the arrays it stores.


def set_layer_config(position, **config):
    def change(header, data):
        header["config"]["layers"][position]["config"].update(config)
    return change


@pytest.mark.parametrize(
    ("base", "change", "message"),
    [
        ("adam_classifier", set_layer_config(0, n_inputs=10**9, n_neurons=10**9),
         r"layer 0 \(Dense\) needs weights \(1000000000, 1000000000\) and biases "
         r"\(1, 1000000000\) by its config, but the file stores arrays shaped \(2, 16\) and "
         r"\(1, 16\)"),
        # Small enough to be allocated (and seen) if building came first: 64 MB of weights.
        ("adam_classifier", set_layer_config(3, n_inputs=1_000_000),
         r"layer 3 \(Dense\) needs weights \(1000000, 16\) and biases \(1, 16\) by its "
         r"config, but the file stores arrays shaped \(16, 16\) and \(1, 16\)"),
        ("state_classifier", set_layer_config(1, n_features=10_000_000),
         r"layer 1 \(RunningMean\) keeps the state running_mean \(1, 10000000\)"),
        ("adam_classifier", set_layer_config(0, n_inputs=-1),
         r"architecture cannot be rebuilt: layer 0 \(Dense\): n_inputs must be a positive "
         "integer; got -1"),
        ("adam_classifier", set_layer_config(6, n_neurons="3"),
         r"architecture cannot be rebuilt: layer 6 \(Dense\): n_neurons must be a positive "
         r"integer; got '3' \(str\)"),
        ("adam_classifier", set_layer_config(0, n_inputs=True),
         r"layer 0 \(Dense\): n_inputs must be a positive integer; got True \(bool\)"),
        ("state_classifier", set_layer_config(4, n_features=0),
         r"layer 4 \(RunningMean\): n_features must be a positive int; got 0"),
        ("adam_classifier",
         edit(lambda header: header["config"]["layers"][0]["config"].pop("n_neurons")),
         r"layer 0 \(Dense\): n_neurons must be a positive integer; got None"),
        ("adam_classifier",
         edit(lambda header: header["config"]["layers"].insert(
             1, {"class": "Dense", "config": {"n_inputs": 10**6, "n_neurons": 10**6}})),
         r"layer 1 \(Dense\) needs weights \(1000000, 1000000\) and biases \(1, 1000000\) by "
         "its config, but the file stores no parameters for it"),
        ("adam_classifier",
         edit(lambda header: header["config"]["layers"][1].update({"class": "Dense"})),
         r"layer 1 \(Dense\): n_inputs must be a positive integer; got None"),
        ("adam_classifier",
         edit(lambda header: header["config"]["layers"][1].update(
             {"class": "RunningMean"})),
         r"layer 1 \(RunningMean\): n_features must be a positive int; got None"),
        # The convolution issue's layers, declared huge where a small layer was.
        ("adam_classifier",
         edit(lambda header: header["config"]["layers"].insert(1, {"class": "Conv2D", "config": {
             "in_channels": 10**5, "out_channels": 10**5, "kernel_size": 9}})),
         r"layer 1 \(Conv2D\) needs weights \(100000, 100000, 9, 9\) and biases "
         r"\(1, 100000, 1, 1\) by its config, but the file stores no parameters for it"),
        ("adam_classifier",
         edit(lambda header: header["config"]["layers"].insert(1, {"class": "Conv1D", "config": {
             "in_channels": 4096, "out_channels": 4096, "kernel_size": 64}})),
         r"layer 1 \(Conv1D\) needs weights \(4096, 4096, 64\)"),
        ("adam_classifier",
         edit(lambda header: header["config"]["layers"].insert(1, {"class": "BatchNorm",
                                                                 "config": {"n_features": 10**9}})),
         r"layer 1 \(BatchNorm\) needs gamma \(1000000000,\)"),
    ],
    ids=["dense-10**9", "dense-64MB", "state-40MB", "negative", "string", "bool",
         "state-zero", "missing", "inserted", "relu-as-dense", "relu-as-state", "conv2d-huge",
         "conv1d-1GB", "batchnorm-huge"],
)
def test_a_huge_or_impossible_layer_is_refused_before_anything_is_allocated(
    tmp_path, saved_headers, base, change, message
):
    tracemalloc.start()
    try:
        refused(tmp_path, saved_headers, base, change, message)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20     # the header and the small model's own arrays at most: under 1 MiB


def test_a_layer_that_stores_arrays_it_does_not_declare_is_refused(tmp_path, saved_headers):
    def change(header, data):
        relu = header["config"]["layers"][1]
        header["config"]["layers"][0], header["config"]["layers"][1] = relu, \
            header["config"]["layers"][0]
    refused(tmp_path, saved_headers, "adam_classifier", change,
            r"layer 0 \(ReLU\) needs no parameters by its config, but the file stores arrays "
            r"shaped \(2, 16\) and \(1, 16\)")


def test_an_unregistered_class_is_refused_before_building_in_the_words_of_build(tmp_path):
    model = trained_with_state()
    save_model(model, tmp_path / "state.snn")
    config = model.get_config()
    del registry._REGISTRIES["layers"]["RunningMean"]    # the fixture restores it
    with pytest.raises(ValueError) as built:
        Model.from_config(config, rng=0)
    with pytest.raises(ModelFileError) as loaded:
        with open_model(tmp_path / "state.snn"):   # refused here: open_model builds nothing
            pass
    assert str(loaded.value).endswith(f"its architecture cannot be rebuilt: {built.value}")
    assert "unknown layers class 'RunningMean'" in str(loaded.value)
    assert "register_layer" in str(loaded.value)


class Opaque(crafted.RunningMean):
    """A RunningMean whose class cannot tell its shapes from a config."""

    @classmethod
    def array_shapes(cls, config):
        return None


def test_a_class_that_cannot_tell_its_shapes_is_built_from_the_files_config(tmp_path):
    with crafted.registered(Opaque):
        model = Model([snn.Dense(2, 4, rng=0), Opaque(4), snn.Dense(4, 1, rng=1)],
                      loss=snn.MeanSquaredError(), optimizer=snn.SGD(), seed=0)
        X = np.ones((8, 2), np.float32)
        model.fit(X, np.ones((8, 1), np.float32), epochs=1, verbose=0)
        save_model(model, tmp_path / "opaque.snn")
        loaded = load_model(tmp_path / "opaque.snn")
        assert same_state(state_of(loaded), state_of(model))
        assert np.array_equal(loaded.predict(X), model.predict(X))
        # Not checked before building: its constructor, then the built layer, are the guard.
        rewrite(tmp_path / "opaque.snn", tmp_path / "wider.snn",
                lambda header, arrays: header["config"]["layers"][1]["config"].update(
                    n_features=5))
        with pytest.raises(ModelFileError, match=r"layer 1 \(Opaque\): array "
                                                 r"'state/1/running_mean' is float32\[1, 4\] in "
                                                 r"the file but the model expects float32\[1, 5\]"):
            load_model(tmp_path / "wider.snn")


EXAMPLE_CONFIGS = {
    "Dense": {"n_inputs": 3, "n_neurons": 2}, "Dropout": {"rate": 0.5},
    "Conv2D": {"in_channels": 2, "out_channels": 3, "kernel_size": 3},
    "Conv1D": {"in_channels": 2, "out_channels": 3, "kernel_size": 3},
    "MaxPool2D": {"pool_size": 2}, "AvgPool2D": {"pool_size": 2}, "MaxPool1D": {"pool_size": 2},
    "BatchNorm": {"n_features": 3},
}


def test_every_built_in_layer_declares_its_array_shapes():
    """No built-in layer says None: the guard above covers every one of them."""
    built_in = [name for name in registry.known_names("layers")
                if registry.lookup("layers", name).__module__.startswith("scratchnn.")]
    assert "Dense" in built_in and "Flatten" in built_in
    for name in built_in:
        cls = registry.lookup("layers", name)
        config = EXAMPLE_CONFIGS.get(name, {})
        layer = cls.from_config(config, rng=0)
        arrays = {n: getattr(layer, n) for n in (*cls.parameter_names, *cls.state_names)}
        assert cls.array_shapes(config) == {n: a.shape for n, a in arrays.items()}, name


# -- learning-rate schedules (issue 16) ----------------------------------------------------------


def cosine_classifier() -> Model:
    from scratchnn.schedules import CosineDecay

    model = classifier(dropout_rng=np.random.default_rng(3))
    # 60 samples / 16 = 4 steps an epoch: warm-up over epoch 0, the cosine ends in epoch 4.
    model.set(optimizer=snn.optimizers.AdamW(CosineDecay(0.02, decay_steps=18, warmup_steps=4,
                                                         final=0.001), weight_decay=0.05))
    return model


def test_resume_with_a_cosine_schedule_is_bit_identical(tmp_path):
    """Issue 16's acceptance: trained with CosineDecay, saved halfway, resumed == straight."""
    X, y = data_for(cosine_classifier())
    straight = cosine_classifier()
    history = straight.fit(X, y, epochs=6, batch_size=16, shuffle=True, verbose=0)

    first = cosine_classifier()
    first.fit(X, y, epochs=3, batch_size=16, shuffle=True, verbose=0)
    save_model(first, tmp_path / "half.snn")
    resumed = load_model(tmp_path / "half.snn")
    assert resumed.optimizer.learning_rate == first.optimizer.learning_rate
    assert resumed.get_config() == first.get_config()
    tail = resumed.fit(X, y, epochs=6, initial_epoch=3, batch_size=16, shuffle=True, verbose=0)

    assert params_equal(resumed, straight)
    assert tail.history["learning_rate"] == history.history["learning_rate"][3:]
    assert history.history["learning_rate"][-1] == 0.001      # past decay_steps: final
    assert resumed.optimizer.iterations == straight.optimizer.iterations
    assert not params_equal(first, straight)


@pytest.mark.parametrize("change, message", [
    (lambda s: s["config"].update(peak=10**400), "peak must be a finite number"),
    (lambda s: s["config"].update(peak="0.1"), "peak must be a real number"),
    (lambda s: s["config"].update(peak=-0.5), "peak"),
    (lambda s: s["config"].update(decay_steps=10**30), "decay_steps must be at most"),
    (lambda s: s["config"].update(warmup_steps=-1), "warmup_steps"),
    (lambda s: s["config"].update(final=1e300), "final"),
    (lambda s: s["config"].update(evil="os.system"), "unexpected keyword"),
    (lambda s: s.update({"class": "Dense"}), "unknown schedule class 'Dense'"),
    (lambda s: s.update({"class": "builtins.eval"}), "unknown schedule class"),
])
def test_hostile_schedule_configs_are_refused(tmp_path, change, message):
    good, bad = tmp_path / "good.snn", tmp_path / "bad.snn"
    save_model(cosine_classifier(), good)

    def edit(header, arrays):
        change(header["config"]["optimizer"]["config"]["learning_rate"])

    rewrite(good, bad, edit)
    with pytest.raises(ModelFileError, match=message):
        load_model(bad)


def test_a_file_without_a_learning_rate_scale_loads_unscaled(tmp_path):
    model = classifier()
    X, y = data_for(model)
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    good, old = tmp_path / "good.snn", tmp_path / "old.snn"
    save_model(model, good)
    rewrite(good, old, lambda header, arrays: header["optimizer"].pop("learning_rate_scale"))
    assert load_model(old).optimizer.learning_rate_scale == 1.0
    for scale, message in [(2.0, "scale"), (-0.1, "scale"), ("1", "scale")]:
        rewrite(good, old, lambda header, arrays, s=scale: header["optimizer"].update(
            learning_rate_scale=s))
        with pytest.raises(ModelFileError, match=message):
            load_model(old)
