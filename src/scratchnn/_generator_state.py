"""Random generators' states as JSON, and back, for model files.

A state is written as NumPy gives it (``bit_generator.state``, or ``get_state(legacy=False)``
for a legacy ``RandomState``), with big integers kept as Python ints and state arrays as
tagged lists of ints. Read back, it is untrusted input: NumPy indexes its buffers with what
it is given (an MT19937 ``pos`` of 10**6 crashes Python at the next draw), so every field of
every bit generator is checked for type, length and range before NumPy sees it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._typing import Array
from ._validation import describe

__all__ = ["generator_from_state", "generator_state"]

# Bit generators rebuilt by name from this fixed table: the file never names code to run.
_BIT_GENERATORS = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}
_STATE_ARRAY_DTYPES = {"uint32": np.uint32, "uint64": np.uint64}


@dataclass(frozen=True)
class _Int:
    """An integer field of a generator state, ``low <= value <= high``."""

    low: int
    high: int


@dataclass(frozen=True)
class _IntArray:
    """A NumPy array field of a generator state: ``length`` integers of ``dtype``."""

    dtype: str
    length: int


_FLAG = _Int(0, 1)
_UINT32 = _Int(0, 2**32 - 1)
_UINT128 = _Int(0, 2**128 - 1)
_CACHED_UINT32 = {"has_uint32": _FLAG, "uinteger": _UINT32}
# Every field of every state NumPy writes (``bit_generator.state``), with its type, length and
# range. NumPy trusts a state it is given: an MT19937 ``pos`` of 10**6 or a Philox
# ``buffer_pos`` of 5 index past their buffers and crash Python at the next draw. So a state
# from a file must have exactly these fields, each in range, before NumPy sees it.
_STATE_FIELDS: dict[str, dict[str, Any]] = {
    "PCG64": {"state": {"state": _UINT128, "inc": _UINT128}, **_CACHED_UINT32},
    "PCG64DXSM": {"state": {"state": _UINT128, "inc": _UINT128}, **_CACHED_UINT32},
    # pos counts the key's words already used: 624 means "regenerate at the next draw".
    "MT19937": {"state": {"key": _IntArray("uint32", 624), "pos": _Int(0, 624)}},
    "Philox": {
        "state": {"counter": _IntArray("uint64", 4), "key": _IntArray("uint64", 2)},
        "buffer": _IntArray("uint64", 4),
        "buffer_pos": _Int(0, 4),   # 4: the buffer is used up
        **_CACHED_UINT32,
    },
    "SFC64": {"state": {"state": _IntArray("uint64", 4)}, **_CACHED_UINT32},
}
# A legacy RandomState adds its cached second Gaussian draw to its bit generator's state.
_LEGACY_FIELDS = {"has_gauss": _FLAG, "gauss": float}


def generator_state(rng: np.random.Generator | np.random.RandomState) -> dict[str, Any]:
    """A JSON-able state: big ints stay Python ints, state arrays become tagged int lists."""
    if isinstance(rng, np.random.RandomState):
        return {"type": "RandomState", "state": _to_json(rng.get_state(legacy=False))}
    return {"type": "Generator", "state": _to_json(rng.bit_generator.state)}


def _to_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__array__": value.dtype.name, "values": value.tolist()}
    if isinstance(value, Mapping):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def generator_from_state(saved: Any) -> np.random.Generator | np.random.RandomState:
    """The generator :func:`generator_state` described, after checking every field of it.

    ``saved`` is untrusted (it comes from a file): anything but exactly the fields NumPy
    writes, each of its type and in its range, raises ValueError saying which field.
    """
    if not isinstance(saved, dict) or sorted(saved) != ["state", "type"]:
        raise ValueError("it must hold exactly 'type' and 'state'")
    kind = saved["type"]
    if kind not in ("Generator", "RandomState"):
        raise ValueError(f"unknown generator type {describe(kind)}")
    state = _checked_state(saved["state"], legacy=kind == "RandomState")
    bit_generator = _BIT_GENERATORS[state["bit_generator"]]()
    if kind == "Generator":
        bit_generator.state = state
        return np.random.Generator(bit_generator)
    legacy = np.random.RandomState(bit_generator)
    legacy.set_state(state)
    return legacy


def _checked_state(saved: Any, legacy: bool) -> dict[str, Any]:
    """``saved`` (JSON) as the state NumPy takes, after checking every field; else ValueError."""
    name = saved.get("bit_generator") if isinstance(saved, dict) else None
    if not isinstance(name, str) or name not in _STATE_FIELDS:
        raise ValueError(
            f"bit_generator must be one of {sorted(_STATE_FIELDS)}; got {describe(name)}"
        )
    fields = {**_STATE_FIELDS[name], **(_LEGACY_FIELDS if legacy else {})}
    rest = {key: value for key, value in saved.items() if key != "bit_generator"}
    state = {"bit_generator": name, **_checked_fields(rest, fields, name)}
    _check_reachable(name, state["state"])
    return state


def _check_reachable(name: str, state: dict[str, Any]) -> None:
    """Refuse states that are in range but that no seeding produces, and that draw only
    zeros: PCG's increment is always odd, and an MT19937 key is never all zeros. A
    generator stuck on zeros would give a Dropout that drops nothing, the same shuffle every
    epoch, and ``Generator.integers`` would loop forever."""
    if name in ("PCG64", "PCG64DXSM") and state["inc"] % 2 == 0:
        raise ValueError(f"{name}.state.inc must be odd (as every seeding makes it); got "
                         f"{state['inc']}")
    if name == "MT19937" and not state["key"].any():
        raise ValueError("MT19937.state.key must not be all zeros (no seeding gives it; such "
                         "a generator draws only zeros)")


def _checked_fields(saved: Any, fields: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(saved, dict) or sorted(saved) != sorted(fields):
        got = sorted(saved) if isinstance(saved, dict) else describe(saved)
        raise ValueError(f"{where} must have the fields {sorted(fields)}; got {got}")
    state: dict[str, Any] = {}
    for key, kind in fields.items():
        value, at = saved[key], f"{where}.{key}"
        if isinstance(kind, dict):
            state[key] = _checked_fields(value, kind, at)
        elif isinstance(kind, _IntArray):
            state[key] = _checked_int_array(value, kind, at)
        elif isinstance(kind, _Int):
            if type(value) is not int or not kind.low <= value <= kind.high:
                raise ValueError(
                    f"{at} must be an integer from {kind.low} to {kind.high}; got {describe(value)}"
                )
            state[key] = value
        else:   # the legacy cached Gaussian: NumPy writes a float (0.0 when there is none)
            if type(value) is not float or not math.isfinite(value):
                raise ValueError(f"{at} must be a finite float; got {describe(value)}")
            state[key] = value
    return state


def _checked_int_array(value: Any, kind: _IntArray, where: str) -> Array:
    high = int(np.iinfo(_STATE_ARRAY_DTYPES[kind.dtype]).max)
    ok = (
        isinstance(value, dict)
        and sorted(value) == ["__array__", "values"]
        and value["__array__"] == kind.dtype
        and isinstance(value["values"], list)
        and len(value["values"]) == kind.length
        and all(type(item) is int and 0 <= item <= high for item in value["values"])
    )
    if not ok:
        raise ValueError(
            f"{where} must be {{'__array__': {kind.dtype!r}, 'values': [...]}} with "
            f"{kind.length} integers from 0 to {high}"
        )
    return np.array(value["values"], dtype=_STATE_ARRAY_DTYPES[kind.dtype])
