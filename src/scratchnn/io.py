"""Model files: one safe, self-checking file per model; loading never runs code.

A file is a fixed 52-byte prefix, a JSON header and raw little-endian arrays::

    magic b"\\x89SNN\\r\\n\\x1a\\n" | format version (uint32) | header length (uint64)
    | sha256 of the header | header (UTF-8 JSON) | zero padding | arrays, each 64-byte aligned

The header lists every array (name, dtype, shape, offset, size, sha256) and holds what is
not an array: the architecture (``model.get_config()``), the optimizer's iteration count and
learning rate, the random generators' states. Every byte is covered by a checksum or must be
zero, so a damaged file is refused with :class:`~scratchnn.errors.ModelFileError` instead of
loading as a quietly different model. Only float32 and float64 arrays are accepted: there is
no pickle anywhere, so a file cannot carry code. ``docs/model-file-format.md`` gives the
byte-level layout and the versioning policy.

Saves are atomic: the file is written to a temporary file in the same folder, flushed to disk
and then renamed over the target, so a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from ._typing import Array
from ._version import __version__
from .errors import ModelFileError
from .model import library_class_name

if TYPE_CHECKING:
    from .model import Model

PathLike = str | os.PathLike[str]

MAGIC = b"\x89SNN\r\n\x1a\n"   # like PNG's: a high byte, then line endings a transfer would mangle
FORMAT_VERSION = 1
ALIGNMENT = 64                  # arrays start on 64-byte boundaries (ready for memory mapping)
_PREFIX = struct.Struct("<8sIQ32s")   # magic, format version, header length, sha256(header)
_MAX_HEADER_BYTES = 256 * 1024 * 1024
_DTYPES: dict[str, np.dtype[Any]] = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8")}
_TEMP_SUFFIX = ".scratchnn-tmp"


# --------------------------------------------------------------------------- public functions


def save_model(model: Model, path: PathLike) -> None:
    """Write ``model`` to ``path``: architecture, parameters, optimizer and random states.

    Loading the file with :func:`load_model` and training on gives exactly the parameters that
    training on without the save would have given. The save is atomic and refuses a model with
    NaN or infinite parameters (ValueError naming the layer), so a diverged model never
    overwrites a good file.
    """
    header, arrays = _model_contents(model)
    write_file(path, header, arrays)


def load_model(path: PathLike) -> Model:
    """Rebuild the model saved at ``path`` by :func:`save_model`, ready to predict or train on.

    Raises :class:`~scratchnn.errors.ModelFileError` (a ValueError) naming the file and the
    problem for a damaged, foreign or unsafe file; FileNotFoundError for a missing one.
    """
    header, arrays = read_file(path)
    if header["content"] != "model":
        _refuse(
            path,
            f"it holds only {header['content']}, not a whole model; build the model and call "
            "scratchnn.io.load_parameters(model, path)",
        )
    return _build_model(path, header, arrays)


def save_parameters(model: Model, path: PathLike) -> None:
    """Write only the trainable parameters of ``model`` (same format, same safety)."""
    layers = _trainable_layers(model)
    _check_finite_parameters(layers)
    arrays: dict[str, Array] = {}
    header = {"content": "parameters", "parameters": _describe_parameters(model, layers, arrays)}
    write_file(path, header, arrays)


def load_parameters(model: Model, path: PathLike) -> None:
    """Copy the parameters stored at ``path`` (a parameters or a whole-model file) into ``model``.

    The number of trainable layers, their classes and positions in the model (a Dropout added
    in between moves them), and every shape and dtype must match the model; otherwise
    ModelFileError says which layer differs and nothing is changed.
    """
    header, arrays = read_file(path)
    layers = _trainable_layers(model)
    parameters = _matching_parameters(path, header, arrays, model, layers)
    model.set_parameters(parameters)


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


def _model_contents(model: Model) -> tuple[dict[str, Any], dict[str, Array]]:
    layers = _trainable_layers(model)
    _check_finite_parameters(layers)
    arrays: dict[str, Array] = {}
    header: dict[str, Any] = {
        "content": "model",
        "config": model.get_config(),
        "parameters": _describe_parameters(model, layers, arrays),
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
        header["optimizer"] = {
            "class": library_class_name(optimizer),
            "iterations": int(optimizer.iterations),
            "current_learning_rate": float(optimizer.current_learning_rate),
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
            dropout.append({"layer": position, "state": _generator_state(rng)})
    return {"model": _generator_state(model.rng), "layers": dropout}


def _build_model(path: PathLike, header: dict[str, Any], arrays: dict[str, Array]) -> Model:
    from .model import Model

    _check_dense_shapes(path, header, arrays)
    try:
        # The file supplies the parameters: draw the placeholders from a throwaway generator
        # so that loading leaves the library generator where the user had it.
        model = Model.from_config(header["config"], rng=0)
        layers = _trainable_layers(model)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        _refuse(path, f"its architecture cannot be rebuilt: {error}")
    model.set_parameters(_matching_parameters(path, header, arrays, model, layers))
    _restore_optimizer(path, header, arrays, model, layers)
    _restore_random_states(path, header["random_state"], model)
    accuracy = header["accuracy"]
    if accuracy is not None and hasattr(model.accuracy, "precision"):
        setattr(model.accuracy, "precision", accuracy["precision"])  # noqa: B010
    return model


def _check_dense_shapes(path: PathLike, header: dict[str, Any], arrays: dict[str, Array]) -> None:
    """The architecture's Dense sizes must match the stored arrays, checked before building.

    Building first would let a hostile file ask for a Dense(10**9, 10**9) and exhaust memory;
    the stored arrays are bounded by the file's size.
    """
    layers = header["config"].get("layers")
    if not isinstance(layers, list):
        _refuse(path, "its architecture has no list of layers")
    stored = {entry["layer"]: entry["arrays"] for entry in header["parameters"]}
    for position, layer in enumerate(layers):
        if not (isinstance(layer, dict) and layer.get("class") == "Dense"):
            continue
        config = layer.get("config")
        names = stored.get(position)
        if not isinstance(config, dict) or names is None or len(names) != 2:
            _refuse(path, f"layer {position} (Dense) has no weights and biases in the file")
        n_inputs, n_neurons = config.get("n_inputs"), config.get("n_neurons")
        expected = [(n_inputs, n_neurons), (1, n_neurons)]
        got = [arrays[name].shape for name in names]
        if got != expected:
            _refuse(
                path,
                f"layer {position} is Dense({n_inputs}, {n_neurons}) in the architecture but its "
                f"stored arrays are shaped {got[0]} and {got[1]}",
            )


def _matching_parameters(
    path: PathLike,
    header: dict[str, Any],
    arrays: dict[str, Array],
    model: Model,
    layers: list[Any],
) -> list[list[Array]]:
    entries = header["parameters"]
    if len(entries) != len(layers):
        _refuse(
            path,
            f"it holds parameters for {len(entries)} trainable layer(s) but the model has "
            f"{len(layers)}",
        )
    positions = {id(layer): position for position, layer in enumerate(model.layers)}
    parameters = []
    for index, (entry, layer) in enumerate(zip(entries, layers, strict=True)):
        position = positions[id(layer)]
        where = f"trainable layer {index} ({type(layer).__name__} at position {position})"
        if entry["class"] != library_class_name(layer) or entry["layer"] != position:
            _refuse(path, f"{where} is a {entry['class']} at position {entry['layer']} in the file")
        expected = layer.parameters()
        if len(entry["arrays"]) != len(expected):
            _refuse(path, f"{where} has {len(entry['arrays'])} arrays, not {len(expected)}")
        loaded = []
        for name, target in zip(entry["arrays"], expected, strict=True):
            array = arrays[name]
            _check_like(path, name, array, target, where)
            if not np.isfinite(array).all():
                _refuse(path, f"{where}: array {name!r} holds NaN or infinite values")
            loaded.append(array)
        parameters.append(loaded)
    return parameters


def _check_like(path: PathLike, name: str, array: Array, target: Array, where: str) -> None:
    if array.shape != target.shape or array.dtype != target.dtype:
        _refuse(
            path,
            f"{where}: array {name!r} is {array.dtype}{list(array.shape)} in the file but the "
            f"model expects {target.dtype}{list(target.shape)}",
        )


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
    lr = state["current_learning_rate"]
    if not (isinstance(lr, float) and math.isfinite(lr) and lr > 0):
        _refuse(path, f"its current learning rate {lr!r} is not a positive finite number")
    if not _is_count(state["iterations"]):
        _refuse(path, f"its iteration count {state['iterations']!r} is not a non-negative int")
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
                _check_like(path, name, array, param, where)
                if not np.isfinite(array).all():
                    _refuse(path, f"{where}: array {name!r} holds NaN or infinite values")
                slots[slot_name] = array
            restored.append(slots)
        optimizer.set_slots(layer, restored)
    optimizer.iterations = state["iterations"]
    optimizer.current_learning_rate = lr


def _restore_random_states(path: PathLike, states: dict[str, Any], model: Model) -> None:
    generators: dict[Any, Any] = {"model": _generator_from_state(path, states["model"])}
    model.rng = generators["model"]
    with_rng = [i for i, layer in enumerate(model.layers) if hasattr(layer, "rng")]
    if sorted(entry["layer"] for entry in states["layers"]) != with_rng:
        _refuse(path, f"it lacks the random state of some of the layers {with_rng}")
    for entry in states["layers"]:
        position = entry["layer"]
        if not (isinstance(position, int) and 0 <= position < len(model.layers)):
            _refuse(path, f"a random state names layer {position!r}, which the model lacks")
        layer = model.layers[position]
        if not hasattr(layer, "rng"):
            _refuse(path, f"a random state names layer {position} ({type(layer).__name__})")
        if "same_as" in entry:
            same_as = entry["same_as"]
            known = isinstance(same_as, str) or _is_count(same_as)
            if not known or same_as not in generators:
                _refuse(path, f"the random state of layer {position} refers to an unknown one")
            layer.rng = generators[same_as]
        else:
            layer.rng = generators[position] = _generator_from_state(path, entry["state"])


# --------------------------------------------------------------------------- random states

# Bit generators rebuilt by name from this fixed table: the file never names code to run.
_BIT_GENERATORS = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}
_STATE_ARRAY_DTYPES = {"uint32": np.uint32, "uint64": np.uint64}


def _generator_state(rng: np.random.Generator | np.random.RandomState) -> dict[str, Any]:
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


def _from_json(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            dtype = _STATE_ARRAY_DTYPES[value["__array__"]]
            values = value["values"]
            if not isinstance(values, list) or not all(type(v) is int for v in values):
                raise ValueError("a random state array must be a list of integers")
            return np.array(values, dtype=dtype)
        return {name: _from_json(item, name) for name, item in value.items()}
    # NumPy would quietly turn True or 1.5 into a counter; only the legacy cached Gaussian
    # ("gauss") is a float in a state NumPy writes.
    if isinstance(value, bool) or (isinstance(value, float) and key != "gauss"):
        raise ValueError(f"a random state value {key!r} must be an integer; got {value!r}")
    return value


def _generator_from_state(
    path: PathLike, saved: Any
) -> np.random.Generator | np.random.RandomState:
    try:
        kind = saved["type"]
        state = _from_json(saved["state"])
        bit_generator = _BIT_GENERATORS[state["bit_generator"]]()
        if kind == "Generator":
            bit_generator.state = state
            return np.random.Generator(bit_generator)
        if kind == "RandomState":
            legacy = np.random.RandomState(bit_generator)
            legacy.set_state(state)
            return legacy
        raise ValueError(f"unknown generator type {kind!r}")
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        _refuse(path, f"a random generator state is invalid ({type(error).__name__}: {error})")


# --------------------------------------------------------------------------- the container


def write_file(path: PathLike, header: dict[str, Any], arrays: Mapping[str, Array]) -> None:
    """Atomically write ``header`` (JSON-able dict) and named float arrays to ``path``.

    ``header`` gains the keys ``format``, ``library_version`` and ``arrays``; the arrays are
    stored little-endian, C order, each with its sha256.
    """
    given = Path(path)
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
        **header,
        "arrays": entries,
        "data_bytes": offset,
    }
    header_bytes = json.dumps(full, allow_nan=False, separators=(",", ":")).encode("utf-8")
    prefix = _PREFIX.pack(
        MAGIC, FORMAT_VERSION, len(header_bytes), hashlib.sha256(header_bytes).digest()
    )
    data_start = _aligned(_PREFIX.size + len(header_bytes))

    def chunks():
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
    is used; arrays come back as writable copies. Anything wrong raises ModelFileError.
    """
    source = Path(path)
    if source.is_dir():
        _refuse(path, "it is a folder, not a model file")
    with open(source, "rb") as file:
        data = file.read(_PREFIX.size)
        if not data:
            _refuse(path, "the file is empty")
        if not data.startswith(MAGIC[: len(data)]) or not data.startswith(MAGIC[:4]):
            _refuse(path, f"it is not a scratchnn model file ({_guess_kind(data)})")
        if len(data) < _PREFIX.size:
            _refuse(
                path,
                f"the file is truncated ({len(data)} bytes, shorter than the "
                f"{_PREFIX.size}-byte start of every model file)",
            )
        data += file.read()   # only now: a large foreign file is not read whole
    _, version, header_length, header_hash = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        _refuse(
            path,
            f"its format version is {version} but this scratchnn ({__version__}) reads version "
            f"{FORMAT_VERSION}"
            + ("; upgrade scratchnn to read it" if version > FORMAT_VERSION else ""),
        )
    header_end = _PREFIX.size + header_length
    if header_length > _MAX_HEADER_BYTES or header_end > len(data):
        _refuse(path, f"the file is truncated or damaged (header of {header_length} bytes)")
    header_bytes = data[_PREFIX.size : header_end]
    if hashlib.sha256(header_bytes).digest() != header_hash:
        _refuse(path, "its header is damaged (sha256 mismatch)")
    try:
        header = json.loads(header_bytes.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        _refuse(path, f"its header is not valid JSON ({error})")
    _check_header(path, header)
    data_start = _aligned(header_end)
    if any(data[header_end:data_start]):
        _refuse(path, "the padding after the header is not zero (damaged)")
    return header, _read_arrays(path, data, data_start, header)


def _read_arrays(
    path: PathLike, data: bytes, data_start: int, header: dict[str, Any]
) -> dict[str, Array]:
    if len(data) != data_start + header["data_bytes"]:
        _refuse(
            path,
            f"the file is {len(data)} bytes but its header describes "
            f"{data_start + header['data_bytes']} (truncated or extended)",
        )
    arrays: dict[str, Array] = {}
    position = 0
    for entry in header["arrays"]:
        name = entry["name"]
        if entry["offset"] != _aligned(position):
            _refuse(path, f"array {name!r} is not where the format puts it")
        if any(data[data_start + position : data_start + entry["offset"]]):
            _refuse(path, f"the padding before array {name!r} is not zero (damaged)")
        start = data_start + entry["offset"]
        raw = data[start : start + entry["nbytes"]]
        if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            _refuse(path, f"array {name!r} is damaged (sha256 mismatch)")
        dtype = _DTYPES[entry["dtype"]]
        array = np.frombuffer(raw, dtype=dtype).reshape(entry["shape"])
        arrays[name] = array.astype(dtype.newbyteorder("="), copy=True)
        position = entry["offset"] + entry["nbytes"]
    return arrays


def _check_header(path: PathLike, header: Any) -> None:
    """Check types and consistency of the header's container fields (before trusting them)."""
    if not isinstance(header, dict) or header.get("format") != "scratchnn":
        _refuse(path, "its header is not a scratchnn header")
    if header.get("content") not in ("model", "parameters"):
        _refuse(path, f"its content {header.get('content')!r} is unknown")
    entries = header.get("arrays")
    if not isinstance(entries, list) or not _is_count(header.get("data_bytes")):
        _refuse(path, "its header has no valid array table")
    names = set()
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
        size = math.prod(entry["shape"]) * _DTYPES[entry["dtype"]].itemsize
        if size != entry["nbytes"] or entry["name"] in names:
            _refuse(path, f"array {entry['name']!r} has an inconsistent size or a repeated name")
        names.add(entry["name"])
    try:
        _check_contents(header, names)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as error:
        _refuse(path, f"its header is malformed ({type(error).__name__}: {error})")


def _check_contents(header: dict[str, Any], names: set[str]) -> None:
    """Structure of the model/parameters sections; raises KeyError/TypeError when it is off."""
    _require(isinstance(header["parameters"], list))
    for entry in header["parameters"]:
        _require(_is_count(entry["layer"]) and isinstance(entry["class"], str))
        _require(isinstance(entry["arrays"], list))
        _require(all(_is_str_in(name, names) for name in entry["arrays"]))
    if header["content"] != "model":
        return
    _require(isinstance(header["config"], dict))
    optimizer = header["optimizer"]
    if optimizer is not None:
        _require(isinstance(optimizer["class"], str))
        optimizer["iterations"], optimizer["current_learning_rate"]  # noqa: B018
        _require(isinstance(optimizer["slots"], list))
        for per_parameter in optimizer["slots"]:
            _require(isinstance(per_parameter, list))
            for slots in per_parameter:
                _require(isinstance(slots, dict))
                _require(all(_is_str_in(name, names) for name in slots.values()))
    states = header["random_state"]
    _require(isinstance(states["model"], dict) and isinstance(states["layers"], list))
    for entry in states["layers"]:
        _require(isinstance(entry, dict) and type(entry.get("layer")) is int)
        _require("state" in entry or "same_as" in entry)
    accuracy = header["accuracy"]
    _require(accuracy is None or isinstance(accuracy["precision"], float))


def _require(condition: bool) -> None:
    if not condition:
        raise ValueError("unexpected structure")


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0   # not bool, not float: JSON gives exact types


def _is_str_in(value: Any, known: Mapping[str, Any] | set[str]) -> bool:
    """``value in known`` for a header value, which may be a list or dict (unhashable)."""
    return isinstance(value, str) and value in known


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not allowed in a model file header")


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


def _refuse(path: PathLike, problem: str) -> NoReturn:
    raise ModelFileError(f"cannot load {os.fspath(path)!r}: {problem}")


# --------------------------------------------------------------------------- atomic writes

_TEMP_PATTERN = r"\.{name}\.(\d+)\.[0-9a-f]+" + re.escape(_TEMP_SUFFIX)


def _temp_stem(target: Path) -> str:
    """``target``'s name, shortened with a hash when the temp name would pass 255 bytes.

    Measured and cut in the file system's bytes (any name, even one that is not valid UTF-8).
    """
    name = target.name
    raw = os.fsencode(name)
    if len(raw) <= 180:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:16]
    # 60 bytes of the name, never half a character: undecodable bytes stay as surrogates.
    head = os.fsdecode(raw[:60])
    while len(os.fsencode(head)) > 60:
        head = head[:-1]
    return f"{head}~{digest}"


