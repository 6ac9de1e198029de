"""Acceptance tests of callbacks: hook order, EarlyStopping, LearningRateScheduler, CSVLogger."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.datasets import spiral_data


def spiral_model(learning_rate: float = 0.02, seed: int = 0) -> snn.Model:
    return snn.Model(
        [snn.Dense(2, 64, rng=0), snn.ReLU(), snn.Dense(64, 3, rng=1), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(),
        optimizer=snn.Adam(learning_rate=learning_rate),
        seed=seed,
    )


@pytest.fixture
def data():
    X, y = spiral_data(samples=100, classes=3, rng=0)
    X_val, y_val = spiral_data(samples=50, classes=3, rng=1)
    return X, y, X_val, y_val


class Recorder(snn.Callback):
    """Writes down every hook call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch))

    def on_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch))


class Snapshots(snn.Callback):
    """The parameters at the end of every epoch."""

    def __init__(self) -> None:
        self.parameters: dict[int, list[list[np.ndarray]]] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.parameters[epoch] = self.model.get_parameters()


def parameters_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for la, lb in zip(a, b, strict=True)
               for x, y in zip(la, lb, strict=True))


def test_hooks_run_in_order_with_the_right_counts(data):
    X, y, _, _ = data
    recorder = Recorder()
    spiral_model().fit(X[:50], y[:50], epochs=2, batch_size=20, verbose=0,
                       callbacks=[recorder])
    epoch = [("batch_begin", 0), ("batch_end", 0), ("batch_begin", 1), ("batch_end", 1),
             ("batch_begin", 2), ("batch_end", 2)]  # ceil(50 / 20) = 3 steps
    assert recorder.calls == [
        ("train_begin",),
        ("epoch_begin", 0), *epoch, ("epoch_end", 0),
        ("epoch_begin", 1), *epoch, ("epoch_end", 1),
        ("train_end",),
    ]


def test_hooks_get_the_model_and_the_logs(data):
    X, y, X_val, y_val = data

    class Logs(snn.Callback):
        def on_batch_end(self, batch, logs=None):
            self.batch_logs = logs

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_logs = logs

    logs = Logs()
    model = spiral_model()
    model.fit(X, y, batch_size=64, verbose=0, validation_data=(X_val, y_val), callbacks=[logs])
    assert logs.model is model
    assert set(logs.batch_logs) == {"loss", "data_loss", "regularization_loss", "accuracy",
                                    "learning_rate"}
    assert set(logs.epoch_logs) == set(logs.batch_logs) | {"val_loss", "val_accuracy"}


def test_train_end_runs_even_when_training_diverges(data):
    X, y, _, _ = data
    recorder = Recorder()
    model = spiral_model()
    model.set(optimizer=snn.SGD(learning_rate=1e8))
    with pytest.raises(snn.TrainingDivergedError):
        model.fit(X, y, epochs=5, verbose=0, callbacks=[recorder])
    assert recorder.calls[-1] == ("train_end",)


