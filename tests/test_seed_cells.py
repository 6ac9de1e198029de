"""The seed notebook's three cells, reproduced through the library.

The seed writes weights one row per neuron, (n_neurons, n_inputs), and computes
``np.dot(inputs, np.array(weights).T)``; the library stores ``weights`` as (n_inputs, n_neurons),
so the seed's matrices are assigned transposed.
"""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import Dense

X = [[1.0, 2.0, 3.0, 2.5], [2.0, 5.0, -1.0, 2.0], [-1.5, 2.7, 3.3, -0.8]]

WEIGHTS = [[0.2, 0.8, -0.5, 1.0], [0.5, -0.91, 0.26, -0.5], [-0.26, -0.27, 0.17, 0.87]]
BIASES = [2.0, 3.0, 0.5]
LAYER1_OUTPUT = [[4.8, 1.21, 2.385], [8.9, -1.81, 0.2], [1.41, 1.051, 0.026]]

WEIGHTS2 = [[0.1, -0.14, 0.5], [-0.5, 0.12, -0.33], [-0.44, 0.73, -0.13]]
BIASES2 = [-1.0, 2.0, -0.5]
LAYER2_OUTPUT = [
    [0.5031, -1.04185, -2.03875],
    [0.2434, -2.7332, -5.7633],
    [-0.99314, 1.41254, -0.35655],
]

# The seed's printed "Layer 2 Output" (float32 weights drawn with RandomState(0).randn).
CELL3_OUTPUT = [
    [0.148296, -0.08397602],
    [0.14100315, -0.01340469],
    [0.20124978, -0.07290617],
]


def seed_layer(n_inputs: int, n_neurons: int, weights, biases, dtype=np.float64) -> Dense:
    layer = Dense(n_inputs, n_neurons, rng=0, dtype=dtype)
    layer.weights = np.array(weights, dtype=dtype).T  # seed rows are neurons
    layer.biases = np.array([biases], dtype=dtype)
    return layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cell1_one_layer_of_three_neurons(dtype):
    layer = seed_layer(4, 3, WEIGHTS, BIASES, dtype)
    output = layer.forward(np.array(X, dtype=dtype))
    # The seed's own arithmetic, done independently: np.dot(inputs, weights.T) + biases.
    by_hand = np.dot(np.array(X), np.array(WEIGHTS).T) + np.array(BIASES)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(by_hand, LAYER1_OUTPUT, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(output, LAYER1_OUTPUT, rtol=rtol, atol=rtol)
    assert output.dtype == dtype
    assert output.shape == (3, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cell2_two_layers(dtype):
    layer1 = seed_layer(4, 3, WEIGHTS, BIASES, dtype)
    layer2 = seed_layer(3, 3, WEIGHTS2, BIASES2, dtype)
    output = layer2.forward(layer1.forward(np.array(X, dtype=dtype)))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(output, LAYER2_OUTPUT, rtol=rtol, atol=rtol)
    assert output.dtype == dtype


def test_cell2_untransposed_layout_gives_the_seed_shape_error():
    # The seed's error: (3, 4) and (3, 4) do not line up. Here a layer with 4 inputs fed the
    # (4, 3) layout (features as rows) says so and suggests transposing.
    layer1 = seed_layer(4, 3, WEIGHTS, BIASES)
    features_as_rows = np.array(X).T
    with pytest.raises(
        ValueError,
        match=r"^Dense\(4, 3\) expects inputs shaped \(n_samples, 4\); got \(4, 3\)\. .*X\.T",
    ):
        layer1.forward(features_as_rows)
    # The second layer fed the raw (3, 4) inputs instead of the first layer's (3, 3) output.
    layer2 = seed_layer(3, 3, WEIGHTS2, BIASES2)
    with pytest.raises(
        ValueError, match=r"^Dense\(3, 3\) expects inputs shaped \(n_samples, 3\); got \(3, 4\)\."
    ):
        layer2.forward(np.array(X))


def test_cell3_random_layers_match_the_seed_printout():
    rs = np.random.RandomState(0)
    layer1 = Dense(4, 5, weight_scale=0.10, rng=rs)
    layer2 = Dense(5, 2, weight_scale=0.10, rng=rs)
    output = layer2.forward(layer1.forward(np.array(X)))
    np.testing.assert_allclose(output, CELL3_OUTPUT, rtol=1e-5, atol=1e-7)
    assert output.dtype == np.float32


def test_cell3_weights_are_the_books_randn_draws():
    rs = np.random.RandomState(0)
    layer1 = Dense(4, 5, weight_scale=0.10, rng=rs)
    layer2 = Dense(5, 2, weight_scale=0.10, rng=rs)
    reference = np.random.RandomState(0)
    expected1 = 0.10 * reference.randn(4, 5)
    expected2 = 0.10 * reference.randn(5, 2)
    np.testing.assert_array_equal(layer1.weights, expected1.astype(np.float32))
    np.testing.assert_array_equal(layer2.weights, expected2.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n_inputs", "n_neurons"), [(4, 5), (5, 2), (1, 1), (784, 64)])
def test_weights_shapes_dtypes_and_zero_biases(n_inputs, n_neurons, dtype):
    layer = Dense(n_inputs, n_neurons, rng=0, dtype=dtype)
    assert layer.weights.shape == (n_inputs, n_neurons)
    assert layer.biases.shape == (1, n_neurons)
    assert layer.weights.dtype == dtype
    assert layer.biases.dtype == dtype
    np.testing.assert_array_equal(layer.biases, np.zeros((1, n_neurons)))


def test_default_dtype_is_float32():
    layer = Dense(4, 3, rng=0)
    assert layer.weights.dtype == np.float32
    assert layer.biases.dtype == np.float32
