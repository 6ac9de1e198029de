"""Activations: values, gradients against finite differences, predictions and stability."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh, gradcheck
from scratchnn.activations import ELU, GELU, SiLU

ACTIVATIONS = [ReLU, lambda: LeakyReLU(0.1), Sigmoid, Tanh, Softmax, Linear,
               GELU, lambda: GELU("tanh"), ELU, lambda: ELU(0.5), SiLU]
IDS = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Linear",
       "GELU", "GELU-tanh", "ELU", "ELU-0.5", "SiLU"]
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


# -- GELU, ELU, SiLU: values and derivatives against formulas written out here -----------------

GRID = np.linspace(-8.0, 8.0, 801).reshape(1, -1)   # float64; 0 and +-8 included


def derivative(activation, x: np.ndarray) -> np.ndarray:
    activation.forward(x)
    return activation.backward(np.ones_like(x))


def test_exact_gelu_against_math_erf():
    x = np.concatenate([GRID, [[-30.0, -12.5, 1e-300, -1e-300, 12.5, 30.0]]], axis=1)
    values = x.ravel().tolist()
    phi = [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in values]
    density = [math.exp(-v * v / 2) / math.sqrt(2 * math.pi) for v in values]
    expected = np.array([[v * p for v, p in zip(values, phi, strict=True)]])
    expected_slope = np.array([[p + v * d for v, p, d in zip(values, phi, density, strict=True)]])
    np.testing.assert_allclose(GELU().forward(x), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(derivative(GELU(), x), expected_slope, rtol=1e-12, atol=1e-15)


def test_normal_cdf_keeps_its_relative_accuracy_in_the_left_tail():
    from scratchnn.activations import normal_cdf_pdf

    x = np.linspace(-37.0, 0.0, 1001)
    expected = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x.tolist()])
    np.testing.assert_allclose(normal_cdf_pdf(x)[0], expected, rtol=1e-12)


def test_tanh_gelu_against_its_formula():
    x = GRID
    c = math.sqrt(2 / math.pi)
    th = np.tanh(c * (x + 0.044715 * x**3))
    # 1 + th cancels for x << 0 in this reference (not in GELU), hence the absolute tolerance
    np.testing.assert_allclose(GELU("tanh").forward(x), 0.5 * x * (1 + th), rtol=1e-13,
                               atol=1e-15)
    # d/dx: 0.5 (1 + th) + 0.5 x (1 - th^2) c (1 + 3 * 0.044715 x^2), by the chain rule
    slope = 0.5 * (1 + th) + 0.5 * x * (1 - th**2) * c * (1 + 3 * 0.044715 * x**2)
    np.testing.assert_allclose(derivative(GELU("tanh"), x), slope, rtol=1e-13, atol=1e-13)
    # the approximation is close to the exact GELU (within ~5e-4 everywhere)
    assert np.max(np.abs(GELU("tanh").forward(x) - GELU().forward(x))) < 1e-3


def test_elu_against_its_formula():
    x = GRID
    for alpha in (1.0, 0.3, 0.0):
        elu = ELU(alpha)
        np.testing.assert_allclose(elu.forward(x), np.where(x > 0, x, alpha * (np.exp(x) - 1)),
                                   rtol=1e-14, atol=1e-16)
        slope = np.where(x > 0, 1.0, alpha * np.exp(x))   # d/dx alpha (e^x - 1) = alpha e^x
        np.testing.assert_allclose(derivative(elu, x), slope, rtol=1e-14)


def test_silu_against_its_formula():
    x = GRID
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(SiLU().forward(x), x * s, rtol=1e-14)
    # d/dx x s(x) = s + x s (1 - s), since s' = s (1 - s)
    np.testing.assert_allclose(derivative(SiLU(), x), s + x * s * (1 - s), rtol=1e-13)


@pytest.mark.parametrize("make", [GELU, lambda: GELU("tanh"), ELU, SiLU],
                         ids=["GELU", "GELU-tanh", "ELU", "SiLU"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_new_activations_are_finite_at_the_extremes(make, dtype, raise_float_errors):
    big = np.finfo(dtype).max
    x = np.array([[-np.inf, -big, -1e4, -50.0, 0.0, 50.0, 1e4, big, np.inf]], dtype=dtype)
    activation = make()
    output = activation.forward(x)
    assert output.dtype == dtype
    np.testing.assert_array_equal(output[0, 4:], x[0, 4:])   # x itself for x >= 0 large
    assert np.isfinite(output[0, :-1]).all()
    dinputs = activation.backward(np.ones_like(x))
    assert dinputs.dtype == dtype and np.isfinite(dinputs).all()


def test_new_activations_keep_float32_close_to_float64():
    x = GRID
    for make in (GELU, lambda: GELU("tanh"), ELU, SiLU):
        single = make().forward(x.astype(np.float32))
        assert single.dtype == np.float32
        np.testing.assert_allclose(single, make().forward(x), rtol=1e-6, atol=1e-7)


def test_arguments_are_checked_and_configs_round_trip():
    with pytest.raises(ValueError, match='approximate must be "none"'):
        GELU("erf")
    with pytest.raises(ValueError, match="approximate must be"):
        GELU(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha must be in"):
        ELU(-1.0)
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        ELU(float("inf"))
    with pytest.raises(TypeError, match="alpha must be a real number"):
        ELU("1")  # type: ignore[arg-type]
    for layer in (GELU(), GELU("tanh"), ELU(0.25), SiLU()):
        rebuilt = type(layer).from_config(layer.get_config())
        assert rebuilt.get_config() == layer.get_config()
    assert GELU("tanh").get_config() == {"approximate": "tanh"}
    assert ELU(0.25).get_config() == {"alpha": 0.25}
    assert SiLU().get_config() == {}


@pytest.mark.parametrize("make", [GELU, SiLU, ELU], ids=["GELU", "SiLU", "ELU"])
def test_a_model_with_the_new_activation_trains_saves_and_loads(make, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = np.sin(X).sum(axis=1, keepdims=True)
    model = snn.Model(seed=0)
    model.add(snn.Dense(3, 16, rng=0))
    model.add(make())
    model.add(snn.Dense(16, 1, rng=1))
    model.add(Linear())
    model.set(loss=snn.MeanSquaredError(), optimizer=snn.Adam(learning_rate=0.01))
    model.finalize()
    before = model.loss.calculate(model.predict(X), y)
    model.fit(X, y, epochs=100, verbose=0)
    after = model.loss.calculate(model.predict(X), y)
    assert after < 0.5 * before
    model.save(tmp_path / "model.snn")
    loaded = snn.load_model(tmp_path / "model.snn")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_against_torch_if_installed():
    torch = pytest.importorskip("torch")
    x = GRID.ravel()
    tx = torch.tensor(x, requires_grad=True)
    for ours, theirs in ((GELU(), torch.nn.GELU()), (GELU("tanh"), torch.nn.GELU("tanh")),
                         (ELU(0.7), torch.nn.ELU(0.7)), (SiLU(), torch.nn.SiLU())):
        out = theirs(tx)
        (grad,) = torch.autograd.grad(out.sum(), tx)
        np.testing.assert_allclose(ours.forward(x.reshape(1, -1))[0], out.detach().numpy(),
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(derivative(ours, x.reshape(1, -1))[0], grad.numpy(),
                                   rtol=1e-10, atol=1e-14)