def test_stop_training_ends_after_the_current_epoch(data):
    X, y, _, _ = data

    class StopAtTwo(snn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    history = spiral_model().fit(X, y, epochs=10, verbose=0, callbacks=[StopAtTwo()])
    assert history.epoch == [0, 1]


# -- EarlyStopping ---------------------------------------------------------------------------


def test_early_stopping_stops_and_restores_the_best_weights(data):
    X, y, X_val, y_val = data
    # Adam at 0.02 improves val_loss for 8 epochs; then a learning rate of 0.5 knocks the
    # model off its minimum and val_loss gets worse.
    scheduler = snn.LearningRateScheduler(lambda epoch: 0.02 if epoch < 8 else 0.5)
    stopper = snn.EarlyStopping("val_loss", patience=2, restore_best_weights=True)
    snapshots = Snapshots()
    model = spiral_model()
    history = model.fit(X, y, epochs=30, batch_size=32, verbose=0,
                        validation_data=(X_val, y_val),
                        callbacks=[scheduler, stopper, snapshots])
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert best == stopper.best_epoch and val_loss[best] == stopper.best
    assert 8 <= len(val_loss) < 30  # it stopped early, after the jump
    assert all(loss >= val_loss[best] for loss in val_loss[best + 1:])  # it got worse
    assert stopper.stopped_epoch == best + 2 + 1  # patience 2: the third worse epoch stops
    assert history.epoch == list(range(stopper.stopped_epoch + 1))
    # The final parameters are those recorded at the best epoch, not those of the last one.
    assert parameters_equal(model.get_parameters(), snapshots.parameters[best])
    assert not parameters_equal(model.get_parameters(), snapshots.parameters[history.epoch[-1]])
    assert model.evaluate(X_val, y_val, verbose=0)["loss"] == pytest.approx(val_loss[best])


def test_early_stopping_without_restore_keeps_the_last_weights(data):
    X, y, X_val, y_val = data
    scheduler = snn.LearningRateScheduler(lambda epoch: 0.02 if epoch < 8 else 0.5)
    stopper = snn.EarlyStopping(patience=2)
    snapshots = Snapshots()
    model = spiral_model()
    history = model.fit(X, y, epochs=30, batch_size=32, verbose=0,
                        validation_data=(X_val, y_val),
                        callbacks=[scheduler, stopper, snapshots])
    assert stopper.stopped_epoch == history.epoch[-1] < 29
    assert parameters_equal(model.get_parameters(), snapshots.parameters[history.epoch[-1]])


def test_early_stopping_on_accuracy_uses_max_mode(data):
    X, y, _, _ = data
    stopper = snn.EarlyStopping("accuracy", patience=1)
    assert stopper.mode == "max"
    history = spiral_model(learning_rate=1e-6).fit(X, y, epochs=20, verbose=0,
                                                   callbacks=[stopper])
    accuracy = history.history["accuracy"]
    assert stopper.stopped_epoch == len(accuracy) - 1
    assert max(accuracy[-2:]) <= stopper.best  # two epochs without a higher accuracy


def test_early_stopping_names_a_metric_that_is_not_logged(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match=r"monitors 'val_loss'.*available: .*loss.*validation_"):
        spiral_model().fit(X, y, verbose=0, callbacks=[snn.EarlyStopping("val_loss")])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"monitor": 3}, TypeError, r"monitor must be a metric name \(str\); got 3"),
        ({"patience": -1}, ValueError, r"patience must be a non-negative integer; got -1"),
        ({"patience": 1.5}, TypeError, r"patience must be a non-negative integer; got 1\.5"),
        ({"min_delta": "x"}, TypeError, r"min_delta must be a real number"),
        ({"mode": "lowest"}, ValueError, r"mode must be 'auto', 'min' or 'max'; got 'lowest'"),
    ],
)
def test_early_stopping_checks_its_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        snn.EarlyStopping(**kwargs)


# -- LearningRateScheduler -------------------------------------------------------------------


def test_learning_rate_scheduler_sets_the_rate_each_epoch(data):
    X, y, _, _ = data
    model = spiral_model()

    class Rates(snn.Callback):
        def __init__(self):
            self.rates = []

        def on_batch_begin(self, batch, logs=None):
            self.rates.append(self.model.optimizer.current_learning_rate)

    rates = Rates()
    halve = snn.LearningRateScheduler(lambda epoch, lr: lr / 2 if epoch else lr)
    history = model.fit(X, y, epochs=4, batch_size=150, verbose=0, callbacks=[halve, rates])
    expected = [0.02, 0.01, 0.005, 0.0025]
    assert history.history["learning_rate"] == pytest.approx(expected)
    assert rates.rates == pytest.approx([rate for rate in expected for _ in range(2)])
    assert model.optimizer.learning_rate == pytest.approx(0.0025)


def test_learning_rate_scheduler_keeps_the_decay_on_top(data):
    X, y, _, _ = data
    model = spiral_model()
    model.set(optimizer=snn.SGD(learning_rate=1.0, decay=0.5))
    schedule = snn.LearningRateScheduler(lambda epoch: 0.1 * (epoch + 1))
    history = model.fit(X, y, epochs=3, verbose=0, callbacks=[schedule])
    # One step per epoch: the step of epoch e runs at (0.1 (e + 1)) / (1 + 0.5 e).
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.2 / 1.5, 0.3 / 2.0])


def test_learning_rate_scheduler_checks_what_it_gets(data):
    X, y, _, _ = data
    with pytest.raises(TypeError, match=r"schedule must be callable; got 0\.1"):
        snn.LearningRateScheduler(0.1)
    bad = snn.LearningRateScheduler(lambda epoch: -1.0)
    with pytest.raises(ValueError, match=r"learning rate schedule returned for epoch 0 must be in"):
        spiral_model().fit(X, y, verbose=0, callbacks=[bad])


# -- CSVLogger -------------------------------------------------------------------------------


