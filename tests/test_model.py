"""Acceptance tests of the Model: building, fit/evaluate/predict, progress, divergence, checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.datasets import spiral_data


def spiral_model(*, seed: int = 0, dtype=np.float32, optimizer=None, **fit_free) -> snn.Model:
    """The book's spiral classifier, small: Dense(2, 16), ReLU, Dense(16, 3), Softmax."""
    return snn.Model(
        [
            snn.Dense(2, 16, rng=0, dtype=dtype),
            snn.ReLU(),
            snn.Dense(16, 3, rng=1, dtype=dtype),
            snn.Softmax(),
        ],
        loss=snn.CategoricalCrossentropy(),
        optimizer=optimizer or snn.Adam(learning_rate=0.02),
        seed=seed,
    )


@pytest.fixture
def spiral():
    return spiral_data(samples=40, classes=3, rng=0)


def parameters_equal(a: list[list[np.ndarray]], b: list[list[np.ndarray]]) -> bool:
    return all(np.array_equal(x, y) for la, lb in zip(a, b, strict=True)
               for x, y in zip(la, lb, strict=True))


class BatchRecorder(snn.Callback):
    """Records the samples of every training step, read from the first layer's inputs."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, int, np.ndarray]] = []
        self.epoch = -1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        self.batches.append((self.epoch, batch, self.model.layers[0].inputs.copy()))


# -- building ------------------------------------------------------------------------------


def test_constructor_add_set_and_layers():
    layers = [snn.Dense(2, 8, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1), snn.Softmax()]
    loss, optimizer = snn.CategoricalCrossentropy(), snn.SGD()
    accuracy = snn.CategoricalAccuracy()
    model = snn.Model(layers[:2], loss=loss, optimizer=optimizer, accuracy=accuracy, seed=3)
    model.add(layers[2])
    model.add(layers[3])
    assert model.layers == layers
    assert (model.loss, model.optimizer, model.accuracy, model.seed) == (
        loss, optimizer, accuracy, 3
    )
    adam = snn.Adam()
    model.set(optimizer=adam)  # None keeps the others
    assert model.optimizer is adam and model.loss is loss and model.accuracy is accuracy


def test_finalize_is_optional(spiral):
    X, y = spiral
    explicit, implicit = spiral_model(), spiral_model()
    explicit.finalize()
    explicit.fit(X, y, epochs=3, batch_size=16, verbose=0)
    implicit.fit(X, y, epochs=3, batch_size=16, verbose=0)  # finalize() happens here
    assert parameters_equal(explicit.get_parameters(), implicit.get_parameters())
    assert np.array_equal(spiral_model().predict(X), spiral_model().predict(X))


def test_default_accuracy_follows_the_loss():
    binary = snn.Model([snn.Dense(2, 1), snn.Sigmoid()], loss=snn.BinaryCrossentropy())
    regression = snn.Model([snn.Dense(1, 1), snn.Linear()], loss=snn.MeanSquaredError())
    binary.finalize()
    regression.finalize()
    assert isinstance(binary.accuracy, snn.CategoricalAccuracy) and binary.accuracy.binary
    assert isinstance(regression.accuracy, snn.RegressionAccuracy)


def test_layers_that_do_not_connect_name_both_sizes(spiral):
    model = snn.Model(
        [snn.Dense(2, 64), snn.ReLU(), snn.Dense(32, 3), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(),
    )
    message = r"Dense\(2, 64\) outputs 64 features but the next Dense .*expects 32"
    with pytest.raises(ValueError, match=message):
        model.finalize()
    with pytest.raises(ValueError, match=message):  # the implicit finalize on first use
        model.fit(*spiral, verbose=0)


def test_fused_softmax_cross_entropy_equals_the_unfused_chain(spiral):
    X, y = spiral
    fused = spiral_model(dtype=np.float64, optimizer=snn.SGD(learning_rate=0.5))
    chain = spiral_model(dtype=np.float64, optimizer=snn.SGD(learning_rate=0.5))
    fused.finalize()
    chain.finalize()
    y_ids = np.asarray(y, dtype=np.intp)
    fused.forward(X[:4])
    assert fused.layers[-1].backward_from_loss(fused.loss, y_ids[:4]) is not None
    # Without the shortcut: Softmax.backward(CategoricalCrossentropy.backward(...)).
    chain.layers[-1].backward_from_loss = lambda loss, y_true: None
    for model in (fused, chain):
        model.fit(X, y, epochs=5, batch_size=40, shuffle=False, verbose=0)
    start = spiral_model(dtype=np.float64).get_parameters()
    for layer_f, layer_c, layer_0 in zip(
        fused.get_parameters(), chain.get_parameters(), start, strict=True
    ):
        for param_f, param_c, param_0 in zip(layer_f, layer_c, layer_0, strict=True):
            assert not np.allclose(param_f, param_0)  # both really trained
            np.testing.assert_allclose(param_f, param_c, rtol=1e-9, atol=1e-12)


# -- fit -------------------------------------------------------------------------------------


def test_fit_returns_history_with_every_metric_per_epoch(spiral):
    X, y = spiral
    X_val, y_val = spiral_data(samples=10, classes=3, rng=1)
    model = spiral_model()
    history = model.fit(X, y, epochs=4, batch_size=32, validation_data=(X_val, y_val),
                        verbose=0)
    assert isinstance(history, snn.History) and model.history is history
    assert history.epoch == [0, 1, 2, 3]
    keys = {"loss", "data_loss", "regularization_loss", "accuracy", "learning_rate",
            "val_loss", "val_accuracy"}
    assert set(history.history) == keys
    for values in history.history.values():
        assert len(values) == 4 and all(math.isfinite(v) for v in values)
    logs = {key: values[-1] for key, values in history.history.items()}
    assert logs["loss"] == pytest.approx(logs["data_loss"] + logs["regularization_loss"])
    assert logs["learning_rate"] == pytest.approx(0.02)
    # The validation numbers are those evaluate() gives with the final parameters.
    evaluated = model.evaluate(X_val, y_val, verbose=0)
    assert logs["val_loss"] == pytest.approx(evaluated["loss"])
    assert logs["val_accuracy"] == pytest.approx(evaluated["accuracy"])
    # Without validation there are no val_* entries.
    assert "val_loss" not in spiral_model().fit(X, y, verbose=0).history


def test_validation_split_holds_out_the_last_samples(spiral):
    X, y = spiral
    recorder = BatchRecorder()
    history = spiral_model().fit(X, y, validation_split=0.25, batch_size=200, verbose=0,
                                 callbacks=[recorder])
    seen = recorder.batches[0][2]
    assert len(seen) == 90  # 120 samples, the last 30 held out
    assert {tuple(row) for row in seen} == {tuple(row) for row in X[:90]}
    assert "val_loss" in history.history


def test_softmax_with_a_squared_error_trains_and_counts_classes():
    # MSE on one-hot targets after Softmax: predictions are class ids, so the default accuracy
    # is categorical (a regression accuracy could not compare ids with one-hot rows).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    labels = (X[:, 0] > 0).astype(int)
    y = np.eye(2, dtype=np.float32)[labels]
    model = snn.Model([snn.Dense(2, 2, weight_scale=0.5, rng=0), snn.Softmax()],
                      loss=snn.MeanSquaredError(), optimizer=snn.SGD(1.0), seed=0)
    history = model.fit(X, y, epochs=30, verbose=0)
    assert isinstance(model.accuracy, snn.CategoricalAccuracy) and not model.accuracy.binary
    assert history.history["accuracy"][-1] >= 0.9
    assert model.evaluate(X, y, verbose=0)["accuracy"] >= 0.9


def test_a_default_accuracy_is_chosen_again_when_the_loss_changes():
    model = snn.Model([snn.Dense(2, 1, rng=0), snn.Sigmoid()], loss=snn.BinaryCrossentropy())
    model.finalize()
    assert isinstance(model.accuracy, snn.CategoricalAccuracy) and model.accuracy.binary
    model.set(loss=snn.MeanSquaredError())
    model.add(snn.Linear())          # now a bare output: a regression
    model.finalize()
    assert isinstance(model.accuracy, snn.RegressionAccuracy)
    chosen = snn.CategoricalAccuracy(binary=True)
    model.set(accuracy=chosen)
    model.set(loss=snn.MeanAbsoluteError())
    model.finalize()
    assert model.accuracy is chosen      # one the user set is kept


def test_thousands_of_classes_near_chance_are_not_called_diverged():
    # A uniform guess among 5,000 classes costs log(5000) = 8.52, above half the clip ceiling
    # (8.06): a healthy start must train on, not stop as diverged.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 4)).astype(np.float32)
    y = rng.integers(0, 5000, size=256)
    model = snn.Model([snn.Dense(4, 5000, rng=0), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(1e-4), seed=0)
    history = model.fit(X, y, epochs=3, batch_size=64, verbose=0)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][0] > 8.06


def test_evaluating_inside_a_callback_leaves_the_epoch_metrics_alone(spiral):
    X, y = spiral

    def build():
        return snn.Model([snn.Dense(2, 8, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1),
                          snn.Softmax()],
                         loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=0)

    class EvaluateMidEpoch(snn.callbacks.Callback):
        def on_batch_end(self, step, logs=None):
            if step == 2:
                self.model.evaluate(X[:50], y[:50], verbose=0)

    plain = build().fit(X, y, epochs=2, batch_size=32, verbose=0)
    probed = build().fit(X, y, epochs=2, batch_size=32, verbose=0,
                         callbacks=[EvaluateMidEpoch()])
    assert probed.history["loss"] == plain.history["loss"]
    assert probed.history["accuracy"] == plain.history["accuracy"]


def test_step_logs_measure_the_penalty_of_the_weights_that_gave_the_loss():
    # As the book's step lines: loss, data loss and penalty all of the weights before the update.
    X, y = spiral_data(samples=20, classes=3, rng=0)
    model = snn.Model(
        [snn.Dense(2, 8, weight_regularizer_l2=0.1, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1),
         snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(0.05), seed=0,
    )
    before = 0.1 * float(np.sum(model.layers[0].weights.astype(np.float64) ** 2))
    seen = []

    class Record(snn.callbacks.Callback):
        def on_batch_end(self, step, logs=None):
            seen.append(logs["regularization_loss"])

    model.fit(X, y, epochs=1, verbose=0, callbacks=[Record()])
    assert seen[0] == pytest.approx(before, rel=1e-5)
    after = 0.1 * float(np.sum(model.layers[0].weights.astype(np.float64) ** 2))
    assert after != pytest.approx(before, rel=1e-3)


def test_regularization_loss_is_logged():
    X, y = spiral_data(samples=20, classes=3, rng=0)
    model = snn.Model(
        [snn.Dense(2, 8, weight_regularizer_l2=0.1, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1),
         snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=0,
    )
    history = model.fit(X, y, verbose=0)
    weights = model.layers[0].weights
    assert history.history["regularization_loss"][0] == pytest.approx(
        0.1 * float(np.sum(weights.astype(np.float64) ** 2)), rel=1e-5
    )


def test_313_steps_per_epoch_for_10000_samples_at_batch_size_32():
    X = np.random.default_rng(0).standard_normal((10_000, 2)).astype(np.float32)
    y = np.arange(10_000) % 3
    model = spiral_model()

    class Sizes(snn.Callback):
        def __init__(self):
            self.sizes: dict[int, list[int]] = {}

        def on_epoch_begin(self, epoch, logs=None):
            self.sizes[epoch] = []

        def on_batch_end(self, batch, logs=None):
            assert batch == len(self.sizes[max(self.sizes)])  # steps counted from 0
            self.sizes[max(self.sizes)].append(len(self.model.layers[0].inputs))

    sizes = Sizes()
    model.fit(X, y, epochs=2, batch_size=32, verbose=0, callbacks=[sizes])
    for epoch in (0, 1):
        assert len(sizes.sizes[epoch]) == 313  # ceil(10000 / 32)
        assert sizes.sizes[epoch][:312] == [32] * 312
        assert sizes.sizes[epoch][-1] == 16  # the last partial batch is trained on too


def test_batch_size_none_is_one_full_batch_step(spiral):
    X, y = spiral
    recorder = BatchRecorder()
    spiral_model().fit(X, y, epochs=2, verbose=0, callbacks=[recorder])
    assert [(epoch, step, len(b)) for epoch, step, b in recorder.batches] == [
        (0, 0, len(X)), (1, 0, len(X))
    ]


def test_batch_size_larger_than_the_data_is_one_step(spiral):
    X, y = spiral
    recorder = BatchRecorder()
    spiral_model().fit(X, y, batch_size=1000, verbose=0, callbacks=[recorder])
    assert len(recorder.batches) == 1 and len(recorder.batches[0][2]) == len(X)


def test_shuffling_visits_every_sample_once_per_epoch_in_a_new_order():
    # Row i is (i, -i) / 100, so every batch row tells which sample it is (spiral data has
    # repeated rows at the centre).
    n = 100
    X = (np.column_stack([np.arange(n), -np.arange(n)]) / n).astype(np.float32)
    y = np.arange(n) % 3
    recorder = BatchRecorder()
    spiral_model().fit(X, y, epochs=3, batch_size=16, verbose=0, callbacks=[recorder])
    orders = []
    for epoch in range(3):
        seen = np.concatenate([b for e, _, b in recorder.batches if e == epoch])
        assert seen.shape == X.shape
        order = [int(i) for i in np.rint(seen[:, 0] * n)]
        np.testing.assert_array_equal(seen, X[order])
        assert sorted(order) == list(range(n))  # every sample exactly once

        orders.append(order)
    assert orders[0] != list(range(n))
    assert orders[0] != orders[1] != orders[2] != orders[0]


def test_shuffled_batches_keep_each_sample_with_its_label():
    n = 90
    X = (np.column_stack([np.arange(n), -np.arange(n)]) / n).astype(np.float32)
    y = np.arange(n) % 3
    pairs = []

    class RecordingLoss(snn.CategoricalCrossentropy):
        def calculate(self, output, y_true, **kwargs):
            rows = np.rint(model.layers[0].inputs[:, 0] * n).astype(int)
            pairs.append((rows, np.array(y_true)))
            return super().calculate(output, y_true, **kwargs)

    model = snn.Model([snn.Dense(2, 8, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1),
                       snn.Softmax()], loss=RecordingLoss(), optimizer=snn.Adam(), seed=0)
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert len(pairs) == 2 * 6
    for rows, labels in pairs:
        np.testing.assert_array_equal(labels, y[rows])
    assert not np.array_equal(np.concatenate([rows for rows, _ in pairs[:6]]), np.arange(n))


def test_no_shuffle_keeps_the_order(spiral):
    X, y = spiral
    recorder = BatchRecorder()
    spiral_model().fit(X, y, epochs=2, batch_size=50, shuffle=False, verbose=0,
                       callbacks=[recorder])
    for epoch in (0, 1):
        seen = np.concatenate([b for e, _, b in recorder.batches if e == epoch])
        np.testing.assert_array_equal(seen, X)


def test_same_seed_same_parameters_different_seed_different(spiral):
    X, y = spiral
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        model = spiral_model(seed=seed)  # same initial weights (rng=0, 1) in all three
        model.fit(X, y, epochs=3, batch_size=16, verbose=0)
        runs[name] = model.get_parameters()
    assert parameters_equal(runs["a"], runs["b"])
    assert not parameters_equal(runs["a"], runs["c"])


def test_epochs_zero_trains_nothing(spiral):
    X, y = spiral
    model = spiral_model()
    before = model.get_parameters()
    history = model.fit(X, y, epochs=0, verbose=0)
    assert history.epoch == [] and parameters_equal(before, model.get_parameters())


def test_one_hot_labels_train_like_integer_labels(spiral):
    X, y = spiral
    a, b = spiral_model(), spiral_model()
    a.fit(X, y, epochs=2, batch_size=16, verbose=0)
    b.fit(X, np.eye(3)[y], epochs=2, batch_size=16, verbose=0)
    assert parameters_equal(a.get_parameters(), b.get_parameters())


# -- progress --------------------------------------------------------------------------------


def test_verbose_1_shows_a_progress_bar_on_stderr(spiral, capfd):
    spiral_model().fit(*spiral, epochs=2, batch_size=16, verbose=1)
    out, err = capfd.readouterr()
    assert "Epoch 1/2" in err and "Epoch 2/2" in err
    assert "loss" in err and "accuracy" in err
    assert out == ""


def test_verbose_0_prints_nothing_at_all(spiral, capfd):
    X, y = spiral
    model = spiral_model()
    model.fit(X, y, epochs=2, batch_size=16, verbose=0, validation_data=(X, y))
    model.evaluate(X, y, verbose=0)
    model.predict(X)
    assert capfd.readouterr() == ("", "")


def test_verbose_2_prints_one_line_per_epoch_on_stdout(spiral, capfd):
    X, y = spiral
    spiral_model().fit(X, y, epochs=3, batch_size=16, verbose=2, validation_data=(X, y))
    out, err = capfd.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3
    for number, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch {number}/3")
        assert "loss: " in line and "val_loss: " in line and "val_accuracy: " in line
    assert err == ""


def test_evaluate_verbose_1_prints_loss_and_accuracy(spiral, capsys):
    result = spiral_model().evaluate(*spiral)
    out = capsys.readouterr().out
    assert f"{result['loss']:.4f}" in out and f"{result['accuracy']:.4f}" in out


# -- evaluate and predict --------------------------------------------------------------------


def test_evaluate_returns_mean_loss_and_accuracy(spiral):
    X, y = spiral
    model = spiral_model()
    model.fit(X, y, epochs=5, batch_size=16, verbose=0)
    probabilities = model.predict(X).astype(np.float64)
    expected_loss = -np.mean(np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1)))
    expected_accuracy = np.mean(probabilities.argmax(axis=1) == y)
    for batch_size in (None, 7):
        result = model.evaluate(X, y, batch_size=batch_size, verbose=0)
        assert set(result) == {"loss", "accuracy"}
        assert result["loss"] == pytest.approx(expected_loss, rel=1e-5)
        assert result["accuracy"] == pytest.approx(expected_accuracy)


def test_predict_in_batches_equals_one_batch(spiral):
    X, y = spiral
    model = spiral_model()
    model.fit(X, y, epochs=2, verbose=0)
    whole = model.predict(X)
    assert whole.shape == (len(X), 3) and whole.dtype == np.float32
    for batch_size in (1, 7, 32, len(X), 10 * len(X)):
        np.testing.assert_allclose(model.predict(X, batch_size=batch_size), whole,
                                   rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(model.predict_classes(X), whole.argmax(axis=1))


def test_dropout_is_off_in_predict_and_evaluate(spiral):
    X, y = spiral
    with_dropout = snn.Model(
        [snn.Dense(2, 16, rng=0), snn.ReLU(), snn.Dropout(0.5), snn.Dense(16, 3, rng=1),
         snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=0,
    )
    with_dropout.fit(X, y, epochs=2, batch_size=16, verbose=0)  # dropout on while training
    without = spiral_model()
    without.set_parameters(with_dropout.get_parameters())
    np.testing.assert_array_equal(with_dropout.predict(X), without.predict(X))
    np.testing.assert_array_equal(with_dropout.predict(X), with_dropout.predict(X))
    assert with_dropout.evaluate(X, y, verbose=0) == without.evaluate(X, y, verbose=0)


# -- divergence ------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 32])
def test_a_huge_learning_rate_raises_training_diverged(batch_size):
    X, y = spiral_data(samples=100, classes=3, rng=0)
    model = snn.Model(
        [snn.Dense(2, 64, rng=0), snn.ReLU(), snn.Dense(64, 3, rng=1), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(learning_rate=1e8), seed=0,
    )
    # pytest turns warnings into errors, so a NumPy overflow warning would fail here too.
    with pytest.raises(snn.TrainingDivergedError) as caught:
        model.fit(X, y, epochs=20, batch_size=batch_size, verbose=0)
    message = str(caught.value)
    assert "epoch" in message and "step" in message
    assert "lower learning_rate" in message
    for layer in model.get_parameters():
        for param in layer:
            assert np.isfinite(param).all()
    assert isinstance(caught.value, FloatingPointError)  # catchable as NumPy's error


def _last_copy(before_step):
    """Index of the state the divergence restores: the copy taken before every 8th update.

    ``before_step[i]`` is the state before update i; the failing step is the last one (its
    update never ran), so the last update was ``len(before_step) - 2``.
    """
    every = snn.training._Backup.EVERY
    assert every == 8
    return every * ((len(before_step) - 2) // every)


def test_divergence_restores_the_parameters_of_a_recent_healthy_step():
    # Finite but blown-up weights are not enough: the model must hold exactly the parameters
    # of the last copy (taken before every 8th update, each of those steps' loss healthy).
    X, y = spiral_data(samples=100, classes=3, rng=0)
    model = snn.Model(
        [snn.Dense(2, 64, rng=0), snn.ReLU(), snn.Dense(64, 3, rng=1), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(learning_rate=1e8), seed=0,
    )
    snapshots = []

    class Snapshot(snn.Callback):
        def on_batch_begin(self, batch, logs=None):
            snapshots.append([p.copy() for layer in model.get_parameters() for p in layer])

    with pytest.raises(snn.TrainingDivergedError):
        model.fit(X, y, epochs=20, batch_size=32, verbose=0, callbacks=[Snapshot()])
    now = [p for layer in model.get_parameters() for p in layer]
    assert len(snapshots) >= 2
    # snapshots[-1]: the failing step's start (after the bad update); the restored state is
    # the last copy, at most 8 updates back.
    assert all(np.array_equal(a, b) for a, b in zip(now, snapshots[_last_copy(snapshots)],
                                                    strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(now, snapshots[-1], strict=True))


def test_a_regression_that_overflows_raises_training_diverged():
    X = np.linspace(-1, 1, 64, dtype=np.float32).reshape(-1, 1)
    y = 3 * X
    model = snn.Model([snn.Dense(1, 8, rng=0), snn.ReLU(), snn.Dense(8, 1, rng=1), snn.Linear()],
                      loss=snn.MeanSquaredError(), optimizer=snn.SGD(learning_rate=1e8), seed=0)
    with pytest.raises(snn.TrainingDivergedError, match=r"epoch \d+, step \d+"):
        model.fit(X, y, epochs=50, verbose=0)
    assert all(np.isfinite(p).all() for layer in model.get_parameters() for p in layer)


def test_a_sane_learning_rate_does_not_trip_the_guard():
    X, y = spiral_data(samples=100, classes=3, rng=0)
    history = spiral_model(optimizer=snn.Adam(learning_rate=0.05)).fit(
        X, y, epochs=30, batch_size=32, verbose=0
    )
    assert len(history.epoch) == 30


# -- checking what users pass ----------------------------------------------------------------

X_OK, Y_OK = spiral_data(samples=4, classes=3, rng=0)  # 12 samples, labels 0..2


def _with_nan():
    X = X_OK.copy()
    X[3, 1] = np.nan
    return X


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"X": X_OK[:, 0]}, ValueError, r"X must be shaped \(n_samples, 2\).*got \(12,\)"),
        ({"X": X_OK[:2].ravel()}, ValueError, r"X must be .*got \(4,\).*"),
        ({"X": X_OK.T}, ValueError, r"X must be shaped \(n_samples, 2\).*got \(2, 12\).*X\.T"),
        ({"X": np.ones((12, 5))}, ValueError,
         r"X must be shaped \(n_samples, 2\) for the first layer, Dense\(2, 16\); got \(12, 5\)"),
        ({"X": X_OK.reshape(12, 2, 1)}, ValueError, r"X must be shaped .*got \(12, 2, 1\)"),
        ({"X": np.array([["a", "b"]] * 12)}, TypeError, r"X must hold numbers.*got dtype <U1"),
        ({"X": _with_nan()}, ValueError, r"X must be finite; got 1 NaN"),
        ({"X": np.full((12, 2), np.inf)}, ValueError, r"X must be finite; got 24 NaN"),
        ({"y": Y_OK[:-1]}, ValueError,
         r"len\(X\) must equal len\(y\): X has 12 samples but y has 11"),
        ({"y": np.full(12, 3)}, ValueError,
         r"y class labels must be in 0\.\.2 .*got labels from 3 to 3"),
        ({"y": np.full(12, -1)}, ValueError, r"y class labels must be in 0\.\.2.*from -1 to -1"),
        ({"y": np.full(12, 0.5)}, ValueError, r"y class labels must be integers; got fractions"),
        ({"y": np.eye(4)[np.arange(12) % 4]}, ValueError,
         r"y must be class labels shaped \(12,\) or one-hot shaped \(12, 3\).*got \(12, 4\)"),
        ({"y": np.full((12, 3), 0.5)}, ValueError, r"y given as a 2-D array must be one-hot"),
        ({"y": np.array(["a"] * 12)}, TypeError, r"y must hold numbers; got dtype <U1"),
        ({"y": np.full(12, np.nan)}, ValueError, r"y must be finite"),
        ({"batch_size": 0}, ValueError, r"batch_size must be a positive integer; got 0"),
        ({"batch_size": 2.5}, TypeError, r"batch_size must be a positive integer; got 2\.5"),
        ({"batch_size": True}, TypeError, r"batch_size must be a positive integer; got True"),
        ({"epochs": -1}, ValueError, r"epochs must be a non-negative integer; got -1"),
        ({"epochs": "3"}, TypeError, r"epochs must be a non-negative integer; got '3'"),
        ({"epochs": 2.0}, TypeError, r"epochs must be a non-negative integer; got 2\.0"),
        ({"validation_split": 1.0}, ValueError,
         r"validation_split must be in \[0\.0, 1\.0\); got 1\.0"),
        ({"validation_split": -0.1}, ValueError, r"validation_split must be in .*got -0\.1"),
        ({"validation_split": "0.2"}, TypeError, r"validation_split must be a real number"),
        ({"validation_split": 0.01}, ValueError,
         r"validation_split=0\.01 leaves 0 validation and 12 training samples"),
        ({"verbose": 3}, ValueError, r"verbose must be 0, 1 or 2; got 3"),
        ({"verbose": True}, ValueError, r"verbose must be 0, 1 or 2; got True"),
        ({"callbacks": [object()]}, TypeError,
         r"callbacks must be scratchnn\.Callback instances; got <object"),
        ({"callbacks": ["EarlyStopping"]}, TypeError,
         r"callbacks must be scratchnn\.Callback instances; got 'EarlyStopping'"),
        ({"validation_data": X_OK}, ValueError,
         r"validation_data must be a pair \(X_val, y_val\); got an array of shape \(12, 2\)"),
        ({"validation_data": (X_OK, Y_OK, Y_OK)}, ValueError,
         r"validation_data must be a pair \(X_val, y_val\)"),
        ({"validation_data": (np.ones((3, 5)), Y_OK[:3])}, ValueError,
         r"validation_data\[0\] \(X_val\) must be shaped \(n_samples, 2\).*got \(3, 5\)"),
        ({"validation_data": (X_OK, Y_OK[:5])}, ValueError,
         r"len\(validation_data\[1\] \(y_val\)\).*12 samples.*has 5"),
        ({"validation_data": (X_OK, np.full(12, 7))}, ValueError,
         r"validation_data\[1\] \(y_val\) class labels must be in 0\.\.2"),
    ],
)
def test_fit_checks_its_arguments(kwargs, error, match):
    arguments = {"X": X_OK, "y": Y_OK, **kwargs}
    X, y = arguments.pop("X"), arguments.pop("y")
    model = spiral_model()
    before = model.get_parameters()
    with pytest.raises(error, match=match):
        model.fit(X, y, **{"verbose": 0, **arguments})
    assert parameters_equal(before, model.get_parameters())  # nothing was trained


@pytest.mark.parametrize(
    ("callbacks", "match"),
    [
        (snn.EarlyStopping, r"callbacks must be .*got <class.*EarlyStopping.*EarlyStopping\(\)"),
        (5, r"callbacks must be a list of scratchnn\.Callback instances; got 5 \(int\)"),
    ],
)
def test_fit_callbacks_that_are_not_a_list_of_callbacks(callbacks, match):
    with pytest.raises(TypeError, match=match):
        spiral_model().fit(X_OK, Y_OK, verbose=0, callbacks=callbacks)


def test_a_single_callback_is_accepted(spiral):
    recorder = BatchRecorder()
    spiral_model().fit(*spiral, verbose=0, callbacks=recorder)
    assert len(recorder.batches) == 1


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m: m.evaluate(np.ones((3, 5)), Y_OK[:3], verbose=0), ValueError,
         r"X must be shaped \(n_samples, 2\).*got \(3, 5\)"),
        (lambda m: m.evaluate(X_OK, Y_OK[:3], verbose=0), ValueError,
         r"len\(X\) must equal len\(y\): X has 12 samples but y has 3"),
        (lambda m: m.evaluate(X_OK, Y_OK, batch_size=0, verbose=0), ValueError,
         r"batch_size must be a positive integer; got 0"),
        (lambda m: m.evaluate(X_OK, Y_OK, verbose=5), ValueError,
         r"verbose must be 0, 1 or 2; got 5"),
        (lambda m: m.evaluate(X_OK, np.full(12, 9), verbose=0), ValueError,
         r"y class labels must be in 0\.\.2.*from 9 to 9"),
        (lambda m: m.predict(X_OK[0]), ValueError,
         r"X must be shaped \(n_samples, 2\).*got \(2,\).*reshape\(1, -1\)"),
        (lambda m: m.predict(np.empty((0, 2))), ValueError,
         r"X must hold at least one sample; got shape \(0, 2\)"),
        (lambda m: m.predict(_with_nan()), ValueError, r"X must be finite"),
        (lambda m: m.predict(X_OK, batch_size=-3), ValueError,
         r"batch_size must be a positive integer; got -3"),
        (lambda m: m.predict(X_OK, batch_size="8"), TypeError,
         r"batch_size must be a positive integer; got '8'"),
    ],
)
def test_evaluate_and_predict_check_their_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(spiral_model())


def test_binary_and_regression_targets_are_checked():
    binary = snn.Model([snn.Dense(2, 1, rng=0), snn.Sigmoid()], loss=snn.BinaryCrossentropy(),
                       optimizer=snn.Adam())
    with pytest.raises(ValueError, match=r"y must hold 0/1 targets for BinaryCrossentropy"):
        binary.fit(X_OK, np.full((12, 1), 2.0), verbose=0)
    with pytest.raises(ValueError, match=r"y must be shaped \(12, 1\).*got \(12, 3\)"):
        binary.fit(X_OK, np.zeros((12, 3)), verbose=0)
    binary.fit(X_OK, (Y_OK > 0).astype(int), verbose=0)  # (n,) 0/1 is read as (n, 1)


def test_missing_loss_or_optimizer_is_explained():
    no_optimizer = snn.Model([snn.Dense(2, 3), snn.Softmax()], loss=snn.CategoricalCrossentropy())
    with pytest.raises(ValueError, match=r"no optimizer; set one, e\.g\. model\.set"):
        no_optimizer.fit(X_OK, Y_OK, verbose=0)
    no_loss = snn.Model([snn.Dense(2, 3), snn.Softmax()], optimizer=snn.Adam())
    with pytest.raises(ValueError, match=r"no loss; set one"):
        no_loss.evaluate(X_OK, Y_OK, verbose=0)
    with pytest.raises(ValueError, match=r"the model has no layers"):
        snn.Model().finalize()


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: snn.Model([snn.Dense], loss=None), TypeError,
         r"layers must be scratchnn layers; got <class.*did you mean Dense\(\)"),
        (lambda: snn.Model([np.ones(3)]), TypeError, r"layers must be scratchnn layers"),
        (lambda: snn.Model(loss="mse"), TypeError, r"loss must be a scratchnn Loss.*'mse'"),
        (lambda: snn.Model(optimizer=snn.Adam), TypeError, r"optimizer must be a scratchnn"),
        (lambda: snn.Model(accuracy=0.5), TypeError, r"accuracy must be a scratchnn Accuracy"),
        (lambda: snn.Model(loss=snn.SoftmaxCategoricalCrossentropy()), TypeError,
         r"fused softmax \+ cross-entropy is used automatically"),
        (lambda: snn.Model(seed=-1), ValueError, r"seed must be a non-negative integer; got -1"),
        (lambda: snn.Model(seed=1.5), TypeError, r"seed must be a non-negative integer"),
    ],
)
def test_building_checks_its_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_one_confidently_wrong_sample_is_not_a_divergence():
    # Batches of one: sample 1 is labelled against a confident prediction (loss near the
    # clip ceiling, ~16), the other 39 agree with it. The guard looks at the epoch's running
    # mean, so this ordinary outlier must not stop training.
    model = snn.Model(
        [snn.Dense(2, 2, dtype=np.float64, rng=0), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(learning_rate=1e-9), seed=0,
    )
    model.finalize()
    model.layers[0].weights[:] = [[20.0, -20.0], [0.0, 0.0]]
    X = np.tile([[1.0, 0.0]], (40, 1))
    y = np.zeros(40, dtype=int)
    y[1] = 1
    history = model.fit(X, y, epochs=2, batch_size=1, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 2
    assert history.history["data_loss"][-1] > 16.0 / 40


def test_a_regression_model_may_end_with_a_bare_dense():
    X = np.linspace(-1, 1, 64).reshape(-1, 1)
    y = 3 * X + 0.5
    model = snn.Model([snn.Dense(1, 1, rng=0)], loss=snn.MeanSquaredError(),
                      optimizer=snn.SGD(learning_rate=0.1), seed=0)
    history = model.fit(X, y, epochs=200, verbose=0)
    assert history.history["loss"][-1] < 1e-3
    np.testing.assert_allclose(model.predict_classes(X), model.predict(X))
    assert set(model.evaluate(X, y, verbose=0)) == {"loss", "accuracy"}


@pytest.mark.parametrize(
    ("loss", "last", "needed"),
    [(snn.CategoricalCrossentropy, None, "Softmax"), (snn.BinaryCrossentropy, None, "Sigmoid"),
     (snn.CategoricalCrossentropy, snn.Sigmoid, "Softmax"),
     (snn.BinaryCrossentropy, snn.Softmax, "Sigmoid")],
)
def test_a_cross_entropy_needs_the_matching_last_activation(loss, last, needed):
    layers = [snn.Dense(2, 3, rng=0)] + ([last()] if last else [])
    model = snn.Model(layers, loss=loss(), optimizer=snn.SGD())
    with pytest.raises(ValueError, match=rf"{loss.__name__} needs probabilities.*end with "
                                         rf"{needed}\(\)"):
        model.finalize()


def test_binary_cross_entropy_divergence_is_caught():
    X, y = spiral_data(samples=100, classes=2, rng=0)
    model = snn.Model([snn.Dense(2, 64, rng=0), snn.ReLU(), snn.Dense(64, 1, rng=1),
                       snn.Sigmoid()],
                      loss=snn.BinaryCrossentropy(), optimizer=snn.Adam(learning_rate=1e8),
                      seed=0)
    with pytest.raises(snn.TrainingDivergedError, match="lower learning_rate"):
        model.fit(X, y.reshape(-1, 1), epochs=100, verbose=0)
    assert all(np.isfinite(p).all() for layer in model.trainable_layers
               for p in layer.parameters())


def test_a_saturated_start_is_judged_after_the_first_epoch():
    # Weights 30x too large put the first loss above the ceiling; the guard waits one
    # epoch, then still catches the run that never comes down.
    X, y = spiral_data(samples=100, classes=3, rng=0)
    model = snn.Model([snn.Dense(2, 64, weight_scale=30, rng=0), snn.ReLU(),
                       snn.Dense(64, 3, weight_scale=30, rng=1), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(learning_rate=1e8),
                      seed=0)
    with pytest.raises(snn.TrainingDivergedError, match="epoch ([2-9]|[1-9][0-9]+),"):
        model.fit(X, y, epochs=100, verbose=0)


def test_an_overflowing_last_update_is_caught_at_the_end_of_the_epoch():
    X = np.ones((8, 1), dtype=np.float32)
    y = np.full((8, 1), 1e18, dtype=np.float32)      # loss 1e36: still finite in float32
    model = snn.Model([snn.Dense(1, 1, rng=0)], loss=snn.MeanSquaredError(),
                      optimizer=snn.SGD(learning_rate=1e30), seed=0)   # update 4e48: inf
    with pytest.raises(snn.TrainingDivergedError, match="parameters became infinite or NaN"):
        model.fit(X, y, epochs=1, verbose=0)
    assert np.isfinite(model.layers[0].weights).all()


def test_set_parameters_names_an_entry_that_is_not_a_list():
    model = snn.Model([snn.Dense(2, 3, rng=0), snn.Softmax()])
    with pytest.raises(TypeError, match=r"parameters\[0\] must be a list \[weights, biases\]"):
        model.set_parameters([1])


def test_the_same_layer_object_twice_is_refused():
    relu = snn.ReLU()
    model = snn.Model([snn.Dense(2, 8, rng=0), relu, snn.Dense(8, 8, rng=1), relu,
                       snn.Dense(8, 3, rng=2), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam())
    with pytest.raises(ValueError, match=r"layer 3 \(ReLU\) is the same object as layer 1.*"
                                         r"ReLU\(\) twice"):
        model.finalize()


def test_a_dense_shared_by_two_models_trains_in_both():
    X, y = spiral_data(samples=50, classes=3, rng=0)
    shared = snn.Dense(8, 3, rng=1)
    first = snn.Model([snn.Dense(2, 8, rng=0), snn.ReLU(), shared, snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=0)
    first.fit(X, y, epochs=2, verbose=0)
    second = snn.Model([shared, snn.Softmax()], loss=snn.CategoricalCrossentropy(),
                       optimizer=snn.Adam(), seed=0)
    second.fit(np.ones((10, 8), dtype=np.float32), np.zeros(10, dtype=int), verbose=0)
    first.fit(X, y, epochs=2, verbose=0)          # used to fail: shared had lost its dinputs
    assert np.isfinite(first.layers[0].weights).all()


def test_an_optimizer_reused_for_many_models_keeps_none_alive():
    import gc
    import weakref

    optimizer = snn.Adam()
    X, y = spiral_data(samples=20, classes=3, rng=0)
    refs = []
    for seed in range(3):
        model = snn.Model([snn.Dense(2, 4, rng=seed), snn.Softmax()],
                          loss=snn.CategoricalCrossentropy(), optimizer=optimizer, seed=seed)
        model.fit(X, y, verbose=0)
        refs.append(weakref.ref(model.layers[0]))
        del model
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]
    assert len(optimizer._state) == 0


def test_loading_a_model_leaves_the_library_generator_alone(tmp_path):
    model = snn.Model([snn.Dense(2, 3, rng=0), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD())
    model.save(tmp_path / "m.snn")
    snn.seed(5)
    expected = snn.Dense(2, 3).weights
    snn.seed(5)
    snn.load_model(tmp_path / "m.snn")
    np.testing.assert_array_equal(snn.Dense(2, 3).weights, expected)


def test_divergence_closes_the_progress_bar(capfd):
    X, y = spiral_data(samples=50, classes=3, rng=0)
    model = snn.Model([snn.Dense(2, 8, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1),
                       snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(learning_rate=1e30),
                      seed=0)
    with pytest.raises(snn.TrainingDivergedError, match="optimizer's state of a recent step"):
        model.fit(X, y, epochs=5, batch_size=10, verbose=1)
    err = capfd.readouterr().err
    assert err.endswith("\n")                      # the bar's line was closed


def test_ctrl_c_in_the_middle_of_an_update_leaves_no_half_stepped_model(spiral):
    X, y = spiral

    class InterruptedAdam(snn.Adam):
        calls = 0

        def _update(self, param, grad, slots):
            super()._update(param, grad, slots)
            InterruptedAdam.calls += 1
            # fit updates the packed parameters in one call a step: step 3, after it has
            # changed them but before the optimizer counted the step.
            if InterruptedAdam.calls == 4:
                raise KeyboardInterrupt

    model = snn.Model([snn.Dense(2, 8, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1),
                       snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=InterruptedAdam(), seed=0)
    before_step = {}

    class Snapshot(snn.callbacks.Callback):
        def on_batch_begin(self, step, logs=None):
            before_step[step] = [p.copy() for layer in model.trainable_layers
                                 for p in layer.parameters()]

    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=1, batch_size=32, verbose=0, callbacks=[Snapshot()])
    now = [p for layer in model.trainable_layers for p in layer.parameters()]
    # Back to the last copy of the state, taken before update 0 (every 8th update): neither
    # layer keeps a partial step, and the count agrees with the parameters.
    assert all(np.array_equal(a, b) for a, b in zip(now, before_step[0], strict=True))
    assert model.optimizer.iterations == 0
    assert not all(np.array_equal(a, b) for a, b in zip(now, before_step[3], strict=True))


# -- after a divergence the whole trainable state is the last healthy one ----------------------


def _optimizer_state(model):
    optimizer = model.optimizer
    slots = [array.copy() for layer in model.trainable_layers
             for per_parameter in optimizer.get_slots(layer) for array in per_parameter.values()]
    params = [p.copy() for layer in model.trainable_layers for p in layer.parameters()]
    return params, slots, optimizer.iterations, optimizer.current_learning_rate


@pytest.mark.parametrize("optimizer", [
    lambda: snn.Adam(learning_rate=1e6, decay=1e-3),
    lambda: snn.SGD(learning_rate=1e8, momentum=0.9),
    lambda: snn.RMSprop(learning_rate=1e6),
    lambda: snn.Adagrad(learning_rate=1e6),
])
def test_divergence_restores_the_optimizer_state_with_the_parameters(optimizer, tmp_path):
    X, y = spiral_data(samples=100, classes=3, rng=0)
    model = snn.Model(
        [snn.Dense(2, 64, rng=0), snn.ReLU(), snn.Dense(64, 3, rng=1), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=optimizer(), seed=0,
    )
    before_step = []

    class Snapshot(snn.Callback):
        def on_batch_begin(self, batch, logs=None):
            before_step.append(_optimizer_state(model))

    with pytest.raises(snn.TrainingDivergedError, match="optimizer's state"):
        model.fit(X, y, epochs=30, batch_size=16, verbose=0, callbacks=[Snapshot()])
    # before_step[-1] is the failing step's start (after the bad update); the state restored
    # is the last copy: parameters, slots, iteration count and rate all from that step.
    assert len(before_step) >= 2
    params, slots, iterations, rate = _optimizer_state(model)
    good_params, good_slots, good_iterations, good_rate = before_step[_last_copy(before_step)]
    assert iterations == good_iterations == _last_copy(before_step)
    assert rate == good_rate
    assert all(np.array_equal(a, b) for a, b in zip(params, good_params, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(slots, good_slots, strict=True))
    assert all(np.isfinite(a).all() for a in slots)
    # So the model saves, and a resumed run goes on from the same state.
    model.save(tmp_path / "diverged.snn")
    loaded = snn.load_model(tmp_path / "diverged.snn")
    assert loaded.optimizer.iterations == iterations
    loaded.optimizer.learning_rate = loaded.optimizer.current_learning_rate = 1e-3
    loaded.fit(X, y, epochs=1, batch_size=16, verbose=0)


def test_regression_targets_near_1e19_give_a_finite_precision_and_save(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    y = (rng.normal(size=(40, 1)) * 1e19).astype(np.float32)
    model = snn.Model([snn.Dense(2, 1, rng=0), snn.Linear()], loss=snn.MeanSquaredError(),
                      optimizer=snn.SGD(learning_rate=1e-40), seed=0)
    # The squared errors overflow float32, so the run diverges at once; it must still leave a
    # finite precision (a NumPy warning here would be an error) and a model that saves.
    with pytest.raises(snn.TrainingDivergedError):
        model.fit(X, y, epochs=1, verbose=0)
    precision = model.accuracy.precision
    assert math.isfinite(precision) and precision > 0
    assert precision == pytest.approx(float(np.std(y.astype(np.float64))) / 250)
    model.save(tmp_path / "r.snn")
    assert snn.load_model(tmp_path / "r.snn").accuracy.precision == precision


def test_a_spread_beyond_float64_is_refused_by_name():
    y = np.array([[-1e308], [1e308]])
    accuracy = snn.RegressionAccuracy()
    with pytest.raises(ValueError, match=r"RegressionAccuracy\(precision=\.\.\.\)"):
        accuracy.init(y)


# -- inputs that are arrays only in name ------------------------------------------------------


def _classifier(seed=0):
    return snn.Model([snn.Dense(2, 8, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1), snn.Softmax()],
                     loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=seed)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_numpy_matrix_inputs_train_and_predict_like_arrays(spiral):
    X, y = spiral
    plain, matrix = _classifier(), _classifier()
    plain.fit(X, y, epochs=3, batch_size=32, verbose=0)
    matrix.fit(np.asmatrix(X), np.asmatrix(y).T, epochs=3, batch_size=32, verbose=0)
    for a, b in zip(plain.get_parameters(), matrix.get_parameters(), strict=True):
        assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    predicted = matrix.predict(np.asmatrix(X))
    assert type(predicted) is np.ndarray and predicted.shape == (len(X), 3)
    np.testing.assert_array_equal(predicted, plain.predict(X))
    assert matrix.evaluate(np.asmatrix(X), np.asmatrix(y).T, verbose=0) == plain.evaluate(
        X, y, verbose=0)
    assert type(snn.Dense(2, 3, rng=0).forward(np.asmatrix(X))) is np.ndarray


def test_a_masked_array_with_masked_values_is_refused(spiral):
    X, y = spiral
    model = _classifier()
    mask = np.zeros(X.shape, dtype=bool)
    mask[3, 1] = True
    X_masked = np.ma.array(X.copy(), mask=mask)
    X_masked.data[3, 1] = np.nan      # NaN under the mask must not slip through either
    for call in (lambda: model.fit(X_masked, y, verbose=0), lambda: model.predict(X_masked),
                 lambda: model.evaluate(X_masked, y, verbose=0)):
        with pytest.raises(ValueError, match=r"X is a numpy\.ma\.MaskedArray with 1 masked"):
            call()
    with pytest.raises(ValueError, match=r"y is a numpy\.ma\.MaskedArray"):
        model.fit(X, np.ma.array(y, mask=np.arange(len(y)) == 0), verbose=0)
    # Nothing masked: the same numbers as the plain array.
    np.testing.assert_array_equal(model.predict(np.ma.array(X)), model.predict(X))


def test_boolean_labels_are_refused_unless_there_are_two_classes(spiral):
    X, y = spiral
    with pytest.raises(TypeError, match=r"True/False values.*classes 0 and 1 of the 3"):
        _classifier().fit(X, y == 1, verbose=0)
    two = snn.Model([snn.Dense(2, 2, rng=0), snn.Softmax()], loss=snn.CategoricalCrossentropy(),
                    optimizer=snn.Adam(), seed=0)
    two.fit(X, y == 1, epochs=1, verbose=0)


@pytest.mark.parametrize(("n_inputs", "n_neurons"), [(10**10, 10**10), (10**19, 1), (2**63, 2)])
def test_an_impossible_dense_layer_names_its_sizes(n_inputs, n_neurons):
    with pytest.raises(MemoryError, match=rf"Dense\({n_inputs}, {n_neurons}\) needs "):
        snn.Dense(n_inputs, n_neurons)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initial_weights_beyond_the_dtype_are_refused_by_name(dtype):
    scale = 1e300 if dtype == np.float32 else 1e308 * 1.7
    with pytest.raises(ValueError, match=r"weight_scale=.* beyond float"):
        snn.Dense(50, 50, weight_scale=scale, dtype=dtype, rng=0)


def test_boolean_labels_in_a_list_or_tuple_are_refused_too(spiral):
    X, y = spiral
    for labels in ((y == 1).tolist(), tuple(y == 1), [np.bool_(v) for v in y == 1]):
        with pytest.raises(TypeError, match="True/False values"):
            _classifier().fit(X, labels, verbose=0)
        with pytest.raises(TypeError, match="True/False values"):
            _classifier().evaluate(X, labels, verbose=0)
    _classifier().fit(X, y.tolist(), epochs=1, verbose=0)      # integer lists still train


def test_a_loss_that_is_bad_before_any_update_says_so(spiral):
    X = np.ones((8, 2), dtype=np.float32)
    y = np.full((8, 1), 3e38, dtype=np.float32)
    model = snn.Model([snn.Dense(2, 1, rng=0)], loss=snn.MeanSquaredError(),
                      optimizer=snn.SGD(), seed=0)
    before = [p.copy() for layer in model.get_parameters() for p in layer]
    with pytest.raises(snn.TrainingDivergedError) as caught:
        model.fit(X, y, verbose=0)
    message = str(caught.value)
    assert message.startswith("training cannot start: at epoch 1, step 0 the loss is inf "
                              "before any update")
    assert "healthy" not in message and "lower learning_rate" not in message
    after = [p for layer in model.get_parameters() for p in layer]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert model.optimizer.iterations == 0


def test_divergence_also_restores_a_rate_a_scheduler_changed_since(spiral):
    X, y = spiral
    model = snn.Model([snn.Dense(2, 8, rng=0), snn.ReLU(), snn.Dense(8, 3, rng=1),
                       snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(learning_rate=1e20),
                      seed=0)
    halve = snn.LearningRateScheduler(lambda epoch, rate: rate * 0.5 if epoch >= 1 else rate)
    with pytest.raises(snn.TrainingDivergedError):
        model.fit(X, y, epochs=5, verbose=0, callbacks=[halve])   # full batch: one step each
    # Diverged at epoch 2's first step, after the scheduler halved the rate: back to the
    # state of epoch 1's update, rate included.
    assert model.optimizer.iterations == 0
    assert model.optimizer.learning_rate == model.optimizer.current_learning_rate == 1e20


@pytest.mark.parametrize(("epochs", "initial_epoch", "advice"), [
    (3, 4774, "to train 3 more epochs after epoch 4774, pass epochs=4777"),
    (5, 10, "to train 5 more epochs after epoch 10, pass epochs=15"),
    (1, 2, "to train 1 more epoch after epoch 2, pass epochs=3"),
    (0, 1, "to train 1 more epoch after epoch 1, pass epochs=2"),
])
def test_the_resume_advice_uses_the_numbers_given(spiral, epochs, initial_epoch, advice):
    X, y = spiral
    with pytest.raises(ValueError) as caught:
        _classifier().fit(X, y, epochs=epochs, initial_epoch=initial_epoch, verbose=0)
    assert advice in str(caught.value)


def test_the_progress_bar_shows_running_means_over_the_epoch(spiral, monkeypatch):
    from scratchnn import training as model_module

    X, y = spiral
    shown = {}
    batches = []
    original = model_module._Bar.show

    def record(bar, step, logs):
        if bar.due(step):
            shown[step] = dict(logs)
        original(bar, step, logs)

    monkeypatch.setattr(model_module._Bar, "show", record)

    class Batches(snn.Callback):
        def on_batch_end(self, batch, logs=None):
            batches.append(dict(logs))

    # 120 samples in batches of 12: 10 equal steps, so the running mean is a plain mean.
    assert len(X) == 120
    _classifier().fit(X, y, epochs=1, batch_size=12, verbose=1, callbacks=[Batches()])
    assert len(batches) == 10 and shown
    for step, logs in shown.items():
        so_far = batches[: step + 1]
        assert logs["loss"] == pytest.approx(np.mean([b["data_loss"] for b in so_far])
                                             + so_far[-1]["regularization_loss"], rel=1e-6)
        assert logs["accuracy"] == pytest.approx(np.mean([b["accuracy"] for b in so_far]))
    assert any(logs["loss"] != batches[step]["loss"] for step, logs in shown.items())


# -- inputs of any rank ------------------------------------------------------------------------


def _pictures(n=400, seed=0):
    """28x28 one-channel pictures, (n, 1, 28, 28): the class is the bright quadrant."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=n)
    X = rng.uniform(0, 0.3, size=(n, 1, 28, 28)).astype(np.float32)
    for label, (rows, cols) in enumerate([(slice(0, 14), slice(0, 14)),
                                          (slice(0, 14), slice(14, 28)),
                                          (slice(14, 28), slice(0, 14)),
                                          (slice(14, 28), slice(14, 28))]):
        X[y == label, 0, rows, cols] += 0.7
    return X, y


