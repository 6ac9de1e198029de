"""The protocol every layer and activation follows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from .._typing import Array

if TYPE_CHECKING:
    from .._random import RandomLike

L = TypeVar("L", bound="Layer")


class Layer:
    """A step of a network: ``forward`` computes ``output``, ``backward`` computes ``dinputs``.

    Trainable layers list their parameters in a fixed order in :meth:`parameters` and the
    matching gradients in :meth:`gradients`; optimizers rely on that alignment.
    """

    inputs: Array
    output: Array
    dinputs: Array

    def forward(self, inputs: Array, training: bool = False) -> Array:
        raise NotImplementedError

    def backward(self, dvalues: Array) -> Array:
        raise NotImplementedError

    def parameters(self) -> list[Array]:
        """Trainable arrays, updated in place by optimizers (none by default)."""
        return []

    def gradients(self) -> list[Array]:
        """Gradients aligned with :meth:`parameters`, filled by :meth:`backward`."""
        return []

    def regularization_loss(self) -> float:
        """The layer's L1/L2 penalty added to the data loss (0 by default)."""
        return 0.0

    def predictions(self, outputs: Array) -> Array:
        """Answers from this layer's outputs when it ends a model (the outputs themselves)."""
        return outputs

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

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
