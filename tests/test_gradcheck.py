"""The gradient checker itself: agrees with an independent finite difference, fails wrong code."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import (
    CategoricalCrossentropy,
    Dense,
    GradcheckResult,
    MeanSquaredError,
    ReLU,
    Sigmoid,
    gradcheck,
)
from scratchnn.gradcheck import numerical_gradient, relative_error


def hand_written_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences written independently of scratchnn.gradcheck.

    Each entry is perturbed on a fresh copy of ``x`` (no in-place view tricks) and ``f`` takes
    the perturbed array as an argument.
    """
    grad = np.empty(x.shape, dtype=np.float64)
    for index in np.ndindex(*x.shape):
        up = x.copy()
        down = x.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


def assert_close_gradients(analytic, numeric):
    analytic = np.asarray(analytic, dtype=np.float64)
    scale = max(np.abs(analytic).max(), np.abs(numeric).max())
    assert scale > 0, "a gradient that is zero everywhere proves nothing"
    assert np.abs(analytic - numeric).max() / scale < 1e-6


@pytest.mark.parametrize("n_samples", [1, 5])
def test_dense_with_l2_against_hand_written_differences(n_samples):
    rng = np.random.default_rng(7)
    layer = Dense(4, 3, weight_regularizer_l2=0.3, bias_regularizer_l2=0.2, dtype=np.float64, rng=1)
    layer.biases = rng.normal(size=(1, 3))
    x = rng.normal(size=(n_samples, 4))
    projection = rng.normal(size=(n_samples, 3))

    layer.forward(x)
    layer.backward(projection)
    dweights, dbiases, dinputs = layer.dweights.copy(), layer.dbiases.copy(), layer.dinputs.copy()

    w0, b0 = layer.weights.copy(), layer.biases.copy()

    def objective(weights, biases, inputs):
        # Written out in full, not through the layer: sum(out * R) + penalties.
        out = inputs @ weights + biases
        return np.sum(out * projection) + 0.3 * np.sum(weights**2) + 0.2 * np.sum(biases**2)

    assert_close_gradients(dweights, hand_written_gradient(lambda w: objective(w, b0, x), w0))
    assert_close_gradients(dbiases, hand_written_gradient(lambda b: objective(w0, b, x), b0))
    assert_close_gradients(dinputs, hand_written_gradient(lambda i: objective(w0, b0, i), x))


def test_library_numerical_gradient_agrees_with_hand_written_one():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4))
    target = rng.normal(size=(3, 4))

    def f_of(array):
        return float(np.sum(np.tanh(array) * target) + np.sum(array**3))

    library_x = x.copy()
    library = numerical_gradient(lambda: f_of(library_x), library_x)
    exact = (1 - np.tanh(x) ** 2) * target + 3 * x**2
    np.testing.assert_allclose(library, hand_written_gradient(f_of, x), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(library, exact, rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(library_x, x)  # the perturbations were all undone


def test_loss_check_against_hand_written_differences():
    rng = np.random.default_rng(5)
    y_pred = rng.uniform(0.1, 0.9, size=(4, 3))
    labels = np.array([0, 2, 1, 2])
    loss = CategoricalCrossentropy()
    loss.backward(y_pred, labels)

    def mean_loss(pred):
        return -np.mean(np.log(pred[np.arange(4), labels]))

    assert_close_gradients(loss.dinputs, hand_written_gradient(mean_loss, y_pred))
    assert gradcheck(loss, y_pred, labels).max_error < 1e-6


class ReLUWithoutMask(ReLU):
    """Deliberately wrong: forgets that the gradient is 0 where the input was negative."""

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        return self.dinputs


class DenseWithTransposeSlip(Dense):
    """Deliberately wrong: scales dweights by 2 (a classic slip), dinputs left correct."""

    def backward(self, dvalues):
        super().backward(dvalues)
        self.dweights = 2 * self.dweights
        return self.dinputs


class DenseForgettingL2(Dense):
    """Deliberately wrong: the L2 penalty's gradient is left out."""

    def backward(self, dvalues):
        self.dweights = self.inputs.T @ dvalues
        self.dbiases = dvalues.sum(axis=0, keepdims=True)
        self.dinputs = dvalues @ self.weights.T
        return self.dinputs


class SigmoidWrongDerivative(Sigmoid):
    """Deliberately wrong: uses s instead of s * (1 - s)."""

    def backward(self, dvalues):
        self.dinputs = dvalues * self.output
        return self.dinputs


class MSEWrongSign(MeanSquaredError):
    def backward(self, dvalues, y_true):
        super().backward(dvalues, y_true)
        self.dinputs = -self.dinputs
        return self.dinputs


def test_gradcheck_fails_a_relu_without_mask():
    x = np.array([[-1.0, 0.5, 2.0], [0.3, -0.7, -1.2]])
    assert gradcheck(ReLU(), x).ok
    result = gradcheck(ReLUWithoutMask(), x)
    assert not result.ok
    assert not bool(result)
    assert result.errors["dinputs"] > 0.1
    assert "FAILED" in str(result)


def test_gradcheck_fails_a_wrong_dweights_and_names_it():
    x = np.random.default_rng(0).normal(size=(3, 4))
    result = gradcheck(DenseWithTransposeSlip(4, 2, dtype=np.float64, rng=0), x)
    assert not result.ok
    assert result.errors["dweights"] > 0.1
    assert result.errors["dinputs"] < 1e-6
    assert result.errors["dbiases"] < 1e-6


def test_gradcheck_fails_a_forgotten_regularisation_gradient():
    x = np.random.default_rng(0).normal(size=(3, 4))
    layer = DenseForgettingL2(4, 2, weight_regularizer_l2=0.5, weight_scale=1.0, dtype=np.float64)
    result = gradcheck(layer, x)
    assert not result.ok
    assert result.errors["dweights"] > 1e-3


def test_gradcheck_fails_a_wrong_activation_and_a_wrong_loss():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3))
    assert not gradcheck(SigmoidWrongDerivative(), x).ok
    assert not gradcheck(MSEWrongSign(), x, rng.normal(size=(4, 3))).ok


