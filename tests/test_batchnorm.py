"""BatchNorm: PyTorch's formulas written out the long way as the reference, gradients by the
chain rule per element and by finite differences, running statistics, errors, and a model
that trains, saves and loads them."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import gradcheck, registry
from scratchnn.datasets import spiral_data
from scratchnn.layers.batchnorm import BatchNorm

EPS = 1e-5


def feature_values(x, f):
    """The values of feature ``f`` in the batch ``x``, as a flat list (n, or n * h * w)."""
    return [float(v) for v in np.moveaxis(x, 1, 0)[f].ravel()]


def reference_forward(x, gamma, beta, mean=None, var=None, eps=EPS):
    """``gamma * (x - mean) / sqrt(var + eps) + beta`` feature by feature with plain sums;
    the batch's mean and biased variance unless given (the running statistics)."""
    out = np.empty(x.shape)
    for f in range(x.shape[1]):
        values = feature_values(x, f)
        mu = sum(values) / len(values) if mean is None else mean[f]
        sigma2 = (sum((v - mu) ** 2 for v in values) / len(values) if var is None else var[f])
        out[:, f] = gamma[f] * (x[:, f] - mu) / math.sqrt(sigma2 + eps) + beta[f]
    return out


def reference_training_gradients(x, gamma, dvalues, eps=EPS):
    """d(sum(output * dvalues))/d(x, gamma, beta) by the chain rule, one element at a time.

    For one feature with values x_1..x_m, ``mu = sum x / m``, ``v = sum (x - mu)**2 / m``,
    ``s = (v + eps) ** -0.5``, ``y_i = gamma * (x_i - mu) * s + beta``:
    ``dmu/dx_j = 1/m``, ``dv/dx_j = 2 (x_j - mu) / m`` (the mean's part sums to 0),
    ``ds/dx_j = -s**3 (x_j - mu) / m``, so
    ``dy_i/dx_j = gamma * s * ([i == j] - 1/m) - gamma * (x_i - mu) * s**3 * (x_j - mu) / m``.
    """
    n_features = x.shape[1]
    dx = np.zeros(x.shape)
    dgamma, dbeta = np.zeros(n_features), np.zeros(n_features)
    moved_dx = np.moveaxis(dx, 1, 0)          # a view: writing it writes dx
    for f in range(n_features):
        xs, ds = feature_values(x, f), feature_values(dvalues, f)
        m = len(xs)
        mu = sum(xs) / m
        s = (sum((v - mu) ** 2 for v in xs) / m + eps) ** -0.5
        grads = []
        for j in range(m):
            total = 0.0
            for i in range(m):
                jacobian = (gamma[f] * s * ((i == j) - 1 / m)
                            - gamma[f] * (xs[i] - mu) * s**3 * (xs[j] - mu) / m)
                total += ds[i] * jacobian
            grads.append(total)
        moved_dx[f] = np.reshape(grads, moved_dx[f].shape)
        dgamma[f] = sum(d * (v - mu) * s for d, v in zip(ds, xs, strict=True))
        dbeta[f] = sum(ds)
    return dx, dgamma, dbeta


def float64_layer(n_features, seed=0, **kwargs):
    """A float64 BatchNorm with gamma and beta away from their initial ones and zeros."""
    rng = np.random.default_rng(seed)
    layer = BatchNorm(n_features, dtype=np.float64, **kwargs)
    layer.gamma[...] = rng.uniform(0.5, 2.0, n_features)
    layer.beta[...] = rng.normal(size=n_features)
    return layer


SHAPES = [(6, 3), (5, 2, 3, 2), (2, 4, 1, 3), (2, 1), (3, 2, 4)]


# --- agreement with the formulas -------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_training_forward_and_backward_match_the_formulas(shape):
    rng = np.random.default_rng(1)
    layer = float64_layer(shape[1])
    x = rng.normal(2.0, 3.0, size=shape)
    output = layer.forward(x, training=True)
    np.testing.assert_allclose(output, reference_forward(x, layer.gamma, layer.beta),
                               rtol=0, atol=1e-9)
    dvalues = rng.normal(size=shape)
    dinputs = layer.backward(dvalues)
    dx, dgamma, dbeta = reference_training_gradients(x, layer.gamma, dvalues)
    np.testing.assert_allclose(dinputs, dx, rtol=0, atol=1e-9)
    np.testing.assert_allclose(layer.dgamma, dgamma, rtol=0, atol=1e-9)
    np.testing.assert_allclose(layer.dbeta, dbeta, rtol=0, atol=1e-9)