def test_csv_logger_writes_a_header_and_one_row_per_epoch(data, tmp_path):
    X, y, X_val, y_val = data
    path = tmp_path / "log.csv"
    history = spiral_model().fit(X, y, epochs=3, batch_size=64, verbose=0,
                                 validation_data=(X_val, y_val),
                                 callbacks=[snn.CSVLogger(path)])
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    header, body = rows[0], rows[1:]
    assert header == ["epoch", *sorted(history.history)]
    assert len(body) == 3
    for epoch, row in enumerate(body):
        assert int(row[0]) == epoch
        for key, text in zip(header[1:], row[1:], strict=True):
            assert float(text) == history.history[key][epoch]  # written exactly (repr)


def test_csv_logger_appends_without_a_second_header(data, tmp_path):
    X, y, _, _ = data
    path = tmp_path / "log.csv"
    model = spiral_model()
    model.fit(X, y, epochs=2, verbose=0, callbacks=[snn.CSVLogger(path)])
    model.fit(X, y, epochs=1, verbose=0, callbacks=[snn.CSVLogger(path, append=True)])
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0][0] == "epoch" and len(rows) == 4
    assert [row[0] for row in rows[1:]] == ["0", "1", "0"]


def test_csv_logger_overwrites_by_default_and_uses_the_separator(data, tmp_path):
    X, y, _, _ = data
    path = tmp_path / "log.tsv"
    path.write_text("old contents\n")
    spiral_model().fit(X, y, epochs=1, verbose=0,
                       callbacks=[snn.CSVLogger(path, separator="\t")])
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch\t")
    assert "old contents" not in lines


def test_early_stopping_counts_only_improvements_larger_than_min_delta():
    class Stub:
        stop_training = False

    stopper = snn.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.05)
    stopper.set_model(Stub())
    stopper.on_train_begin({})
    for epoch, value in enumerate([1.0, 0.99, 0.98, 0.5]):
        if stopper.model.stop_training:
            break
        stopper.on_epoch_end(epoch, {"val_loss": value})
    # 0.99 and 0.98 are better, but by less than 0.05: no improvement, and after patience=1
    # such epochs it stops at epoch 2, the best still epoch 0's 1.0.
    assert stopper.stopped_epoch == 2 and stopper.model.stop_training
    assert stopper.best == 1.0 and stopper.best_epoch == 0

    stopper = snn.callbacks.EarlyStopping(monitor="val_accuracy", patience=0, min_delta=0.05)
    stopper.set_model(Stub())
    stopper.on_train_begin({})
    stopper.on_epoch_end(0, {"val_accuracy": 0.5})
    stopper.on_epoch_end(1, {"val_accuracy": 0.56})        # +0.06: an improvement
    assert stopper.best == 0.56 and not stopper.model.stop_training
    stopper.on_epoch_end(2, {"val_accuracy": 0.6})         # +0.04: not enough
    assert stopper.stopped_epoch == 2


class Boom(snn.Callback):
    def __init__(self, where):
        self.where = where

    def on_train_begin(self, logs=None):
        if self.where == "begin":
            raise RuntimeError("boom at begin")

    def on_batch_end(self, batch, logs=None):
        if self.where == "batch" and batch == 2:
            raise RuntimeError("boom at batch")

    def on_train_end(self, logs=None):
        if self.where == "end":
            raise RuntimeError("boom at end")


