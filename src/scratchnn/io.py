"""Model files: one safe, self-checking file per model; loading never runs code.

A file is a fixed 52-byte prefix, a JSON header and raw little-endian arrays::

    magic b"\\x89SNN\\r\\n\\x1a\\n" | format version (uint32) | header length (uint64)
    | sha256 of the header | header (UTF-8 JSON) | zero padding | arrays, each 64-byte aligned

The header lists every array (name, dtype, shape, offset, size, sha256) and holds what is
not an array: the architecture (``model.get_config()``), which arrays are each layer's
parameters and non-trainable state (``layer.state()``, e.g. a running mean), the optimizer's
iteration count and learning rate, the random generators' states. Every byte is covered by a
checksum or must be zero, so a damaged file is refused with
:class:`~scratchnn.errors.ModelFileError` instead of loading as a quietly different model.
Only float32 and float64 arrays are accepted: there is no pickle anywhere, so a file cannot
carry code. ``docs/model-file-format.md`` gives the byte-level layout and the versioning
policy (this scratchnn writes version 2 and reads versions 1 and 2).

A file is untrusted input in every field: the header's size and nesting depth are bounded,
every value has its type and range checked before NumPy or the model sees it (NumPy trusts
a generator state it is given), every layer's arrays are compared with the shapes its class
declares from the file's config (``array_shapes``) before anything is built, and the file is
read in pieces, each array straight into its own buffer, so loading needs about the memory of
the model's arrays.

Saves are atomic: the file is written to a temporary file in the same folder, flushed to disk
and then renamed over the target, so a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import operator
import os
import re
import stat
import struct
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import numpy as np

from ._files import atomic_write
from ._generator_state import generator_from_state, generator_state
from ._typing import Array
from ._validation import describe
from ._version import __version__
from .errors import ModelFileError
from .layers.base import Layer
from .registry import library_class_name, lookup

if TYPE_CHECKING:
    from .model import Model

PathLike = str | os.PathLike[str]

MAGIC = b"\x89SNN\r\n\x1a\n"   # like PNG's: a high byte, then line endings a transfer would mangle
# Version 2 added the layers' non-trainable state (the header's "state"); a version-1 file
# is read as one without state. This scratchnn writes version 2 and reads both.
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
ALIGNMENT = 64                  # arrays start on 64-byte boundaries (ready for memory mapping)
_PREFIX = struct.Struct("<8sIQ32s")   # magic, format version, header length, sha256(header)
_DTYPES: dict[str, np.dtype[Any]] = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8")}
_TEMP_SUFFIX = ".scratchnn-tmp"

# Bounds on what a file may ask for. A real header is a few kB (a thousand layers stay far
# under 1 MiB); JSON nested deeper than a real header would need only exists to exhaust the
# parser's recursion.
_MAX_HEADER_BYTES = 16 * 1024 * 1024
_MAX_NESTING = 64
_MAX_DIMENSIONS = 64            # NumPy's own limit on an array's number of dimensions
_MAX_ARRAY_BYTES = 2**62        # NumPy refuses arrays larger than its signed 64-bit sizes
# The decay and Adam's bias correction compute with the iteration count as a float: 10**400
# would overflow there at the first step. Saving refuses what loading would (no run gets
# near 2**63 steps).
_MAX_ITERATIONS = 2**63 - 1
# JSON containers a header may hold. Parsing costs far more memory than the text (an empty
# object is 3 bytes of text and ~64 bytes of Python); a real header holds a few per array
# and per layer (a thousand layers with Adam and their own generators: under 20,000).
_MAX_CONTAINERS = 200_000
# Optimizer slots that hold running sums of squared gradients: never negative (a negative
# one would give sqrt(cache) of NaN at the first step).
_NON_NEGATIVE_SLOTS = frozenset({"cache"})
_READ_CHUNK = 16 * 1024 * 1024  # an array is read and hashed this many bytes at a time


# --------------------------------------------------------------------------- public functions


def save_model(model: Model, path: PathLike) -> None:
    """Write ``model`` to ``path``: architecture, parameters, the layers' non-trainable state,
    optimizer and random states (format version 2).

    Loading the file with :func:`scratchnn.load_model` and training on gives exactly the
    parameters that training on without the save would have given. The save is atomic and
    refuses a model with NaN or infinite parameters or state (ValueError naming the layer), so
    a diverged model never overwrites a good file. An existing file keeps its permission bits.
    """
    _check_path(path)
    header, arrays = _model_contents(model)
    write_file(path, header, arrays)


@contextlib.contextmanager
def open_model(path: PathLike) -> Iterator[StoredModel]:
    """Open the whole-model file at ``path`` for :func:`scratchnn.load_model`.

    The header is read and checked, and every layer of its architecture compared with the
    stored arrays (the shapes its registered class declares from the file's config with
    ``array_shapes``), before anything is built; the arrays are read by
    :meth:`StoredModel.restore`. Whatever goes wrong inside the ``with`` block, building the
    model included, becomes a :class:`~scratchnn.errors.ModelFileError` naming the file;
    FileNotFoundError for a missing file, TypeError for a ``path`` that is not a file path.

    io rebuilds no model itself (it does not import :mod:`scratchnn.model`)::

        with open_model(path) as stored:
            model = stored.build(Model.from_config)
            stored.restore(model)
    """
    _check_path(path)
    with _loading(path), _open_for_reading(path) as file:
        header = _read_header(path, file)
        if header["content"] != "model":
            _refuse(
                path,
                f"it holds only {header['content']}, not a whole model; build the model and "
                "call scratchnn.io.load_parameters(model, path)",
            )
        _refuse_unused_arrays(path, header)
        _check_array_shapes(path, header)
        yield StoredModel(path, file, header)


class StoredModel:
    """A model file opened by :func:`open_model`: header checked, arrays not yet read."""

    def __init__(self, path: PathLike, file: IO[bytes], header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self._file = file

    @property
    def config(self) -> dict[str, Any]:
        """The architecture, as ``Model.get_config()`` gave it when saving."""
        config: dict[str, Any] = self.header["config"]
        return config

    def build(self, from_config: Callable[..., Any]) -> Any:
        """``from_config(config, rng=0)``; what it raises is refused as the file's fault.

        The file supplies the parameters: the placeholders are drawn from a throwaway
        generator so that loading leaves the library generator where the user had it.
        """
        try:
            return from_config(self.config, rng=0)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
            _refuse(self.path, f"its architecture cannot be rebuilt: {error}")

    def restore(self, model: Model) -> None:
        """Read the arrays into ``model`` (built from :attr:`config`) and restore its state.

        The parameters and the layers' state are read straight into the model's own arrays
        (no second copy), then the optimizer's slots and counters, the random generators and
        the accuracy.
        """
        path, header = self.path, self.header
        layers = _trainable_layers(model)
        names = _matching_parameters(path, header, model, layers)
        state = _matching_state(path, header, model)
        into: dict[str, Array | None] = {name: None for name in _slot_names(header)}
        for layer, layer_names in zip(layers, names, strict=True):
            into.update(zip(layer_names, layer.parameters(), strict=True))
        into.update((name, target) for name, target, _ in state)
        arrays = _read_arrays(path, self._file, header, into)
        _set_arrays(path, model, layers, names, state, arrays)
        _restore_optimizer(path, header, arrays, model, layers)
        _restore_random_states(path, header["random_state"], model)
        _restore_accuracy(path, header["accuracy"], model)


def save_parameters(model: Model, path: PathLike) -> None:
    """Write the trainable parameters of ``model`` and its layers' non-trainable state
    (running means and the like), nothing else (same format, same safety)."""
    _check_path(path)
    layers = _trainable_layers(model)
    _check_finite_parameters(layers)
    arrays: dict[str, Array] = {}
    header = {
        "content": "parameters",
        "parameters": _describe_parameters(model, layers, arrays),
        "state": _describe_state(model, arrays),
    }
    write_file(path, header, arrays)


def load_parameters(model: Model, path: PathLike) -> None:
    """Copy the parameters and layer state stored at ``path`` (a parameters or a whole-model
    file) into ``model``.

    The number of trainable layers, their classes and positions in the model (a Dropout added
    in between moves them), which layers keep state and under which names, and every shape
    and dtype must match the model; otherwise ModelFileError says which layer differs and
    nothing is changed. A version-1 file stores no state: it loads into a model whose layers
    keep none.
    """
    _check_path(path)
    # Before _loading: a model that cannot finalize is no fault of the file.
    layers = _trainable_layers(model)
    with _loading(path), _open_for_reading(path) as file:
        header = _read_header(path, file)
        _refuse_unused_arrays(path, header)
        names = _matching_parameters(path, header, model, layers)
        state = _matching_state(path, header, model)
        wanted: dict[str, Array | None] = {name: None for group in names for name in group}
        wanted.update((name, None) for name, _, _ in state)
        arrays = _read_arrays(path, file, header, wanted)
        _set_arrays(path, model, layers, names, state, arrays)


# --------------------------------------------------------------------------- model <-> contents


def _trainable_layers(model: Model) -> list[Any]:
    model.finalize()
    return list(model.trainable_layers)


def _check_finite_parameters(layers: list[Any]) -> None:
    for index, layer in enumerate(layers):
        for array in layer.parameters():
            if not np.isfinite(array).all():
                bad = int(array.size - np.count_nonzero(np.isfinite(array)))
                raise ValueError(
                    f"refusing to save: trainable layer {index} ({type(layer).__name__}) has "
                    f"{bad} NaN or infinite parameter value(s); the training diverged, and the "
                    "file on disk (if any) was left as it was"
                )


def _describe_parameters(
    model: Model, layers: list[Any], arrays: dict[str, Array]
) -> list[dict[str, Any]]:
    """One entry per trainable layer; its arrays are added to ``arrays``."""
    positions = {id(layer): position for position, layer in enumerate(model.layers)}
    entries = []
    for index, layer in enumerate(layers):
        names = []
        for j, array in enumerate(layer.parameters()):
            name = f"parameters/{index}/{j}"
            arrays[name] = array
            names.append(name)
        entries.append(
            {"layer": positions[id(layer)], "class": library_class_name(layer), "arrays": names}
        )
    return entries


def _describe_state(model: Model, arrays: dict[str, Array]) -> list[dict[str, Any]]:
    """One entry per layer that keeps state, trainable or not; its arrays go to ``arrays``.

    Refuses (before anything is written) a state that is not a float array or that holds NaN
    or infinity, as for the parameters.
    """
    entries = []
    for position, layer in enumerate(model.layers):
        names = {}
        for state_name, array in layer.state().items():
            where = f"the state {state_name!r} of layer {position} ({type(layer).__name__})"
            if not (isinstance(array, np.ndarray) and array.dtype.name in _DTYPES):
                raise TypeError(
                    f"cannot save: {where} must be a float32 or float64 NumPy array; got "
                    f"{describe(array)}"
                )
            if not np.isfinite(array).all():
                raise ValueError(
                    f"refusing to save: {where} holds NaN or infinity; the file on disk (if "
                    "any) was left as it was"
                )
            name = f"state/{position}/{state_name}"
            arrays[name] = array
            names[state_name] = name
        if names:
            entries.append(
                {"layer": position, "class": library_class_name(layer), "arrays": names}
            )
    return entries


def _model_contents(model: Model) -> tuple[dict[str, Any], dict[str, Array]]:
    layers = _trainable_layers(model)
    _check_finite_parameters(layers)
    arrays: dict[str, Array] = {}
    header: dict[str, Any] = {
        "content": "model",
        "config": model.get_config(),
        "parameters": _describe_parameters(model, layers, arrays),
        "state": _describe_state(model, arrays),
        "optimizer": None,
        "random_state": _random_states(model),
        "accuracy": None,
    }
    optimizer = model.optimizer
    if optimizer is not None:
        slots_entry = []
        for index, layer in enumerate(layers):
            per_parameter = []
            for j, slots in enumerate(optimizer.get_slots(layer)):
                names = {}
                for slot_name, array in slots.items():
                    if not np.isfinite(array).all():
                        raise ValueError(
                            f"refusing to save: the optimizer's {slot_name!r} state of trainable "
                            f"layer {index} ({type(layer).__name__}) holds NaN or infinity"
                        )
                    name = f"optimizer/{index}/{j}/{slot_name}"
                    arrays[name] = array
                    names[slot_name] = name
                per_parameter.append(names)
            slots_entry.append(per_parameter)
        if not 0 <= float(optimizer.learning_rate_scale) <= 1:
            raise ValueError(  # never write a file that loading would refuse
                f"refusing to save: the optimizer's learning_rate_scale "
                f"{optimizer.learning_rate_scale} is outside [0, 1]"
            )
        if not 0 <= int(optimizer.iterations) <= _MAX_ITERATIONS:
            raise ValueError(  # never write a file that loading would refuse
                f"refusing to save: the optimizer's iteration count {optimizer.iterations} is "
                "outside 0..2**63 - 1"
            )
        header["optimizer"] = {
            "class": library_class_name(optimizer),
            "iterations": int(optimizer.iterations),
            "current_learning_rate": float(optimizer.current_learning_rate),
            "learning_rate_scale": float(optimizer.learning_rate_scale),
            "slots": slots_entry,
        }
    precision = getattr(model.accuracy, "precision", None)
    if isinstance(precision, float):
        # RegressionAccuracy derives its precision from the training targets: keep it.
        header["accuracy"] = {"precision": precision}
    return header, arrays


def _random_states(model: Model) -> dict[str, Any]:
    """The model's generator and each Dropout layer's, sharing kept (one generator, one state)."""
    seen: dict[int, Any] = {id(model.rng): "model"}
    dropout = []
    for position, layer in enumerate(model.layers):
        rng = getattr(layer, "rng", None)
        if not isinstance(rng, (np.random.Generator, np.random.RandomState)):
            continue
        if id(rng) in seen:
            dropout.append({"layer": position, "same_as": seen[id(rng)]})
        else:
            seen[id(rng)] = position
            dropout.append({"layer": position, "state": generator_state(rng)})
    return {"model": generator_state(model.rng), "layers": dropout}


def _check_array_shapes(path: PathLike, header: dict[str, Any]) -> None:
    """Every layer's arrays, as its class declares them from the file's config, must be the
    stored arrays: checked before anything is built.

    Building first would let a hostile file ask for a Dense(10**9, 10**9), or a huge layer of
    any kind, and exhaust memory; the stored arrays are bounded by the file's size. Each
    layer's registered class gives the shapes its config would allocate
    (``cls.array_shapes(config)``, nothing allocated); its parameters (in
    ``parameter_names`` order) and state arrays (by name) must be stored with exactly those
    shapes. A class that cannot tell (None) is not checked here: it is built from the file's
    config, so its own constructor is the guard.
    """
    layers = header["config"].get("layers")
    if not isinstance(layers, list):
        _refuse(path, "its architecture has no list of layers")
    table = _table(header)

    def stored_shapes(names: Iterable[str]) -> list[tuple[int, ...]]:
        return [tuple(table[name]["shape"]) for name in names]

    parameters = {entry["layer"]: entry["arrays"] for entry in header["parameters"]}
    stored_state = header.get("state")   # None in a version-1 file, which holds no state
    state = {entry["layer"]: entry["arrays"] for entry in stored_state or []}
    for position, entry in enumerate(layers):
        cls, config = _layer_class(path, entry)
        where = f"layer {position} ({cls.__name__})"
        shapes = _declared_shapes(path, cls, config, where)
        if shapes is None:
            continue
        if _declares(cls, "parameters"):
            expected = [shapes[name] for name in cls.parameter_names]
            got = stored_shapes(parameters.get(position, []))
            if got != expected:
                needs = _and(f"{name} {shape}" for name, shape in
                             zip(cls.parameter_names, expected, strict=True))
                stores = _and(map(str, got))
                _refuse(
                    path,
                    f"{where} needs {needs or 'no parameters'} by its config, but the file "
                    f"stores {'arrays shaped ' + stores if got else 'no parameters for it'}",
                )
        if _declares(cls, "state"):
            expected_state = {name: shapes[name] for name in cls.state_names}
            if expected_state and stored_state is None:
                _refuse(path, _no_state(where, expected_state, version_1=True))
            arrays = state.get(position, {})
            got_state = dict(zip(arrays, stored_shapes(arrays.values()), strict=True))
            if got_state != expected_state:
                needs = _and(f"{name} {shape}" for name, shape in expected_state.items())
                stores = _and(f"{name} {shape}" for name, shape in got_state.items())
                keeps = f"the state {needs}" if needs else "no state"
                _refuse(
                    path,
                    f"{where} keeps {keeps} by its config, but the file stores "
                    f"{stores or 'none'} for it",
                )


def _layer_class(path: PathLike, entry: Any) -> tuple[type[Layer], dict[str, Any]]:
    """The registered class and the config of one layer of the architecture, refused in the
    words ``Model.from_config`` would use."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict):
        _refuse(path, f"its architecture cannot be rebuilt: config: malformed layers entry "
                f"{str(entry)[:80]}")
    try:
        cls = lookup("layers", entry.get("class"))
    except ValueError as error:
        _refuse(path, f"its architecture cannot be rebuilt: config: {error}")
    config: dict[str, Any] = entry.get("config", {})
    return cls, config


