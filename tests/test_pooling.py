"""MaxPool2D, AvgPool2D and MaxPool1D: a loop over windows as the reference, gradients checked
numerically, output shapes for any window, clear errors, and models that train and load."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnn as snn
from scratchnn import gradcheck, registry
from scratchnn.layers.flatten import Flatten
from scratchnn.layers.pooling import AvgPool2D, MaxPool1D, MaxPool2D

# derandomize: the same examples every run, so a CI failure reproduces on any machine.
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)

# (pool_size, stride, input shape (n, c, h, w)): tiling, cropped edges, overlapping windows,
# gaps between windows, rectangular windows and strides.
CASES = [
    (2, None, (2, 3, 8, 8)),
    (2, None, (2, 2, 7, 9)),
    (3, 1, (2, 2, 7, 6)),
    (3, 2, (1, 2, 9, 8)),
    ((2, 3), (1, 2), (1, 2, 6, 9)),
    (2, 3, (2, 1, 8, 8)),
    ((3, 2), None, (1, 1, 6, 6)),
    (1, None, (1, 2, 3, 4)),
    ((4, 4), 1, (1, 1, 4, 5)),
]


def _pair(value, default=None):
    value = default if value is None else value
    return (value, value) if isinstance(value, int) else tuple(value)


def loop_pool(x, dvalues, pool_size, stride, kind):
    """The reference: every window visited in plain loops (float64), forward and backward."""
    ph, pw = _pair(pool_size)
    sh, sw = _pair(stride, pool_size)
    n, c, h, w = x.shape
    oh, ow = (h - ph) // sh + 1, (w - pw) // sw + 1
    output = np.zeros((n, c, oh, ow))
    dinputs = np.zeros(x.shape)
    for a in range(n):
        for f in range(c):
            for r in range(oh):
                for q in range(ow):
                    top, left = r * sh, q * sw
                    window = x[a, f, top:top + ph, left:left + pw]
                    if kind == "max":
                        output[a, f, r, q] = window.max()
                        # np.argmax gives the first maximum in row-major (flattened) order.
                        i, j = divmod(int(np.argmax(window)), pw)
                        dinputs[a, f, top + i, left + j] += dvalues[a, f, r, q]
                    else:
                        output[a, f, r, q] = window.sum() / (ph * pw)
                        dinputs[a, f, top:top + ph, left:left + pw] += dvalues[a, f, r, q] / (
                            ph * pw)
    return output, dinputs


def distinct_values(shape, seed=0):
    """Values 0.1 apart in random order: no ties, and far from each other next to a step of
    1e-6, so that a finite difference never changes which value is a window's maximum."""
    count = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(count).reshape(shape) * 0.1 - 1.0


# --- agreement with the loops ----------------------------------------------------------------


@pytest.mark.parametrize(("pool_size", "stride", "shape"), CASES)
@pytest.mark.parametrize(("cls", "kind"), [(MaxPool2D, "max"), (AvgPool2D, "avg")])
def test_pools_match_a_loop_over_windows(cls, kind, pool_size, stride, shape):
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape)
    layer = cls(pool_size, stride)
    output = layer.forward(x)
    dvalues = rng.normal(size=output.shape)
    expected_out, expected_dinputs = loop_pool(x, dvalues, pool_size, stride, kind)
    np.testing.assert_allclose(output, expected_out, rtol=0, atol=1e-9)
    np.testing.assert_allclose(layer.backward(dvalues), expected_dinputs, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("pool_size", "stride"), [(2, None), (3, 1), (2, 3), (4, 2)])
