"""Random generators' states to JSON and back (scratchnn._generator_state)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchnn._generator_state import generator_from_state, generator_state

BIT_GENERATORS = [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox,
                  np.random.SFC64]


@pytest.mark.parametrize("bit_generator", BIT_GENERATORS)
@pytest.mark.parametrize("legacy", [False, True])
def test_a_state_through_json_draws_on_identically(bit_generator, legacy):
    rng = np.random.RandomState(bit_generator(5)) if legacy else np.random.Generator(
        bit_generator(5))
    rng.standard_normal(3)                       # a legacy one now holds a cached Gaussian
    saved = json.loads(json.dumps(generator_state(rng)))
    restored = generator_from_state(saved)
    assert type(restored) is type(rng)
    np.testing.assert_array_equal(restored.standard_normal(7), rng.standard_normal(7))


@pytest.mark.parametrize("name", ["PCG64", "PCG64DXSM"])
def test_an_even_pcg_increment_is_refused(name):
    # In range, but no seeding makes it: such a state draws only zeros.
    saved = generator_state(np.random.Generator(getattr(np.random, name)(1)))
    saved["state"]["state"]["inc"] -= 1
    with pytest.raises(ValueError, match=rf"{name}\.state\.inc must be odd"):
        generator_from_state(saved)


@pytest.mark.parametrize("legacy", [False, True])
def test_an_all_zero_mt19937_key_is_refused(legacy):
    rng = np.random.RandomState(0) if legacy else np.random.Generator(np.random.MT19937(0))
    saved = generator_state(rng)
    saved["state"]["state"]["key"]["values"] = [0] * 624
    with pytest.raises(ValueError, match="must not be all zeros"):
        generator_from_state(saved)