def _central_difference(f, array, step=1e-5):
    grad = np.zeros(array.shape)
    for index in np.ndindex(*array.shape):
        saved = array[index]
        array[index] = saved + step
        plus = f()
        array[index] = saved - step
        minus = f()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * step)
    return grad


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 2, 3)], ids=str)
def test_training_gradients_match_finite_differences_of_the_reference(shape):
    # The reference function is a quadratic-over-sqrt; its central differences with a step of
    # 1e-5 are within ~1e-9 of the derivative for values of order 1.
    rng = np.random.default_rng(2)
    layer = float64_layer(shape[1], seed=3)
    x = rng.normal(size=shape)
    dvalues = rng.normal(size=shape)
    gamma, beta = layer.gamma.copy(), layer.beta.copy()

    def f():
        return float(np.sum(reference_forward(x, gamma, beta) * dvalues))

    layer.forward(x, training=True)
    layer.backward(dvalues)
    np.testing.assert_allclose(layer.dinputs, _central_difference(f, x), rtol=0, atol=1e-8)
    np.testing.assert_allclose(layer.dgamma, _central_difference(f, gamma), rtol=0, atol=1e-8)
    np.testing.assert_allclose(layer.dbeta, _central_difference(f, beta), rtol=0, atol=1e-8)


@pytest.mark.parametrize("shape", [(4, 3), (2, 2, 3, 3)], ids=str)
def test_inference_uses_the_running_statistics_and_their_affine_gradient(shape):
    rng = np.random.default_rng(4)
    layer = float64_layer(shape[1])
    layer.running_mean[...] = rng.normal(size=shape[1])
    layer.running_var[...] = rng.uniform(0.5, 2.0, size=shape[1])
    x = rng.normal(size=shape)
    output = layer.forward(x, training=False)
    expected = reference_forward(x, layer.gamma, layer.beta, layer.running_mean,
                                 layer.running_var)
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-9)
    dvalues = rng.normal(size=shape)
    dinputs = layer.backward(dvalues)
    for f in range(shape[1]):
        scale = layer.gamma[f] / math.sqrt(layer.running_var[f] + EPS)
        np.testing.assert_allclose(dinputs[:, f], dvalues[:, f] * scale, rtol=0, atol=1e-12)
        x_hat = (np.array(feature_values(x, f)) - layer.running_mean[f]) / math.sqrt(
            layer.running_var[f] + EPS)
        assert layer.dgamma[f] == pytest.approx(
            sum(np.array(feature_values(dvalues, f)) * x_hat), abs=1e-12)
        assert layer.dbeta[f] == pytest.approx(sum(feature_values(dvalues, f)), abs=1e-12)


@pytest.mark.parametrize("momentum", [0.1, 0.3, 0.0, 1.0])
def test_running_statistics_follow_pytorchs_update_exactly(momentum):
    rng = np.random.default_rng(5)
    layer = BatchNorm(3, momentum=momentum, dtype=np.float64)
    mean, var = np.zeros(3), np.ones(3)
    for step in range(4):
        x = rng.normal(step, 1 + step, size=(6, 3, 2, 2))
        layer.forward(x, training=True)
        for f in range(3):
            values = np.array(feature_values(x, f))           # m = 6 * 2 * 2 = 24 values
            mean[f] = (1 - momentum) * mean[f] + momentum * values.mean()
            var[f] = (1 - momentum) * var[f] + momentum * values.var(ddof=1)   # unbiased
        np.testing.assert_allclose(layer.running_mean, mean, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.running_var, var, rtol=0, atol=1e-12)
    # Inference moves nothing.
    layer.forward(x, training=False)
    np.testing.assert_allclose(layer.running_mean, mean, rtol=0, atol=1e-12)


def test_a_worked_example_by_hand():
    # Feature 0 holds 1 and 3: mean 2, biased variance 1, unbiased 2; x_hat = -+1/sqrt(1+eps).
    layer = BatchNorm(1, dtype=np.float64)
    output = layer.forward(np.array([[1.0], [3.0]]), training=True)
    np.testing.assert_allclose(output, [[-1 / math.sqrt(1 + EPS)], [1 / math.sqrt(1 + EPS)]],
                               rtol=1e-15)
    assert layer.running_mean[0] == pytest.approx(0.9 * 0 + 0.1 * 2, abs=1e-15)
    assert layer.running_var[0] == pytest.approx(0.9 * 1 + 0.1 * 2, abs=1e-15)