def test_max_pool_1d_is_the_loop_on_rows_one_high(pool_size, stride):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 2, 11))
    layer = MaxPool1D(pool_size, stride)
    output = layer.forward(x)
    dvalues = rng.normal(size=output.shape)
    expected_out, expected_dinputs = loop_pool(x[:, :, None, :], dvalues[:, :, None, :],
                                               (1, pool_size), (1, stride or pool_size), "max")
    assert output.shape == (3, 2, (11 - pool_size) // (stride or pool_size) + 1)
    np.testing.assert_allclose(output, expected_out[:, :, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(layer.backward(dvalues), expected_dinputs[:, :, 0], rtol=0,
                               atol=1e-9)


@pytest.mark.parametrize(("pool_size", "stride"), [(2, None), (3, 1), ((2, 2), 1), (2, 3)])
def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order(pool_size, stride):
    # Small integers: most windows tie (as after a ReLU, where whole windows are 0).
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, size=(2, 3, 7, 7)).astype(np.float64)
    layer = MaxPool2D(pool_size, stride)
    output = layer.forward(x)
    dvalues = rng.normal(size=output.shape)
    expected_out, expected_dinputs = loop_pool(x, dvalues, pool_size, stride, "max")
    np.testing.assert_array_equal(output, expected_out)
    np.testing.assert_allclose(layer.backward(dvalues), expected_dinputs, rtol=0, atol=1e-12)


def test_max_pool_ties_by_hand():
    x = np.array([[[[1.0, 1.0, 0.0, 2.0],
                    [1.0, 1.0, 2.0, 0.0]]]])
    layer = MaxPool2D(2)
    np.testing.assert_array_equal(layer.forward(x), [[[[1.0, 2.0]]]])
    # All four tie: the top left; 2 at (0, 1) and (1, 0) of the window: (0, 1) comes first.
    np.testing.assert_array_equal(layer.backward(np.array([[[[5.0, 7.0]]]])),
                                  [[[[5.0, 0.0, 0.0, 7.0],
                                     [0.0, 0.0, 0.0, 0.0]]]])


def test_overlapping_windows_add_up_the_gradient_of_a_shared_maximum():
    # The 9 sits in all four 2x2 windows (stride 1) of the 3x3 picture.
    x = np.array([[[[1.0, 2.0, 3.0], [4.0, 9.0, 5.0], [6.0, 7.0, 8.0]]]])
    layer = MaxPool2D(2, stride=1)
    np.testing.assert_array_equal(layer.forward(x), np.full((1, 1, 2, 2), 9.0))
    dinputs = layer.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(dinputs, [[[[0, 0, 0], [0, 10.0, 0], [0, 0, 0]]]])
    avg = AvgPool2D(2, stride=1)
    avg.forward(x)
    # The centre is in all four windows: (1 + 2 + 3 + 4) / 4; a corner in one.
    dinputs = avg.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(dinputs, [[[[0.25, 0.75, 0.5], [1.0, 2.5, 1.5],
                                               [0.75, 1.75, 1.0]]]])


# --- numerical gradients -----------------------------------------------------------------------


@pytest.mark.parametrize(("pool_size", "stride", "shape"), [
    (2, None, (2, 2, 6, 6)),
    (3, 1, (1, 2, 5, 6)),
    ((2, 3), (1, 2), (2, 1, 5, 7)),
    (2, 3, (1, 2, 7, 7)),
], ids=["tiling", "overlapping", "rectangular-overlapping", "gaps"])
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pools_pass_gradcheck(cls, pool_size, stride, shape):
    result = gradcheck(cls(pool_size, stride), distinct_values(shape))
    assert set(result.errors) == {"dinputs"}
    assert result.max_error < 1e-7, str(result)


@pytest.mark.parametrize(("pool_size", "stride"), [(2, None), (3, 1), (2, 3)])
def test_max_pool_1d_passes_gradcheck(pool_size, stride):
    result = gradcheck(MaxPool1D(pool_size, stride), distinct_values((2, 3, 10), seed=1))
    assert result.max_error < 1e-7, str(result)


# --- output shapes -----------------------------------------------------------------------------

windows = st.integers(min_value=1, max_value=4)
sizes = st.integers(min_value=1, max_value=11)


@PROPERTY_SETTINGS
@given(pool=st.tuples(windows, windows), stride=st.tuples(windows, windows),
       size=st.tuples(sizes, sizes), n=st.integers(1, 3), c=st.integers(1, 3),
       cls=st.sampled_from([MaxPool2D, AvgPool2D]))
def test_2d_output_shapes_follow_the_formula(pool, stride, size, n, c, cls):
    layer = cls(pool, stride)
    x = np.random.default_rng(0).normal(size=(n, c, *size)).astype(np.float32)
    if size[0] < pool[0] or size[1] < pool[1]:
        for call in (lambda: layer.output_shape((c, *size)), lambda: layer.forward(x)):
            with pytest.raises(ValueError, match=rf"{cls.__name__}\(.*does not fit in inputs "
                                                 rf"of {size[0]}x{size[1]}"):
                call()
        return
    expected = tuple((s - p) // t + 1 for s, p, t in zip(size, pool, stride, strict=True))
    assert min(expected) >= 1
    assert layer.output_shape((c, *size)) == (c, *expected)
    output = layer.forward(x)
    assert output.shape == (n, c, *expected)
    assert layer.backward(np.ones_like(output)).shape == x.shape


@PROPERTY_SETTINGS
@given(pool=windows, stride=windows, length=sizes, n=st.integers(1, 3), c=st.integers(1, 3))
def test_1d_output_shapes_follow_the_formula(pool, stride, length, n, c):
    layer = MaxPool1D(pool, stride)
    x = np.random.default_rng(0).normal(size=(n, c, length)).astype(np.float32)
    if length < pool:
        with pytest.raises(ValueError, match=rf"MaxPool1D\(.*sequences of length {length}"):
            layer.output_shape((c, length))
        with pytest.raises(ValueError, match=rf"at least {pool}"):
            layer.forward(x)
        return
    expected = (length - pool) // stride + 1
    assert layer.output_shape((c, length)) == (c, expected)
    assert layer.forward(x).shape == (n, c, expected)


# --- dtypes, config, protocol ------------------------------------------------------------------


@pytest.mark.parametrize("layer", [MaxPool2D(2), AvgPool2D(2), MaxPool1D(2)], ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_dtype_is_kept(layer, dtype):
    shape = (2, 3, 4, 4) if not isinstance(layer, MaxPool1D) else (2, 3, 4)
    x = np.random.default_rng(0).normal(size=shape).astype(dtype)
    output = layer.forward(x)
    assert output.dtype == dtype
    assert layer.backward(np.ones_like(output)).dtype == dtype


def test_integer_pictures_become_float32():
    output = MaxPool2D(2).forward(np.arange(16).reshape(1, 1, 4, 4))
    assert output.dtype == np.float32
    np.testing.assert_array_equal(output, [[[[5, 7], [13, 15]]]])


def test_describe_config_and_registration():
    assert MaxPool2D(2).describe() == "MaxPool2D(2)"
    assert MaxPool2D((2, 3)).describe() == "MaxPool2D((2, 3))"
    assert AvgPool2D(3, stride=2).describe() == "AvgPool2D(3, stride=2)"
    assert MaxPool1D(4, stride=1).describe() == "MaxPool1D(4, stride=1)"
    assert MaxPool2D(2, stride=2).get_config() == {"pool_size": 2}
    assert MaxPool2D((2, 3), (1, 2)).get_config() == {"pool_size": (2, 3), "stride": (1, 2)}
    assert MaxPool1D(3, 2).get_config() == {"pool_size": 3, "stride": 2}
    for layer in [MaxPool2D((2, 3), [1, 2]), AvgPool2D(2), MaxPool1D(3, 2)]:
        cls = registry.lookup("layers", type(layer).__name__)
        assert cls is type(layer)
        # A model file stores the config as JSON: pairs come back as lists.
        as_json = {key: list(v) if isinstance(v, tuple) else v
                   for key, v in layer.get_config().items()}
        rebuilt = cls.from_config(as_json)
        assert rebuilt.get_config() == layer.get_config()
        assert cls.array_shapes(layer.get_config()) == {}
        assert layer.parameters() == [] and layer.state() == {} and not layer.trainable
        assert layer.expected_input_shape() is None
    assert repr(MaxPool2D(2)) == "MaxPool2D(pool_size=2)"


def test_a_first_layer_skips_dinputs():
    layer = MaxPool2D(2)
    layer.needs_dinputs = False
    layer.forward(np.ones((3, 2, 4, 4), dtype=np.float32))
    assert layer.backward(np.ones((3, 2, 2, 2), dtype=np.float32)).shape == (0, 2, 4, 4)


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "error", "got"), [
    (0, ValueError, r"got 0 \(int\)"),
    (-2, ValueError, r"got -2"),
    (2.0, TypeError, r"got 2\.0 \(float\)"),
    (True, TypeError, r"got True \(bool\)"),
    ("2", TypeError, r"got '2' \(str\)"),
    ((2,), ValueError, r"got \(2,\) \(tuple\)"),
    ((2, 0), ValueError, r"got \(2, 0\)"),
    ((2, 2, 2), ValueError, r"got \(2, 2, 2\)"),
])
@pytest.mark.parametrize("argument", ["pool_size", "stride"])
def test_bad_windows_are_refused_naming_the_argument(argument, value, error, got):
    kwargs = {"pool_size": 2, argument: value}
    with pytest.raises(error, match=rf"MaxPool2D: {argument} must be a positive integer or a "
                                    rf"pair of them, \(height, width\); {got}"):
        MaxPool2D(**kwargs)


def test_max_pool_1d_takes_one_number():
    with pytest.raises(TypeError, match=r"MaxPool1D: pool_size must be a positive integer; "
                                        r"got \(2, 2\) \(tuple\)"):
        MaxPool1D((2, 2))
    with pytest.raises(ValueError, match=r"MaxPool1D: stride must be a positive integer; got 0"):
        MaxPool1D(2, 0)


def test_wrong_ranks_explain_nchw():
    with pytest.raises(ValueError, match=r"MaxPool2D\(2\) expects a batch of pictures in NCHW "
                                         r"order, \(n_samples, channels, height, width\); got "
                                         r"inputs shaped \(5, 28, 28\): one channel per picture "
                                         r"still needs its axis, e\.g\. "
                                         r"X\.reshape\(len\(X\), 1, 28, 28\)"):
        MaxPool2D(2).forward(np.zeros((5, 28, 28)))
    with pytest.raises(ValueError, match=r"AvgPool2D\(2\) takes samples shaped \(channels, "
                                         r"height, width\), batches .*NCHW.*; it would get "
                                         r"samples shaped \(784,\): pictures flattened"):
        AvgPool2D(2).output_shape((784,))
    with pytest.raises(ValueError, match=r"MaxPool1D\(3\) expects a batch of sequences, "
                                         r"\(n_samples, channels, length\); got inputs shaped "
                                         r"\(4, 10\): .*X\.reshape\(len\(X\), 1, 10\)"):
        MaxPool1D(3).forward(np.zeros((4, 10)))
    with pytest.raises(ValueError, match=r"MaxPool1D\(3\) takes samples shaped \(channels, "
                                         r"length\)"):
        MaxPool1D(3).output_shape((1, 2, 10))


def test_a_window_larger_than_the_inputs_names_the_layer_and_sizes():
    with pytest.raises(ValueError, match=r"MaxPool2D\(3, stride=2\): its window \(pool_size 3\) "
                                         r"does not fit in inputs of 2x5 \(height x width\).*"
                                         r"at least 3x3 \(there is no padding\)"):
        MaxPool2D(3, stride=2).forward(np.zeros((1, 1, 2, 5)))


def test_backward_needs_forward_and_dvalues_shaped_like_the_output():
    layer = MaxPool2D(2)
    with pytest.raises(ValueError, match=r"MaxPool2D\.backward was called before"):
        layer.backward(np.zeros((1, 1, 2, 2)))
    layer.forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"MaxPool2D's last output \(1, 1, 2, 2\)"):
        layer.backward(np.zeros((1, 1, 4, 4)))


# --- in a model --------------------------------------------------------------------------------


def _halves(n=200, seed=0):
    """8x8 one-channel pictures, (n, 1, 8, 8): the class is the brighter half (top, bottom)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.uniform(0, 0.5, size=(n, 1, 8, 8)).astype(np.float32)
    X[y == 0, :, :4] += 0.5
    X[y == 1, :, 4:] += 0.5
    return X, y


def test_a_max_pool_model_trains_and_round_trips_through_a_file(tmp_path):
    X, y = _halves()
    model = snn.Model([MaxPool2D(2), Flatten(), snn.Dense(16, 2, rng=0), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(),
                      optimizer=snn.Adam(learning_rate=0.05), seed=0)
    history = model.fit(X, y, epochs=5, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert model.evaluate(X, y, verbose=0)["accuracy"] > 0.95      # chance is 0.5
    assert model.summary().splitlines()[1].split() == ["MaxPool2D(2)", "(1,", "4,", "4)", "0"]
    path = tmp_path / "pooled.snn"
    model.save(path)
    loaded = snn.load_model(path)
    assert isinstance(loaded.layers[0], MaxPool2D)
    assert loaded.layers[0].get_config() == {"pool_size": 2}
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
