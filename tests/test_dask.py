"""A hyperparameter sweep on a real dask.distributed cluster (joblib's "dask" backend), bound
to loopback: the same results as the sweep run in this process, computed on the workers."""

from __future__ import annotations

from collections.abc import Iterator

import joblib
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from scratchnn.sklearn import NeuralNetClassifier

GRID = {"neuralnetclassifier__hidden_layer_sizes": [(4,), (16,)],
        "neuralnetclassifier__alpha": [1e-4, 1e-1]}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    # Two worker processes, one thread each, on 127.0.0.1 only; no dashboard (no port to
    # take, no warning when one is taken).
    with LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        yield client


def search() -> GridSearchCV:
    net = NeuralNetClassifier(max_iter=30, learning_rate_init=0.01, random_state=0)
    return GridSearchCV(make_pipeline(StandardScaler(), net), GRID, cv=3, n_jobs=-1)


def count_fits_on_workers(client: Client) -> dict[str, int]:
    def fits() -> int:
        return int(getattr(NeuralNetClassifier, "_dask_test_fits", 0))
    return client.run(fits)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_on_a_local_cluster_equals_the_serial_one(client: Client) -> None:
    X, y = load_iris(return_X_y=True)
    serial = search().set_params(n_jobs=1).fit(X, y)

    # Count the fits each worker process makes: a counter on the class, in the workers only.
    def install_counter() -> None:
        original = NeuralNetClassifier.fit
        if getattr(original, "_counted", False):
            return

        def fit(self, X, y):  # type: ignore[no-untyped-def]
            NeuralNetClassifier._dask_test_fits = (  # type: ignore[attr-defined]
                getattr(NeuralNetClassifier, "_dask_test_fits", 0) + 1)
            return original(self, X, y)

        fit._counted = True  # type: ignore[attr-defined]
        NeuralNetClassifier.fit = fit  # type: ignore[method-assign]

    client.run(install_counter)
    before = sum(count_fits_on_workers(client).values())
    with joblib.parallel_backend("dask"):
        distributed = search().fit(X, y)
    fits = sum(count_fits_on_workers(client).values()) - before

    assert fits >= 4 * 3                      # every (candidate, fold) fit ran on a worker
    assert distributed.best_params_ == serial.best_params_
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(distributed.cv_results_[key], serial.cv_results_[key])
    np.testing.assert_array_equal(distributed.predict_proba(X), serial.predict_proba(X))
    assert len(client.scheduler_info()["workers"]) == 2
