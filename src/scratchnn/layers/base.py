"""The protocol every layer and activation follows.

A layer is an object with ``forward(inputs, training=False)``, which stores and returns
``output``, and ``backward(dvalues)``, which stores and returns ``dinputs`` (the book's names).
Everything else a :class:`~scratchnn.Model` or a model file needs is declared here, so that a
new layer plugs in without the model, the training loop or the file format knowing its type:

========================  ==========================================================================
``parameter_names``       attributes holding the trainable arrays, e.g. ``("weights", "biases")``;
``gradient_names``        the attributes ``backward`` fills, aligned: ``("dweights", "dbiases")``.
                          ``parameters()`` and ``gradients()`` return them in that order.
``state_names``           arrays that are not trained but must survive a save (running means).
``get_config``            constructor arguments; ``from_config(config, rng=...)`` rebuilds.
``array_shapes``          the shapes of those arrays from a config alone (before allocating).
``expected_input_shape``  the shape of one sample's input when the config fixes it.
``output_shape``          one sample's output shape from its input shape (the model checks that
                          layers connect with it, for inputs of any rank).
``needs_dinputs``         set to False by the model on its first layer: nobody needs d(loss)/dX.
``uses_default_rng``      True for a layer that draws random numbers and was given no ``rng``:
                          the model then hands it a stream of its own seeded generator.
``produces``              what the outputs are, when a loss or an accuracy must know.
``backward_from_loss``    a shortcut for d(loss)/d(inputs) at the end of a model (Softmax with
                          cross-entropy).
========================  ==========================================================================

Shapes follow the seed's rule: a batch ``X`` is shaped ``(n_samples, *sample_shape)``; the
shape methods speak of ``sample_shape`` alone (no batch axis), since a layer may see batches
of any size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from .._typing import Array
from ..registry import describe_class, register

if TYPE_CHECKING:
    from .._random import RandomLike

L = TypeVar("L", bound="Layer")
T = TypeVar("T", bound=type)

Shape = tuple[int, ...]


class Layer:
    """A step of a network: ``forward`` computes ``output``, ``backward`` computes ``dinputs``.

    Trainable layers name their parameters in :attr:`parameter_names` and the matching
    gradients in :attr:`gradient_names`; optimizers rely on that alignment. Subclasses that
    keep their arrays some other way may override :meth:`parameters` and :meth:`gradients`
    instead (the model then leaves their storage alone).
    """

    #: Attributes holding the trainable arrays, in a fixed order.
    parameter_names: tuple[str, ...] = ()
    #: Attributes holding d(loss)/d(parameter), aligned with :attr:`parameter_names`.
    #: ``backward`` writes into these arrays (``out=``) or rebinds them; either works.
    gradient_names: tuple[str, ...] = ()
    #: Non-trainable arrays a model file saves and restores (running statistics and the
    #: like). Loading copies into the existing arrays, so they keep their shape and dtype.
    state_names: tuple[str, ...] = ()
    #: Whether ``backward`` must compute ``dinputs``. The model sets it to False on its
    #: first layer (d(loss)/d(X) is never used) and True on the others; a layer may then
    #: skip that work (Dense skips a matrix product) or ignore the flag.
    needs_dinputs: bool = True
    #: True when the layer draws random numbers and was built without an ``rng``: a model
    #: then sets ``layer.rng`` to a generator spawned from its own seed, so that a seeded
    #: model repeats exactly.
    uses_default_rng: bool = False
    #: What the outputs are, when it matters to a loss or an accuracy: "class_probabilities"
    #: (rows that sum to 1, Softmax) or "binary_probabilities" (each output in (0, 1),
    #: Sigmoid); None for anything else.
    produces: str | None = None

    inputs: Array
    output: Array
    dinputs: Array

    # -- the book's two methods -------------------------------------------------------------

    def forward(self, inputs: Array, training: bool = False) -> Array:
        """``inputs`` (n_samples, *input sample shape) -> ``output``; keeps what backward needs."""
        raise NotImplementedError

    def backward(self, dvalues: Array) -> Array:
        """``dvalues`` = d(loss)/d(output), shaped like ``output`` -> ``dinputs`` (like inputs)."""
        raise NotImplementedError

    # -- parameters and state ---------------------------------------------------------------

    def parameters(self) -> list[Array]:
        """Trainable arrays, updated in place by optimizers (none by default)."""
        return [getattr(self, name) for name in self.parameter_names]

    def gradients(self) -> list[Array]:
        """Gradients aligned with :meth:`parameters`, filled by :meth:`backward`."""
        return [getattr(self, name) for name in self.gradient_names]

    def state(self) -> dict[str, Array]:
        """The non-trainable arrays named in :attr:`state_names`, by name."""
        return {name: getattr(self, name) for name in self.state_names}

    def regularization_loss(self) -> float:
        """The layer's L1/L2 penalty added to the data loss (0 by default)."""
        return 0.0

    # -- shapes -----------------------------------------------------------------------------

    def expected_input_shape(self) -> Shape | None:
        """The shape one sample must have on the way in, when the config fixes it.

        ``Dense(784, 128)`` says ``(784,)``; layers that take samples of several shapes
        (activations, Dropout, Flatten) say None. A model whose first such layer comes first
        knows the shape of ``X`` before seeing data.
        """
        return None

    def output_shape(self, input_shape: Shape) -> Shape:
        """The shape of one sample's output for one sample's input shaped ``input_shape``.

        Raises ValueError saying what was expected when the layer cannot take such samples.
        The default is an element-wise layer's: the same shape.
        """
        return tuple(input_shape)

    @classmethod
    def array_shapes(cls, config: dict[str, Any]) -> dict[str, Shape] | None:
        """The shape of every array in :attr:`parameter_names` and :attr:`state_names` that a
        layer built from ``config`` allocates, computed without allocating anything.

        Model files compare these with the arrays they store before building a layer, so that
        a file cannot make a huge one. None when the class cannot tell; the default knows only
        a layer that has no such arrays (and keeps no arrays its own way, overriding
        ``parameters()`` or ``state()``). Raise ValueError for a config that makes no sense.
        """
        keeps_own = cls.parameters is not Layer.parameters or cls.state is not Layer.state
        if not keeps_own and not cls.parameter_names and not cls.state_names:
            return {}
        return None

    # -- the end of a model -----------------------------------------------------------------

    def predictions(self, outputs: Array) -> Array:
        """Answers from this layer's outputs when it ends a model (the outputs themselves)."""
        return outputs

    def backward_from_loss(self, loss: Any, y_true: Array) -> Array | None:
        """d(``loss``)/d(this layer's inputs) in one step, when the layer ends a model.

        Called after ``forward`` with the batch's checked targets; returning an array makes
        the model use it as this layer's ``dinputs`` and skip ``loss.backward`` and this
        layer's ``backward``. None (the default) takes the long way round.
        """
        return None

    # -- configuration ----------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (used by model files)."""
        return {}

    @classmethod
    def from_config(cls: type[L], config: dict[str, Any], *, rng: RandomLike = None) -> L:
        """The layer :meth:`get_config` describes: ``cls(**config)``.

        ``rng`` is where a layer with random initial parameters draws them from (see
        :meth:`Dense.from_config <scratchnn.Dense.from_config>`); others ignore it.
        """
        return cls(**config)

    @property
    def trainable(self) -> bool:
        return bool(self.parameters())

    def describe(self) -> str:
        """A short name for messages and ``Model.summary``, e.g. ``Dense(784, 128)``."""
        return type(self).__name__

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def register_layer(cls: T) -> T:
    """Class decorator: make the :class:`~scratchnn.Layer` subclass ``cls`` savable by name.

    The layer is stored as its class name and ``get_config()``; loading calls
    ``cls.from_config(config)`` (by default ``cls(**config)``). Registering the same class
    again is harmless, and so is running its definition again (a notebook cell, a module
    reload: same module, same qualified name), which replaces the old one. A different class
    under a name already taken is refused (ValueError naming both): rename one of them.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(
            f"register_layer takes a subclass of scratchnn.Layer; got {describe_class(cls)}"
        )
    register("layers")(cls)
    return cls
