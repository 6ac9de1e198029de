"""scratchnn.sklearn: the estimators fit, predict and reproduce."""

from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

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


# -- scikit-learn's own estimator checks ---------------------------------------------------

SUBSET_REASON = (
    "float32 by default: a sample's prediction can differ in the last float32 bit (~1e-7) "
    "with the number of rows it is predicted with, because the BLAS product takes another "
    "kernel path for another row count; the check wants rtol=1e-7. With dtype=np.float64 it "
    "passes (test_subset_invariance_holds_in_float64)."
)


@parametrize_with_checks(
    [
        NeuralNetClassifier((32,), learning_rate_init=0.01, max_iter=100, random_state=0),
        NeuralNetRegressor((32,), learning_rate_init=0.01, max_iter=100, random_state=0),
    ],
    expected_failed_checks=lambda estimator: {"check_methods_subset_invariance": SUBSET_REASON},
)
# The checks fit on tiny data for a fixed number of epochs, as they do MLPClassifier; a
# ConvergenceWarning there is expected (test_training_stops_when_the_loss_stops_improving
# checks that it is raised), and the suite turns warnings into errors.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scikit_learn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_subset_invariance_holds_in_float64() -> None:
    from sklearn.utils.estimator_checks import check_methods_subset_invariance

    for estimator in (NeuralNetClassifier((8,), max_iter=5, random_state=0, dtype=np.float64),
                      NeuralNetRegressor((8,), max_iter=5, random_state=0, dtype=np.float64)):
        check_methods_subset_invariance(type(estimator).__name__, estimator)


# -- working with the rest of scikit-learn -------------------------------------------------

@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_grid_search_picks_a_sane_model() -> None:
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("net", NeuralNetClassifier(max_iter=60, learning_rate_init=0.01,
                                                 random_state=0))])
    grid = GridSearchCV(pipe, {"net__hidden_layer_sizes": [(4,), (16,)],
                               "net__alpha": [1e-4, 1e-1]}, cv=3)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"net__hidden_layer_sizes", "net__alpha"}
    assert grid.best_score_ > 0.85
    assert grid.score(X, y) > 0.9
    assert len(grid.cv_results_["mean_test_score"]) == 4


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_cross_val_score_gives_one_score_per_fold() -> None:
    X, y = load_iris(return_X_y=True)
    net = make_pipeline(StandardScaler(), NeuralNetClassifier((16,), max_iter=40,
                                                              learning_rate_init=0.01,
                                                              random_state=0))
    scores = cross_val_score(net, X, y, cv=4)
    assert scores.shape == (4,) and scores.mean() > 0.85


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_string_labels_and_binary_problems() -> None:
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    net = NeuralNetClassifier((16,), max_iter=60, learning_rate_init=0.01, random_state=0)
    net.fit(StandardScaler().fit_transform(X), names)
    assert list(net.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(net.predict(StandardScaler().fit_transform(X))) <= set(names)
    binary = names != "setosa"
    proba = net.fit(X, binary).predict_proba(X)
    assert proba.shape == (150, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_learns_several_targets() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    Y = np.column_stack([X @ [1.0, -2.0, 0.5, 0.0], np.sin(X[:, 0])])
    net = NeuralNetRegressor((32,), max_iter=150, learning_rate_init=0.01, random_state=0)
    assert net.fit(X, Y).predict(X).shape == (300, 2)
    assert net.score(X, Y) > 0.9
    assert net.fit(X, Y[:, 0]).predict(X).shape == (300,)


def test_partial_fit_goes_on_training() -> None:
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    net = NeuralNetClassifier((16,), learning_rate_init=0.01, random_state=0)
    net.partial_fit(X[:50], y[:50], classes=[0, 1, 2])    # the first batch holds one class
    for _ in range(60):
        net.partial_fit(X, y)
    assert net.n_iter_ == 61 and len(net.loss_curve_) == 61
    assert net.loss_curve_[-1] < net.loss_curve_[1]
    assert net.score(X, y) > 0.85
    with pytest.raises(ValueError, match="not in classes"):
        net.partial_fit(X[:2], np.array([0, 7]))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_continues_from_the_last_fit() -> None:
    X, y = load_iris(return_X_y=True)
    net = NeuralNetClassifier((16,), max_iter=5, warm_start=True, random_state=0)
    net.fit(X, y)
    first = net.model_
    net.fit(X, y)
    assert net.model_ is first and net.n_iter_ == 10 and len(net.loss_curve_) == 10
    cold = NeuralNetClassifier((16,), max_iter=5, random_state=0)
    cold.fit(X, y)
    model = cold.model_
    assert cold.fit(X, y).model_ is not model and cold.n_iter_ == 5


def test_early_stopping_scores_a_held_out_split_and_keeps_the_best() -> None:
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    net = NeuralNetClassifier((16,), max_iter=300, learning_rate_init=0.02,
                              early_stopping=True, validation_fraction=0.2,
                              n_iter_no_change=5, random_state=0)
    net.fit(X, y)
    assert net.n_iter_ < 300                           # stopped early, no warning
    assert len(net.validation_scores_) == net.n_iter_
    assert net.best_validation_score_ == max(net.validation_scores_)
    assert net.best_loss_ is None
    assert all(0.0 <= score <= 1.0 for score in net.validation_scores_)


def test_training_stops_when_the_loss_stops_improving() -> None:
    X, y = load_iris(return_X_y=True)
    net = NeuralNetClassifier((8,), max_iter=500, tol=10.0, n_iter_no_change=3,
                              random_state=0).fit(X, y)
    # The first epoch improves on inf; none after it improves on the best loss by tol=10:
    # it stops after n_iter_no_change=3 of those.
    assert net.n_iter_ == 4
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        NeuralNetClassifier((8,), max_iter=2, random_state=0).fit(X, y)


@pytest.mark.parametrize(("name", "value"), [
    ("hidden_layer_sizes", (0,)), ("optimizer", "lbfgs"), ("alpha", -1.0),
    ("batch_size", 0), ("learning_rate_init", 0.0), ("max_iter", 0),
    ("validation_fraction", 1.0), ("n_iter_no_change", 0),
])
def test_bad_hyperparameters_are_named(name: str, value: Any) -> None:
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=name):
        NeuralNetClassifier(**{name: value}).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_alpha_is_l2_on_the_weights_as_in_mlpclassifier() -> None:
    X, y = load_iris(return_X_y=True)
    net = NeuralNetClassifier((8,), alpha=0.3, batch_size=50, max_iter=1, random_state=0)
    net.fit(X, y)
    dense = [layer for layer in net.model_.layers if hasattr(layer, "weights")]
    assert all(layer.weight_regularizer_l2 == pytest.approx(0.3 / (2 * 50)) for layer in dense)
    assert all(layer.bias_regularizer_l2 == 0 for layer in dense)
