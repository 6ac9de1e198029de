"""Parameters and gradients as views into one contiguous buffer per dtype.

A model's parameters are many small arrays (two per Dense). An optimizer that updates them
one by one pays NumPy's call overhead per array and per operation; one that sees a single
buffer can do the whole model in a handful of calls. :class:`FlatParameters` packs the
arrays a layer names in ``parameter_names`` (and their gradients, ``gradient_names``) into
such buffers and gives each layer views of its part, so that users see nothing different:
``layer.weights`` is still an ``(n_inputs, n_neurons)`` array that can be assigned into and
``layer.dweights`` still holds the gradient after ``backward``.

A model packs its layers when it first trains (``fit``), not before, and keeps the same
buffers afterwards: a reference to ``layer.weights`` taken after the first ``fit`` follows
the layer, one taken before it holds the old array. A layer whose arrays are later replaced
(``layer.weights = other``, as the book's ``set_parameters`` does) simply stops being part of
the buffer: :meth:`FlatParameters.intact` says so, and the model packs again before its next
``fit``. Arrays that share memory with other arrays (tied weights, ``dec.weights =
enc.weights.T``) are never packed, so they stay tied. Per-layer updates
(``optimizer.update_params(layer)``) work either way, since they go through
``layer.parameters()``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._typing import Array
from .layers.base import Layer

__all__ = ["FlatParameters"]


class FlatParameters:
    """The parameters and gradients of ``layers``, one buffer each per dtype.

    Only layers that keep their arrays in the attributes their ``parameter_names`` and
    ``gradient_names`` name (the protocol's default ``parameters()``) are packed; others are
    left as they are and listed in :attr:`unpacked`.

    Attributes
    ----------
    parameters, gradients : dict of numpy.dtype -> 1-d array
        The buffers; ``parameters[dtype][k]`` is the k-th value of the packed arrays of that
        dtype, in layer order.
    """

    def __init__(self, layers: Iterable[Layer], *, previous: FlatParameters | None = None
                 ) -> None:
        self.layers = list(layers)
        self.parameters: dict[np.dtype, Array] = {}
        self.gradients: dict[np.dtype, Array] = {}
        self.unpacked: list[Layer] = []
        # (layer, attribute, view) for every packed array, to tell whether it is still used.
        self._views: list[tuple[Layer, str, Array]] | None = []
        #: (layer, index in its parameters(), dtype, start, stop, shape) of every packed
        #: array, in buffer order: where an optimizer's flat slots line up with it.
        self.entries: list[tuple[Layer, int, np.dtype, int, int, tuple[int, ...]]] = []
        packed: list[tuple[Layer, int, str, str, Array, Array]] = []
        # Arrays that are views of something else than ``previous``'s buffers (tied weights,
        # ``dec.weights = enc.weights.T``), or that overlap another layer's, stay where they
        # are: copying them into a buffer would untie them.
        own = [] if previous is None else [*previous.parameters.values(),
                                           *previous.gradients.values()]
        shared = _sharing_layers(self.layers, own)
        for layer in self.layers:
            if layer in shared or not _packable(layer):
                self.unpacked.append(layer)
                continue
            for index, (name, grad_name) in enumerate(
                    zip(layer.parameter_names, layer.gradient_names, strict=True)):
                packed.append((layer, index, name, grad_name, getattr(layer, name),
                               getattr(layer, grad_name)))
        sizes: dict[np.dtype, int] = {}
        for *_, param, _grad in packed:
            sizes[param.dtype] = sizes.get(param.dtype, 0) + param.size
        for dtype, size in sizes.items():
            self.parameters[dtype] = np.empty(size, dtype=dtype)
            self.gradients[dtype] = np.zeros(size, dtype=dtype)
        offsets = dict.fromkeys(sizes, 0)
        for layer, index, name, grad_name, param, grad in packed:
            dtype, start = param.dtype, offsets[param.dtype]
            stop = start + param.size
            offsets[dtype] = stop
            self.entries.append((layer, index, dtype, start, stop, param.shape))
            view = self.parameters[dtype][start:stop].reshape(param.shape)
            view[...] = param
            grad_view = self.gradients[dtype][start:stop].reshape(param.shape)
            if grad.shape == param.shape:
                grad_view[...] = grad
            setattr(layer, name, view)
            setattr(layer, grad_name, grad_view)
            self._views.extend([(layer, name, view), (layer, grad_name, grad_view)])

    def sync(self) -> None:
        """Take back arrays a layer rebound since packing, before a step over the buffers.

        ``backward`` may write its gradients into the arrays it has (``out=``) or bind new
        ones (``self.dgamma = ...``), and a user may assign ``layer.weights = w``: the new
        array's values are copied into the buffer and the layer holds its view again. One
        identity check per packed array, a few microseconds a step.
        """
        for layer, name, view in self._views or ():
            current = getattr(layer, name)
            if current is view:
                continue
            current = np.asarray(current)
            if current.shape != view.shape:
                raise ValueError(
                    f"{layer.describe()}.{name} changed shape from {view.shape} to "
                    f"{current.shape} during training; a layer's arrays keep their shape"
                )
            np.copyto(view, current)
            setattr(layer, name, view)

    def covers(self, layers: Iterable[Layer]) -> bool:
        """Whether this storage was made for exactly ``layers`` and nothing was rebound."""
        layers = list(layers)
        return (len(layers) == len(self.layers)
                and all(a is b for a, b in zip(layers, self.layers, strict=True))
                and self.intact())

    def intact(self) -> bool:
        """Whether every packed layer still holds its views (nothing was rebound)."""
        if self._views is None:
            return False
        return all(getattr(layer, name) is view for layer, name, view in self._views)

    # A copy or a pickle of the buffers cannot keep the layers' arrays views of them:
    # copies come back empty and not intact, and the model packs again when it needs to.
    def __getstate__(self) -> dict[str, object]:
        return {}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.layers, self.parameters, self.gradients, self.unpacked = [], {}, {}, []
        self.entries = []
        self._views = None


def _packable(layer: Layer) -> bool:
    """The layer keeps its parameters where its names say, as arrays of one float dtype."""
    if type(layer).parameters is not Layer.parameters or not layer.parameter_names:
        return False
    if type(layer).gradients is not Layer.gradients:
        return False
    if len(layer.parameter_names) != len(layer.gradient_names):
        return False
    for name in layer.parameter_names:
        array = getattr(layer, name, None)
        if not (isinstance(array, np.ndarray) and type(array) is np.ndarray
                and array.dtype.kind == "f"):
            return False
    return all(isinstance(getattr(layer, name, None), np.ndarray)
               for name in layer.gradient_names)


def _sharing_layers(layers: list[Layer], own: list[Array]) -> set[Layer]:
    """Layers with an array that views memory of another's or of something unknown."""
    arrays = [(layer, array) for layer in layers
              for name in (*layer.parameter_names, *layer.gradient_names)
              if isinstance(array := getattr(layer, name, None), np.ndarray)]
    shared: set[Layer] = set()
    for index, (layer, array) in enumerate(arrays):
        base = array.base
        if base is not None and not any(base is buffer for buffer in own):
            shared.add(layer)
        for other_layer, other in arrays[index + 1:]:
            if np.may_share_memory(array, other):
                shared.update((layer, other_layer))
    return shared