def _declared_shapes(
    path: PathLike, cls: type[Layer], config: dict[str, Any], where: str
) -> dict[str, tuple[int, ...]] | None:
    """``cls.array_shapes(config)`` for every array the class declares, or None (it cannot
    tell); a config it refuses (ValueError, TypeError...) refuses the file."""
    try:
        shapes = cls.array_shapes(dict(config))   # a copy: the class cannot change the header
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
        _refuse(path, f"its architecture cannot be rebuilt: {where}: {error}")
    if shapes is None:
        return None
    declared = [*(cls.parameter_names if _declares(cls, "parameters") else ()),
                *(cls.state_names if _declares(cls, "state") else ())]
    checked = {}
    for name in declared:
        shape: Any = shapes.get(name) if isinstance(shapes, dict) else None
        try:
            checked[name] = tuple(operator.index(n) for n in shape)
        except TypeError:
            _refuse(
                path,
                f"{where}: {cls.__name__}.array_shapes gives no shape for its array {name!r} "
                f"(got {describe(shape)})",
            )
    return checked


def _declares(cls: type[Layer], kind: str) -> bool:
    """Whether ``cls`` keeps its ``kind`` ("parameters" or "state") in the attributes it names
    (``parameter_names``, ``state_names``), the arrays ``array_shapes`` speaks of.

    A class that overrides ``parameters()`` (or ``state()``) and names none keeps them its
    own way: they are compared with the file once it is built, not before.
    """
    names = cls.parameter_names if kind == "parameters" else cls.state_names
    return bool(names) or getattr(cls, kind) is getattr(Layer, kind)


