"""Conv2D and Conv1D: checked against a plain-loop reference, by gradcheck and by hypothesis.

The reference below is the definition of a cross-correlation with padding and stride, one
output position at a time, and its gradients derived by hand from that definition; the layers
compute the same numbers with im2col and one matrix product, which the reference never uses.
"""

from __future__ import annotations

import copy
import doctest
import json
import math
import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnn as snn
from scratchnn.gradcheck import gradcheck
from scratchnn.layers import conv
from scratchnn.layers.conv import Conv1D, Conv2D
from scratchnn.registry import lookup
from scratchnn.storage import FlatParameters

# -- the reference: loops over output positions --------------------------------------------


def reference_forward(x, weights, biases, stride, padding):
    """``out[s, o, y, x] = b[o] + sum(w[o] * padded[s, :, sh*y : sh*y + kh, sw*x : sw*x + kw])``
    for NCHW ``x`` and weights (out, in, kh, kw)."""
    n, channels, height, width = x.shape
    out_channels, _, kh, kw = weights.shape
    (sh, sw), (ph, pw) = stride, padding
    padded = np.zeros((n, channels, height + 2 * ph, width + 2 * pw))
    padded[:, :, ph:ph + height, pw:pw + width] = x
    oh = (height + 2 * ph - kh) // sh + 1
    ow = (width + 2 * pw - kw) // sw + 1
    out = np.zeros((n, out_channels, oh, ow))
    for s in range(n):
        for o in range(out_channels):
            for y in range(oh):
                for x_ in range(ow):
                    patch = padded[s, :, sh * y:sh * y + kh, sw * x_:sw * x_ + kw]
                    out[s, o, y, x_] = np.sum(weights[o] * patch) + biases.reshape(-1)[o]
    return out


def reference_backward(x, weights, dvalues, stride, padding):
    """The chain rule on the definition above: each output position sends
    ``dvalues[s, o, y, x] * w[o]`` to its patch of the inputs, ``dvalues * patch`` to w[o]
    and ``dvalues`` to b[o]."""
    n, channels, height, width = x.shape
    out_channels, _, kh, kw = weights.shape
    (sh, sw), (ph, pw) = stride, padding
    padded = np.zeros((n, channels, height + 2 * ph, width + 2 * pw))
    padded[:, :, ph:ph + height, pw:pw + width] = x
    dpadded = np.zeros_like(padded)
    dweights = np.zeros_like(weights)
    dbiases = np.zeros(out_channels)
    _, _, oh, ow = dvalues.shape
    for s in range(n):
        for o in range(out_channels):
            for y in range(oh):
                for x_ in range(ow):
                    rows = slice(sh * y, sh * y + kh)
                    cols = slice(sw * x_, sw * x_ + kw)
                    d = dvalues[s, o, y, x_]
                    dpadded[s, :, rows, cols] += d * weights[o]
                    dweights[o] += d * padded[s, :, rows, cols]
                    dbiases[o] += d
    return dpadded[:, :, ph:ph + height, pw:pw + width], dweights, dbiases


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


CASES_2D = [
    # (kernel_size, stride, padding, (height, width))
    (3, 1, 0, (6, 5)),
    (3, 1, 1, (5, 5)),
    (3, 2, 1, (7, 6)),
    ((2, 3), (2, 1), (1, 0), (5, 6)),
    (1, 1, 0, (4, 3)),
    (4, 3, 2, (7, 8)),       # strides that leave the last rows and columns unused
    (5, 1, 0, (5, 5)),       # the kernel as large as the sample: one position
]


