"""Accuracy metrics: categorical (int, one-hot, binary) and regression, and accumulation."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import CategoricalAccuracy, RegressionAccuracy, Sigmoid, Softmax

PREDICTED = np.array([0, 2, 1, 1, 0])
LABELS = np.array([0, 2, 2, 1, 1])  # 3 of 5 right


def test_categorical_with_integer_labels():
    assert CategoricalAccuracy().calculate(PREDICTED, LABELS) == 0.6


def test_categorical_with_one_hot_labels():
    one_hot = np.eye(3, dtype=np.int64)[LABELS]
    assert CategoricalAccuracy().calculate(PREDICTED, one_hot) == 0.6


def test_categorical_from_softmax_predictions():
    probabilities = Softmax().forward(np.eye(3)[PREDICTED] * 5.0)
    predictions = Softmax().predictions(probabilities)
    assert CategoricalAccuracy().calculate(predictions, LABELS) == 0.6


def test_binary_column_predictions_against_flat_or_column_targets():
    outputs = np.array([[0.9], [0.2], [0.6], [0.4]])
    predictions = Sigmoid().predictions(outputs)  # (4, 1): 1, 0, 1, 0
    flat = np.array([1, 0, 0, 0])
    accuracy = CategoricalAccuracy(binary=True)
    assert accuracy.calculate(predictions, flat) == 0.75
    assert accuracy.calculate(predictions, flat.reshape(-1, 1)) == 0.75


def test_binary_mode_compares_every_output():
    predictions = np.array([[1, 0], [1, 1]])
    targets = np.array([[1, 1], [1, 1]])
    # Without binary=True the 2-D targets would be read as one-hot.
    assert CategoricalAccuracy(binary=True).calculate(predictions, targets) == 0.75
    assert CategoricalAccuracy(binary=True).get_config() == {"binary": True}


def test_accumulated_over_batches_equals_the_whole():
    rng = np.random.default_rng(0)
    predictions = rng.integers(0, 4, size=23)
    labels = rng.integers(0, 4, size=23)
    accuracy = CategoricalAccuracy()
    whole = accuracy.calculate(predictions, labels)
    accuracy.new_pass()
    for start in range(0, 23, 5):  # uneven last batch
        accuracy.calculate(predictions[start : start + 5], labels[start : start + 5])
    assert accuracy.calculate_accumulated() == pytest.approx(whole, rel=1e-15)
    assert whole == np.mean(predictions == labels)
    accuracy.new_pass()
    assert accuracy.calculate_accumulated() == 0.0


def test_regression_precision_is_std_over_250():
    y = np.array([[1.0], [2.0], [4.0], [7.0]])
    accuracy = RegressionAccuracy()
    accuracy.init(y)
    assert accuracy.precision == pytest.approx(np.std(y) / 250, rel=1e-15)
    step = np.std(y) / 250
    predictions = y + np.array([[0.5], [-0.5], [1.5], [-3.0]]) * step
    assert accuracy.calculate(predictions, y) == 0.5


def test_regression_init_keeps_precision_unless_reinit():
    accuracy = RegressionAccuracy()
    accuracy.init(np.array([0.0, 10.0]))
    first = accuracy.precision
    accuracy.init(np.array([0.0, 1000.0]))
    assert accuracy.precision == first
    accuracy.init(np.array([0.0, 1000.0]), reinit=True)
    assert accuracy.precision == pytest.approx(500.0 / 250)


def test_regression_fixed_precision_is_never_recomputed():
    accuracy = RegressionAccuracy(precision=0.1)
    accuracy.init(np.array([0.0, 1000.0]), reinit=True)
    assert accuracy.precision == 0.1
    assert accuracy.get_config() == {"precision": 0.1}


def test_regression_initialises_itself_on_first_use_and_accepts_flat_targets():
    y = np.linspace(-1, 1, 8)
    accuracy = RegressionAccuracy()
    assert accuracy.calculate(y.reshape(-1, 1), y) == 1.0
    assert accuracy.precision == pytest.approx(np.std(y) / 250)


def test_regression_accumulated_equals_the_whole():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(30, 1))
    predictions = y + rng.normal(scale=0.01, size=(30, 1))
    accuracy = RegressionAccuracy()
    accuracy.init(y)
    whole = accuracy.calculate(predictions, y)
    assert 0 < whole < 1
    accuracy.new_pass()
    for start in range(0, 30, 7):
        accuracy.calculate(predictions[start : start + 7], y[start : start + 7])
    assert accuracy.calculate_accumulated() == pytest.approx(whole, rel=1e-15)


def test_categorical_with_a_column_of_integer_labels():
    # (n, 1) labels are labels, not one-hot rows (argmax of a single column is always 0).
    assert CategoricalAccuracy().calculate(PREDICTED, LABELS.reshape(-1, 1)) == 0.6


@pytest.mark.parametrize("accuracy", [CategoricalAccuracy(), RegressionAccuracy(),
                                      RegressionAccuracy(precision=0.1)], ids=repr)
@pytest.mark.parametrize(
    ("predictions", "y", "name"),
    [
        (np.zeros(0), np.zeros(0), "predictions"),
        (np.zeros((0, 1)), np.zeros((0, 1)), "predictions"),
        (np.zeros(3), np.zeros(0), "y"),
    ],
)
def test_empty_batches_raise_instead_of_warning(accuracy, predictions, y, name):
    with pytest.raises(ValueError, match=rf"^{name} must hold at least one sample.*undefined"):
        accuracy.calculate(predictions, y)
    assert accuracy.accumulated_count == 0


def test_regression_accuracy_on_constant_targets_counts_exact_predictions():
    accuracy = RegressionAccuracy()
    y = np.full((4, 1), 2.0)
    accuracy.init(y)
    assert accuracy.precision == 0
    assert accuracy.calculate(np.array([[2.0], [2.0], [2.5], [2.0]]), y) == 0.75


def test_only_a_column_and_a_vector_are_matched_by_reshaping():
    binary = CategoricalAccuracy(binary=True)
    assert binary.calculate(np.array([[1], [0], [1]]), np.array([1, 0, 0])) == 2 / 3
    with pytest.raises(ValueError, match="must describe the same samples"):
        binary.calculate(np.ones((3, 2), dtype=int), np.ones((2, 3), dtype=int))