def _no_state(where: str, names: Iterable[str], *, version_1: bool) -> str:
    keeps = f"{where} keeps the state {_and(map(repr, names))}"
    if version_1:
        return f"{keeps}, but the file is of format version 1, which stores no layer state"
    return f"{keeps}, but the file stores none for it"


def _and(items: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 2 else items)


def _matching_parameters(
    path: PathLike, header: dict[str, Any], model: Model, layers: list[Any]
) -> list[list[str]]:
    """The names of each trainable layer's stored arrays, checked against the model's."""
    entries = header["parameters"]
    if len(entries) != len(layers):
        _refuse(
            path,
            f"it holds parameters for {len(entries)} trainable layer(s) but the model has "
            f"{len(layers)}",
        )
    table = _table(header)
    positions = {id(layer): position for position, layer in enumerate(model.layers)}
    names = []
    for index, (entry, layer) in enumerate(zip(entries, layers, strict=True)):
        position = positions[id(layer)]
        where = f"trainable layer {index} ({type(layer).__name__} at position {position})"
        if entry["class"] != library_class_name(layer) or entry["layer"] != position:
            _refuse(path, f"{where} is a {entry['class']} at position {entry['layer']} in the file")
        expected = layer.parameters()
        if len(entry["arrays"]) != len(expected):
            _refuse(path, f"{where} has {len(entry['arrays'])} arrays, not {len(expected)}")
        for name, target in zip(entry["arrays"], expected, strict=True):
            _check_like(path, table[name], target, where)
        names.append(list(entry["arrays"]))
    return names