@pytest.mark.parametrize(("kernel", "stride", "padding", "size"), CASES_2D)
def test_conv2d_agrees_with_the_loop_reference(kernel, stride, padding, size):
    rng = np.random.default_rng(0)
    layer = Conv2D(3, 4, kernel, stride=stride, padding=padding, dtype=np.float64, rng=1)
    layer.biases[...] = rng.normal(size=layer.biases.shape)
    x = rng.normal(size=(2, 3, *size))
    expected = reference_forward(x, layer.weights, layer.biases, pair(stride), pair(padding))
    output = layer.forward(x)
    assert output.shape == expected.shape
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-9)

    dvalues = rng.normal(size=output.shape)
    dinputs = layer.backward(dvalues)
    dx, dw, db = reference_backward(x, layer.weights, dvalues, pair(stride), pair(padding))
    np.testing.assert_allclose(dinputs, dx, rtol=0, atol=1e-9)
    np.testing.assert_allclose(layer.dweights, dw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(layer.dbiases.reshape(-1), db, rtol=0, atol=1e-9)
    assert layer.dbiases.shape == (1, 4, 1, 1)


@pytest.mark.parametrize(("kernel", "stride", "padding", "length"),
                         [(3, 1, 0, 7), (3, 2, 1, 8), (1, 1, 0, 3), (4, 3, 2, 9)])
def test_conv1d_agrees_with_the_loop_reference_on_pictures_one_row_high(
        kernel, stride, padding, length):
    rng = np.random.default_rng(2)
    layer = Conv1D(2, 3, kernel, stride=stride, padding=padding, dtype=np.float64, rng=3)
    layer.biases[...] = rng.normal(size=layer.biases.shape)
    x = rng.normal(size=(3, 2, length))
    as_2d = dict(stride=(1, stride), padding=(0, padding))
    weights = layer.weights[:, :, np.newaxis, :]
    expected = reference_forward(x[:, :, np.newaxis, :], weights, layer.biases, **as_2d)
    output = layer.forward(x)
    assert output.shape == (3, 3, (length + 2 * padding - kernel) // stride + 1)
    np.testing.assert_allclose(output, expected[:, :, 0, :], rtol=0, atol=1e-9)

    dvalues = rng.normal(size=output.shape)
    dinputs = layer.backward(dvalues)
    dx, dw, db = reference_backward(x[:, :, np.newaxis, :], weights,
                                    dvalues[:, :, np.newaxis, :], **as_2d)
    np.testing.assert_allclose(dinputs, dx[:, :, 0, :], rtol=0, atol=1e-9)
    np.testing.assert_allclose(layer.dweights, dw[:, :, 0, :], rtol=0, atol=1e-9)
    np.testing.assert_allclose(layer.dbiases.reshape(-1), db, rtol=0, atol=1e-9)
    assert layer.dweights.shape == (3, 2, kernel) and layer.dbiases.shape == (1, 3, 1)


def test_batches_of_other_sizes_and_non_contiguous_inputs_are_computed_anew():
    # The work arrays are made again when the batch shape changes: nothing stale is used.
    rng = np.random.default_rng(4)
    layer = Conv2D(2, 3, 3, stride=2, padding=1, dtype=np.float64, rng=0)
    for n in (3, 1, 3, 0):
        x = rng.normal(size=(n, 6, 7, 2)).transpose(0, 3, 1, 2)   # a non-contiguous view
        expected = reference_forward(x, layer.weights, layer.biases, (2, 2), (1, 1))
        np.testing.assert_allclose(layer.forward(x), expected, rtol=0, atol=1e-9)
        dvalues = rng.normal(size=expected.shape)
        dx, dw, _ = reference_backward(x, layer.weights, dvalues, (2, 2), (1, 1))
        np.testing.assert_allclose(layer.backward(dvalues), dx, rtol=0, atol=1e-9)
        np.testing.assert_allclose(layer.dweights, dw, rtol=0, atol=1e-9)


# -- gradcheck -------------------------------------------------------------------------------

PENALTIES = dict(weight_regularizer_l1=1e-2, weight_regularizer_l2=2e-2,
                 bias_regularizer_l1=3e-2, bias_regularizer_l2=4e-2)


@pytest.mark.parametrize("penalties", [{}, PENALTIES], ids=["plain", "regularised"])
@pytest.mark.parametrize(("kernel", "stride", "padding", "size"), CASES_2D[:5])
def test_conv2d_passes_gradcheck(kernel, stride, padding, size, penalties):
    layer = Conv2D(2, 3, kernel, stride=stride, padding=padding, dtype=np.float64, rng=5,
                   **penalties)
    layer.biases += 0.1          # away from the L1 kink at 0
    x = np.random.default_rng(6).normal(size=(2, 2, *size))
    result = gradcheck(layer, x)
    assert result, str(result)
    assert set(result.errors) == {"dinputs", "dweights", "dbiases"}


@pytest.mark.parametrize("penalties", [{}, PENALTIES], ids=["plain", "regularised"])
@pytest.mark.parametrize(("kernel", "stride", "padding"), [(3, 1, 0), (2, 2, 1), (5, 3, 2)])
def test_conv1d_passes_gradcheck(kernel, stride, padding, penalties):
    layer = Conv1D(2, 3, kernel, stride=stride, padding=padding, dtype=np.float64, rng=7,
                   **penalties)
    layer.biases += 0.1
    x = np.random.default_rng(8).normal(size=(2, 2, 9))
    result = gradcheck(layer, x)
    assert result, str(result)


def test_regularisation_is_dense_s():
    # The same penalty and the same gradient terms as a Dense holding the same numbers.
    layer = Conv2D(2, 3, 2, dtype=np.float64, rng=0, **PENALTIES)
    layer.biases += np.array([0.5, -0.25, 0.0]).reshape(1, 3, 1, 1)
    dense = snn.Dense(8, 3, dtype=np.float64, **PENALTIES)
    dense.weights[...] = layer.weights.reshape(3, -1).T
    dense.biases[...] = layer.biases.reshape(1, 3)
    assert layer.regularization_loss() == pytest.approx(dense.regularization_loss(), rel=1e-12)
    output = layer.forward(np.ones((1, 2, 3, 3)))
    layer.backward(np.zeros_like(output))           # only the penalties' terms remain
    dense.forward(np.ones((1, 8)))
    dense.backward(np.zeros((1, 3)))
    np.testing.assert_allclose(layer.dweights.reshape(3, -1).T, dense.dweights, atol=1e-15)
    np.testing.assert_allclose(layer.dbiases.reshape(1, 3), dense.dbiases, atol=1e-15)


# -- output shapes (hypothesis) ----------------------------------------------------------------

kernel_sizes = st.integers(min_value=1, max_value=5)
strides = st.integers(min_value=1, max_value=4)
paddings = st.integers(min_value=0, max_value=3)
spatial_sizes = st.integers(min_value=1, max_value=12)


@st.composite
def conv2d_settings(draw):
    """(kernel_size, stride, padding, (height, width)), each per-axis value an int or a pair."""
    def per_axis(values):
        return draw(st.one_of(values, st.tuples(values, values)))

    return (per_axis(kernel_sizes), per_axis(strides), per_axis(paddings),
            (draw(spatial_sizes), draw(spatial_sizes)))


def positions(size, kernel, stride, padding):
    """How many windows start inside the padded axis: an independent count of the formula."""
    return len(range(0, size + 2 * padding - kernel + 1, stride))


@settings(max_examples=60, deadline=None)
@given(conv2d_settings(), st.integers(min_value=1, max_value=3))
def test_conv2d_output_shape_matches_forward_and_the_formula(setting, n):
    kernel, stride, padding, sizes = setting
    layer = Conv2D(2, 3, kernel, stride=stride, padding=padding, rng=0)
    x = np.zeros((n, 2, *sizes), dtype=np.float32)
    counts = [positions(size, k, s, p) for size, k, s, p
              in zip(sizes, pair(kernel), pair(stride), pair(padding), strict=True)]
    if min(counts) == 0:          # the kernel does not fit in the padded sample
        with pytest.raises(ValueError, match=r"Conv2D\(2, 3, .*cannot slide its kernel"):
            layer.output_shape((2, *sizes))
        with pytest.raises(ValueError, match=r"cannot slide its kernel"):
            layer.forward(x)
        return
    formula = tuple((size + 2 * p - k) // s + 1 for size, k, s, p
                    in zip(sizes, pair(kernel), pair(stride), pair(padding), strict=True))
    assert tuple(counts) == formula
    assert layer.output_shape((2, *sizes)) == (3, *formula)
    output = layer.forward(x)
    assert output.shape == (n, 3, *formula)
    assert layer.backward(np.ones_like(output)).shape == x.shape


@settings(max_examples=40, deadline=None)
@given(kernel_sizes, strides, paddings, spatial_sizes)
def test_conv1d_output_shape_matches_forward_and_the_formula(kernel, stride, padding, length):
    layer = Conv1D(1, 2, kernel, stride=stride, padding=padding, rng=0)
    x = np.zeros((2, 1, length), dtype=np.float32)
    count = positions(length, kernel, stride, padding)
    if count == 0:
        with pytest.raises(ValueError, match=r"Conv1D\(1, 2, .*cannot slide its kernel"):
            layer.output_shape((1, length))
        return
    assert count == (length + 2 * padding - kernel) // stride + 1
    assert layer.output_shape((1, length)) == (2, count)
    assert layer.forward(x).shape == (2, 2, count)


# -- errors ----------------------------------------------------------------------------------

BAD_PER_AXIS = [
    (-2, ValueError), (1.5, TypeError), (True, TypeError), ("3", TypeError),
    ((3, 3, 3), ValueError), ((3,), ValueError), ((3, -1), ValueError), ((3, 2.0), TypeError),
    ([1, 2, 3], ValueError), (None, TypeError),
]


BAD_OPTIONS = [(name, value, error) for name in ("kernel_size", "stride", "padding")
               for value, error in BAD_PER_AXIS
               + ([] if name == "padding" else [(0, ValueError), ((3, 0), ValueError)])]


@pytest.mark.parametrize(("name", "value", "error"), BAD_OPTIONS, ids=repr)
def test_bad_kernel_stride_and_padding_name_the_argument_and_what_came(name, value, error):
    what = "non-negative" if name == "padding" else "positive"
    with pytest.raises(error, match=rf"^{name} must be a {what} integer or a tuple of 2 of "
                                    rf"them \(height, width\); got .*{re.escape(repr(value))}"):
        Conv2D(1, 2, **{"kernel_size": 3, name: value})


def test_a_padding_of_zero_is_fine():
    assert Conv2D(1, 2, 3, padding=(0, 1)).padding == (0, 1)
    assert Conv2D(1, 2, 3, padding=0).padding == (0, 0)


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), ((3, 3), ValueError),
                                              ((0,), ValueError), (2.0, TypeError),
                                              (False, TypeError)], ids=repr)
