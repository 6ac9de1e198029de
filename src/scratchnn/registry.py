"""The classes a model file may name: each registers itself under its own class name.

A model file stores class names, never code. Loading one builds only classes registered
here, so a file can name nothing else: no module is imported and no attribute looked up from
a string in a file. The library's layers, losses, optimizers and accuracies register where
they are defined; a layer written in your own code becomes savable and loadable with
:func:`scratchnn.register_layer` (as Keras's ``register_keras_serializable``; it lives
beside :class:`~scratchnn.Layer` in :mod:`scratchnn.layers.base`, so this module imports
nothing of the package):

>>> import numpy as np
>>> import scratchnn as snn
>>> @snn.register_layer
... class Double(snn.Layer):
...     def forward(self, inputs, training=False):
...         self.output = 2 * inputs
...         return self.output
...     def backward(self, dvalues):
...         self.dinputs = 2 * dvalues
...         return self.dinputs
>>> lookup("layers", "Double") is Double
True

Its ``get_config()`` is saved in the file and ``Double.from_config(config)`` rebuilds it;
the class must be registered (its module imported) before a file naming it is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "known_names",
    "library_class_name",
    "lookup",
    "register",
    "registered_class",
]

T = TypeVar("T", bound=type)

# kind (the model file's section) -> {class name: class}
_REGISTRIES: dict[str, dict[str, type]] = {
    "layers": {},
    "loss": {},
    "optimizer": {},
    "accuracy": {},
    "schedule": {},   # learning-rate schedules, saved inside an optimizer's config
}


def register(kind: str) -> Callable[[T], T]:
    """Class decorator registering a library class of ``kind`` (loss, optimizer, accuracy)."""
    _known(kind)

    def decorator(cls: T) -> T:
        _add(kind, cls)
        return cls

    return decorator


def lookup(kind: str, name: Any) -> type:
    """The class registered as ``name`` for ``kind``; ValueError listing the known names."""
    known = _known(kind)
    if isinstance(name, str) and name in known:
        return known[name]
    hint = ""
    if kind == "layers":
        hint = (
            "; a layer class of your own must be decorated with @scratchnn.register_layer "
            "(its module imported) before loading"
        )
    raise ValueError(
        f"unknown {kind} class {name!r}{hint}; known: {', '.join(sorted(known))}"
    )


def registered_class(kind: str, cls: type) -> type | None:
    """The first class of ``cls.__mro__`` registered for ``kind``, or None.

    The book's ``Layer_Dense`` is not registered itself: it is saved as the ``Dense`` it
    specialises.
    """
    known = _known(kind)
    for ancestor in cls.__mro__:
        if known.get(ancestor.__name__) is ancestor:
            return ancestor
    return None


def library_class_name(obj: Any) -> str:
    """The name of the registered class ``obj`` is or specialises (else its own class name)."""
    for kind in _REGISTRIES:
        cls = registered_class(kind, type(obj))
        if cls is not None:
            return cls.__name__
    return type(obj).__name__


def known_names(kind: str) -> list[str]:
    """The names registered for ``kind``, sorted."""
    return sorted(_known(kind))


def _known(kind: str) -> dict[str, type]:
    if kind not in _REGISTRIES:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(_REGISTRIES)}")
    return _REGISTRIES[kind]


def _add(kind: str, cls: type) -> None:
    known = _known(kind)
    name = cls.__name__
    taken = known.get(name)
    if taken is not None and taken is not cls and _full_name(taken) != _full_name(cls):
        raise ValueError(
            f"cannot register {_full_name(cls)} as the {kind} class {name!r}: "
            f"{_full_name(taken)} is registered under that name (a model file names classes "
            "by name alone); give your class another name"
        )
    known[name] = cls


def _full_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_class(value: Any) -> str:
    if isinstance(value, type):
        return f"the class {_full_name(value)}, which is not a Layer"
    return f"{type(value).__name__} {value!r:.60}, not a class"


def describe_entry(kind: str, obj: Any) -> dict[str, Any] | None:
    """``{"class": name, "config": obj.get_config()}`` for a model file (None for None).

    The name is that of the registered class ``obj``'s class specialises (the book's
    ``Layer_Dense`` is saved as ``Dense``); TypeError for an unregistered one.
    """
    if obj is None:
        return None
    cls = registered_class(kind, type(obj))
    if cls is None:
        hint = (" (decorate a layer class of your own with @scratchnn.register_layer)"
                if kind == "layers" else "")
        raise TypeError(
            f"{type(obj).__name__} is not a registered {kind} class, so it cannot be "
            f"described for a model file{hint}; known: {', '.join(known_names(kind))}"
        )
    return {"class": cls.__name__, "config": obj.get_config()}


def build_entry(kind: str, entry: Any, rng: Any = None) -> Any:
    """The object :func:`describe_entry` described: only a registered class is built
    (layers with ``from_config(config, rng=rng)``, optimizers with ``from_config(config)``
    (a schedule in their config is an entry of its own), others with ``cls(**config)``);
    ValueError saying what is wrong with ``entry`` otherwise."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict):
        raise ValueError(f"config: malformed {kind} entry {entry!r}")
    name = entry.get("class")
    try:
        known = lookup(kind, name)
    except ValueError as error:
        raise ValueError(f"config: {error}") from None
    options = dict(entry.get("config", {}))
    try:
        if kind == "layers":   # every registered layer class is a Layer
            return known.from_config(options, rng=rng)  # type: ignore[attr-defined]
        if kind == "optimizer":   # every registered optimizer class is an Optimizer
            return known.from_config(options)  # type: ignore[attr-defined]
        return known(**options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"config: cannot build {name}: {error}") from None
