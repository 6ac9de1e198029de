"""Random shapes, dtypes and values thrown at the public API.

Whatever comes in, a documented call either works or raises ValueError/TypeError (scratchnn's
own errors are ValueErrors): never IndexError, AxisError, a broadcasting or matmul error,
FloatingPointError, or a RuntimeWarning (pytest turns warnings into errors).

Values: activations get anything, NaN and infinities included (their forward passes are
stable by design). Dense, the losses and the Model get finite values up to 1e3 in magnitude
plus NaN: a matrix product of values near the float limit overflows, which NumPy rightly
reports and which inputs scaled to about [-1, 1] never reach.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnn as snn
from scratchnn.errors import ScratchnnError

ALLOWED = (ValueError, TypeError, ScratchnnError)
DTYPES = [
    np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16), np.dtype(np.int64),
    np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.bool_), np.dtype(np.complex128),
    np.dtype("U3"), np.dtype(object),
]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def _elements(dtype: np.dtype, wild: bool) -> st.SearchStrategy[Any]:
    """Values of ``dtype``; ``wild`` floats include infinities and the extremes."""
    if dtype.kind == "f":
        width = 8 * dtype.itemsize
        if wild:
            return st.floats(width=width)
        bound = float(dtype.type(1e3))
        finite = st.floats(-bound, bound, allow_nan=False, width=width)
        return st.one_of(finite, st.just(float("nan")))
    if dtype.kind == "c":
        return st.complex_numbers(max_magnitude=1e3, allow_nan=False)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(max(int(info.min), -1000), min(int(info.max), 1000))
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind == "U":
        return st.text(alphabet="0123456789.ab", max_size=3)
    return st.one_of(st.none(), st.integers(-3, 3), st.floats(-3, 3), st.text(max_size=2))


@st.composite
def arrays(draw: Any, wild: bool = False, shape: Any = SHAPES) -> Any:
    """An array of any dtype and shape, sometimes as nested lists or a bare scalar."""
    dtype = draw(st.sampled_from(DTYPES))
    array = draw(hnp.arrays(dtype, shape, elements=_elements(dtype, wild)))
    form = draw(st.sampled_from(["array", "array", "array", "list"]))
    return array.tolist() if form == "list" else array


def near_shape(shape: tuple[int, ...]) -> Any:
    """Mostly the expected 2-D shape, sometimes off by a dimension or a size."""
    n, k = shape
    return st.one_of(
        st.just(shape), st.just((n, k)), st.just((n,)), st.just((k, n)), st.just((n, k + 1)),
        st.just((n + 1, k)), st.just((n, k, 1)), st.just(()), st.just((0, k)), SHAPES,
    )


# NumPy's own ValueErrors start with these words; a message of ours may quote one (after saying
# which argument is wrong) but never starts with one.
NUMPY_WORDING = re.compile(
    r"operands could not be broadcast|matmul: Input operand|cannot reshape array"
    r"|index .* is out of bounds|setting an array element with a sequence"
    r"|could not convert string to float|axis .* is out of bounds"
)


def _fails_cleanly(call: Any) -> None:
    try:
        call()
    except ALLOWED as error:
        if NUMPY_WORDING.match(str(error)):
            raise AssertionError(
                f"a bare NumPy error escaped ({type(error).__name__}): {error}"
            ) from error


# -- layers and activations ------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_dense_forward_and_backward(data: Any) -> None:
    layer = snn.Dense(3, 2, rng=0, dtype=data.draw(st.sampled_from([np.float32, np.float64])))
    inputs = data.draw(arrays(shape=near_shape((4, 3))))
    _fails_cleanly(lambda: layer.forward(inputs))
    dvalues = data.draw(arrays(shape=near_shape((4, 2))))
    _fails_cleanly(lambda: layer.backward(dvalues))


ACTIVATIONS = [snn.ReLU, snn.LeakyReLU, snn.Sigmoid, snn.Tanh, snn.Softmax, snn.Linear]


@pytest.mark.parametrize("make", ACTIVATIONS, ids=lambda cls: cls.__name__)
@FUZZ
@given(data=st.data())
def test_activation_forward_and_backward(make: Any, data: Any) -> None:
    activation = make()
    inputs = data.draw(arrays(wild=True, shape=near_shape((3, 4))))
    _fails_cleanly(lambda: activation.forward(inputs))
    dvalues = data.draw(arrays(shape=near_shape((3, 4))))
    _fails_cleanly(lambda: activation.backward(dvalues))


@FUZZ
@given(data=st.data())
def test_dropout_forward_and_backward(data: Any) -> None:
    layer = snn.Dropout(0.5, rng=0)
    inputs = data.draw(arrays(shape=near_shape((3, 4))))
    _fails_cleanly(lambda: layer.forward(inputs, training=data.draw(st.booleans())))
    dvalues = data.draw(arrays(shape=near_shape((3, 4))))
    _fails_cleanly(lambda: layer.backward(dvalues))


# -- losses ------------------------------------------------------------------------------------

LOSSES = [
    snn.CategoricalCrossentropy, snn.BinaryCrossentropy, snn.MeanSquaredError,
    snn.MeanAbsoluteError, snn.SoftmaxCategoricalCrossentropy,
]


def _targets() -> Any:
    """Labels (n,), one-hot or value rows (n, k), or anything else."""
    return st.one_of(
        arrays(shape=near_shape((4, 3))),
        hnp.arrays(np.int64, st.sampled_from([(4,), (3,), (4, 1)]), elements=st.integers(-2, 5)),
    )


@pytest.mark.parametrize("make", LOSSES, ids=lambda cls: cls.__name__)
@FUZZ
@given(data=st.data())
def test_loss_forward_backward_calculate(make: Any, data: Any) -> None:
    loss = make()
    y_pred = data.draw(arrays(shape=near_shape((4, 3))))
    y_true = data.draw(_targets())
    _fails_cleanly(lambda: loss.forward(y_pred, y_true))
    _fails_cleanly(lambda: loss.backward(y_pred, y_true))
    if hasattr(loss, "calculate"):
        _fails_cleanly(lambda: loss.calculate(y_pred, y_true))


# -- the Model ---------------------------------------------------------------------------------


def _classifier() -> snn.Model:
    layers = [snn.Dense(3, 5, rng=0), snn.ReLU(), snn.Dense(5, 3, rng=1), snn.Softmax()]
    return snn.Model(layers, loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(), seed=0)


def _regressor() -> snn.Model:
    layers = [snn.Dense(3, 4, rng=0), snn.Tanh(), snn.Dense(4, 1, rng=1), snn.Linear()]
    return snn.Model(layers, loss=snn.MeanSquaredError(), optimizer=snn.SGD(0.01), seed=0)


def _model_targets() -> Any:
    return st.one_of(
        arrays(shape=near_shape((6, 3))),
        hnp.arrays(np.int64, st.sampled_from([(6,), (5,), (6, 1)]), elements=st.integers(-1, 3)),
    )


def _dense_regressor() -> snn.Model:
    """Ends in Dense, no activation: a plain linear output for regression."""
    layers = [snn.Dense(3, 4, rng=0), snn.ReLU(), snn.Dense(4, 2, rng=1)]
    return snn.Model(layers, loss=snn.MeanSquaredError(), optimizer=snn.SGD(0.01), seed=0)


def _dense_dropout_regressor() -> snn.Model:
    layers = [snn.Dense(3, 4, rng=0), snn.Dense(4, 2, rng=1), snn.Dropout(0.2, rng=2)]
    return snn.Model(layers, loss=snn.MeanSquaredError(), optimizer=snn.Adam(), seed=0)


def _binary() -> snn.Model:
    layers = [snn.Dense(3, 4, rng=0), snn.ReLU(), snn.Dense(4, 1, rng=1), snn.Sigmoid()]
    return snn.Model(layers, loss=snn.BinaryCrossentropy(), optimizer=snn.Adam(), seed=0)


def _softmax_classifier() -> snn.Model:
    """Softmax then CategoricalCrossentropy without Dense right before (Dense + Tanh first)."""
    layers = [snn.Dense(3, 3, rng=0), snn.Tanh(), snn.Softmax()]
    return snn.Model(layers, loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD(0.1), seed=0)


MODELS = [_classifier, _regressor, _dense_regressor, _dense_dropout_regressor, _binary,
          _softmax_classifier]


@pytest.mark.parametrize("make", MODELS, ids=lambda make: make.__name__.lstrip("_"))
@FUZZ
@given(data=st.data())
def test_model_fit_predict_evaluate(make: Any, data: Any) -> None:
    model = make()
    X = data.draw(arrays(shape=near_shape((6, 3))))
    y = data.draw(_model_targets())
    _fails_cleanly(lambda: model.fit(X, y, epochs=1, batch_size=4, verbose=0))
    _fails_cleanly(lambda: model.evaluate(X, y, verbose=0))
    _fails_cleanly(lambda: model.predict(X))


@pytest.mark.parametrize("make", MODELS, ids=lambda make: make.__name__.lstrip("_"))
def test_every_fuzzed_model_trains_on_valid_data(make: Any) -> None:
    """The fuzz above passes if every call fails cleanly: each model must also just work."""
    model = make()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3)).astype(np.float32)
    n_outputs = [layer for layer in model.layers if hasattr(layer, "weights")][-1].weights.shape[1]
    if isinstance(model.loss, snn.MeanSquaredError):
        y: Any = rng.normal(size=(6, n_outputs)).astype(np.float32)
    elif isinstance(model.loss, snn.BinaryCrossentropy):
        y = np.array([[0], [1], [1], [0], [1], [0]], dtype=np.float32)
    else:
        y = np.array([0, 1, 2, 0, 1, 2])
    history = model.fit(X, y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(X).shape == (6, n_outputs)


@pytest.mark.parametrize(
    "numpy_error",
    [
        lambda: np.ones((2, 3)) @ np.ones((2, 3)),
        lambda: np.ones(3) + np.ones(4),
        lambda: np.ones(6).reshape(4, 2),
        lambda: np.asarray([[1.0], [1.0, 2.0]], dtype=float),
        lambda: np.asarray(["a"], dtype=float),
        lambda: np.ones(3).sum(axis=2),
    ],
)
def test_a_bare_numpy_error_does_not_count_as_clean(numpy_error: Any) -> None:
    with pytest.raises(AssertionError, match="a bare NumPy error escaped"):
        _fails_cleanly(numpy_error)


def test_our_messages_quoting_numpy_still_count_as_clean() -> None:
    def ours() -> None:
        raise ValueError("X must be a numeric array; NumPy said: cannot reshape array of size 6")

    _fails_cleanly(ours)