@pytest.mark.parametrize("where", ["begin", "batch", "end"])
def test_a_failing_callback_still_closes_files_and_bars(tmp_path, data, where):
    from tqdm import tqdm

    X, y, _, _ = data
    logger = snn.callbacks.CSVLogger(tmp_path / "log.csv")
    stopper = snn.callbacks.EarlyStopping(monitor="loss", patience=100,
                                          restore_best_weights=True)
    model = snn.Model([snn.Dense(2, 8, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1),
                       snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=0)
    with pytest.raises(RuntimeError, match=f"boom at {where}"):
        model.fit(X, y, epochs=2, batch_size=16, verbose=1,
                  callbacks=[logger, stopper, Boom(where)])
    assert logger._file is None                 # closed, whatever failed
    assert not [bar for bar in tqdm._instances if not bar.disable]   # no bar left open
    if where == "end":
        # The callbacks before the failing one all ended: the best weights came back.
        assert stopper.best_parameters is not None
        best = stopper.best_parameters[0][0]
        np.testing.assert_array_equal(model.layers[0].weights, best)


def test_schedule_with_keyword_only_or_partial_arguments_gets_only_the_epoch(data):
    import functools

    X, y, _, _ = data
    seen = []

    def schedule(epoch, *, verbose=False):
        seen.append(epoch)
        return 0.01

    def based(epoch, base=1.0):
        return base / (epoch + 1)

    for chosen in (schedule, functools.partial(based, base=0.05)):
        model = snn.Model([snn.Dense(2, 4, rng=0), snn.Softmax()],
                          loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(), seed=0)
        history = model.fit(X, y, epochs=2, verbose=0,
                            callbacks=[snn.callbacks.LearningRateScheduler(chosen)])
    assert seen == [0, 1]
    assert history.history["learning_rate"] == [0.05, 0.025]


def test_schedule_returning_a_bad_rate_names_the_epoch(data):
    X, y, _, _ = data
    model = snn.Model([snn.Dense(2, 4, rng=0), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(), seed=0)
    bad = snn.callbacks.LearningRateScheduler(lambda epoch: 0.1 if epoch < 1 else 0.0)
    with pytest.raises(ValueError, match="schedule returned for epoch 1"):
        model.fit(X, y, epochs=3, verbose=0, callbacks=[bad])


def test_csv_logger_appends_under_the_existing_header(tmp_path, data):
    X, y, X_val, y_val = data
    path = tmp_path / "log.csv"

    def build():
        return snn.Model([snn.Dense(2, 4, rng=0), snn.Softmax()],
                         loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=0)

    model = build()
    model.fit(X, y, epochs=2, verbose=0, validation_data=(X_val, y_val),
              callbacks=[snn.callbacks.CSVLogger(path)])
    # Resumed without validation: the val_ columns stay, empty.
    model.fit(X, y, epochs=3, initial_epoch=2, verbose=0,
              callbacks=[snn.callbacks.CSVLogger(path, append=True)])
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0][0] == "epoch" and "val_loss" in rows[0]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2"]
    assert all(len(row) == len(rows[0]) for row in rows)
    assert rows[3][rows[0].index("val_loss")] == ""

    # A run logging a metric the file has no column for is stopped, not written out of place.
    other = tmp_path / "other.csv"
    build().fit(X, y, epochs=1, verbose=0, callbacks=[snn.callbacks.CSVLogger(other)])
    before = other.read_text()
    with pytest.raises(ValueError, match=r"the logs now hold \['val_accuracy', 'val_loss'\]"):
        build().fit(X, y, epochs=1, verbose=0, validation_data=(X_val, y_val),
                    callbacks=[snn.callbacks.CSVLogger(other, append=True)])
    assert other.read_text() == before


@pytest.mark.parametrize("separator", [";;", "", '"', 5])
def test_csv_logger_refuses_a_bad_separator_at_once(tmp_path, separator):
    with pytest.raises(ValueError, match="separator must be one character"):
        snn.callbacks.CSVLogger(tmp_path / "x.csv", separator=separator)


def test_checkpoint_threshold_and_missing_folder(tmp_path, data):
    X, y, X_val, y_val = data
    model = snn.Model([snn.Dense(2, 4, rng=0), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=0)
    path = tmp_path / "best.snn"
    keep = snn.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True,
                                         initial_value_threshold=0.01)
    model.fit(X, y, epochs=2, verbose=0, validation_data=(X_val, y_val), callbacks=[keep])
    assert not path.exists() and keep.saved_epochs == []      # never beat 0.01
    missing = snn.callbacks.ModelCheckpoint(tmp_path / "no" / "m.snn")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[missing])
    assert model.history.history == {}         # refused before the first epoch


# -- ReduceLROnPlateau ---------------------------------------------------------------------------


def _plateau_model(learning_rate=0.1):
    return snn.Model([snn.Dense(2, 3, rng=0), snn.Softmax()],
                     loss=snn.CategoricalCrossentropy(),
                     optimizer=snn.Adam(learning_rate=learning_rate), seed=0)


def _scripted(callback, model, values):
    """Feed ``values`` as the epochs' val_loss; the rate after each epoch."""
    callback.set_model(model)
    callback.on_train_begin({})
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"val_loss": value, "loss": 0.0})
        rates.append(model.optimizer.current_learning_rate)
    return rates


def test_reduce_on_plateau_drops_after_patience_then_cools_down():
    from scratchnn.callbacks import ReduceLROnPlateau

    model = _plateau_model()
    callback = ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.5, cooldown=1)
    rates = _scripted(callback, model, [10, 9.8, 9.7, 8, 8, 8, 8, 8])
    # e0 best 10; e1, e2 not below 10 - 0.5: wait 1, 2 -> reduce (0.05), cooldown 1.
    # e3 cooldown ends, 8 improves; e4, e5 wait 1, 2 -> reduce (0.025), cooldown 1.
    # e6 cooldown ends (counter 0) and counts: wait 1; e7 wait 2 -> reduce (0.0125).
    assert callback.reductions == [2, 5, 7]
    assert rates == [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.0125]
    assert model.optimizer.learning_rate == 0.1        # the base rate is kept
    assert model.optimizer.learning_rate_scale == 0.125