def test_conv1d_takes_one_int_per_option(value, error):
    with pytest.raises(error, match=r"^kernel_size must be a positive integer; got"):
        Conv1D(1, 2, value)
    assert Conv1D(1, 2, (4,)).kernel_size == Conv1D(1, 2, 4).kernel_size == (4,)


@pytest.mark.parametrize(("arguments", "message"), [
    (dict(in_channels=0), r"in_channels must be a positive integer; got 0"),
    (dict(out_channels=2.5), r"out_channels must be a positive integer; got 2.5"),
    (dict(init="uniform"), r"init must be 'he', 'glorot' or None; got 'uniform'"),
    (dict(weight_scale=0.0), r"weight_scale must be in \(0.0, inf\)"),
    (dict(weight_regularizer_l2=-1.0), r"weight_regularizer_l2 must be in \[0.0, inf\)"),
    (dict(dtype=np.int32), r"dtype must be numpy.float32 or numpy.float64"),
    (dict(rng="seed"), r"rng must be None, an int seed"),
])
def test_other_bad_arguments_are_named(arguments, message):
    options = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, **arguments}
    with pytest.raises((TypeError, ValueError), match=message):
        Conv2D(**options)


def test_flat_or_channelless_pictures_are_refused_with_how_to_reshape():
    layer = Conv2D(1, 16, 3)
    assert layer.expected_input_shape() is None        # height and width are free
    for shape in [(784,), (28, 28)]:
        with pytest.raises(ValueError, match=r"Conv2D\(1, 16, 3\) takes batches in NCHW order"
                                             r".*X\.reshape\(len\(X\), 1, 28, 28\)"):
            layer.output_shape(shape)
    with pytest.raises(ValueError, match=r"^inputs shaped \(5, 784\): Conv2D\(1, 16, 3\) .*"
                                         r"NCHW.*X\.reshape\(len\(X\), 1, 28, 28\)"):
        layer.forward(np.zeros((5, 784), dtype=np.float32))
    with pytest.raises(ValueError, match=r"samples shaped \(\)"):
        layer.forward(np.float32(1.0))
    with pytest.raises(ValueError, match=r"samples shaped \(1, 1, 4, 4\)"):
        layer.output_shape((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"Conv1D\(1, 2, 3\) takes batches in NCL order.*"
                                         r"X\.reshape\(len\(X\), 1, 50\)"):
        Conv1D(1, 2, 3).forward(np.zeros((4, 50)))


def test_a_wrong_channel_count_is_refused():
    layer = Conv2D(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2D\(3, 8, 3\) takes samples shaped \(channels, "
                                         r"height, width\) with 3 channel\(s\).*\(1, 9, 9\), "
                                         r"with 1 channels.*in_channels=1"):
        layer.output_shape((1, 9, 9))
    with pytest.raises(ValueError, match=r"channels look last.*X\.transpose\(0, 3, 1, 2\)"):
        layer.forward(np.zeros((2, 9, 9, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"channels look last.*X\.transpose\(0, 2, 1\)"):
        Conv1D(3, 8, 3).forward(np.zeros((2, 20, 3)))


def test_a_kernel_larger_than_the_padded_sample_is_refused_naming_the_sizes():
    layer = Conv2D(1, 2, (5, 3), padding=1)
    message = (r"Conv2D\(1, 2, \(5, 3\), padding=1\) cannot slide its kernel of 5x3 over "
               r"samples of height 2 and width 4 padded by 1 on each side \(4x6 in all\)")
    with pytest.raises(ValueError, match=message):
        layer.output_shape((1, 2, 4))
    with pytest.raises(ValueError, match=r"^inputs shaped \(3, 1, 2, 4\): " + message):
        layer.forward(np.zeros((3, 1, 2, 4), dtype=np.float32))
    assert layer.output_shape((1, 3, 4)) == (2, 1, 4)       # 3 + 2 = 5 rows: it fits


def test_a_model_names_the_conv_layer_that_cannot_take_the_data():
    model = snn.Model([Conv2D(1, 4, 3, rng=0), snn.Flatten(), snn.Dense(4 * 6 * 6, 2, rng=1),
                       snn.Softmax()], loss=snn.CategoricalCrossentropy(), optimizer=snn.SGD())
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2D\(1, 4, 3\)\).*NCHW.*"
                                         r"X\.reshape\(len\(X\), 1, 8, 8\)"):
        model.predict(np.zeros((2, 64), dtype=np.float32))


# -- dtype, initial weights, configuration -----------------------------------------------------


def test_float32_by_default_and_float64_kept():
    x = np.random.default_rng(0).normal(size=(2, 1, 5, 5))      # float64 inputs
    for dtype, layer in [(np.float32, Conv2D(1, 2, 3, rng=0)),
                         (np.float64, Conv2D(1, 2, 3, dtype=np.float64, rng=0))]:
        output = layer.forward(x)
        layer.backward(np.ones_like(output))
        for array in (layer.weights, layer.biases, layer.dweights, layer.dbiases, output,
                      layer.dinputs):
            assert array.dtype == dtype
    assert Conv1D(1, 2, 3).forward(np.zeros((1, 1, 4), dtype=np.float64)).dtype == np.float32


def test_one_seed_gives_the_same_weights_in_both_dtypes():
    for cls, kernel in [(Conv2D, (3, 2)), (Conv1D, 4)]:
        for init in ("he", "glorot", None):
            single = cls(3, 5, kernel, init=init, rng=11)
            double = cls(3, 5, kernel, init=init, dtype=np.float64, rng=11)
            np.testing.assert_array_equal(single.weights, double.weights.astype(np.float32))
            assert np.all(single.biases == 0) and single.biases.shape == double.biases.shape


@pytest.mark.parametrize(("init", "scale"), [
    ("he", math.sqrt(2 / (3 * 2 * 4))),
    ("glorot", math.sqrt(2 / (3 * 2 * 4 + 5 * 2 * 4))),
    (None, 0.5),
])
def test_initial_weights_are_scaled_normal_draws(init, scale):
    layer = Conv2D(3, 5, (2, 4), init=init, weight_scale=0.5, dtype=np.float64, rng=2)
    draws = np.random.default_rng(2).standard_normal((5, 3, 2, 4))
    np.testing.assert_array_equal(layer.weights, draws * scale)
    # A legacy RandomState draws with randn, as the book does.
    legacy = Conv1D(3, 5, 4, init=None, weight_scale=0.5, rng=np.random.RandomState(0))
    expected = (0.5 * np.random.RandomState(0).randn(5, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(legacy.weights, expected)


def test_the_default_generator_is_seedable():
    snn.seed(3)
    first = Conv2D(1, 2, 3).weights.copy()
    snn.seed(3)
    np.testing.assert_array_equal(Conv2D(1, 2, 3).weights, first)


@pytest.mark.parametrize("layer", [
    Conv2D(1, 16, 3, rng=0),
    Conv2D(3, 4, (3, 2), stride=(2, 1), padding=1, init="glorot", weight_regularizer_l2=1e-3,
           bias_regularizer_l1=1e-4, dtype=np.float64, rng=0),
    Conv2D(2, 2, 1, init=None, weight_scale=0.1, rng=0),
    Conv1D(2, 8, 5, stride=2, padding=(2,), weight_regularizer_l1=1e-3, rng=0),
], ids=lambda layer: layer.describe())
def test_config_round_trip_rebuilds_the_same_layer(layer):
    config = json.loads(json.dumps(layer.get_config()))      # as a model file stores it
    rebuilt = type(layer).from_config(config, rng=9)
    again = type(layer).from_config(config, rng=9)
    assert rebuilt.get_config() == layer.get_config()
    assert rebuilt.describe() == layer.describe()
    assert rebuilt.weights.dtype == layer.weights.dtype
    assert rebuilt.weights.shape == layer.weights.shape
    np.testing.assert_array_equal(rebuilt.weights, again.weights)   # same rng, same layer
    fresh = type(layer)(**{**layer.get_config(), "rng": 9})
    np.testing.assert_array_equal(rebuilt.weights, fresh.weights)
    assert lookup("layers", type(layer).__name__) is type(layer)


def test_get_config_holds_only_what_is_not_default_and_describe_shows_it():
    assert Conv2D(1, 16, 3).get_config() == {"in_channels": 1, "out_channels": 16,
                                             "kernel_size": 3}
    assert Conv2D(1, 16, 3).describe() == "Conv2D(1, 16, 3)"
    layer = Conv2D(1, 16, (3, 5), stride=2, padding=(1, 0), init=None, weight_scale=0.2)
    assert layer.get_config() == {"in_channels": 1, "out_channels": 16, "kernel_size": [3, 5],
                                  "stride": 2, "padding": [1, 0], "init": None,
                                  "weight_scale": 0.2}
    assert layer.describe() == "Conv2D(1, 16, (3, 5), stride=2, padding=(1, 0))"
    assert Conv1D(4, 8, 3, padding=1).describe() == "Conv1D(4, 8, 3, padding=1)"
    assert Conv1D(4, 8, 3, dtype=np.float64).get_config()["dtype"] == "float64"
    assert repr(Conv2D(1, 16, 3)) == "Conv2D(in_channels=1, out_channels=16, kernel_size=3)"


@pytest.mark.parametrize("config", [
    {"in_channels": 1, "out_channels": 16, "kernel_size": 3},
    {"in_channels": 3, "out_channels": 4, "kernel_size": [3, 2], "stride": [2, 1],
     "padding": 1},
])
def test_array_shapes_are_the_allocated_arrays(config):
    layer = Conv2D(**config)
    shapes = Conv2D.array_shapes(config)
    assert shapes == {"weights": layer.weights.shape, "biases": layer.biases.shape}
    assert Conv1D.array_shapes({"in_channels": 2, "out_channels": 5, "kernel_size": 7}) == {
        "weights": (5, 2, 7), "biases": (1, 5, 1)}
    # Nothing is allocated: a file may name a huge layer, which the shapes alone refuse.
    assert Conv2D.array_shapes({"in_channels": 10**9, "out_channels": 10**9,
                                "kernel_size": 3})["weights"] == (10**9, 10**9, 3, 3)


@pytest.mark.parametrize(("config", "message"), [
    ({"out_channels": 2, "kernel_size": 3}, r"in_channels must be a positive integer; got None"),
    ({"in_channels": 1, "out_channels": "2", "kernel_size": 3}, r"out_channels"),
    ({"in_channels": 1, "out_channels": 2}, r"kernel_size .*got None"),
    ({"in_channels": 1, "out_channels": 2, "kernel_size": [3, 3, 3]}, r"kernel_size"),
    ({"in_channels": 1, "out_channels": 2, "kernel_size": 0}, r"kernel_size"),
    ({"in_channels": 1, "out_channels": 2, "kernel_size": 3, "stride": 0}, r"stride"),
    ({"in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": -1}, r"padding"),
    ({"in_channels": 1, "out_channels": 2, "kernel_size": True}, r"kernel_size"),
])
def test_array_shapes_refuse_nonsense(config, message):
    with pytest.raises((TypeError, ValueError), match=message):
        Conv2D.array_shapes(config)


# -- gradients in place, needs_dinputs, fresh outputs ---------------------------------------


def test_gradients_are_written_into_the_same_arrays():
    layer = Conv2D(2, 3, 3, padding=1, rng=0, weight_regularizer_l2=1e-2)
    storage = FlatParameters([layer])          # the layer now holds views of one buffer
    dweights, dbiases = layer.dweights, layer.dbiases
    x = np.random.default_rng(0).normal(size=(4, 2, 5, 5)).astype(np.float32)
    for _ in range(2):
        output = layer.forward(x)
        layer.backward(np.ones_like(output))
        assert layer.dweights is dweights and layer.dbiases is dbiases
    assert storage.intact() and not storage.unpacked
    gradients = storage.gradients[np.dtype(np.float32)]
    np.testing.assert_array_equal(gradients[:dweights.size], dweights.reshape(-1))
    # The sum over every position of ones: n * oh * ow per filter.
    np.testing.assert_allclose(dbiases.reshape(-1), 4 * 5 * 5)


def test_without_needs_dinputs_the_parameter_gradients_are_the_same_and_dinputs_empty():
    x = np.random.default_rng(1).normal(size=(3, 2, 6, 6))
    dvalues = np.random.default_rng(2).normal(size=(3, 4, 3, 3))
    full = Conv2D(2, 4, 3, stride=2, padding=1, dtype=np.float64, rng=0)
    first = Conv2D(2, 4, 3, stride=2, padding=1, dtype=np.float64, rng=0)
    first.needs_dinputs = False
    for layer in (full, first):
        layer.forward(x)
        layer.backward(dvalues)
    np.testing.assert_array_equal(first.dweights, full.dweights)
    np.testing.assert_array_equal(first.dbiases, full.dbiases)
    assert first.dinputs.shape == (0, 2, 6, 6) and first.dinputs.size == 0
    sequence = Conv1D(2, 4, 3, rng=0)
    sequence.needs_dinputs = False
    sequence.forward(np.ones((2, 2, 5)))
    assert sequence.backward(np.ones((2, 4, 3), dtype=np.float32)).shape == (0, 2, 5)


def test_output_and_dinputs_are_new_arrays_every_call():
    layer = Conv2D(1, 2, 3, padding=1, rng=0)
    rng = np.random.default_rng(3)
    x1, x2 = (rng.normal(size=(2, 1, 4, 4)).astype(np.float32) for _ in range(2))
    out1 = layer.forward(x1)
    kept_out = out1.copy()
    d1 = layer.backward(np.ones_like(out1))
    kept_d = d1.copy()
    out2 = layer.forward(x2)
    d2 = layer.backward(2 * np.ones_like(out2))
    assert not np.shares_memory(out1, out2) and not np.shares_memory(d1, d2)
    np.testing.assert_array_equal(out1, kept_out)
    np.testing.assert_array_equal(d1, kept_d)


def test_backward_before_forward_and_wrong_dvalues_are_explained():
    layer = Conv2D(1, 2, 3)
    with pytest.raises(ValueError, match=r"Conv2D.backward was called before Conv2D.forward"):
        layer.backward(np.zeros((1, 2, 2, 2)))
    layer.forward(np.zeros((1, 1, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"dvalues must have the shape of Conv2D's last "
                                         r"output \(1, 2, 2, 2\)"):
        layer.backward(np.zeros((1, 2, 3, 3)))


def test_copies_and_pickles_compute_the_same():
    layer = Conv2D(2, 3, 3, padding=1, rng=0)
    x = np.random.default_rng(4).normal(size=(2, 2, 5, 5)).astype(np.float32)
    output = layer.forward(x)
    layer.backward(np.ones_like(output))
    for twin in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        twin.backward(np.ones_like(output))        # the saved columns came along
        np.testing.assert_array_equal(twin.dweights, layer.dweights)
        np.testing.assert_array_equal(twin.forward(x), output)


def test_the_docstring_examples_run():
    results = doctest.testmod(conv, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.attempted >= 3 and results.failed == 0


# -- end to end --------------------------------------------------------------------------------


def _bars(n=96, seed=0):
    """8x8 pictures with a bright horizontal (class 0) or vertical (class 1) bar."""
    rng = np.random.default_rng(seed)
    X = 0.1 * rng.normal(size=(n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 2, size=n)
    where = rng.integers(1, 7, size=n)
    for index in range(n):
        if y[index] == 0:
            X[index, 0, where[index], :] += 1.0
        else:
            X[index, 0, :, where[index]] += 1.0
    return X, y


def test_a_small_cnn_trains_saves_and_loads(tmp_path):
    X, y = _bars()
    model = snn.Model(
        [Conv2D(1, 4, 3, rng=0), snn.ReLU(), snn.Flatten(), snn.Dense(4 * 6 * 6, 2, rng=1),
         snn.Softmax()],
        loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(learning_rate=0.01), seed=0,
    )
    history = model.fit(X, y, epochs=8, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert not model.parameter_storage().unpacked     # packed with the Dense
    assert model.evaluate(X, y, verbose=0)["accuracy"] > 0.9
    assert model.layer_shapes((1, 8, 8))[0] == (4, 6, 6)
    path = tmp_path / "cnn.snn"
    model.save(path)
    loaded = snn.load_model(path)
    assert isinstance(loaded.layers[0], Conv2D)
    assert loaded.layers[0].describe() == "Conv2D(1, 4, 3)"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