def _matching_state(
    path: PathLike, header: dict[str, Any], model: Model
) -> list[tuple[str, Array, str]]:
    """``(stored array name, the layer's own array, where)`` for every state array of the
    model, checked against the file: the same layers keep state, under the same names, with
    the same shapes and dtypes. A version-1 file stores none, so its model may keep none."""
    stored = header.get("state")   # None in a version-1 file
    entries = {entry["layer"]: entry for entry in stored or []}
    table = _table(header)
    found = []
    for position, layer in enumerate(model.layers):
        own = layer.state()
        entry = entries.pop(position, None)
        where = f"layer {position} ({type(layer).__name__})"
        if entry is None:
            if own:
                _refuse(path, _no_state(where, own, version_1=stored is None))
            continue
        names = entry["arrays"]
        if not own:
            _refuse(path, f"{where} keeps no state, but the file stores {sorted(names)} for it")
        if entry["class"] != library_class_name(layer):
            _refuse(path, f"{where} is a {entry['class']} in the file's state")
        if sorted(names) != sorted(own):
            _refuse(path, f"{where} keeps the state {sorted(own)}, but the file stores "
                    f"{sorted(names)} for it")
        for state_name, target in own.items():
            _check_like(path, table[names[state_name]], target, where)
            found.append((names[state_name], target, where))
    if entries:
        _refuse(path, f"it stores state for layer(s) {sorted(entries)}, which the model "
                f"({len(model.layers)} layers) does not have")
    return found


def _check_like(path: PathLike, entry: dict[str, Any], target: Array, where: str) -> None:
    """The array table's ``entry`` describes an array shaped and typed like ``target``."""
    dtype = np.dtype(entry["dtype"])   # the native float32/float64 the array is read as
    if tuple(entry["shape"]) != target.shape or dtype != target.dtype:
        _refuse(
            path,
            f"{where}: array {entry['name']!r} is {dtype}{list(entry['shape'])} in the file but "
            f"the model expects {target.dtype}{list(target.shape)}",
        )


def _set_arrays(
    path: PathLike,
    model: Model,
    layers: list[Any],
    names: list[list[str]],
    state: list[tuple[str, Array, str]],
    arrays: dict[str, Array],
) -> None:
    """Every stored parameter and state array finite, then copied into the model (all or
    nothing)."""
    parameters = []
    for index, (layer, layer_names) in enumerate(zip(layers, names, strict=True)):
        for name in layer_names:
            if not np.isfinite(arrays[name]).all():
                where = f"trainable layer {index} ({type(layer).__name__})"
                _refuse(path, f"{where}: array {name!r} holds NaN or infinite values")
        parameters.append([arrays[name] for name in layer_names])
    for name, _, where in state:
        if not np.isfinite(arrays[name]).all():
            _refuse(path, f"{where}: state array {name!r} holds NaN or infinite values")
    # No-op copies for arrays read into the model's own (StoredModel.restore); real ones
    # otherwise.
    model.set_parameters(parameters)
    for name, target, _ in state:
        np.copyto(target, arrays[name])


def _slot_names(header: dict[str, Any]) -> list[str]:
    optimizer = header["optimizer"]
    if optimizer is None:
        return []
    return [name for layer in optimizer["slots"] for slots in layer for name in slots.values()]


def _restore_optimizer(
    path: PathLike,
    header: dict[str, Any],
    arrays: dict[str, Array],
    model: Model,
    layers: list[Any],
) -> None:
    state = header["optimizer"]
    optimizer = model.optimizer
    if state is None or optimizer is None:
        if (state is None) != (optimizer is None):
            _refuse(path, "its optimizer state does not match its architecture")
        return
    if state["class"] != library_class_name(optimizer) or len(state["slots"]) != len(layers):
        _refuse(path, "its optimizer state does not match its architecture")
    table = _table(header)
    restored_layers = []
    for index, (layer, per_parameter) in enumerate(zip(layers, state["slots"], strict=True)):
        where = f"optimizer state of trainable layer {index} ({type(layer).__name__})"
        if len(per_parameter) != len(layer.parameters()):
            _refuse(path, f"{where} has the wrong number of parameters")
        restored = []
        for names, param in zip(per_parameter, layer.parameters(), strict=True):
            if sorted(names) != sorted(optimizer.slot_names):
                expected_slots = list(optimizer.slot_names)
                _refuse(path, f"{where} has slots {sorted(names)}, not {expected_slots}")
            slots = {}
            for slot_name, name in names.items():
                array = arrays[name]
                _check_like(path, table[name], param, where)
                if not np.isfinite(array).all():
                    _refuse(path, f"{where}: array {name!r} holds NaN or infinite values")
                if slot_name in _NON_NEGATIVE_SLOTS and (array < 0).any():
                    _refuse(
                        path,
                        f"{where}: its {slot_name!r} (a sum of squared gradients) holds "
                        "negative values, which no training can produce",
                    )
                slots[slot_name] = array
            restored.append(slots)
        restored_layers.append((layer, restored))
    for layer, restored in restored_layers:   # only once every layer's state passed
        optimizer.set_slots(layer, restored)
    optimizer.iterations = state["iterations"]
    optimizer.current_learning_rate = state["current_learning_rate"]
    # Files written before ReduceLROnPlateau have no scale: 1.0, the rate unscaled.
    optimizer.learning_rate_scale = state.get("learning_rate_scale", 1.0)


