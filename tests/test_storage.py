"""Flat parameter storage: layers' arrays as views into one buffer per dtype."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.storage import FlatParameters


def _model(dtype=np.float32):
    return snn.Model(
        [snn.Dense(2, 8, rng=0, dtype=dtype), snn.ReLU(), snn.Dense(8, 3, rng=1, dtype=dtype),
         snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(learning_rate=0.02), seed=0,
    )


def test_parameters_and_gradients_are_views_of_one_buffer_per_dtype():
    model = _model()
    before = [p.copy() for layer in model.layers for p in layer.parameters()]
    storage = model.parameter_storage()
    (dtype,) = storage.parameters
    assert dtype == np.float32 and storage.parameters[dtype].size == 2 * 8 + 8 + 8 * 3 + 3
    buffer, gradients = storage.parameters[dtype], storage.gradients[dtype]
    arrays = [p for layer in model.trainable_layers for p in layer.parameters()]
    assert all(np.shares_memory(array, buffer) for array in arrays)
    assert all(np.shares_memory(g, gradients)
               for layer in model.trainable_layers for g in layer.gradients())
    for array, old in zip(arrays, before, strict=True):
        np.testing.assert_array_equal(array, old)        # packing changes no value
    # Users see the same arrays: shapes, assignment into them, gradients after backward.
    dense = model.layers[0]
    assert dense.weights.shape == (2, 8) and dense.biases.shape == (1, 8)
    dense.weights[0, 0] = 5.0
    assert buffer[0] == 5.0
    X, y = snn.datasets.spiral_data(samples=20, classes=3, rng=0)
    model.backward(model.forward(X.astype(np.float32), training=True), y.astype(np.intp))
    np.testing.assert_allclose(dense.dweights, dense.inputs.T @ model.layers[1].dinputs,
                               rtol=1e-6)
    assert np.shares_memory(dense.dweights, gradients) and storage.intact()


def test_a_replaced_array_is_noticed_and_packed_again_and_training_is_unchanged():
    X, y = snn.datasets.spiral_data(samples=40, classes=3, rng=0)
    packed, rebound = _model(np.float64), _model(np.float64)
    first = rebound.parameter_storage()
    # The book's set_parameters rebinds: the layer leaves the buffer, and fit packs again.
    rebound.layers[0].weights = rebound.layers[0].weights.copy()
    assert not first.intact()
    packed.fit(X, y, epochs=3, batch_size=16, verbose=0)
    rebound.fit(X, y, epochs=3, batch_size=16, verbose=0)
    assert rebound.parameter_storage() is not first and rebound.parameter_storage().intact()
    for a, b in zip(packed.get_parameters(), rebound.get_parameters(), strict=True):
        for pa, pb in zip(a, b, strict=True):
            np.testing.assert_array_equal(pa, pb)


def test_training_on_views_equals_training_on_separate_arrays():
    # The reference path: the same steps by hand with optimizer.update_params on layers that
    # were never packed.
    X, y = snn.datasets.spiral_data(samples=30, classes=3, rng=1)
    X, y = X.astype(np.float64), y.astype(np.intp)
    model = _model(np.float64)
    model.fit(X, y, epochs=2, batch_size=None, shuffle=False, verbose=0)
    layers = [snn.Dense(2, 8, rng=0, dtype=np.float64), snn.ReLU(),
              snn.Dense(8, 3, rng=1, dtype=np.float64), snn.Softmax()]
    loss, optimizer = snn.CategoricalCrossentropy(), snn.Adam(learning_rate=0.02)
    for _ in range(2):
        out = X
        for layer in layers:
            out = layer.forward(out, training=True)
        grad = loss.backward(out, y)
        for layer in reversed(layers):
            grad = layer.backward(grad)
        optimizer.pre_update_params()
        for layer in (layers[0], layers[2]):
            optimizer.update_params(layer)
        optimizer.post_update_params()
    for trained, reference in zip(model.trainable_layers, (layers[0], layers[2]), strict=True):
        np.testing.assert_allclose(trained.weights, reference.weights, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(trained.biases, reference.biases, rtol=1e-12, atol=1e-15)


def test_copies_and_pickles_are_not_views_of_the_originals_buffer():
    model = _model()
    storage = model.parameter_storage()
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert not twin._storage.intact()
        fresh = twin.parameter_storage()
        assert fresh.intact()
        buffer = fresh.parameters[np.dtype(np.float32)]
        assert not np.shares_memory(buffer, storage.parameters[np.dtype(np.float32)])
        np.testing.assert_array_equal(buffer, storage.parameters[np.dtype(np.float32)])


def test_layers_that_keep_their_own_arrays_are_left_alone():
    class Own(snn.Layer):
        def __init__(self):
            self.w = np.ones((1, 2))
            self.dw = np.zeros((1, 2))

        def parameters(self):
            return [self.w]

        def gradients(self):
            return [self.dw]

    layer, dense = Own(), snn.Dense(2, 2, rng=0)
    storage = FlatParameters([layer, dense])
    assert storage.unpacked == [layer] and storage.intact()
    assert storage.parameters[np.dtype(np.float32)].size == 6


def test_a_save_during_fit_leaves_the_divergence_guard_on_the_live_arrays(tmp_path):
    # A ModelCheckpoint saves (and so finalizes) at every epoch end; the guard must still
    # restore the arrays the layers use when a later epoch diverges.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = X @ np.ones((3, 1), np.float32)
    model = snn.Model([snn.Dense(3, 8, rng=0), snn.ReLU(), snn.Dense(8, 1, rng=1), snn.Linear()],
                      loss=snn.MeanSquaredError(), optimizer=snn.SGD(learning_rate=0.01), seed=0)
    schedule = snn.callbacks.LearningRateScheduler(lambda epoch, rate: 0.01 if epoch < 1 else 1e6)
    checkpoint = snn.callbacks.ModelCheckpoint(tmp_path / "checkpoint.snn")
    with pytest.raises(snn.TrainingDivergedError):
        model.fit(X, y, epochs=4, batch_size=16, verbose=0, callbacks=[schedule, checkpoint])
    assert all(np.isfinite(p).all() and np.abs(p).max() < 1.0
               for layer in model.get_parameters() for p in layer)
    model.save(tmp_path / "after.snn")


def test_references_taken_after_the_first_fit_follow_the_layer(tmp_path):
    X, y = snn.datasets.spiral_data(samples=20, classes=3, rng=0)
    model = _model()
    model.fit(X, y, epochs=1, verbose=0)
    weights = model.layers[0].weights
    model.save(tmp_path / "m.snn")                  # finalize again: no repacking
    model.set(optimizer=snn.Adam(learning_rate=0.02))
    model.fit(X, y, epochs=1, verbose=0)
    assert weights is model.layers[0].weights
    model.load_parameters(tmp_path / "m.snn")
    np.testing.assert_array_equal(weights, snn.load_model(tmp_path / "m.snn").layers[0].weights)
    weights[...] = 0.0
    assert not model.layers[0].weights.any()


def test_tied_weights_stay_tied():
    encoder, decoder = snn.Dense(4, 2, rng=0, dtype=np.float64), snn.Dense(2, 4, rng=1,
                                                                         dtype=np.float64)
    decoder.weights = encoder.weights.T                 # one array, two layers
    model = snn.Model([encoder, snn.Tanh(), decoder, snn.Linear()],
                      loss=snn.MeanSquaredError(), optimizer=snn.SGD(learning_rate=0.1), seed=0)
    X = np.random.default_rng(0).normal(size=(16, 4))
    model.fit(X, X, epochs=2, verbose=0)
    storage = model.parameter_storage()
    assert encoder in storage.unpacked and decoder in storage.unpacked
    assert np.shares_memory(decoder.weights, encoder.weights)
    np.testing.assert_array_equal(decoder.weights, encoder.weights.T)


def test_arrays_bound_anew_during_fit_are_taken_back_into_the_buffers():
    # A backward that binds its gradient anew (self.dweights = ...) and a callback that
    # assigns new weights both reach the flat step.
    class Rebinding(snn.Dense):
        def backward(self, dvalues):
            super().backward(dvalues)
            self.dweights = self.dweights.copy()      # a new array every step
            return self.dinputs

    X, y = snn.datasets.spiral_data(samples=30, classes=3, rng=0)
    plain = _model(np.float64)
    model = _model(np.float64)
    model.layers[0].__class__ = Rebinding
    zeros = {}

    class Reset(snn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                layer = self.model.layers[2]
                layer.weights = np.zeros_like(layer.weights)
                zeros[id(self.model)] = True

    for m in (plain, model):
        m.fit(X, y, epochs=3, batch_size=16, verbose=0, callbacks=[Reset()])
    assert len(zeros) == 2 and model.parameter_storage().intact()
    for a, b in zip(plain.get_parameters(), model.get_parameters(), strict=True):
        for pa, pb in zip(a, b, strict=True):
            np.testing.assert_array_equal(pa, pb)