def test_gradcheck_refuses_float32_parameters():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Dense(3, 2, rng=0), np.ones((2, 3)))


def test_gradcheck_of_a_loss_needs_y_true():
    with pytest.raises(ValueError, match="y_true"):
        gradcheck(MeanSquaredError(), np.ones((2, 3)))


def test_relative_error_and_result():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([0.0, 0.0])) == 1.0
    assert relative_error(np.array([3.0, 4.0]), np.array([3.0, 4.0])) == 0.0
    result = GradcheckResult({"dinputs": 1e-9, "dweights": 3e-6}, tolerance=1e-6)
    assert result.max_error == 3e-6
    assert not result.ok
    assert "dweights: relative error 3.00e-06" in str(result)
    assert GradcheckResult({"dinputs": 1e-9}).ok


def test_gradcheck_perturbs_non_contiguous_parameters():
    # Weights written the seed's way (one row per neuron) and assigned transposed are a
    # Fortran-ordered view; the numerical gradient must still perturb the layer's own array.
    layer = Dense(4, 3, dtype=np.float64, rng=0)
    layer.weights = np.random.default_rng(0).normal(size=(3, 4)).T
    assert not layer.weights.flags.c_contiguous
    result = gradcheck(layer, np.random.default_rng(1).normal(size=(2, 4)))
    assert result.max_error < 1e-6, str(result)


def test_l1_kink_at_fresh_zero_biases_is_explained_and_nudging_fixes_it():
    layer = Dense(3, 2, dtype=np.float64, rng=0, bias_regularizer_l1=0.1)
    inputs = np.random.default_rng(1).normal(size=(4, 3))
    result = gradcheck(layer, inputs)
    assert not result.ok
    assert result.errors["dbiases"] >= result.tolerance
    assert "2 entries are exactly 0 under bias_regularizer_l1=0.1" in result.notes["dbiases"]
    assert "nudge them away from 0" in str(result)
    assert "dweights" not in result.notes and "dinputs" not in result.notes
    layer.biases += 0.1
    nudged = gradcheck(layer, inputs)
    assert nudged.ok and not nudged.notes



def test_a_nan_gradient_never_passes():
    class NanDense(snn.Dense):
        def backward(self, dvalues):
            super().backward(dvalues)
            self.dweights[:] = np.nan
            return self.dinputs

    x = np.random.default_rng(0).normal(size=(4, 3))
    result = snn.gradcheck(NanDense(3, 2, dtype=np.float64, rng=0), x)
    assert not result and not result.ok
    assert np.isnan(result.max_error)
    assert "FAILED" in str(result) and "NaN or infinity" in str(result)


def test_a_models_first_layer_can_be_checked_after_fit():
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    model = snn.Model([snn.Dense(3, 4, dtype=np.float64, rng=0), snn.ReLU(),
                       snn.Dense(4, 2, dtype=np.float64, rng=1), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=0)
    model.fit(X, y, epochs=1, verbose=0)
    first = model.layers[0]
    assert first.needs_dinputs is False
    assert snn.gradcheck(first, X[:5])
    assert first.needs_dinputs is False        # left as the model set it


def test_a_gradient_of_the_wrong_shape_is_named():
    class Transposed(snn.Dense):
        def backward(self, dvalues):
            super().backward(dvalues)
            self.dweights = self.dweights.T.copy()
            return self.dinputs

    x = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(ValueError, match=r"analytic dweights has shape \(2, 3\) but must have "
                                         r"the shape of what it is the gradient of, \(3, 2\)"):
        snn.gradcheck(Transposed(3, 2, dtype=np.float64, rng=0), x)


def test_a_book_style_activation_can_be_checked():
    # Written as in the book: forward(inputs) stores self.output and returns nothing, no
    # parameters() or training argument.
    class Activation_Tanh:
        def forward(self, inputs):
            self.inputs = inputs
            self.output = np.tanh(inputs)

        def backward(self, dvalues):
            self.dinputs = dvalues * (1 - self.output**2)

    x = np.random.default_rng(0).normal(size=(4, 3))
    result = snn.gradcheck(Activation_Tanh(), x)
    assert result and list(result.errors) == ["dinputs"]

    class WrongTanh(Activation_Tanh):
        def backward(self, dvalues):
            self.dinputs = dvalues * (1 - self.output)        # forgot the square

    assert not snn.gradcheck(WrongTanh(), x)


def test_the_books_float32_layer_gets_a_way_out():
    from scratchnn import book

    with pytest.raises(TypeError, match=r"Layer_Dense is always float32: check the same layer "
                                        r"as scratchnn.Dense\(n_inputs, n_neurons, "
                                        r"dtype=numpy.float64\)"):
        snn.gradcheck(book.Layer_Dense(3, 2), np.ones((2, 3)))
