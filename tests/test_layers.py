"""Dense and Dropout: gradients, regularisation, dropout statistics and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import Dense, Dropout, gradcheck

SHAPES = [(1, 4, 3), (5, 3, 2), (2, 1, 1), (7, 6, 4)]  # (n_samples, n_inputs, n_neurons)
REGULARIZERS = [
    {},
    {"weight_regularizer_l1": 0.05},
    {"weight_regularizer_l2": 0.3},
    {"bias_regularizer_l1": 0.07},
    {"bias_regularizer_l2": 0.2},
    {
        "weight_regularizer_l1": 0.01,
        "weight_regularizer_l2": 0.02,
        "bias_regularizer_l1": 0.03,
        "bias_regularizer_l2": 0.04,
    },
]


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values in +-[0.2, 1.5]: far from L1's kink at 0 compared with the step 1e-6."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 1.5, size=shape)


def float64_dense(n_inputs: int, n_neurons: int, seed: int = 0, **kwargs) -> Dense:
    rng = np.random.default_rng(seed)
    layer = Dense(n_inputs, n_neurons, dtype=np.float64, rng=rng, **kwargs)
    layer.weights = away_from_zero(rng, (n_inputs, n_neurons))
    layer.biases = away_from_zero(rng, (1, n_neurons))  # zero biases sit on the L1 kink
    return layer


# --- Dense -----------------------------------------------------------------------------------


@pytest.mark.parametrize("regularizers", REGULARIZERS, ids=lambda r: "+".join(r) or "none")
@pytest.mark.parametrize(("n_samples", "n_inputs", "n_neurons"), SHAPES)
def test_dense_gradients(n_samples, n_inputs, n_neurons, regularizers):
    layer = float64_dense(n_inputs, n_neurons, **regularizers)
    x = np.random.default_rng(1).normal(size=(n_samples, n_inputs))
    result = gradcheck(layer, x)
    assert set(result.errors) == {"dinputs", "dweights", "dbiases"}
    assert result.max_error < 1e-6, str(result)


def test_dense_regularization_loss_is_the_books_formula():
    layer = float64_dense(
        3,
        2,
        weight_regularizer_l1=0.1,
        weight_regularizer_l2=0.2,
        bias_regularizer_l1=0.3,
        bias_regularizer_l2=0.4,
    )
    w, b = layer.weights, layer.biases
    expected = (
        0.1 * np.abs(w).sum() + 0.2 * (w**2).sum() + 0.3 * np.abs(b).sum() + 0.4 * (b**2).sum()
    )
    assert layer.regularization_loss() == pytest.approx(expected, rel=1e-12)
    assert float64_dense(3, 2).regularization_loss() == 0.0


def test_dense_l1_derivative_is_the_books_sign_with_plus_one_at_zero():
    layer = Dense(2, 2, weight_regularizer_l1=0.5, dtype=np.float64, rng=0)
    layer.weights = np.array([[1.5, -2.0], [0.0, 3.0]])
    layer.forward(np.zeros((1, 2)))
    layer.backward(np.zeros((1, 2)))
    np.testing.assert_array_equal(layer.dweights, 0.5 * np.array([[1, -1], [1, 1]]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_contract(dtype):
    layer = Dense(4, 3, rng=0, dtype=dtype)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(dtype)
    output = layer.forward(x)
    assert output.shape == (6, 3) and output.dtype == dtype
    np.testing.assert_allclose(output, x @ layer.weights + layer.biases)
    dinputs = layer.backward(np.ones((6, 3), dtype=dtype))
    assert dinputs.shape == (6, 4) and dinputs.dtype == dtype
    assert layer.dweights.shape == (4, 3) and layer.dweights.dtype == dtype
    assert layer.dbiases.shape == (1, 3) and layer.dbiases.dtype == dtype
    assert [p.shape for p in layer.parameters()] == [g.shape for g in layer.gradients()]
    assert layer.parameters()[0] is layer.weights and layer.parameters()[1] is layer.biases
    assert layer.trainable


def test_dense_accepts_lists_and_converts_to_its_dtype():
    layer = Dense(2, 1, rng=0)
    assert layer.forward([[1, 2], [3, 4]]).dtype == np.float32


def test_dense_same_seed_same_weights_in_either_dtype():
    a = Dense(5, 4, rng=3)
    b = Dense(5, 4, rng=3, dtype=np.float64)
    np.testing.assert_array_equal(a.weights, b.weights.astype(np.float32))
    assert not np.array_equal(a.weights, Dense(5, 4, rng=4).weights)


@pytest.mark.parametrize(
    ("init", "scale"), [("he", np.sqrt(2 / 400)), ("glorot", np.sqrt(2 / 500)), (None, 0.01)]
)
def test_dense_init_scales(init, scale):
    layer = Dense(400, 100, init=init, rng=0, dtype=np.float64)
    assert np.std(layer.weights) == pytest.approx(scale, rel=0.02)


def test_dense_config_and_repr():
    layer = Dense(4, 3, weight_regularizer_l2=5e-4, rng=0, dtype=np.float64)
    assert layer.get_config() == {
        "n_inputs": 4,
        "n_neurons": 3,
        "weight_regularizer_l2": 5e-4,
        "dtype": "float64",
    }
    assert repr(layer).startswith("Dense(n_inputs=4, n_neurons=3")


# --- Dense errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["n_inputs", "n_neurons"])
@pytest.mark.parametrize(
    ("value", "error", "shown"),
    [
        (0, ValueError, "0"),
        (-3, ValueError, "-3"),
        (2.5, TypeError, "2.5"),
        (True, TypeError, "True"),
        ("4", TypeError, "'4'"),
        (None, TypeError, "None"),
    ],
)
def test_dense_sizes_are_checked(name, value, error, shown):
    sizes = {"n_inputs": 4, "n_neurons": 3, name: value}
    with pytest.raises(error, match=rf"^{name} must be a positive integer; got {shown}"):
        Dense(sizes["n_inputs"], sizes["n_neurons"])


def test_dense_accepts_numpy_integers():
    assert Dense(np.int64(4), np.int32(3), rng=0).weights.shape == (4, 3)


def test_dense_wrong_width_message():
    with pytest.raises(ValueError) as info:
        Dense(4, 3, rng=0).forward(np.ones((3, 5)))
    message = str(info.value)
    assert message.startswith("Dense(4, 3) expects inputs shaped (n_samples, 4); got (3, 5).")
    hint = message.removeprefix("Dense(4, 3) expects inputs shaped (n_samples, 4); got (3, 5). ")
    assert hint == "Each row is one sample and must have one value per input feature."


def test_dense_transposed_batch_hints_transposing():
    with pytest.raises(ValueError, match=r"got \(4, 7\)\. .*transposed.*X\.T"):
        Dense(4, 3, rng=0).forward(np.ones((4, 7)))


def test_dense_single_sample_hints_reshape():
    with pytest.raises(
        ValueError, match=r"^Dense\(4, 3\) expects .*got \(4,\)\. .*reshape\(1, -1\)"
    ):
        Dense(4, 3, rng=0).forward(np.ones(4))


def test_dense_three_dimensional_input_hints_flatten():
    with pytest.raises(ValueError, match=r"got \(2, 2, 2\)\. Flatten"):
        Dense(4, 3, rng=0).forward(np.ones((2, 2, 2)))


def test_dense_refuses_strings_and_bad_options():
    with pytest.raises(TypeError, match="inputs must hold numbers"):
        Dense(2, 1, rng=0).forward(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="init must be"):
        Dense(2, 1, init="xavier")
    with pytest.raises(ValueError, match=r"weight_regularizer_l2 must be in \[0.0, inf\); got -1"):
        Dense(2, 1, weight_regularizer_l2=-1)
    with pytest.raises(TypeError, match="dtype must be numpy.float32 or numpy.float64"):
        Dense(2, 1, dtype=np.int32)
    with pytest.raises(TypeError, match="rng must be"):
        Dense(2, 1, rng="seed")


# --- Dropout ---------------------------------------------------------------------------------


def test_dropout_is_the_identity_when_not_training():
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    layer = Dropout(0.5, rng=0)
    output = layer.forward(x)
    np.testing.assert_array_equal(output, x)
    dvalues = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(dvalues), dvalues)


@pytest.mark.parametrize("rng_kind", ["generator", "randomstate"])
@pytest.mark.parametrize("shape", [(1, 3), (4, 5), (9, 2)])
def test_dropout_gradients_with_a_fixed_mask(shape, rng_kind):
    rng = np.random.default_rng(2) if rng_kind == "generator" else np.random.RandomState(2)
    x = np.random.default_rng(3).normal(size=shape)
    result = gradcheck(Dropout(0.3, rng=rng), x, training=True)
    assert result.max_error < 1e-6, str(result)


def test_dropout_backward_uses_the_forward_mask():
    layer = Dropout(0.4, rng=5)
    x = np.ones((20, 10))
    output = layer.forward(x, training=True)
    dinputs = layer.backward(np.full((20, 10), 2.0))
    np.testing.assert_array_equal(dinputs, 2.0 * output)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keeps_about_one_minus_rate_and_preserves_the_mean(rate):
    n = 100_000
    x = np.ones((100, n // 100), dtype=np.float64)
    output = Dropout(rate, rng=11).forward(x, training=True)
    kept = np.count_nonzero(output) / n
    # Binomial standard deviation sqrt(p (1 - p) / n) <= 0.0016; 6 of them is a loose bound.
    assert abs(kept - (1 - rate)) < 0.01
    np.testing.assert_allclose(output[output != 0], 1 / (1 - rate), rtol=1e-6)
    assert abs(output.mean() - 1.0) < 0.01 / (1 - rate)
    assert output.dtype == np.float64


def test_dropout_is_reproducible_with_the_same_seed():
    x = np.ones((8, 8), dtype=np.float32)
    first = Dropout(0.5, rng=42).forward(x, training=True)
    second = Dropout(0.5, rng=42).forward(x, training=True)
    other = Dropout(0.5, rng=43).forward(x, training=True)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    assert first.dtype == np.float32


def test_dropout_rate_zero_is_the_identity_in_training():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(Dropout(0.0, rng=0).forward(x, training=True), x)


@pytest.mark.parametrize("rate", [1.0, 1.5, -0.1, float("nan")])
def test_dropout_rate_outside_zero_one_is_refused(rate):
    with pytest.raises(ValueError, match=r"^rate must be"):
        Dropout(rate)


def test_dropout_rate_must_be_a_number():
    with pytest.raises(TypeError, match="rate must be a real number"):
        Dropout("0.5")


def test_dense_can_skip_dinputs_but_keeps_its_parameter_gradients():
    x = np.random.default_rng(0).normal(size=(5, 4))
    dvalues = np.random.default_rng(1).normal(size=(5, 3))
    full = float64_dense(4, 3, weight_regularizer_l2=0.1)
    first = float64_dense(4, 3, weight_regularizer_l2=0.1)
    first.needs_dinputs = False
    for layer in (full, first):
        layer.forward(x)
        layer.backward(dvalues)
    np.testing.assert_array_equal(first.dweights, full.dweights)
    np.testing.assert_array_equal(first.dbiases, full.dbiases)
    assert first.dinputs.size == 0  # never a stale gradient
    assert full.dinputs.shape == (5, 4)


def test_dense_config_keeps_how_the_weights_were_drawn():
    import scratchnn as snn

    model = snn.Model([snn.Dense(200, 100, init="he", rng=0), snn.ReLU(),
                       snn.Dense(100, 3, weight_scale=0.5, rng=0)])
    rebuilt = snn.Model.from_config(model.get_config(), rng=0)
    first, last = rebuilt.layers[0], rebuilt.layers[2]
    assert first.init == "he" and last.weight_scale == 0.5
    assert abs(first.weights.std() / np.sqrt(2 / 200) - 1) < 0.05
    assert abs(last.weights.std() / 0.5 - 1) < 0.1
    assert repr(model.layers[0]) == "Dense(n_inputs=200, n_neurons=100, init='he')"


def test_default_rng_dropout_follows_scratchnn_seed():
    import scratchnn as snn

    layer = snn.Dropout(0.5)
    snn.seed(0)
    first = layer.forward(np.ones((1, 20)), training=True).copy()
    snn.seed(0)
    again = layer.forward(np.ones((1, 20)), training=True).copy()
    np.testing.assert_array_equal(first, again)


def test_dropout_draws_in_float64_when_almost_everything_is_dropped():
    import scratchnn as snn

    kinds = []

    class Recording:
        def random(self, shape, dtype):
            kinds.append(np.dtype(dtype))
            return np.random.default_rng(0).random(shape, dtype=dtype)

    for rate in (0.5, 1 - 1e-7):
        layer = snn.Dropout(rate, rng=0)
        layer.rng = Recording()
        layer.forward(np.ones((2, 3)), training=True)
    assert kinds == [np.dtype(np.float32), np.dtype(np.float64)]


def test_dtype_none_is_refused_not_read_as_float64():
    import scratchnn as snn

    with pytest.raises(TypeError, match="dtype must be numpy.float32 or numpy.float64; got None"):
        snn.Dense(2, 2, dtype=None)


def test_a_huge_integer_option_is_a_value_error():
    import scratchnn as snn

    with pytest.raises(ValueError, match="weight_scale must be a finite number.*too large"):
        snn.Dense(2, 2, weight_scale=10**400)


@pytest.mark.parametrize("make_rng", [lambda: np.random.RandomState(7),
                                      lambda: np.random.default_rng(7)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_drawn_in_blocks_equal_one_big_draw(monkeypatch, make_rng, dtype):
    from scratchnn.layers import dense

    monkeypatch.setattr(dense, "_DRAW_BLOCK", 7)     # blocks of 2 rows of 3: odd counts too
    layer = Dense(11, 3, weight_scale=0.1, rng=make_rng(), dtype=dtype)
    rng = make_rng()
    draws = rng.randn(11, 3) if isinstance(rng, np.random.RandomState) else (
        rng.standard_normal((11, 3)))
    np.testing.assert_array_equal(layer.weights, (0.1 * draws).astype(dtype))


def test_a_large_float32_layer_never_holds_its_draws_in_float64():
    import tracemalloc

    tracemalloc.start()
    try:
        layer = Dense(2000, 2500, rng=0)          # 20 MB of float32 weights
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    from scratchnn.layers import dense

    # The layer's own weights and dweights, and one float64 block of draws: not the 40 MB
    # of float64 draws plus their 40 MB scaled copy that one big draw would take.
    held = layer.weights.nbytes + layer.dweights.nbytes + layer.biases.nbytes
    assert peak < held + 2 * 8 * dense._DRAW_BLOCK


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("make", [lambda: Dense(3, 3, rng=0, dtype=np.float64),
                                  lambda: snn.ReLU(), lambda: snn.Sigmoid(),
                                  lambda: snn.Softmax()])
def test_a_matrix_of_dvalues_gives_the_plain_arrays_numbers(make):
    # np.matrix makes * a matrix product: backward must see a plain array.
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-2.0, 1.0, 0.75]])
    dvalues = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9]])
    plain, matrix = make(), make()
    plain.forward(x)
    matrix.forward(x)
    expected = plain.backward(dvalues)
    got = matrix.backward(np.asmatrix(dvalues))
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, expected)


# --- Flatten ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 1, 4, 4), (2, 5), (1, 2, 3), (4, 2, 1, 3, 2)])
def test_flatten_rows_are_each_samples_values_in_c_order(shape):
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    out = snn.Flatten().forward(x)
    assert out.shape == (shape[0], int(np.prod(shape[1:])))
    for i in range(shape[0]):
        assert np.array_equal(out[i], x[i].ravel())    # an independent reference: ravel


@pytest.mark.parametrize("shape", [(3, 1, 4, 4), (2, 5), (2, 3, 2)])
def test_flatten_gradients(shape):
    x = np.random.default_rng(0).normal(size=shape)
    result = gradcheck(snn.Flatten(), x)
    assert set(result.errors) == {"dinputs"} and result.max_error < 1e-7, str(result)


def test_flatten_backward_gives_back_the_inputs_shape_and_values():
    layer = snn.Flatten()
    x = np.zeros((2, 1, 3, 3), dtype=np.float32)
    layer.forward(x)
    dvalues = np.arange(18, dtype=np.float32).reshape(2, 9)
    dinputs = layer.backward(dvalues)
    assert dinputs.shape == x.shape and dinputs.dtype == np.float32
    assert np.array_equal(dinputs.reshape(2, 9), dvalues)


def test_flatten_shape_inference_and_errors():
    layer = snn.Flatten()
    assert layer.output_shape((1, 28, 28)) == (784,)
    assert layer.output_shape((10,)) == (10,)
    assert layer.expected_input_shape() is None and not layer.trainable
    assert snn.Flatten.array_shapes({}) == {}
    with pytest.raises(ValueError, match="single number"):
        layer.forward(np.float32(1.0))
    with pytest.raises(ValueError, match=r"Flatten's last output \(2, 4\)"):
        layer.forward(np.zeros((2, 2, 2)))
        layer.backward(np.zeros((2, 3)))


def test_dense_shape_inference_explains_what_it_takes():
    layer = Dense(784, 10, rng=0)
    assert layer.expected_input_shape() == (784,)
    assert layer.output_shape((784,)) == (10,)
    assert Dense.array_shapes({"n_inputs": 784, "n_neurons": 10}) == {
        "weights": (784, 10), "biases": (1, 10)}
    with pytest.raises(ValueError, match=r"put Flatten\(\) before it"):
        layer.output_shape((1, 28, 28))
    with pytest.raises(ValueError, match="n_inputs must be"):
        Dense.array_shapes({"n_inputs": -1, "n_neurons": 10})


def test_dense_writes_its_gradients_into_the_arrays_it_has():
    layer = Dense(3, 2, dtype=np.float64, rng=0)
    dweights, dbiases = layer.dweights, layer.dbiases
    x = np.random.default_rng(1).normal(size=(4, 3))
    layer.forward(x)
    dvalues = np.random.default_rng(2).normal(size=(4, 2))
    layer.backward(dvalues)
    assert layer.dweights is dweights and layer.dbiases is dbiases   # in place (views stay)
    np.testing.assert_allclose(layer.dweights, x.T @ dvalues, rtol=1e-15)
    np.testing.assert_allclose(layer.dbiases, dvalues.sum(axis=0, keepdims=True), rtol=1e-15)