# --- numerical gradients -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 4), (1, 3, 3, 2), (4, 2, 2, 3), (3, 2, 5)], ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_batchnorm_passes_gradcheck(shape, training):
    layer = float64_layer(shape[1], seed=6)
    rng = np.random.default_rng(7)
    layer.running_mean[...] = rng.normal(size=shape[1])
    layer.running_var[...] = rng.uniform(0.5, 2.0, size=shape[1])
    result = gradcheck(layer, rng.normal(size=shape), training=training)
    assert set(result.errors) == {"dinputs", "dparameter0", "dparameter1"}
    assert result.max_error < 1e-7, str(result)


# --- dtypes, config, protocol ------------------------------------------------------------------


def test_float32_in_float32_out_and_float64_kept():
    x = np.random.default_rng(0).normal(size=(4, 3, 2, 2))
    layer = BatchNorm(3)
    output = layer.forward(x.astype(np.float32), training=True)
    assert output.dtype == np.float32
    assert layer.backward(np.ones_like(output)).dtype == np.float32
    assert {a.dtype for a in (*layer.parameters(), *layer.gradients(),
                              *layer.state().values())} == {np.dtype(np.float32)}
    wide = BatchNorm(3, dtype=np.float64)
    for inputs in (x, x.astype(np.float32)):           # float32 inputs are widened
        output = wide.forward(inputs, training=True)
        assert output.dtype == np.float64
        assert wide.backward(np.ones_like(output)).dtype == np.float64
    assert wide.running_mean.dtype == wide.gamma.dtype == np.float64


def test_gradients_are_written_into_their_arrays():
    # A model's flat parameter storage holds dgamma and dbeta as views: backward must fill
    # them, not rebind them.
    layer = BatchNorm(2)
    dgamma, dbeta = layer.dgamma, layer.dbeta
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    layer.forward(x, training=True)
    layer.backward(np.ones_like(x))
    assert layer.dgamma is dgamma and layer.dbeta is dbeta
    assert layer.dbeta.tolist() == [5.0, 5.0]


def test_a_first_layer_skips_dinputs_but_not_its_gradients():
    layer = float64_layer(2)
    layer.needs_dinputs = False
    x = np.random.default_rng(0).normal(size=(5, 2, 3))
    layer.forward(x, training=True)
    assert layer.backward(np.ones_like(x)).shape == (0, 2, 3)
    assert layer.dbeta.tolist() == [15.0, 15.0]


def test_shapes_config_and_registration():
    layer = BatchNorm(16)
    assert layer.describe() == "BatchNorm(16)"
    assert layer.gamma.shape == layer.beta.shape == (16,)
    np.testing.assert_array_equal(layer.gamma, np.ones(16))
    np.testing.assert_array_equal(layer.beta, np.zeros(16))
    np.testing.assert_array_equal(layer.running_mean, np.zeros(16))
    np.testing.assert_array_equal(layer.running_var, np.ones(16))
    assert layer.parameters() == [layer.gamma, layer.beta]
    assert set(layer.state()) == {"running_mean", "running_var"}
    assert BatchNorm.array_shapes({"n_features": 16}) == {
        "gamma": (16,), "beta": (16,), "running_mean": (16,), "running_var": (16,)}
    with pytest.raises(ValueError, match="n_features must be a positive integer; got 0"):
        BatchNorm.array_shapes({"n_features": 0})
    assert layer.output_shape((16,)) == (16,)
    assert layer.output_shape((16, 7, 7)) == (16, 7, 7)
    assert layer.expected_input_shape() is None
    assert layer.get_config() == {"n_features": 16}
    custom = BatchNorm(4, momentum=0.01, epsilon=1e-3, dtype=np.float64)
    config = custom.get_config()
    assert config == {"n_features": 4, "momentum": 0.01, "epsilon": 1e-3, "dtype": "float64"}
    cls = registry.lookup("layers", "BatchNorm")
    assert cls is BatchNorm
    assert cls.from_config(config).get_config() == config


# --- errors ------------------------------------------------------------------------------------