def _flatten_model(seed=0):
    return snn.Model(
        [snn.Flatten(), snn.Dense(784, 32, init="he", rng=seed), snn.ReLU(),
         snn.Dense(32, 4, rng=seed + 1), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(learning_rate=0.01), seed=seed,
    )


def test_a_flatten_model_trains_on_pictures_and_round_trips_through_a_file(tmp_path):
    X, y = _pictures()
    model = _flatten_model()
    history = model.fit(X, y, epochs=3, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.95          # chance is 0.25
    assert model.evaluate(X, y, verbose=0)["accuracy"] > 0.95
    probabilities = model.predict(X, batch_size=64)
    assert probabilities.shape == (len(X), 4)
    # Batched or whole: the same up to float32 rounding (BLAS blocks differ with the size).
    np.testing.assert_allclose(probabilities, model.predict(X), rtol=1e-4, atol=1e-7)
    path = tmp_path / "pictures.snn"
    model.save(path)
    loaded = snn.load_model(path)
    assert isinstance(loaded.layers[0], snn.Flatten)
    np.testing.assert_array_equal(loaded.predict(X, batch_size=64), probabilities)
    # Training on from the file gives what training on without the save gives.
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    loaded.fit(X, y, epochs=1, batch_size=32, verbose=0)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_pictures_without_flatten_are_explained():
    X, y = _pictures(n=8)
    model = spiral_model()
    with pytest.raises(ValueError, match=r"for the first layer, Dense\(2, 16\).*Flatten\(\)"):
        model.predict(X)
    images = snn.Model([snn.Dense(784, 4, rng=0), snn.Softmax()])
    with pytest.raises(ValueError, match=r"reshape\(len\(X\), -1\), or start the model with "
                                         r"Flatten\(\)"):
        images.predict(X)
    # A Flatten first: the layers judge the samples, and the message names the layer.
    wrong = snn.Model([snn.Flatten(), snn.Dense(100, 4, rng=0), snn.Softmax()])
    with pytest.raises(ValueError, match=r"X shaped \(8, 1, 28, 28\): samples shaped "
                                         r"\(1, 28, 28\) do not fit the model at layer 1 "
                                         r"\(Dense\(100, 4\)\): .*takes samples of 100 features"):
        wrong.predict(X)


def test_layers_that_do_not_connect_are_refused_at_finalize():
    model = snn.Model([snn.Flatten(), snn.Dense(784, 10, rng=0), snn.ReLU(),
                       snn.Dense(12, 3, rng=0), snn.Softmax()])
    with pytest.raises(ValueError, match=r"Dense\(784, 10\) outputs 10 features but the next "
                                         r"Dense \(layer 3, Dense\(12, 3\)\) expects 12"):
        model.finalize()


def test_summary_shows_every_layers_output_shape_and_parameter_count():
    model = _flatten_model()
    lines = model.summary().splitlines()
    assert "?" in lines[1]                      # the input shape comes from the data
    model.predict(_pictures(n=2)[0])
    lines = model.summary().splitlines()
    assert lines[0].split() == ["layer", "output", "shape", "parameters"]
    assert lines[1].split() == ["Flatten", "(784,)", "0"]
    assert lines[2].split() == ["Dense(784,", "32)", "(32,)", "25,120"]
    assert lines[-1].split() == ["total", f"{784 * 32 + 32 + 32 * 4 + 4:,}"]


def test_a_model_without_dense_layers_works_with_any_rank():
    # Nothing in the model knows a layer type: an element-wise model on (n, 2, 3) samples.
    model = snn.Model([snn.Tanh()], loss=snn.MeanSquaredError())
    X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 2, 3)
    np.testing.assert_array_equal(model.predict(X), np.tanh(X))
    result = model.evaluate(X, np.tanh(X), verbose=0)
    assert result["loss"] == 0.0
    with pytest.raises(ValueError, match=r"y must be shaped \(4, 2, 3\)"):
        model.evaluate(X, np.zeros((4, 6)), verbose=0)


def test_any_layer_first_skips_its_dinputs_and_any_layer_with_an_rng_gets_the_models_stream():
    X, y = _pictures(n=64)
    model = snn.Model([snn.Flatten(), snn.Dropout(0.2), snn.Dense(784, 4, rng=0),
                       snn.Softmax()], loss=snn.CategoricalCrossentropy(),
                      optimizer=snn.SGD(), seed=3)
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert [layer.needs_dinputs for layer in model.layers] == [False, True, True, True]
    twin = snn.Model([snn.Flatten(), snn.Dropout(0.2), snn.Dense(784, 4, rng=0),
                      snn.Softmax()], loss=snn.CategoricalCrossentropy(),
                     optimizer=snn.SGD(), seed=3)
    twin.fit(X, y, epochs=1, batch_size=32, verbose=0)
    np.testing.assert_array_equal(model.predict(X), twin.predict(X))   # seeded masks


def test_a_model_remembers_its_sample_shape_in_its_file(tmp_path):
    X, y = _pictures(n=32)
    model = _flatten_model()
    assert model.sample_shape is None and model.n_features is None
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    assert model.sample_shape == (1, 28, 28) and model.n_features == 784
    assert model.get_config()["sample_shape"] == [1, 28, 28]
    model.save(tmp_path / "m.snn")
    loaded = snn.load_model(tmp_path / "m.snn")
    assert loaded.sample_shape == (1, 28, 28)
    assert loaded.summary() == model.summary()
    # A first Dense fixes the shape: nothing extra in the config.
    assert "sample_shape" not in spiral_model().get_config()
    config = model.get_config()
    for bad in ([0, 28], [1.5], "28", [2**31], [1] * 9):
        with pytest.raises(ValueError, match="sample_shape must be a list of 1 to 8 positive"):
            snn.Model.from_config({**config, "sample_shape": bad})


@pytest.mark.parametrize(("X", "hint"), [
    (np.ones((4, 2)), "the batch looks transposed: pass X.T"),
    (np.ones(4), "a single sample must still be a batch: use x.reshape(1, -1)"),
    (np.ones((2, 5)), "got (2, 5)"),
])
def test_shape_hints_reach_through_layers_that_keep_the_shape(X, hint):
    model = snn.Model([snn.Dropout(0.1), snn.ReLU(), snn.Dense(4, 3, rng=0), snn.Softmax()])
    with pytest.raises(ValueError) as caught:
        model.predict(X)
    message = str(caught.value)
    assert message.startswith("X must be shaped (n_samples, 4) for layer 2 (the layers before "
                              "it keep the shape), Dense(4, 3)")
    assert hint in message