def _restore_random_states(path: PathLike, states: dict[str, Any], model: Model) -> None:
    generators: dict[Any, Any] = {"model": _generator_from_state(path, states["model"])}
    model.rng = generators["model"]
    # The layers whose generators a save writes (_random_states): the same test both ways.
    with_rng = [i for i, layer in enumerate(model.layers)
                if isinstance(getattr(layer, "rng", None),
                              (np.random.Generator, np.random.RandomState))]
    if sorted(entry["layer"] for entry in states["layers"]) != with_rng:
        _refuse(path, f"it lacks the random state of some of the layers {with_rng}")
    for entry in states["layers"]:
        position = entry["layer"]
        layer = model.layers[position]
        if "same_as" in entry:
            same_as = entry["same_as"]
            known = same_as == "model" or _is_count(same_as)
            if not known or same_as not in generators:
                _refuse(path, f"the random state of layer {position} refers to an unknown one")
            layer.rng = generators[same_as]
        else:
            layer.rng = generators[position] = _generator_from_state(path, entry["state"])


def _restore_accuracy(path: PathLike, accuracy: dict[str, Any] | None, model: Model) -> None:
    if accuracy is None:
        return
    if not hasattr(model.accuracy, "precision"):
        _refuse(path, "it stores a precision for an accuracy that has none")
    setattr(model.accuracy, "precision", accuracy["precision"])  # noqa: B010


# --------------------------------------------------------------------------- random states


def _generator_from_state(
    path: PathLike, saved: Any
) -> np.random.Generator | np.random.RandomState:
    try:
        return generator_from_state(saved)
    except ValueError as error:
        _refuse(path, f"a random generator state is invalid ({error})")


# --------------------------------------------------------------------------- the container


def write_file(path: PathLike, header: dict[str, Any], arrays: Mapping[str, Array]) -> None:
    """Atomically write ``header`` (JSON-able dict) and named float arrays to ``path``.

    ``header`` gains the keys ``format``, ``library_version`` and ``arrays``; the arrays are
    stored little-endian, C order, each with its sha256.
    """
    given = Path(_check_path(path))
    # Write through a symlink (saving to link.snn updates the file it points at), never over it.
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    if target.is_dir():
        raise IsADirectoryError(f"path {str(given)!r} is a folder; give a file name to save to")
    if target.exists() and not target.is_file():
        raise OSError(
            f"cannot save {str(given)!r}: it exists and is not a regular file (a device, pipe "
            "or socket); give the path of a model file",
        )
    folder = target.parent
    if not folder.is_dir():
        # Checked here, else the error would name the hidden temp file written beside target.
        raise FileNotFoundError(
            f"cannot save {str(target)!r}: the folder {str(folder)!r} does not exist; create "
            "it first (e.g. pathlib.Path(folder).mkdir(parents=True))"
        )
    prepared = []
    entries = []
    offset = 0
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.dtype.name not in _DTYPES:
            raise TypeError(f"array {name!r} must be float32 or float64; got {array.dtype}")
        array = np.ascontiguousarray(array, dtype=_DTYPES[array.dtype.name])
        raw = array.reshape(-1).view(np.uint8).data   # the bytes, without a copy
        offset = _aligned(offset)
        entries.append(
            {
                "name": name,
                "dtype": array.dtype.name,
                "shape": list(array.shape),
                "offset": offset,
                "nbytes": array.nbytes,
                "sha256": hashlib.sha256(raw).hexdigest(),
            }
        )
        prepared.append((offset, raw))
        offset += array.nbytes
    full = {
        "format": "scratchnn",
        "library_version": __version__,
        # Model and parameter files of this version list the layers' state, if only as [].
        **({"state": []} if header.get("content") in ("model", "parameters") else {}),
        **header,
        "arrays": entries,
        "data_bytes": offset,
    }
    header_bytes = json.dumps(full, allow_nan=False, separators=(",", ":")).encode("utf-8")
    if len(header_bytes) > _MAX_HEADER_BYTES:   # never write a file that loading would refuse
        raise ValueError(
            f"cannot save {str(given)!r}: its header would be {len(header_bytes)} bytes, more "
            f"than the {_MAX_HEADER_BYTES} a model file may hold"
        )
    if _count_containers(_brackets(header_bytes)) > _MAX_CONTAINERS:
        raise ValueError(
            f"cannot save {str(given)!r}: its header would hold more than {_MAX_CONTAINERS:,} "
            "JSON objects and lists, more than a model file may hold"
        )
    prefix = _PREFIX.pack(
        MAGIC, FORMAT_VERSION, len(header_bytes), hashlib.sha256(header_bytes).digest()
    )
    data_start = _aligned(_PREFIX.size + len(header_bytes))

    def chunks() -> Iterator[bytes | memoryview]:
        yield prefix
        yield header_bytes
        position = _PREFIX.size + len(header_bytes)
        for offset, raw in prepared:
            start = data_start + offset
            yield b"\0" * (start - position)
            yield raw
            position = start + raw.nbytes
        yield b"\0" * (data_start - position) if not prepared else b""

    _atomic_write(target, chunks())


