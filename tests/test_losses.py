"""Losses: values, gradients of the mean loss against finite differences, accumulation."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Dense,
    MeanAbsoluteError,
    MeanSquaredError,
    Softmax,
    SoftmaxCategoricalCrossentropy,
    gradcheck,
)
from scratchnn.losses import Huber

SHAPES = [(1, 1), (1, 3), (4, 3), (9, 5)]
CLASS_SHAPES = [(1, 2), (1, 4), (4, 3), (9, 5)]


def probabilities(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Rows of a softmax, each entry well inside the clipping range [1e-7, 1 - 1e-7]."""
    logits = np.random.default_rng(seed).normal(size=shape)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def labels_for(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, shape[1], size=shape[0])


@pytest.mark.parametrize("one_hot", [False, True], ids=["int", "one-hot"])
@pytest.mark.parametrize("shape", CLASS_SHAPES)
def test_categorical_crossentropy_gradients(shape, one_hot):
    labels = labels_for(shape)
    y_true = np.eye(shape[1])[labels] if one_hot else labels
    result = gradcheck(CategoricalCrossentropy(), probabilities(shape), y_true)
    assert result.max_error < 1e-6, str(result)


@pytest.mark.parametrize("one_hot", [False, True], ids=["int", "one-hot"])
@pytest.mark.parametrize("shape", CLASS_SHAPES)
def test_fused_softmax_crossentropy_gradients(shape, one_hot):
    labels = labels_for(shape)
    y_true = np.eye(shape[1], dtype=np.int64)[labels] if one_hot else labels
    logits = np.random.default_rng(2).normal(size=shape)
    result = gradcheck(SoftmaxCategoricalCrossentropy(), logits, y_true)
    assert result.max_error < 1e-6, str(result)


@pytest.mark.parametrize("shape", SHAPES)
def test_binary_crossentropy_gradients(shape):
    rng = np.random.default_rng(3)
    y_pred = rng.uniform(0.05, 0.95, size=shape)
    y_true = rng.integers(0, 2, size=shape)
    result = gradcheck(BinaryCrossentropy(), y_pred, y_true)
    assert result.max_error < 1e-6, str(result)


@pytest.mark.parametrize("loss", [MeanSquaredError, MeanAbsoluteError, Huber,
                                  lambda: Huber(0.3)], ids=["MSE", "MAE", "Huber", "Huber-0.3"])
@pytest.mark.parametrize("shape", SHAPES)
def test_regression_loss_gradients(loss, shape):
    rng = np.random.default_rng(4)
    y_true = rng.normal(size=shape)
    # |y_pred - y_true| >= 0.1: MAE's kink is far from the step 1e-6.
    y_pred = y_true + rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 1.0, size=shape)
    result = gradcheck(loss(), y_pred, y_true)
    assert result.max_error < 1e-6, str(result)


