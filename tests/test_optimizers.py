"""Optimizers against the book's update rules, written here independently in float64 NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import SGD, Adagrad, Adam, Dense, RMSprop
from scratchnn.optimizers import AdamW

STEPS = 5
LR, DECAY, EPS = 0.05, 0.1, 1e-7


def decayed(lr: float, decay: float, iterations: int) -> float:
    return lr / (1 + decay * iterations)


# Reference updates: one function per optimizer, state passed in explicitly, returning the new
# parameter and state. `t` is the number of iterations done before this step.


def sgd_reference(p, g, state, t, *, momentum=0.0):
    lr = decayed(LR, DECAY, t)
    if momentum == 0.0:
        return p - lr * g, state
    m = momentum * state.get("m", np.zeros_like(p)) - lr * g
    return p + m, {"m": m}


def adagrad_reference(p, g, state, t):
    lr = decayed(LR, DECAY, t)
    c = state.get("c", np.zeros_like(p)) + g**2
    return p - lr * g / (np.sqrt(c) + EPS), {"c": c}


def rmsprop_reference(p, g, state, t, *, rho):
    lr = decayed(LR, DECAY, t)
    c = rho * state.get("c", np.zeros_like(p)) + (1 - rho) * g**2
    return p - lr * g / (np.sqrt(c) + EPS), {"c": c}


def adam_reference(p, g, state, t, *, b1, b2):
    lr = decayed(LR, DECAY, t)
    m = b1 * state.get("m", np.zeros_like(p)) + (1 - b1) * g
    v = b2 * state.get("v", np.zeros_like(p)) + (1 - b2) * g**2
    m_hat = m / (1 - b1 ** (t + 1))
    v_hat = v / (1 - b2 ** (t + 1))
    return p - lr * m_hat / (np.sqrt(v_hat) + EPS), {"m": m, "v": v}


CASES = {
    "sgd": (lambda: SGD(LR, decay=DECAY), sgd_reference),
    "sgd-momentum": (
        lambda: SGD(LR, decay=DECAY, momentum=0.9),
        lambda p, g, s, t: sgd_reference(p, g, s, t, momentum=0.9),
    ),
    "adagrad": (lambda: Adagrad(LR, decay=DECAY, epsilon=EPS), adagrad_reference),
    "rmsprop": (
        lambda: RMSprop(LR, decay=DECAY, epsilon=EPS, rho=0.8),
        lambda p, g, s, t: rmsprop_reference(p, g, s, t, rho=0.8),
    ),
    "adam": (
        lambda: Adam(LR, decay=DECAY, epsilon=EPS, beta_1=0.85, beta_2=0.99),
        lambda p, g, s, t: adam_reference(p, g, s, t, b1=0.85, b2=0.99),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_five_steps_follow_the_textbook_rule(name):
    make_optimizer, reference = CASES[name]
    optimizer = make_optimizer()
    layer = Dense(3, 2, dtype=np.float64, rng=0)
    layer.biases = np.array([[0.3, -0.2]])
    rng = np.random.default_rng(9)

    params = [layer.weights.copy(), layer.biases.copy()]
    states: list[dict] = [{}, {}]
    rates = []
    for t in range(STEPS):
        grads = [rng.normal(size=(3, 2)), rng.normal(size=(1, 2))]
        layer.dweights, layer.dbiases = grads[0].copy(), grads[1].copy()

        optimizer.pre_update_params()
        optimizer.update_params(layer)
        optimizer.post_update_params()
        rates.append(optimizer.current_learning_rate)

        for i in range(2):
            params[i], states[i] = reference(params[i], grads[i], states[i], t)
        np.testing.assert_allclose(layer.weights, params[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.biases, params[1], rtol=1e-12, atol=1e-15)

    assert optimizer.iterations == STEPS
    np.testing.assert_allclose(rates, [LR / (1 + DECAY * t) for t in range(STEPS)], rtol=1e-15)
    assert layer.weights.dtype == np.float64


# -- AdamW and Nesterov over 25 steps, against their formulas written out ---------------------


def adamw_reference(p, g, state, t, *, lr, wd, b1, b2, eps):
    """torch.optim.AdamW's step: decay the weights, then Adam's bias-corrected step."""
    p = p - lr * wd * p
    m = b1 * state.get("m", np.zeros_like(p)) + (1 - b1) * g
    v = b2 * state.get("v", np.zeros_like(p)) + (1 - b2) * g**2
    m_hat = m / (1 - b1 ** (t + 1))
    v_hat = v / (1 - b2 ** (t + 1))
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), {"m": m, "v": v}


def nesterov_reference(p, g, state, t, *, lr, momentum):
    """torch.optim.SGD(nesterov=True, dampening=0): buf = mu * buf + g; p -= lr * (g + mu * buf)."""
    buf = momentum * state.get("buf", np.zeros_like(p)) + g
    return p - lr * (g + momentum * buf), {"buf": buf}


LONG_CASES = {
    "adamw": (
        lambda: AdamW(0.01, weight_decay=0.2, beta_1=0.85, beta_2=0.99, epsilon=1e-7),
        lambda p, g, s, t: adamw_reference(p, g, s, t, lr=0.01, wd=0.2, b1=0.85, b2=0.99,
                                           eps=1e-7),
    ),
    "adamw-defaults": (
        lambda: AdamW(),
        lambda p, g, s, t: adamw_reference(p, g, s, t, lr=0.001, wd=0.01, b1=0.9, b2=0.999,
                                           eps=1e-7),
    ),
    "nesterov": (
        lambda: SGD(0.05, momentum=0.9, nesterov=True),
        lambda p, g, s, t: nesterov_reference(p, g, s, t, lr=0.05, momentum=0.9),
    ),
}


@pytest.mark.parametrize("name", list(LONG_CASES))
def test_25_steps_follow_the_formula(name):
    make_optimizer, reference = LONG_CASES[name]
    optimizer = make_optimizer()
    layer = Dense(3, 2, dtype=np.float64, rng=0)
    layer.biases = np.array([[0.3, -0.2]])
    rng = np.random.default_rng(4)
    params = [layer.weights.copy(), layer.biases.copy()]
    states: list[dict] = [{}, {}]
    for t in range(25):
        grads = [rng.normal(size=(3, 2)), rng.normal(size=(1, 2))]
        layer.dweights, layer.dbiases = grads[0].copy(), grads[1].copy()
        optimizer.pre_update_params()
        optimizer.update_params(layer)
        optimizer.post_update_params()
        for i in range(2):
            params[i], states[i] = reference(params[i], grads[i], states[i], t)
        np.testing.assert_allclose(layer.weights, params[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.biases, params[1], rtol=1e-12, atol=1e-15)


def test_adamw_without_weight_decay_is_adam():
    layers = [Dense(3, 2, dtype=np.float64, rng=0) for _ in range(2)]
    optimizers = [AdamW(0.01, weight_decay=0.0), Adam(0.01)]
    rng = np.random.default_rng(1)
    for _ in range(5):
        grads = [rng.normal(size=(3, 2)), rng.normal(size=(1, 2))]
        for layer, optimizer in zip(layers, optimizers, strict=True):
            layer.dweights, layer.dbiases = grads[0].copy(), grads[1].copy()
            optimizer.pre_update_params()
            optimizer.update_params(layer)
            optimizer.post_update_params()
    np.testing.assert_array_equal(layers[0].weights, layers[1].weights)


def test_adamw_decays_a_weight_without_gradient():
    # dw = 0: Adam's step is 0 and only the decay acts, w *= 1 - lr * wd every step.
    layer = Dense(1, 1, dtype=np.float64, rng=0)
    layer.weights[...] = 2.0
    optimizer = AdamW(learning_rate=0.1, weight_decay=0.5)
    for _ in range(2):
        layer.dweights, layer.dbiases = np.zeros((1, 1)), np.zeros((1, 1))
        optimizer.pre_update_params()
        optimizer.update_params(layer)
        optimizer.post_update_params()
    # 2.0 * (1 - 0.05) = 1.9; 1.9 * 0.95 = 1.805
    assert layer.weights[0, 0] == pytest.approx(1.805, abs=1e-15)


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        SGD(0.1, nesterov=True)
    with pytest.raises(TypeError, match="nesterov must be True or False"):
        SGD(0.1, momentum=0.9, nesterov=1)
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=-0.1)


def test_against_torch_if_installed():
    """Optional: the same numbers through torch.optim (not in the dev environment)."""
    torch = pytest.importorskip(
        "torch", reason="torch is not installed; the formula tests above cover the math"
    )
    for ours, make_theirs in [
        (AdamW(0.01, weight_decay=0.2, epsilon=1e-7),
         lambda p: torch.optim.AdamW([p], lr=0.01, weight_decay=0.2, eps=1e-7)),
        (SGD(0.05, momentum=0.9, nesterov=True),
         lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True)),
    ]:
        layer = Dense(3, 2, dtype=np.float64, rng=0)
        theirs_param = torch.tensor(layer.weights.copy(), requires_grad=True)
        theirs = make_theirs(theirs_param)
        rng = np.random.default_rng(2)
        for _ in range(25):
            g = rng.normal(size=(3, 2))
            layer.dweights, layer.dbiases = g.copy(), np.zeros((1, 2))
            ours.pre_update_params()
            ours.update_params(layer)
            ours.post_update_params()
            theirs_param.grad = torch.tensor(g)
            theirs.step()
        np.testing.assert_allclose(layer.weights, theirs_param.detach().numpy(), rtol=1e-10)


def test_sgd_momentum_one_step_by_hand():
    layer = Dense(1, 1, dtype=np.float64, rng=0)
    layer.weights[...] = 1.0
    optimizer = SGD(learning_rate=0.5, momentum=0.9)
    for _ in range(2):
        layer.dweights = np.array([[2.0]])
        layer.dbiases = np.array([[0.0]])
        optimizer.pre_update_params()
        optimizer.update_params(layer)
        optimizer.post_update_params()
    # step 1: m = 0.9 * 0 - 0.5 * 2 = -1.0;         w = 1.0 - 1.0 = 0.0
    # step 2: m = 0.9 * -1.0 - 0.5 * 2 = -1.9;      w = 0.0 - 1.9 = -1.9
    assert layer.weights[0, 0] == pytest.approx(-1.9, abs=1e-15)


def test_without_decay_the_rate_stays_put():
    optimizer = Adam(learning_rate=0.01)
    layer = Dense(2, 2, rng=0)
    for _ in range(3):
        optimizer.pre_update_params()
        optimizer.update_params(layer)
        optimizer.post_update_params()
    assert optimizer.current_learning_rate == 0.01
    assert optimizer.iterations == 3


@pytest.mark.parametrize("name", list(CASES))
def test_float32_layers_stay_float32(name):
    optimizer = CASES[name][0]()
    layer = Dense(3, 2, rng=0)
    layer.dweights = np.ones((3, 2), dtype=np.float32)
    layer.dbiases = np.ones((1, 2), dtype=np.float32)
    weights = layer.weights
    for _ in range(2):
        optimizer.pre_update_params()
        optimizer.update_params(layer)
        optimizer.post_update_params()
    assert layer.weights is weights  # updated in place
    assert layer.weights.dtype == np.float32 and layer.biases.dtype == np.float32
    slot_arrays = [a for slots in optimizer.get_slots(layer) for a in slots.values()]
    assert all(a.dtype == np.float32 for a in slot_arrays)


def test_state_is_kept_per_layer():
    optimizer = Adagrad(learning_rate=0.1)
    first = Dense(2, 2, dtype=np.float64, rng=0)
    second = Dense(2, 2, dtype=np.float64, rng=1)
    first.dweights, first.dbiases = np.full((2, 2), 3.0), np.zeros((1, 2))
    second.dweights, second.dbiases = np.full((2, 2), 1.0), np.zeros((1, 2))
    optimizer.pre_update_params()
    optimizer.update_params(first)
    optimizer.update_params(second)
    optimizer.post_update_params()
    np.testing.assert_array_equal(optimizer.get_slots(first)[0]["cache"], np.full((2, 2), 9.0))
    np.testing.assert_array_equal(optimizer.get_slots(second)[0]["cache"], np.full((2, 2), 1.0))


@pytest.mark.parametrize("optimizer", [SGD, Adagrad, RMSprop, Adam])
@pytest.mark.parametrize("rate", [0, -0.1, float("inf")])
def test_learning_rate_must_be_positive(optimizer, rate):
    with pytest.raises(ValueError, match=r"^learning_rate must be"):
        optimizer(learning_rate=rate)


def test_other_hyperparameters_are_checked():
    with pytest.raises(ValueError, match="decay must be in"):
        SGD(decay=-1)
    with pytest.raises(ValueError, match="momentum must be in"):
        SGD(momentum=1.0)
    with pytest.raises(ValueError, match="rho must be in"):
        RMSprop(rho=1.5)
    with pytest.raises(ValueError, match="beta_2 must be in"):
        Adam(beta_2=1.0)
    with pytest.raises(ValueError, match="epsilon must be in"):
        Adagrad(epsilon=0)
    with pytest.raises(TypeError, match="learning_rate must be a real number"):
        Adam(learning_rate="0.1")


def test_repr_shows_the_config():
    assert repr(SGD(0.5, momentum=0.9)) == (
        "SGD(learning_rate=0.5, decay=0.0, momentum=0.9, nesterov=False)"
    )


# -- whole-model steps over flat buffers ---------------------------------------------------------


def _flat_and_layerwise(optimizer, dtype):
    """The same two-layer model twice: one stepped over its packed buffers, one layer by
    layer (the book's protocol), from the same gradients."""
    import scratchnn as snn

    models = []
    for _ in range(2):
        model = snn.Model([snn.Dense(3, 5, rng=0, dtype=dtype), snn.ReLU(),
                           snn.Dense(5, 2, rng=1, dtype=dtype), snn.Softmax()],
                          loss=snn.CategoricalCrossentropy(), optimizer=optimizer(), seed=0)
        models.append(model)
    return models


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", [
    lambda: SGD(learning_rate=0.3), lambda: SGD(learning_rate=0.3, momentum=0.9, decay=1e-2),
    lambda: Adagrad(learning_rate=0.2), lambda: RMSprop(learning_rate=0.01, rho=0.8),
    lambda: Adam(learning_rate=0.05, decay=1e-3),
    lambda: SGD(learning_rate=0.3, momentum=0.9, nesterov=True, decay=1e-2),
    lambda: AdamW(learning_rate=0.05, weight_decay=0.1, decay=1e-3),
], ids=["sgd", "momentum", "adagrad", "rmsprop", "adam", "nesterov", "adamw"])
def test_a_flat_step_is_the_layer_by_layer_step_bit_for_bit(optimizer, dtype):
    flat, layerwise = _flat_and_layerwise(optimizer, dtype)
    storage = flat.parameter_storage()
    rng = np.random.default_rng(0)
    for _ in range(25):
        X = rng.normal(size=(8, 3)).astype(dtype)
        y = rng.integers(0, 2, size=8)
        for model in (flat, layerwise):
            model.backward(model.forward(X, training=True), y)
        flat.update(storage)
        layerwise.update()
    for a, b in zip(flat.get_parameters(), layerwise.get_parameters(), strict=True):
        for pa, pb in zip(a, b, strict=True):
            np.testing.assert_array_equal(pa, pb)
    for la, lb in zip(flat.trainable_layers, layerwise.trainable_layers, strict=True):
        for sa, sb in zip(flat.optimizer.get_slots(la), layerwise.optimizer.get_slots(lb),
                          strict=True):
            assert sa.keys() == sb.keys()
            for name in sa:
                np.testing.assert_array_equal(sa[name], sb[name])
                # The layer's slots are views of the optimizer's flat buffers.
                assert any(np.shares_memory(sa[name], buffer)
                           for per_dtype in flat.optimizer.flat_slots(storage).values()
                           for buffer in per_dtype.values())