def read_file(path: PathLike) -> tuple[dict[str, Any], dict[str, Array]]:
    """Read and verify a file written by :func:`write_file`: ``(header, {name: array})``.

    Every section's checksum, every offset and every padding byte is checked before anything
    is used; arrays come back as writable arrays of their own. Anything wrong raises
    ModelFileError; a missing file FileNotFoundError.
    """
    _check_path(path)
    with _loading(path), _open_for_reading(path) as file:
        header = _read_header(path, file)
        return header, _read_arrays(path, file, header, None)


def _check_path(path: Any) -> str:
    """``path`` as a str; TypeError naming the argument for anything that is not a file path."""
    if isinstance(path, (str, os.PathLike)):
        name = os.fspath(path)
        if isinstance(name, str):
            return name
    raise TypeError(f"path must be a str or os.PathLike file path; got {describe(path)}")


@contextlib.contextmanager
def _loading(path: PathLike) -> Iterator[None]:
    """Whatever goes wrong while loading becomes a ModelFileError naming the file.

    A hostile file must never reach the caller as a bare IndexError, RecursionError or
    MemoryError from deep inside. A missing or unreadable file keeps its own OSError.
    """
    try:
        yield
    except (ModelFileError, FileNotFoundError, PermissionError):
        raise
    except Exception as error:
        _refuse(path, f"it cannot be loaded ({type(error).__name__}: {error})", error)


def _open_for_reading(path: PathLike) -> IO[bytes]:
    """Open a regular file for reading; a folder, FIFO, device or socket is refused at once.

    ``stat`` first, so that a FIFO is never opened (``open`` would wait for a writer forever);
    ``O_NONBLOCK`` and ``fstat`` after opening close the race where one is swapped in between.
    """
    name = os.fspath(path)
    _check_regular(path, os.stat(name))   # FileNotFoundError for a missing file
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(name, flags)
    try:
        _check_regular(path, os.fstat(descriptor))
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb", buffering=0)   # unbuffered: readinto goes straight in


def _check_regular(path: PathLike, status: os.stat_result) -> None:
    if stat.S_ISDIR(status.st_mode):
        _refuse(path, "it is a folder, not a model file")
    if not stat.S_ISREG(status.st_mode):
        _refuse(path, "it is not a regular file (a FIFO, device or socket), so not a model file")


def _read_exactly(file: IO[bytes], buffer: memoryview) -> bool:
    """Fill ``buffer`` from ``file``; False when the file ends first."""
    filled = 0
    while filled < len(buffer):
        count = file.readinto(buffer[filled:])   # type: ignore[attr-defined]
        if not count:
            return False
        filled += count
    return True


def _read_bytes(file: IO[bytes], count: int) -> bytes | None:
    buffer = bytearray(count)
    return bytes(buffer) if _read_exactly(file, memoryview(buffer)) else None


def _read_header(path: PathLike, file: IO[bytes]) -> dict[str, Any]:
    """Prefix, header and the padding after it, all checked; leaves ``file`` at the arrays.

    The file's size is compared with what the header describes before any array is read or
    allocated.
    """
    size = os.fstat(file.fileno()).st_size
    first = file.read(_PREFIX.size) or b""
    if not first:
        _refuse(path, "the file is empty")
    if not first.startswith(MAGIC[: len(first)]) or not first.startswith(MAGIC[:4]):
        _refuse(path, f"it is not a scratchnn model file ({_guess_kind(first)})")
    rest = _read_bytes(file, _PREFIX.size - len(first))
    if rest is None:
        _refuse(
            path,
            f"the file is truncated ({size} bytes, shorter than the {_PREFIX.size}-byte start "
            "of every model file)",
        )
    _, version, header_length, header_hash = _PREFIX.unpack(first + rest)
    if version not in READ_VERSIONS:
        _refuse(
            path,
            f"its format version is {version} but this scratchnn ({__version__}) reads versions "
            f"{_and(map(str, READ_VERSIONS))}"
            + ("; upgrade scratchnn to read it" if version > FORMAT_VERSION else ""),
        )
    if header_length > _MAX_HEADER_BYTES:
        _refuse(
            path,
            f"its header would be {header_length} bytes, more than the {_MAX_HEADER_BYTES} a "
            "model file may hold (damaged or hostile)",
        )
    header_end = _PREFIX.size + header_length
    header_bytes = _read_bytes(file, header_length) if header_end <= size else None
    if header_bytes is None:
        _refuse(path, f"the file is truncated or damaged (header of {header_length} bytes)")
    if hashlib.sha256(header_bytes).digest() != header_hash:
        _refuse(path, "its header is damaged (sha256 mismatch)")
    brackets = _brackets(header_bytes)      # strings blanked once, for both counts
    if _count_containers(brackets) > _MAX_CONTAINERS:
        _refuse(path, f"its header holds more than {_MAX_CONTAINERS:,} JSON objects and lists "
                "(damaged or hostile)")
    if _nesting_depth(brackets) > _MAX_NESTING:
        _refuse(path, f"its header nests more than {_MAX_NESTING} levels deep (damaged or hostile)")
    try:
        header = json.loads(
            header_bytes.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float
        )
    except ValueError as error:
        _refuse(path, f"its header is not valid JSON ({error})")
    _check_header(path, header, version)
    data_start = _aligned(header_end)
    if size != data_start + header["data_bytes"]:
        _refuse(
            path,
            f"the file is {size} bytes but its header describes "
            f"{data_start + header['data_bytes']} (truncated or extended)",
        )
    padding = _read_bytes(file, data_start - header_end)
    if padding is None or any(padding):
        _refuse(path, "the padding after the header is not zero (damaged)")
    return header