def test_wrong_feature_counts_and_ranks_are_explained():
    layer = BatchNorm(8)
    with pytest.raises(ValueError, match=r"BatchNorm\(8\) expects inputs shaped \(n_samples, 8\) "
                                         r"or \(n_samples, 8, height, width\), the features "
                                         r"\(channels\) on axis 1; got \(4, 3\)"):
        layer.forward(np.zeros((4, 3)), training=True)
    with pytest.raises(ValueError, match=r"got \(8,\): a single sample must still be a batch"):
        layer.forward(np.zeros(8))
    with pytest.raises(ValueError, match=r"BatchNorm\(8\) normalises 8 features .*it would get "
                                         r"samples shaped \(3, 5, 5\) \(3 on that axis\): make the "
                                         r"layer before it give 8, or build BatchNorm\(3\)"):
        layer.output_shape((3, 5, 5))
    with pytest.raises(ValueError, match=r"samples shaped \(\)"):
        layer.output_shape(())


@pytest.mark.parametrize("shape", [(1, 4), (1, 4, 1, 1), (0, 4)])
def test_one_value_per_feature_cannot_train(shape):
    layer = BatchNorm(4)
    with pytest.raises(ValueError, match=rf"BatchNorm\(4\) in training mode needs at least 2 "
                                         rf"values per feature .*shaped {re_shape(shape)} "
                                         rf"\({shape[0]} per feature\): train with batches of 2 "
                                         rf"samples or more.*training=False"):
        layer.forward(np.zeros(shape), training=True)
    np.testing.assert_array_equal(layer.running_mean, np.zeros(4))   # nothing moved
    assert layer.forward(np.ones(shape), training=False).shape == shape


def re_shape(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"n_features": 0}, ValueError, r"n_features must be a positive integer; got 0"),
    ({"n_features": 2.5}, TypeError, r"n_features must be a positive integer; got 2\.5"),
    ({"momentum": -0.1}, ValueError, r"momentum must be in \[0\.0, 1\.0\]; got -0\.1"),
    ({"momentum": 1.5}, ValueError, r"momentum must be in \[0\.0, 1\.0\]; got 1\.5"),
    ({"momentum": "0.1"}, TypeError, r"momentum must be a real number; got '0\.1'"),
    ({"epsilon": 0}, ValueError, r"epsilon must be in \(0\.0, inf\); got 0\.0"),
    ({"epsilon": -1e-5}, ValueError, r"epsilon must be in \(0\.0, inf\); got -1e-05"),
    ({"epsilon": math.nan}, ValueError, r"epsilon must be a finite number"),
    ({"dtype": np.int32}, TypeError, r"dtype must be numpy\.float32 or numpy\.float64"),
])
def test_bad_arguments_are_refused_naming_them(kwargs, error, message):
    with pytest.raises(error, match=message):
        BatchNorm(**{"n_features": 3, **kwargs})


# --- in a model --------------------------------------------------------------------------------


def test_a_batchnorm_model_trains_and_round_trips_its_running_statistics(tmp_path):
    X, y = spiral_data(samples=100, classes=3, rng=0)
    model = snn.Model(
        [snn.Dense(2, 8, rng=0), BatchNorm(8), snn.ReLU(), snn.Dense(8, 3, rng=1),
         snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(learning_rate=0.05), seed=0,
    )
    history = model.fit(X, y, epochs=100, batch_size=50, verbose=0)
    losses = history.history["loss"]
    # Eight hidden neurons do not untangle three spiral arms, but they learn part of them
    # (measured: 1.12 -> 0.93; accuracy 0.52, chance 0.33).
    assert losses[-1] < 0.9 * losses[0]
    assert model.evaluate(X, y, verbose=0)["accuracy"] > 0.45
    norm = model.layers[1]
    assert not np.allclose(norm.running_mean, 0) and not np.allclose(norm.running_var, 1)
    assert not np.array_equal(norm.gamma, np.ones(8))        # trained through the model
    summary = model.summary().splitlines()
    assert summary[2].split() == ["BatchNorm(8)", "(8,)", "16"]
    path = tmp_path / "normed.snn"
    model.save(path)
    loaded = snn.load_model(path)
    loaded_norm = loaded.layers[1]
    assert isinstance(loaded_norm, BatchNorm)
    np.testing.assert_array_equal(loaded_norm.running_mean, norm.running_mean)
    np.testing.assert_array_equal(loaded_norm.running_var, norm.running_var)
    np.testing.assert_array_equal(loaded_norm.gamma, norm.gamma)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # Prediction (inference) used the running statistics: it differs from a training pass.
    assert not np.allclose(model.predict(X), model.forward(X, training=True))