def test_reduce_on_plateau_stops_at_the_minimum():
    from scratchnn.callbacks import ReduceLROnPlateau

    model = _plateau_model()
    callback = ReduceLROnPlateau(factor=0.5, patience=1, min_learning_rate=0.03)
    rates = _scripted(callback, model, [1.0, 1.0, 1.0, 1.0, 1.0])
    assert callback.reductions == [1, 2]
    assert rates[:2] == [0.1, 0.05]
    assert rates[2:] == [pytest.approx(0.03, rel=1e-15)] * 3


def test_reduce_on_plateau_patience_zero_and_max_mode():
    from scratchnn.callbacks import ReduceLROnPlateau

    model = _plateau_model()
    callback = ReduceLROnPlateau("val_accuracy", factor=0.5, patience=0, min_delta=0.0)
    callback.set_model(model)
    callback.on_train_begin({})
    for epoch, accuracy in enumerate([0.5, 0.6, 0.6, 0.7]):
        callback.on_epoch_end(epoch, {"val_accuracy": accuracy})
    # patience 0: every epoch without a higher accuracy reduces at once.
    assert callback.reductions == [2]


def test_reduce_on_plateau_scales_a_schedule():
    from scratchnn.callbacks import ReduceLROnPlateau
    from scratchnn.schedules import StepDecay

    schedule = StepDecay(0.1, step_size=1, gamma=0.5)
    X, y = spiral_data(samples=20, classes=2, rng=0)
    model = snn.Model([snn.Dense(2, 2, rng=0), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(schedule), seed=0)
    callback = ReduceLROnPlateau("loss", factor=0.25, patience=0, min_delta=10.0)
    history = model.fit(X, y, epochs=3, batch_size=40, verbose=0, callbacks=[callback])
    # One step an epoch; no epoch improves by 10, so each epoch after the first reduces.
    assert callback.reductions == [1, 2]
    assert history.history["learning_rate"] == [schedule(0), schedule(1) * 1.0,
                                                schedule(2) * 0.25]
    assert model.optimizer.learning_rate_scale == 0.0625


def test_reduce_on_plateau_arguments_are_checked():
    from scratchnn.callbacks import ReduceLROnPlateau

    for kwargs, message in [({"factor": 1.0}, "factor"), ({"factor": 0.0}, "factor"),
                            ({"patience": -1}, "patience"), ({"cooldown": -2}, "cooldown"),
                            ({"min_learning_rate": -1e-3}, "min_learning_rate")]:
        with pytest.raises(ValueError, match=message):
            ReduceLROnPlateau(**kwargs)
    model = _plateau_model()
    callback = ReduceLROnPlateau()
    callback.set_model(model)
    callback.on_train_begin({})
    with pytest.raises(ValueError, match="val_loss"):
        callback.on_epoch_end(0, {"loss": 1.0})


def test_a_reduced_rate_survives_a_save_and_resumes_exactly(tmp_path):
    X, y = spiral_data(samples=30, classes=3, rng=0)

    def build():
        model = snn.Model([snn.Dense(2, 8, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1),
                           snn.Softmax()], loss=snn.CategoricalCrossentropy(),
                          optimizer=snn.Adam(0.02, decay=1e-3), seed=0)
        model.optimizer.learning_rate_scale = 0.1    # as after a ReduceLROnPlateau
        return model

    straight = build()
    straight.fit(X, y, epochs=4, batch_size=16, verbose=0)
    first = build()
    first.fit(X, y, epochs=2, batch_size=16, verbose=0)
    first.save(tmp_path / "m.snn")
    resumed = snn.load_model(tmp_path / "m.snn")
    assert resumed.optimizer.learning_rate_scale == 0.1
    resumed.fit(X, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    for a, b in zip(resumed.get_parameters(), straight.get_parameters(), strict=True):
        for p, q in zip(a, b, strict=True):
            np.testing.assert_array_equal(p, q)


def test_the_divergence_guard_restores_the_learning_rate_scale():
    from scratchnn.training import _Backup

    optimizer = snn.Adam(0.01)
    backup = _Backup([np.zeros(3)], optimizer)
    backup.before_update()                    # copies the state (scale 1.0)
    optimizer.learning_rate_scale = 0.1       # a ReduceLROnPlateau since
    optimizer.iterations = 5
    backup.restore()
    assert optimizer.learning_rate_scale == 1.0 and optimizer.iterations == 0