def test_flat_steps_flush_values_that_can_no_longer_matter():
    from scratchnn.optimizers import FLUSH_BELOW

    flat, layerwise = _flat_and_layerwise(lambda: Adam(learning_rate=0.01), np.float32)
    storage = flat.parameter_storage()
    tiny = FLUSH_BELOW[np.dtype(np.float32)]
    assert 1e-31 < tiny < 1e-30 and tiny > np.finfo(np.float32).tiny * 2**20
    # Decayed moments and a parameter on their way to the subnormal range.
    for model in (flat, layerwise):
        dense = model.layers[0]
        dense.weights[0, 0] = tiny / 4
        slots = model.optimizer.get_slots(dense)
    flat.optimizer.flat_slots(storage)           # the flat buffers take the values over
    slots = flat.optimizer.get_slots(flat.layers[0])
    slots[0]["momentum"][1, 1] = tiny / 8
    slots[0]["cache"][2, 2] = tiny / 2
    slots[0]["cache"][0, 1] = tiny * 4             # above the threshold: kept
    X = np.zeros((4, 3), dtype=np.float32)          # zero inputs: dweights are 0
    y = np.zeros(4, dtype=np.intp)
    for step in range(flat.optimizer.FLUSH_EVERY):
        flat.backward(flat.forward(X, training=True), y)
        flat.update(storage)
        if step == flat.optimizer.FLUSH_EVERY - 2:
            assert slots[0]["cache"][2, 2] != 0      # not before the 64th flat step
    weights = flat.layers[0].weights
    assert weights[0, 0] == 0 and slots[0]["momentum"][1, 1] == 0
    assert slots[0]["cache"][2, 2] == 0 and slots[0]["cache"][0, 1] > 0
    # Everything else is what the flush-free per-layer path gives, to float32 rounding.
    for _ in range(flat.optimizer.FLUSH_EVERY):
        layerwise.backward(layerwise.forward(X, training=True), y)
        layerwise.update()
    np.testing.assert_allclose(weights, layerwise.layers[0].weights, rtol=1e-6, atol=1e-30)