def _temp_name(target: Path) -> Path:
    """``.<name>.<pid>.<random>.scratchnn-tmp`` beside ``target`` (same file system)."""
    token = os.urandom(4).hex()
    return target.with_name(f".{_temp_stem(target)}.{os.getpid()}.{token}{_TEMP_SUFFIX}")


def _remove_stale_temps(target: Path) -> None:
    """Delete temp files left by saves to ``target`` whose process has died (POSIX only).

    A save killed mid-write leaves its temp file; the next save to the same path removes it.
    On Windows, where no cheap "is this process alive" exists, they are left in place.
    """
    if os.name != "posix":
        return
    pattern = re.compile(_TEMP_PATTERN.format(name=re.escape(_temp_stem(target))))
    folder = target.parent
    try:
        candidates = os.listdir(folder)
    except OSError:
        return
    for candidate in candidates:
        match = pattern.fullmatch(candidate)
        if match is None or _process_alive(int(match.group(1))):
            continue
        try:
            os.unlink(folder / candidate)
        except OSError:
            pass


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)          # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, AttributeError):
        # No permission, or no process table at all (WebAssembly builds such as Pyodide):
        # when in doubt the temp file is someone's save in progress, and is left alone.
        return True
    return True


def _atomic_write(target: Path, chunks: Any) -> None:
    """Write a temp file beside ``target``, fsync it, rename it over ``target``, fsync folder."""
    _remove_stale_temps(target)
    temp = _temp_name(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(temp, flags, 0o666)
    except OSError as error:
        # Name the user's path and its folder, not the hidden temp file.
        raise type(error)(
            error.errno,
            f"cannot save {str(target)!r}: cannot create a file in the folder "
            f"{str(target.parent)!r} ({error.strerror})",
        ) from error
    try:
        with os.fdopen(descriptor, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; not possible on Windows or some file systems (skipped there)."""
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