def test_fused_gradient_equals_softmax_then_crossentropy():
    logits = np.random.default_rng(5).normal(size=(6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    fused = SoftmaxCategoricalCrossentropy()
    fused.forward(logits, labels)
    fused.backward(fused.output, labels)
    softmax, loss = Softmax(), CategoricalCrossentropy()
    softmax.forward(logits)
    loss.backward(softmax.output, labels)
    softmax.backward(loss.dinputs)
    np.testing.assert_allclose(fused.dinputs, softmax.dinputs, rtol=1e-10, atol=1e-14)


def test_values_by_hand():
    p = np.array([[0.7, 0.1, 0.2], [0.1, 0.5, 0.4]])
    expected = [-np.log(0.7), -np.log(0.5)]
    np.testing.assert_allclose(CategoricalCrossentropy().forward(p, np.array([0, 1])), expected)
    np.testing.assert_allclose(
        CategoricalCrossentropy().forward(p, np.array([[1, 0, 0], [0, 1, 0]])), expected
    )
    np.testing.assert_allclose(
        BinaryCrossentropy().forward(np.array([[0.8, 0.4]]), np.array([[1, 0]])),
        [-(np.log(0.8) + np.log(0.6)) / 2],
    )
    y_true = np.array([[1.0, 2.0], [0.0, 0.0]])
    y_pred = np.array([[1.5, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(MeanSquaredError().forward(y_pred, y_true), [0.625, 0.5])
    np.testing.assert_allclose(MeanAbsoluteError().forward(y_pred, y_true), [0.75, 0.5])


def test_clipping_keeps_confident_wrong_answers_finite():
    p = np.array([[1.0, 0.0]])
    loss = CategoricalCrossentropy()
    assert loss.forward(p, np.array([1]))[0] == pytest.approx(-np.log(1e-7))
    assert np.isfinite(loss.backward(p, np.array([1]))).all()
    binary = BinaryCrossentropy().forward(np.array([[0.0, 1.0]]), np.array([[1, 0]]))
    assert binary[0] == pytest.approx(-np.log(1e-7))


def test_calculate_accumulates_over_batches_like_the_whole():
    p = probabilities((10, 3))
    labels = labels_for((10, 3))
    loss = CategoricalCrossentropy()
    whole = loss.calculate(p, labels)
    loss.new_pass()
    for start in range(0, 10, 4):
        loss.calculate(p[start : start + 4], labels[start : start + 4])
    assert loss.calculate_accumulated() == pytest.approx(whole, rel=1e-12)
    loss.new_pass()
    assert loss.calculate_accumulated() == 0.0


def test_regularization_loss_of_remembered_layers():
    layers = [Dense(3, 2, weight_regularizer_l2=0.5, rng=0), Dense(2, 1, rng=1)]
    loss = MeanSquaredError()
    loss.remember_trainable_layers(layers)
    expected = 0.5 * float((layers[0].weights.astype(np.float64) ** 2).sum())
    assert loss.regularization_loss() == pytest.approx(expected, rel=1e-5)
    assert loss.regularization_loss(layers[1]) == 0.0
    data, penalty = loss.calculate(np.zeros((2, 1)), np.ones((2, 1)), include_regularization=True)
    assert data == 1.0 and penalty == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_the_predictions_whatever_the_labels(dtype):
    p = probabilities((4, 3)).astype(dtype)
    labels = np.array([0, 1, 2, 1])
    one_hot = np.eye(3, dtype=np.int64)[labels]
    cases = [
        (CategoricalCrossentropy(), labels),
        (CategoricalCrossentropy(), one_hot),
        (BinaryCrossentropy(), one_hot),
        (MeanSquaredError(), one_hot.astype(np.float64)),
        (MeanAbsoluteError(), one_hot.astype(np.float64)),
        (Huber(0.2), one_hot.astype(np.float64)),
    ]
    for loss, y_true in cases:
        assert loss.forward(p, y_true).dtype == dtype, type(loss).__name__
        assert loss.backward(p, y_true).dtype == dtype, type(loss).__name__
    fused = SoftmaxCategoricalCrossentropy()
    fused.forward(p, labels)
    assert fused.output.dtype == dtype
    assert fused.backward(fused.output, one_hot).dtype == dtype


@pytest.mark.parametrize("labels", [[0, 3], [-1, 2]], ids=["one-past-the-last", "negative"])
@pytest.mark.parametrize("loss", [CategoricalCrossentropy(), SoftmaxCategoricalCrossentropy()],
                         ids=["cce", "fused"])
def test_labels_just_outside_the_classes_are_refused_forward_and_backward(loss, labels):
    probabilities = np.full((2, 3), 1 / 3)
    y = np.array(labels)
    expected = rf"0\.\.2 \(the predictions have 3 columns\); got labels from {min(labels)} to "
    with pytest.raises(ValueError, match=expected):
        loss.forward(probabilities, y)
    with pytest.raises(ValueError, match=expected):
        loss.backward(probabilities, y)


@pytest.mark.parametrize("loss_class", [snn.MeanSquaredError, snn.MeanAbsoluteError,
                                        snn.BinaryCrossentropy, Huber])
def test_value_losses_take_outputs_of_any_shape_as_one_row_per_sample(loss_class):
    # (n, 2, 3) outputs are per-output losses like (n, 6): the same numbers and gradients.
    rng = np.random.default_rng(0)
    y_pred = rng.uniform(0.1, 0.9, size=(4, 2, 3))
    y_true = (rng.uniform(size=(4, 2, 3)) > 0.5).astype(np.float64)
    flat, shaped = loss_class(), loss_class()
    np.testing.assert_array_equal(shaped.forward(y_pred, y_true),
                                  flat.forward(y_pred.reshape(4, 6), y_true.reshape(4, 6)))
    np.testing.assert_array_equal(shaped.backward(y_pred, y_true),
                                  flat.backward(y_pred.reshape(4, 6),
                                                y_true.reshape(4, 6)).reshape(4, 2, 3))
    assert gradcheck(loss_class(), y_pred, y_true).max_error < 1e-6


# -- Huber --------------------------------------------------------------------------------------


def huber_by_formula(y_pred: np.ndarray, y_true: np.ndarray, delta: float) -> np.ndarray:
    e = y_pred - y_true
    per_output = np.where(np.abs(e) <= delta, 0.5 * e**2, delta * (np.abs(e) - 0.5 * delta))
    return per_output.mean(axis=1)


def test_huber_against_its_formula():
    rng = np.random.default_rng(6)
    y_true = rng.normal(size=(7, 4))
    y_pred = y_true + rng.normal(scale=2.0, size=(7, 4))
    for delta in (1.0, 0.25, 3.0):
        loss = Huber(delta)
        np.testing.assert_allclose(loss.forward(y_pred, y_true),
                                   huber_by_formula(y_pred, y_true, delta), rtol=1e-14)
        # d/dp of the mean: e inside, delta * sign(e) outside, / (n_outputs * n_samples)
        e = y_pred - y_true
        expected = np.where(np.abs(e) <= delta, e, delta * np.sign(e)) / 4 / 7
        np.testing.assert_allclose(loss.backward(y_pred, y_true), expected, rtol=1e-14)


def test_huber_is_half_the_mse_inside_delta_and_like_the_mae_beyond():
    y_true = np.array([[0.0, 1.0, -2.0]])
    inside = y_true + np.array([[0.5, -0.9, 0.1]])     # every |e| < delta = 1
    huber, mse = Huber(1.0), MeanSquaredError()
    np.testing.assert_allclose(huber.forward(inside, y_true), mse.forward(inside, y_true) / 2,
                               rtol=1e-15)
    np.testing.assert_allclose(huber.backward(inside, y_true),
                               mse.backward(inside, y_true) / 2, rtol=1e-15)
    beyond = y_true + np.array([[3.0, -5.0, 2.5]])     # every |e| > delta = 2
    huber, mae = Huber(2.0), MeanAbsoluteError()
    # delta (|e| - delta / 2): delta times the MAE, less delta**2 / 2
    np.testing.assert_allclose(huber.forward(beyond, y_true),
                               2.0 * mae.forward(beyond, y_true) - 2.0, rtol=1e-15)
    np.testing.assert_allclose(huber.backward(beyond, y_true),
                               2.0 * mae.backward(beyond, y_true), rtol=1e-15)
    # by hand, delta = 2: e = 3, -5, 2.5 -> 2 * (3 - 1), 2 * (5 - 1), 2 * (2.5 - 1) = 4, 8, 3
    assert huber.forward(beyond, y_true)[0] == pytest.approx(15 / 3)
    # exactly at |e| = delta both pieces agree: 0.5 * 4 = 2 * (2 - 1) = 2
    assert Huber(2.0).forward(np.array([[2.0]]), np.array([[0.0]]))[0] == 2.0


def test_huber_is_finite_for_huge_errors_in_float32(raise_float_errors):
    y_pred = np.array([[1e38, -1e38, 0.5]], dtype=np.float32)   # e**2 would overflow
    y_true = np.zeros((1, 3), dtype=np.float32)
    loss = Huber()
    losses = loss.forward(y_pred, y_true)
    assert losses.dtype == np.float32 and np.isfinite(losses).all()
    np.testing.assert_array_equal(loss.backward(y_pred, y_true),
                                  np.array([[1, -1, 0.5]], dtype=np.float32) / 3)


def test_huber_delta_is_checked_and_its_config_round_trips():
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="delta must be"):
            Huber(bad)
    with pytest.raises(TypeError, match="delta must be a real number"):
        Huber("1")  # type: ignore[arg-type]
    loss = Huber(0.5)
    assert loss.get_config() == {"delta": 0.5}
    assert Huber(**loss.get_config()).delta == 0.5
    assert repr(loss) == "Huber(delta=0.5)"
    assert isinstance(loss.default_accuracy(), snn.RegressionAccuracy)
    from scratchnn.registry import build_entry, describe_entry, lookup

    assert lookup("loss", "Huber") is Huber
    rebuilt = build_entry("loss", describe_entry("loss", loss))
    assert isinstance(rebuilt, Huber) and rebuilt.delta == 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 128])
def test_categorical_crossentropy_is_the_books_formula_to_the_last_bit(dtype, n):
    # The loss clips only the true class's probability and reduces once; the book clips
    # every probability, picks, and takes np.mean: the numbers must be the same.
    rng = np.random.default_rng(n)
    y_pred = rng.dirichlet(np.full(10, 0.3), size=n).astype(dtype)
    y_true = rng.integers(0, 10, size=n)
    y_pred[0, y_true[0]] = 0.0                    # clipped up to 1e-7
    if n > 1:
        y_pred[1, y_true[1]] = 1.0                # clipped down to 1 - 1e-7
    clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
    book_losses = -np.log(clipped[range(n), y_true])
    loss = CategoricalCrossentropy()
    np.testing.assert_array_equal(loss.forward(y_pred, y_true), book_losses)
    assert loss.calculate(y_pred, y_true) == float(np.mean(book_losses))
    assert loss.accumulated_sum == float(np.sum(book_losses))
    assert loss.accumulated_count == n
