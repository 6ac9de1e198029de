"""Learning-rate schedules against their formulas, at the edges, and inside the optimizers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import SGD, Adam, Dense
from scratchnn.optimizers import AdamW
from scratchnn.registry import build_entry, describe_entry
from scratchnn.schedules import CosineDecay, ExponentialDecay, InverseTimeDecay, StepDecay


def test_inverse_time_decay_is_the_books_decay():
    schedule = InverseTimeDecay(0.05, decay=0.1)
    for t in (0, 1, 7, 10**6):
        assert schedule(t) == 0.05 / (1 + 0.1 * t)
    assert schedule(0) == 0.05


def test_step_decay_drops_at_each_step_size():
    schedule = StepDecay(0.1, step_size=10, gamma=0.5)
    # t // 10: 0 for t in 0..9, 1 for 10..19, ...
    assert [schedule(t) for t in (0, 9, 10, 19, 20)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert schedule(10**6) == 0.1 * 0.5 ** 100000   # underflows to 0.0, no error
    assert schedule(10**6) == 0.0


def test_exponential_decay_is_smooth():
    schedule = ExponentialDecay(0.1, decay_rate=0.5, decay_steps=100)
    assert schedule(0) == 0.1
    assert schedule(100) == 0.05
    assert schedule(50) == 0.1 * 0.5 ** 0.5
    assert schedule(250) == 0.1 * 0.5 ** 2.5


def cosine(peak, decay_steps, warmup_steps, final, t):
    """The issue's definition, written out."""
    if t < warmup_steps:
        return peak * t / warmup_steps
    if t >= decay_steps:
        return final
    progress = (t - warmup_steps) / (decay_steps - warmup_steps)
    return final + 0.5 * (peak - final) * (1 + math.cos(math.pi * progress))


def test_cosine_decay_at_the_edges():
    schedule = CosineDecay(0.1, decay_steps=110, warmup_steps=10, final=0.001)
    assert schedule(0) == 0.0                 # warm-up starts from 0
    assert schedule(5) == pytest.approx(0.05, rel=1e-15)
    assert schedule(9) == pytest.approx(0.09, rel=1e-15)
    assert schedule(10) == pytest.approx(0.1, rel=1e-15)    # warm-up end: the peak
    assert schedule(60) == pytest.approx((0.1 + 0.001) / 2, rel=1e-15)   # half-way down
    assert schedule(109) == pytest.approx(cosine(0.1, 110, 10, 0.001, 109), rel=1e-14)
    assert schedule(109) > 0.001
    assert schedule(110) == 0.001             # decay end: final
    assert schedule(10**9) == 0.001           # and afterwards
    for t in range(0, 130, 7):
        assert schedule(t) == pytest.approx(cosine(0.1, 110, 10, 0.001, t), rel=1e-14)


def test_cosine_decay_without_warm_up_starts_at_the_peak():
    schedule = CosineDecay(0.2, decay_steps=4)
    assert schedule(0) == 0.2
    assert schedule(2) == pytest.approx(0.1, rel=1e-15)
    assert schedule(4) == 0.0
    rates = [schedule(t) for t in range(6)]
    assert rates == sorted(rates, reverse=True)
    assert CosineDecay(0.2, decay_steps=3, warmup_steps=3)(3) == 0.0   # all warm-up


@pytest.mark.parametrize("make, message", [
    (lambda: InverseTimeDecay(0.0, 0.1), "initial"),
    (lambda: InverseTimeDecay(math.inf, 0.1), "initial"),
    (lambda: InverseTimeDecay(0.1, -1.0), "decay"),
    (lambda: StepDecay(0.1, 0, 0.5), "step_size"),
    (lambda: StepDecay(0.1, 10, 2.0), "gamma"),
    (lambda: StepDecay(0.1, 10**30, 0.5), "step_size must be at most"),
    (lambda: ExponentialDecay(0.1, 0.0, 10), "decay_rate"),
    (lambda: ExponentialDecay(0.1, 0.5, -3), "decay_steps"),
    (lambda: CosineDecay(-0.1, 100), "peak"),
    (lambda: CosineDecay(0.1, 100, warmup_steps=200), "warmup_steps \\(200\\) must be at most"),
    (lambda: CosineDecay(0.1, 100, final=0.2), "final"),
    (lambda: CosineDecay(0.1, 100, final=math.nan), "final"),
])
def test_arguments_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_types_are_checked():
    with pytest.raises(TypeError, match="step_size"):
        StepDecay(0.1, 2.5, 0.5)
    with pytest.raises(TypeError, match="warmup_steps"):
        CosineDecay(0.1, 10, warmup_steps=True)
    with pytest.raises(ValueError, match="step number"):
        CosineDecay(0.1, 10)(-1)


