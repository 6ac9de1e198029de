"""Activations: values, gradients against finite differences, predictions and stability."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh, gradcheck

ACTIVATIONS = [ReLU, lambda: LeakyReLU(0.1), Sigmoid, Tanh, Softmax, Linear]
IDS = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Linear"]
SHAPES = [(1, 1), (1, 3), (4, 5), (7, 2)]


def away_from_zero(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Inputs in +-[0.1, 3]: no ReLU/LeakyReLU kink within the step 1e-6."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 3.0, size=shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("make", ACTIVATIONS, ids=IDS)
def test_gradients(make, shape):
    result = gradcheck(make(), away_from_zero(shape))
    assert result.max_error < 1e-6, str(result)


@pytest.mark.parametrize("make", ACTIVATIONS, ids=IDS)
def test_contract(make):
    activation = make()
    for dtype in (np.float32, np.float64):
        x = away_from_zero((3, 4)).astype(dtype)
        output = activation.forward(x)
        assert output.shape == (3, 4) and output.dtype == dtype
        dinputs = activation.backward(np.ones((3, 4), dtype=dtype))
        assert dinputs.shape == (3, 4) and dinputs.dtype == dtype
    assert activation.parameters() == [] and not activation.trainable
    assert activation.regularization_loss() == 0.0


def test_values():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(ReLU().forward(x), [[0, 0, 0, 0.5, 2]])
    np.testing.assert_allclose(LeakyReLU(0.1).forward(x), [[-0.2, -0.05, 0, 0.5, 2]])
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x))
    np.testing.assert_array_equal(Linear().forward(x), x)
    softmax = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(Softmax().forward(x), softmax, rtol=1e-14)


def test_relu_gradient_is_zero_at_and_below_zero():
    relu = ReLU()
    relu.forward(np.array([[-1.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(relu.backward(np.array([[5.0, 5.0, 5.0]])), [[0, 0, 5]])


def test_integer_inputs_become_float32():
    for activation in (ReLU(), Sigmoid(), Softmax(), Tanh(), Linear(), LeakyReLU()):
        assert activation.forward(np.array([[1, 2, 3]])).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_huge_logits_stay_finite_and_normalised(dtype, raise_float_errors):
    x = np.array([[1e4, -1e4, 0.0], [1e30, 1e30, -1e30], [-5e3, -5e3 + 1, -5e3 + 2]], dtype=dtype)
    output = Softmax().forward(x)
    assert np.isfinite(output).all()
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(output[0], [1, 0, 0])
    np.testing.assert_allclose(output[1], [0.5, 0.5, 0])
    np.testing.assert_allclose(output[2], Softmax().forward(np.array([[0.0, 1.0, 2.0]]))[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_finite_for_huge_inputs(dtype, raise_float_errors):
    sigmoid = Sigmoid()
    output = sigmoid.forward(np.array([[1e4, -1e4, 50.0, -50.0, 0.0]], dtype=dtype))
    assert np.isfinite(output).all()
    np.testing.assert_allclose(output[0, :2], [1.0, 0.0])
    assert output[0, 4] == 0.5
    assert np.isfinite(sigmoid.backward(np.ones_like(output))).all()


def test_predictions():
    assert Softmax().predictions(np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])).tolist() == [1, 0]
    assert Sigmoid().predictions(np.array([[0.2], [0.8]])).tolist() == [[0], [1]]
    values = np.array([[1.5, -2.0]])
    for activation in (ReLU(), LeakyReLU(), Tanh(), Linear()):
        np.testing.assert_array_equal(activation.predictions(values), values)


def test_linear_backward_is_a_copy():
    linear = Linear()
    linear.forward(np.ones((2, 2)))
    dvalues = np.ones((2, 2))
    assert linear.backward(dvalues) is not dvalues


def test_leaky_relu_alpha_is_checked():
    with pytest.raises(ValueError, match="alpha must be in"):
        LeakyReLU(-0.1)
    assert LeakyReLU(0.2).get_config() == {"alpha": 0.2}


def test_leaky_relu_extremes_without_warnings():
    # warnings are errors in this suite: alpha * inf must not be computed where it is unused
    out = LeakyReLU(0.0).forward(np.array([[-np.inf, np.inf, -2.0, 3.0]]))
    np.testing.assert_array_equal(out, [[0.0, np.inf, 0.0, 3.0]])
    big = LeakyReLU(2.0).forward(np.array([[3e38, -1.0]], dtype=np.float32))
    np.testing.assert_array_equal(big, np.array([[3e38, -2.0]], dtype=np.float32))