def _read_arrays(
    path: PathLike,
    file: IO[bytes],
    header: dict[str, Any],
    into: Mapping[str, Array | None] | None,
) -> dict[str, Array]:
    """Read the data section (``file`` is at its start), checking padding and checksums.

    ``into`` names the arrays to keep, each with an array of its shape and dtype to read it
    into, or None for a new one; the others are read through a small buffer and only checked.
    ``into=None`` keeps them all, in new arrays.
    """
    arrays: dict[str, Array] = {}
    scratch: Array | None = None
    position = 0
    for entry in header["arrays"]:
        name = entry["name"]
        padding = _read_bytes(file, entry["offset"] - position)
        if padding is None or any(padding):
            _refuse(path, f"the padding before array {name!r} is not zero (damaged)")
        dtype = _DTYPES[entry["dtype"]].newbyteorder("=")
        keep = into is None or name in into
        if keep:
            target = into.get(name) if into is not None else None
            if target is not None and not (target.flags.c_contiguous and target.flags.writeable):
                target = None   # read into a new array; the caller copies it over
            array = target if target is not None else np.empty(entry["shape"], dtype=dtype)
            buffer = array.reshape(-1).view(np.uint8).data   # C order: a view, no copy
        else:
            scratch = np.empty(_READ_CHUNK, np.uint8) if scratch is None else scratch
            buffer = scratch.data
        digest = hashlib.sha256()
        for start in range(0, entry["nbytes"], _READ_CHUNK):
            piece = min(_READ_CHUNK, entry["nbytes"] - start)
            part = buffer[start : start + piece] if keep else buffer[:piece]
            if not _read_exactly(file, part):
                _refuse(path, f"the file ends inside array {name!r} (truncated)")
            digest.update(part)
        if digest.hexdigest() != entry["sha256"]:
            _refuse(path, f"array {name!r} is damaged (sha256 mismatch)")
        if keep:
            if sys.byteorder == "big":   # the file is little-endian
                array.byteswap(inplace=True)
            arrays[name] = array
        position = entry["offset"] + entry["nbytes"]
    return arrays


def _check_header(path: PathLike, header: Any, version: int) -> None:
    """Check types and consistency of the header's container fields (before trusting them)."""
    if not isinstance(header, dict) or header.get("format") != "scratchnn":
        _refuse(path, "its header is not a scratchnn header")
    if not _is_str_in(header.get("content"), {"model", "parameters"}):
        _refuse(path, f"its content {describe(header.get('content'))} is unknown")
    entries = header.get("arrays")
    if not isinstance(entries, list) or not _is_count(header.get("data_bytes")):
        _refuse(path, "its header has no valid array table")
    names = set()
    position = 0
    for entry in entries:
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and _is_str_in(entry.get("dtype"), _DTYPES)
            and isinstance(entry.get("shape"), list)
            and all(_is_count(n) for n in entry["shape"])
            and _is_count(entry.get("offset"))
            and _is_count(entry.get("nbytes"))
            and isinstance(entry.get("sha256"), str)
        )
        if not ok:
            _refuse(
                path,
                f"its array entry {str(entry)[:80]} is invalid (only float32/float64 arrays "
                "with integer shapes are accepted; object arrays are refused)",
            )
        name, shape = entry["name"], entry["shape"]
        if len(shape) > _MAX_DIMENSIONS:
            _refuse(
                path,
                f"array {name!r} has {len(shape)} dimensions, more than the {_MAX_DIMENSIONS} "
                "NumPy allows",
            )
        itemsize = _DTYPES[entry["dtype"]].itemsize
        if math.prod(n for n in shape if n) * itemsize > _MAX_ARRAY_BYTES:
            _refuse(path, f"array {name!r} has an impossible shape {str(shape)[:80]}")
        if math.prod(shape) * itemsize != entry["nbytes"] or name in names:
            _refuse(path, f"array {name!r} has an inconsistent size or a repeated name")
        if entry["offset"] != _aligned(position):
            _refuse(path, f"array {name!r} is not where the format puts it")
        names.add(name)
        position = entry["offset"] + entry["nbytes"]
    if position != header["data_bytes"]:
        _refuse(
            path,
            f"its data section is {header['data_bytes']} bytes but its arrays end at {position}",
        )
    try:
        _check_contents(header, names, version)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as error:
        _refuse(path, f"its header is malformed ({type(error).__name__}: {error})")


def _check_contents(header: dict[str, Any], names: set[str], version: int) -> None:
    """Structure of the model/parameters sections; raises KeyError/TypeError when it is off."""
    _require(isinstance(header["parameters"], list), "parameters is not a list")
    used = []   # every array is used once: two slots sharing one array would alias in memory
    for entry in header["parameters"]:
        _require(_is_count(entry["layer"]) and isinstance(entry["class"], str),
                 "a parameters entry needs an integer layer and a class name")
        _require(isinstance(entry["arrays"], list), "a parameters entry's arrays is not a list")
        _require(all(_is_str_in(name, names) for name in entry["arrays"]),
                 "a parameter names an array the table lacks")
        used += entry["arrays"]
    if version == 1:
        _require("state" not in header, "a version-1 file has no state entry")
    else:
        used += _state_arrays(header["state"], names)
    if header["content"] == "model":
        _require(isinstance(header["config"], dict), "config is not an object")
        optimizer = header["optimizer"]
        if optimizer is not None:
            _check_optimizer_entry(optimizer, names)
            used += [name for layer in optimizer["slots"] for s in layer for name in s.values()]
        states = header["random_state"]
        _require(isinstance(states, dict) and isinstance(states["model"], dict),
                 "random_state has no model generator")
        _require(isinstance(states["layers"], list), "random_state.layers is not a list")
        for entry in states["layers"]:
            _require(isinstance(entry, dict) and type(entry.get("layer")) is int,
                     "a layer's random state needs an integer layer")
            _require(sorted(entry) in (["layer", "same_as"], ["layer", "state"]),
                     "a layer's random state needs either a state or same_as")
        _check_accuracy_entry(header["accuracy"])
    if len(set(used)) != len(used):
        raise ValueError("an array is named by two parameters, state arrays or optimizer slots")


def _state_arrays(state: Any, names: set[str]) -> list[str]:
    """The array names of a version-2 header's ``state`` list, its structure checked."""
    _require(isinstance(state, list), "state is not a list")
    previous = -1
    used = []
    for entry in state:
        _require(isinstance(entry, dict) and sorted(entry) == ["arrays", "class", "layer"],
                 "a state entry needs exactly a layer, a class and arrays")
        _require(_is_count(entry["layer"]) and entry["layer"] > previous,
                 "state entries need integer layers, in the order of the layers")
        _require(isinstance(entry["class"], str), "a state entry's class is not a name")
        arrays = entry["arrays"]
        _require(isinstance(arrays, dict) and len(arrays) > 0,
                 "a state entry's arrays is not an object naming one array or more")
        _require(all(_is_str_in(name, names) for name in arrays.values()),
                 "a state array names an array the table lacks")
        previous = entry["layer"]
        used += arrays.values()
    return used