@pytest.mark.parametrize("schedule", [
    InverseTimeDecay(0.1, 0.01), StepDecay(0.1, 5, 0.5), ExponentialDecay(0.1, 0.9, 7),
    CosineDecay(0.1, 50, warmup_steps=5, final=0.01),
])
def test_config_round_trip(schedule):
    entry = describe_entry("schedule", schedule)
    assert entry["class"] == type(schedule).__name__
    rebuilt = build_entry("schedule", entry)
    assert rebuilt == schedule and rebuilt is not schedule
    assert [rebuilt(t) for t in range(60)] == [schedule(t) for t in range(60)]
    assert repr(schedule).startswith(type(schedule).__name__ + "(")


@pytest.mark.parametrize("make_optimizer", [
    lambda s: SGD(s), lambda s: SGD(s, momentum=0.9, nesterov=True), lambda s: snn.Adagrad(s),
    lambda s: snn.RMSprop(s), lambda s: Adam(s), lambda s: AdamW(s),
], ids=["sgd", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_every_optimizer_follows_a_schedule(make_optimizer):
    schedule = CosineDecay(0.1, decay_steps=6, warmup_steps=2)
    optimizer = make_optimizer(schedule)
    assert optimizer.learning_rate is schedule
    assert optimizer.current_learning_rate == 0.0
    layer = Dense(2, 2, rng=0, dtype=np.float64)
    rates = []
    for _ in range(8):
        layer.dweights, layer.dbiases = np.ones((2, 2)), np.ones((1, 2))
        optimizer.pre_update_params()
        rates.append(optimizer.current_learning_rate)
        optimizer.update_params(layer)
        optimizer.post_update_params()
    assert rates == [schedule(t) for t in range(8)]
    config = optimizer.get_config()
    assert config["learning_rate"] == {"class": "CosineDecay", "config": schedule.get_config()}
    rebuilt = build_entry("optimizer", {"class": type(optimizer).__name__, "config": config})
    assert rebuilt.learning_rate == schedule
    assert "learning_rate=CosineDecay(peak=0.1" in repr(optimizer)


def test_decay_with_a_schedule_is_refused():
    with pytest.raises(ValueError, match="decay cannot be combined with a learning-rate schedule"):
        Adam(CosineDecay(0.1, 10), decay=1e-3)


def test_history_shows_the_scheduled_rate():
    X, y = snn.datasets.spiral_data(samples=20, classes=2, rng=0)
    schedule = StepDecay(0.05, step_size=3, gamma=0.5)
    model = snn.Model([Dense(2, 4, rng=0), snn.ReLU(), Dense(4, 2, rng=1), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=Adam(schedule), seed=0)
    history = model.fit(X, y, epochs=4, batch_size=20, verbose=0)   # 2 steps an epoch
    # The rate of each epoch's last update: steps 1, 3, 5, 7.
    assert history.history["learning_rate"] == [schedule(t) for t in (1, 3, 5, 7)]


def test_learning_rate_scheduler_refuses_a_scheduled_optimizer():
    from scratchnn.callbacks import LearningRateScheduler

    X, y = snn.datasets.spiral_data(samples=10, classes=2, rng=0)
    model = snn.Model([Dense(2, 2, rng=0), snn.Softmax()], loss=snn.CategoricalCrossentropy(),
                      optimizer=Adam(CosineDecay(0.1, 10)), seed=0)
    with pytest.raises(ValueError, match="use one or the other"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e: 0.1)])
