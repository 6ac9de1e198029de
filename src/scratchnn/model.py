"""The Model: a container of layers, a loss, an optimizer and an accuracy.

>>> import scratchnn as snn
>>> from scratchnn.datasets import spiral_data
>>> X, y = spiral_data(samples=100, classes=3, rng=0)
>>> model = snn.Model(
...     [snn.Dense(2, 64, rng=0), snn.ReLU(), snn.Dense(64, 3, rng=1), snn.Softmax()],
...     loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam(learning_rate=0.02), seed=0,
... )
>>> history = model.fit(X, y, epochs=10, batch_size=32, verbose=0)
>>> len(history.history["loss"])
10

One training step is the book's: :meth:`Model.forward` through every layer with
``training=True``, the loss, :meth:`Model.backward` in reverse order, then
:meth:`Model.update` (the optimizer's ``pre_update_params``, ``update_params(layer)`` for
each trainable layer, ``post_update_params``). When the last layer knows a shortcut for the
loss's gradient (:meth:`Layer.backward_from_loss <scratchnn.Layer.backward_from_loss>`:
Softmax with the categorical cross-entropy gives ``(softmax - one_hot) / n_samples``), the
backward pass starts from it. The epochs, batches, callbacks and progress are
:mod:`scratchnn.training`'s; the file format is :mod:`scratchnn.io`'s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import _samples, training
from ._random import RandomLike, check_random_state, default_generator, give_streams
from ._typing import Array
from ._validation import (
    check_non_negative_int,
    describe,
)
from .callbacks import Callback, History
from .layers import Layer
from .losses import Loss
from .metrics import Accuracy, accuracy_for_outputs
from .optimizers import Optimizer
from .registry import build_entry, describe_entry, library_class_name
from .storage import FlatParameters

__all__ = ["Model", "library_class_name", "load_model"]

Shape = tuple[int, ...]


class Model:
    """A sequence of layers trained with a loss and an optimizer.

    Parameters
    ----------
    layers : sequence of Layer, optional
        Layers in order: Dense, Dropout, Flatten, activations or layers of your own (more
        can be added with :meth:`add`).
    loss : Loss, optional
        E.g. :class:`CategoricalCrossentropy`; can be given later with :meth:`set`.
    optimizer : Optimizer, optional
        E.g. :class:`Adam`.
    accuracy : Accuracy, optional
        Defaults to :class:`CategoricalAccuracy` when the last layer is Softmax
        (``binary=True`` when it is Sigmoid), whatever the loss; otherwise
        :class:`RegressionAccuracy` for MSE/MAE and CategoricalAccuracy for cross-entropies.
        A default is chosen again when the loss or the layers change.
    seed : int, optional
        Seeds the model's own generator: shuffling, validation splits and the masks of
        Dropout layers created without an ``rng``. ``None`` draws a seed from the library
        generator (:func:`scratchnn.seed`). Initial weights are drawn when the layers are
        built, from their ``rng`` or the library generator: seed that too (or give each an
        ``rng``) for a run that repeats exactly.
    """

    def __init__(
        self,
        layers: Sequence[Layer] | None = None,
        *,
        loss: Loss | None = None,
        optimizer: Optimizer | None = None,
        accuracy: Accuracy | None = None,
        seed: int | None = None,
    ) -> None:
        if seed is not None:
            seed = check_non_negative_int(seed, "seed")
        self.seed = seed
        root = np.random.SeedSequence(
            seed if seed is not None else int(default_generator().integers(2**63))
        )
        self._seed_sequence = root
        self.rng = np.random.Generator(np.random.PCG64(root.spawn(1)[0]))
        self.layers: list[Layer] = []
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.accuracy: Accuracy | None = None
        self.trainable_layers: list[Layer] = []
        # One sample's shape: the first layer's if it fixes one, else the data's last seen.
        self.input_shape: Shape | None = None
        self.sample_shape: Shape | None = None
        self._storage: FlatParameters | None = None
        self.stop_training = False
        self.history: History | None = None
        self._finalized = False
        self._accuracy_chosen = False    # True while self.accuracy is finalize's default
        _samples.check_layer_list(layers)
        for layer in layers or ():
            self.add(layer)
        self.set(loss=loss, optimizer=optimizer, accuracy=accuracy)

    # -- building ---------------------------------------------------------------------------

    def add(self, layer: Layer) -> None:
        """Append ``layer``: any :class:`~scratchnn.Layer` (Dense, Flatten, an activation...)."""
        _samples.check_layer(layer)
        self.layers.append(layer)
        self._forget_default_accuracy()
        self._finalized = False

    def _forget_default_accuracy(self) -> None:
        """A default accuracy fits the loss and last layer it was chosen for: choose again."""
        if self._accuracy_chosen:
            self.accuracy = None
            self._accuracy_chosen = False

    def set(
        self,
        *,
        loss: Loss | None = None,
        optimizer: Optimizer | None = None,
        accuracy: Accuracy | None = None,
    ) -> None:
        """Set any of the loss, the optimizer and the accuracy (``None`` keeps the current)."""
        _samples.check_parts(loss=loss, optimizer=optimizer, accuracy=accuracy)
        if loss is not None:
            self.loss = loss
            self._forget_default_accuracy()
        if optimizer is not None:
            self.optimizer = optimizer
        if accuracy is not None:
            self.accuracy = accuracy
            self._accuracy_chosen = False
        self._finalized = False

    def finalize(self) -> None:
        """Check that the layers connect and prepare training (implicit on first use).

        The layers connect when each takes the samples the one before gives
        (:meth:`Layer.output_shape <scratchnn.Layer.output_shape>`), checked from the first
        layer whose config fixes its input (a Dense) on; layers before it are checked against
        the data. All parameters share one dtype, the model's (float32 if none has any).
        """
        self.dtype = _samples.check_layers(self.layers)
        self._shapes: dict[Shape, list[Shape]] = {}
        self.input_shape = self.layers[0].expected_input_shape()
        if self.input_shape is not None:
            self.sample_shape = self.input_shape
        self.output_shape = _samples.connect(self.layers)
        self.trainable_layers = [layer for layer in self.layers if layer.trainable]
        give_streams(self.layers, self._seed_sequence)
        if self.loss is not None:
            self.loss.check_last_layer(self.layers[-1])
            self.loss.remember_trainable_layers(self.trainable_layers)
            if self.accuracy is None:
                # The last layer decides what predictions look like (Softmax: class ids,
                # Sigmoid: 0/1 per output), whatever the loss; else the loss chooses.
                self.accuracy = (accuracy_for_outputs(self.layers[-1].produces)
                                 or self.loss.default_accuracy())
                self._accuracy_chosen = True
        self._finalized = True

    def parameter_storage(self) -> FlatParameters:
        """The trainable parameters and gradients as views into one buffer per dtype
        (:class:`~scratchnn.storage.FlatParameters`); ``fit`` asks for it before training.

        Packed on the first call, then kept: packed again only when the trainable layers
        changed or a layer's array was replaced since.
        """
        self._ensure_finalized()
        storage = self._storage
        if storage is None or not storage.covers(self.trainable_layers):
            self._storage = storage = FlatParameters(self.trainable_layers, previous=storage)
        return storage

    @property
    def finalized(self) -> bool:
        """Whether :meth:`finalize` has run since the layers, loss or accuracy last changed."""
        return self._finalized

    @property
    def output_layer_activation(self) -> Layer:
        """The last layer (its ``predictions(outputs)`` turns outputs into answers)."""
        return self.layers[-1]

    @property
    def n_features(self) -> int | None:
        """Values per input sample (``prod(sample_shape)``), None until known."""
        shape = self.sample_shape
        return None if shape is None else math.prod(shape)

    @property
    def n_outputs(self) -> int | None:
        """Values per output sample (``prod(output_shape)``), None until known."""
        shape = getattr(self, "output_shape", None)
        return None if shape is None else math.prod(shape)

    def _ensure_finalized(self) -> None:
        if not self._finalized:
            self.finalize()

    # -- shapes and data ---------------------------------------------------------------------

    def layer_shapes(self, sample_shape: Shape) -> list[Shape]:
        """Every layer's output sample shape for input samples shaped ``sample_shape``.

        Raises ValueError naming the first layer that cannot take what it would get.
        """
        self._ensure_finalized()
        sample_shape = tuple(sample_shape)
        shapes = self._shapes.get(sample_shape)
        if shapes is None:
            shapes = self._shapes[sample_shape] = _samples.sample_shapes(self.layers,
                                                                         sample_shape)
        return shapes

    def check_inputs(self, X: Any, name: str = "X") -> Array:
        """``X`` as the model computes with it: an array of the model's dtype shaped
        ``(n_samples, *sample_shape)`` for samples the layers take, finite, not empty."""
        self._ensure_finalized()
        index, first, expected = _samples.fixed_input(self.layers) or (0, self.layers[0], None)
        array = _samples.check_inputs(X, name, dtype=self.dtype, first=first,
                                      expected=expected, index=index)
        try:
            shapes = self.layer_shapes(array.shape[1:])
        except ValueError as error:
            raise ValueError(f"{name} shaped {array.shape}: {error}") from None
        self.output_shape = shapes[-1]
        self.sample_shape = array.shape[1:]
        return array

    def check_targets(self, y: Any, n_samples: int, name: str = "y") -> Array:
        """``y`` in the form the loss wants: class ids ``(n_samples,)`` for a cross-entropy
        over classes (one-hot rows are turned into ids), else one target per output value.

        Call :meth:`check_inputs` first when the model's input shape is not fixed by its
        first layer (the output shape comes from the inputs then).
        """
        self._ensure_finalized()
        if self.output_shape is None:
            raise ValueError("check the inputs first: the output shape comes from them")
        return _samples.check_targets(y, n_samples, name, loss=self.loss,
                                      output_shape=self.output_shape, dtype=self.dtype)

    # -- one training step: forward, backward, update ---------------------------------------

    def forward(self, X: Array, training: bool = False) -> Array:
        """Every layer's ``forward`` in turn; returns the last layer's output (no checks:
        pass what :meth:`check_inputs` returns)."""
        output = X
        for layer in self.layers:
            output = layer.forward(output, training=training)
        return output

    def backward(self, output: Array, y: Array) -> None:
        """The loss's gradient back through every layer, from the last to the first.

        ``output`` is :meth:`forward`'s, ``y`` the batch's targets as :meth:`check_targets`
        gives them. When the last layer offers a shortcut (``backward_from_loss``), it is
        that layer's ``dinputs`` and the pass goes on from the layer before.
        """
        if self.loss is None:
            raise ValueError("the model has no loss; set one, e.g. model.set(loss=...)")
        layers = self.layers
        dvalues = layers[-1].backward_from_loss(self.loss, y)
        if dvalues is None:
            dvalues = self.loss.backward(output, y)
        else:
            layers[-1].dinputs = dvalues
            layers = layers[:-1]
        for layer in reversed(layers):
            dvalues = layer.backward(dvalues)

    def update(self, storage: FlatParameters | None = None) -> None:
        """One optimizer step for every trainable layer, from the gradients of the last
        :meth:`backward`: the book's ``update_params(layer)`` layer by layer, or, given the
        model's :meth:`parameter_storage` (as ``fit`` does), a handful of NumPy calls over
        its buffers (``Optimizer.update_storage``)."""
        optimizer = self.optimizer
        if optimizer is None:
            raise ValueError("the model has no optimizer; set one, e.g. model.set(optimizer=...)")
        if not self._finalized:
            self.finalize()            # the trainable layers are known from here on
        optimizer.pre_update_params()
        if storage is not None:
            optimizer.update_storage(storage)
        else:
            for layer in self.trainable_layers:
                optimizer.update_params(layer)
        optimizer.post_update_params()

    # -- fit / evaluate / predict -----------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 1,
        batch_size: int | None = None,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        verbose: int = 1,
        callbacks: Iterable[Callback] | None = None,
        initial_epoch: int = 0,
    ) -> History:
        """Train for ``epochs`` passes over ``(X, y)`` in batches.

        Parameters
        ----------
        X : array (n_samples, *sample_shape)
        y : array
            Class labels (n_samples,) or one-hot (n_samples, n_classes) for cross-entropy;
            targets (n_samples, n_outputs) for binary cross-entropy and regression.
        epochs : int
            Passes over the data.
        batch_size : int, optional
            Samples per step; ``None`` trains on all of them at once. An epoch has
            ``ceil(n_samples / batch_size)`` steps, the last one possibly smaller.
        validation_data : (X_val, y_val), optional
            Evaluated after every epoch (``val_loss``, ``val_accuracy``).
        validation_split : float
            Fraction in [0, 1) of the samples, taken from the end before shuffling, held out
            for validation (ignored when ``validation_data`` is given).
        shuffle : bool
            Visit the samples in a new order every epoch (from the model's generator).
        verbose : {0, 1, 2}
            0 silent, 1 a progress bar per epoch (loss and accuracy as running means over
            the epoch so far), 2 one line per epoch.
        callbacks : list of Callback, optional
        initial_epoch : int, default 0
            The epoch to start from when resuming, as in Keras: ``fit(..., epochs=6,
            initial_epoch=3)`` trains epochs 3, 4 and 5 (counted from 0), and callbacks,
            history and progress lines see those numbers. Resume a run that uses a
            :class:`~scratchnn.callbacks.LearningRateScheduler` this way, so that the schedule
            goes on where it stopped.

        Returns
        -------
        History
            Per-epoch ``loss``, ``data_loss``, ``regularization_loss``, ``accuracy``,
            ``learning_rate`` (and ``val_loss``, ``val_accuracy``).

        Raises
        ------
        TrainingDivergedError
            When the loss or the parameters stop being finite, or a cross-entropy's epoch
            mean reaches the probability clip ceiling; the state of a recent healthy step (at
            most 8 updates back) is restored first (see the error's own documentation).
        """
        return training.fit(
            self, X, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
            validation_split=validation_split, shuffle=shuffle, verbose=verbose,
            callbacks=callbacks, initial_epoch=initial_epoch,
        )

    def evaluate(
        self, X: Any, y: Any, *, batch_size: int | None = None, verbose: int = 1
    ) -> dict[str, float]:
        """Mean data loss and accuracy on ``(X, y)`` (dropout off).

        Returns ``{"loss": ..., "accuracy": ...}``; ``verbose=1`` also prints them.
        """
        return training.evaluate(self, X, y, batch_size=batch_size, verbose=verbose)

    def predict(self, X: Any, *, batch_size: int | None = None) -> Array:
        """The last layer's outputs for ``X`` (probabilities after Softmax), dropout off.

        ``X`` is shaped ``(n_samples, *sample_shape)``; the result ``(n_samples,
        *output_shape)``, in batches of ``batch_size`` samples if given.
        """
        return training.predict(self, X, batch_size=batch_size)

    def predict_classes(self, X: Any, *, batch_size: int | None = None) -> Array:
        """The last layer's ``predictions``: class ids, 0/1 answers or regression values."""
        outputs = self.predict(X, batch_size=batch_size)
        return self.layers[-1].predictions(outputs)

    # -- parameters and configuration -------------------------------------------------------

    def get_parameters(self) -> list[list[Array]]:
        """Copies of ``[weights, biases]`` of every trainable layer, in order."""
        self._ensure_finalized()
        return [[param.copy() for param in layer.parameters()] for layer in self.trainable_layers]

    def set_parameters(self, parameters: Sequence[Sequence[Any]]) -> None:
        """Copy ``parameters`` (as :meth:`get_parameters` returns them) into the layers.

        Every array is checked (count, shape, finite) before any is copied: all or nothing.
        """
        self._ensure_finalized()
        for target, array in _samples.check_parameters(self.trainable_layers, parameters):
            np.copyto(target, array)

    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-able data (what a model file stores, besides arrays)."""
        return {
            "layers": [describe_entry("layers", layer) for layer in self.layers],
            "loss": describe_entry("loss", self.loss),
            "optimizer": describe_entry("optimizer", self.optimizer),
            "accuracy": describe_entry("accuracy", self.accuracy),
            "seed": self.seed,
            # Kept when the first layer does not fix it (a CNN), for summary and predict.
            **({"sample_shape": list(self.sample_shape)}
               if self.input_shape is None and self.sample_shape is not None else {}),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], *, rng: RandomLike = None) -> Model:
        """Rebuild a model (fresh parameters drawn from ``rng``) from :meth:`get_config`."""
        generator = check_random_state(rng)
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"config must be a dict with a 'layers' list; got {describe(config)}")
        model = cls(
            [build_entry("layers", entry, generator) for entry in config["layers"]],
            loss=build_entry("loss", config.get("loss")),
            optimizer=build_entry("optimizer", config.get("optimizer")),
            accuracy=build_entry("accuracy", config.get("accuracy")),
            # Without a seed, Model() would draw one from the library generator; a file
            # restores the generators anyway, so a placeholder leaves the user's stream alone.
            seed=0 if config.get("seed") is None else config["seed"],
        )
        model.seed = config.get("seed")
        if config.get("sample_shape") is not None:
            model.sample_shape = _samples.check_sample_shape(config["sample_shape"])
        return model

    # -- files (scratchnn.io: a safe format, never pickle) ----------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save architecture, parameters, optimizer and generator state to one file."""
        from .io import save_model

        save_model(self, path)

    def save_parameters(self, path: str | os.PathLike[str]) -> None:
        """Save only the parameters."""
        from .io import save_parameters

        save_parameters(self, path)

    def load_parameters(self, path: str | os.PathLike[str]) -> None:
        """Load parameters saved by :meth:`save_parameters` into this model."""
        from .io import load_parameters

        load_parameters(self, path)

    def summary(self) -> str:
        """A table of the layers, each one's output shape (one sample's) and parameter count.

        Shapes need one input sample's shape (:attr:`sample_shape`): fixed by a first Dense,
        else that of the data last given to ``fit``, ``evaluate`` or ``predict``, or saved in
        the model's file (``?`` until then).
        """
        self._ensure_finalized()
        sample = self.sample_shape
        shapes: list[Any] = (self.layer_shapes(sample) if sample is not None
                             else [None] * len(self.layers))
        return _samples.summary_table(self.layers, shapes)

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        return f"Model([{layers}], loss={self.loss!r}, optimizer={self.optimizer!r})"


def load_model(path: str | os.PathLike[str]) -> Model:
    """Rebuild the model saved at ``path`` by :meth:`Model.save`, ready to predict or train on.

    :mod:`scratchnn.io` reads and checks the file; the architecture is rebuilt here with
    :meth:`Model.from_config` (only registered classes, see :func:`scratchnn.register_layer`)
    and io restores the parameters, optimizer state, generators and accuracy into it.

    Raises :class:`~scratchnn.ModelFileError` (a ValueError) naming the file and the problem
    for a damaged, foreign or unsafe file, or one naming an unregistered class;
    FileNotFoundError for a missing one, TypeError for a ``path`` that is not a file path.
    Loading never runs code from the file.
    """
    from .io import open_model  # the file format loads only when used

    with open_model(path) as stored:
        model = stored.build(Model.from_config)
        stored.restore(model)
    return model