def _refuse_unused_arrays(path: PathLike, header: dict[str, Any]) -> None:
    """A model or parameters file holds only arrays its parameters, layer state and optimizer
    slots use: any other would only cost memory and time to read (100,000 tiny ones took
    350 MB)."""
    used = {name for entry in header["parameters"] for name in entry["arrays"]}
    used |= {name for entry in header.get("state") or [] for name in entry["arrays"].values()}
    optimizer = header.get("optimizer")
    if optimizer is not None:
        used |= {name for layer in optimizer["slots"] for slots in layer
                 for name in slots.values()}
    unused = len(header["arrays"]) - len(used)
    if unused:
        _refuse(path, f"{unused} of its arrays are used by no parameter, state or optimizer "
                "slot")


def _check_optimizer_entry(optimizer: Any, names: set[str]) -> None:
    _require(isinstance(optimizer, dict) and isinstance(optimizer["class"], str),
             "the optimizer entry needs a class name")
    iterations = optimizer["iterations"]
    if not (_is_count(iterations) and iterations <= _MAX_ITERATIONS):
        raise ValueError(
            f"the iteration count must be an integer from 0 to 2**63 - 1; got "
            f"{describe(iterations)}"
        )
    rate = optimizer["current_learning_rate"]
    # 0.0 is a rate that decayed until it underflowed (a huge decay): a state training makes.
    if not (type(rate) is float and math.isfinite(rate) and rate >= 0):
        raise ValueError(
            f"the current learning rate must be a finite float >= 0; got {describe(rate)}"
        )
    scale = optimizer.get("learning_rate_scale", 1.0)
    if not (type(scale) is float and 0 <= scale <= 1):
        raise ValueError(
            f"the learning rate scale must be a float from 0 to 1; got {describe(scale)}"
        )
    _require(isinstance(optimizer["slots"], list), "the optimizer's slots is not a list")
    for per_parameter in optimizer["slots"]:
        _require(isinstance(per_parameter, list), "a layer's optimizer slots is not a list")
        for slots in per_parameter:
            _require(isinstance(slots, dict), "a parameter's optimizer slots is not an object")
            _require(all(_is_str_in(name, names) for name in slots.values()),
                     "an optimizer slot names an array the table lacks")


def _check_accuracy_entry(accuracy: Any) -> None:
    if accuracy is None:
        return
    _require(isinstance(accuracy, dict) and sorted(accuracy) == ["precision"],
             "accuracy must be null or hold only a precision")
    # std(y) / 250 of the training targets: 0.0 for constant targets, never negative.
    precision = accuracy["precision"]
    if not (type(precision) is float and math.isfinite(precision) and precision >= 0):
        raise ValueError(
            "the accuracy's precision must be a finite float >= 0; got "
            f"{describe(precision)}"
        )


def _table(header: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The array table by name (checked by :func:`_check_header`)."""
    return {entry["name"]: entry for entry in header["arrays"]}


def _brackets(text: bytes) -> bytes:
    """The ``[]{}`` of JSON ``text`` in order, strings blanked first (a ``[`` inside a name
    does not count): what the container count and the nesting depth are read from."""
    return re.sub(rb"[^\[\]{}]", b"", _JSON_STRING.sub(b'""', text))


def _count_containers(brackets: bytes) -> int:
    """How many JSON objects and lists hold the :func:`_brackets` ``brackets``."""
    return brackets.count(b"[") + brackets.count(b"{")


def _nesting_depth(brackets: bytes) -> int:
    """How deep the :func:`_brackets` ``brackets`` nest, found without recursion; the count
    stops as soon as it passes the limit."""
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > _MAX_NESTING:
                break
    return deepest


# A string, or an unterminated one running to the end: every match ends where the next
# search starts, so blanking takes linear time (without the end-of-text branch, each of a
# run of unmatched quotes scanned to the end: a 200 kB header took three minutes).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\Z)', re.DOTALL)


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(problem)


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0   # not bool, not float: JSON gives exact types


def _is_str_in(value: Any, known: Mapping[str, Any] | set[str]) -> bool:
    """``value in known`` for a header value, which may be a list or dict (unhashable)."""
    return isinstance(value, str) and value in known


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not allowed in a model file header")


def _finite_float(text: str) -> float:
    """JSON's ``1e400`` would become infinity: refused like ``Infinity`` itself."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is too large for a float")
    return value


def _guess_kind(data: bytes) -> str:
    if data.startswith(b"\x80"):   # the PROTO opcode that starts pickles since Python 2.3
        return "it looks like a Python pickle, which scratchnn never loads: unpickling runs code"
    if data.startswith(b"PK\x03\x04"):
        return "it looks like a zip or .npz archive; scratchnn files are not archives"
    if data.startswith(b"\x93NUMPY"):
        return "it looks like a .npy array; scratchnn files start with their own magic bytes"
    return f"its first bytes are {data[:8]!r}, not the scratchnn magic {MAGIC!r}"


def _aligned(offset: int) -> int:
    return -(-offset // ALIGNMENT) * ALIGNMENT


def _refuse(path: PathLike, problem: str, cause: BaseException | None = None) -> NoReturn:
    raise ModelFileError(f"cannot load {os.fspath(path)!r}: {_printable(problem)}") from cause


def _printable(text: str) -> str:
    """``text`` with every character that is not printable escaped as Python writes it.

    Messages quote what a file holds (a class name, a key): raw, an escape sequence could
    clear or recolour the terminal, and a lone surrogate makes ``print(error)`` itself fail.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# --------------------------------------------------------------------------- atomic writes

def _atomic_write(target: Path, chunks: Iterable[bytes | memoryview]) -> None:
    """Write ``chunks`` to ``target`` atomically (see :func:`scratchnn._files.atomic_write`)."""
    atomic_write(target, chunks, _TEMP_SUFFIX, action="save")


def __getattr__(name: str) -> Any:
    if name == "load_model":
        # It builds a Model, which io does not import (model.py imports io): the one loader
        # is scratchnn.load_model.
        raise AttributeError(
            "scratchnn.io.load_model moved: use scratchnn.load_model(path) (it is also "
            "scratchnn.model.load_model)"
        )
    raise AttributeError(f"module 'scratchnn.io' has no attribute {name!r}")
