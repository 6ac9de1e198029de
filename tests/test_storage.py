"""Flat parameter storage: layers' arrays as views into one buffer per dtype."""

from __future__ import annotations

import copy
import pickle

import numpy as np

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
