"""scratchnn.sklearn: the estimators fit, predict and reproduce."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from scratchnn.sklearn import NeuralNetClassifier, NeuralNetRegressor


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_classifier_learns_iris_and_repeats() -> None:
    X, y = load_iris(return_X_y=True)
    a = NeuralNetClassifier((16,), max_iter=50, learning_rate_init=0.01, random_state=0)
    b = NeuralNetClassifier((16,), max_iter=50, learning_rate_init=0.01, random_state=0)
    assert a.fit(X, y).score(X, y) > 0.8
    np.testing.assert_array_equal(a.predict_proba(X), b.fit(X, y).predict_proba(X))


def test_regressor_warns_convergence() -> None:
    X = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.warns(ConvergenceWarning):
        NeuralNetRegressor((4,), max_iter=2, random_state=0).fit(X, X[:, :2])


def test_import_scratchnn_does_not_import_sklearn() -> None:
    import subprocess
    import sys

    code = "import sys, scratchnn; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pickle_round_trip_and_clone() -> None:
    import pickle

    from sklearn.base import clone

    X, y = load_iris(return_X_y=True)
    model = NeuralNetClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.predict(X), again.predict(X))
    assert clone(model).get_params() == model.get_params()


def test_bad_activation_names_the_parameter() -> None:
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="activation"):
        NeuralNetClassifier(activation="nope").fit(X, y)
