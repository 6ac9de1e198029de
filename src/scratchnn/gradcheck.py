"""Numerical gradient checking: compare ``backward`` with central finite differences.

For a layer, the scalar checked is ``f = sum(output * R) + regularization_loss`` with a fixed
random ``R``, so ``backward(R)`` must give ``df/dinputs`` and every ``df/dparameter``.
For a loss, ``f`` is the mean loss and ``backward(y_pred, y_true)`` must give ``df/dy_pred``.
Each numerical derivative is ``(f(x + eps) - f(x - eps)) / (2 eps)``, whose error is
``O(eps**2)``, so float64 arithmetic agrees with a correct gradient to about 1e-9.

Kinks break the check, not the gradient: where ``f`` is not differentiable the central
difference straddles two slopes. Two are common: ReLU at an input exactly 0, and an L1 penalty
at a parameter exactly 0 -- a fresh ``Dense`` has all its biases at 0, so with
``bias_regularizer_l1 > 0`` it fails until the biases are nudged away from 0 (e.g.
``layer.biases += 0.1``). A failing result says so in its ``notes``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._typing import Array
from ._validation import as_float_array, check_real, describe
from .layers import Dense
from .losses import Loss, SoftmaxCategoricalCrossentropy


@dataclass
class GradcheckResult:
    """Relative error ``|a - n| / max(|a|, |n|)`` (Euclidean norms) of each gradient checked."""

    errors: dict[str, float] = field(default_factory=dict)
    tolerance: float = 1e-6
    notes: dict[str, str] = field(default_factory=dict)   # hints for failing gradients

    @property
    def max_error(self) -> float:
        """The largest error; NaN when any gradient is NaN (a NaN never passes)."""
        values = list(self.errors.values())
        if any(math.isnan(value) for value in values):
            return math.nan
        return max(values, default=0.0)

    @property
    def ok(self) -> bool:
        return all(error < self.tolerance for error in self.errors.values())

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        lines = [
            f"{name}: relative error {err:.2e}"
            + (f" ({self.notes[name]})" if name in self.notes else "")
            for name, err in self.errors.items()
        ]
        verdict = "ok" if self.ok else f"FAILED (tolerance {self.tolerance:.2g})"
        return "\n".join([*lines, verdict])


def relative_error(analytic: Array, numeric: Array) -> float:
    """``||a - n|| / max(||a||, ||n||)``, 0 when both gradients are zero; NaN when either
    holds NaN or infinity."""
    if not (np.all(np.isfinite(analytic)) and np.all(np.isfinite(numeric))):
        return math.nan
    scale = max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric)) / scale


def numerical_gradient(f: Callable[[], float], x: Array, eps: float = 1e-6) -> Array:
    """Central differences of the scalar ``f()`` w.r.t. every entry of ``x`` (changed in place)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    # Index x itself rather than x.reshape(-1), which is a copy (perturbing nothing) whenever
    # x is not C-contiguous, e.g. weights assigned as a transposed matrix.
    for index in np.ndindex(*x.shape):
        original = x[index]
        x[index] = original + eps
        plus = f()
        x[index] = original - eps
        minus = f()
        x[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(
    obj: Any,
    inputs: Array,
    y_true: Array | None = None,
    *,
    eps: float = 1e-6,
    tolerance: float = 1e-6,
    training: bool = False,
    seed: int = 0,
) -> GradcheckResult:
    """Check ``obj.backward`` against finite differences in float64.

    Parameters
    ----------
    obj : a layer or activation (``forward``/``backward``), or a loss (also needs ``y_true``)
        Layers with parameters must be built with ``dtype=numpy.float64``. A book-style
        class works too: ``forward(inputs)`` without ``training`` that sets ``self.output``
        and returns nothing, ``backward(dvalues)`` that sets ``self.dinputs``; without
        ``parameters()``/``gradients()`` only ``dinputs`` is checked.
    inputs : array (n_samples, n_features)
        Where to check; converted to float64. Keep away from kinks (ReLU at 0, |x| at 0);
        likewise parameters under an L1 penalty must not sit exactly at 0 (fresh biases do).
    y_true : array, for losses
    training : bool
        Forward in training mode (dropout). Random layers reuse one mask for every evaluation.

    Returns
    -------
    GradcheckResult
        Truthy when every relative error is below ``tolerance``.

    Examples
    --------
    >>> import numpy as np, scratchnn as snn
    >>> layer = snn.Dense(3, 2, dtype=np.float64, rng=0)
    >>> bool(gradcheck(layer, np.random.default_rng(0).normal(size=(4, 3))))
    True
    """
    eps = check_real(eps, "eps", low=0.0, low_inclusive=False)
    tolerance = check_real(tolerance, "tolerance", low=0.0, low_inclusive=False)
    x = np.array(as_float_array(inputs, "inputs", np.float64))   # a copy: perturbed in place
    result = GradcheckResult(tolerance=tolerance)
    is_loss = isinstance(obj, (Loss, SoftmaxCategoricalCrossentropy))
    if not is_loss and not all(
        callable(getattr(obj, method, None)) for method in ("forward", "backward")
    ):
        raise TypeError(
            "obj must be a layer or activation (with forward and backward) or a loss; "
            f"got {describe(obj)}"
        )
    if is_loss:
        if y_true is None:
            raise ValueError("gradcheck of a loss needs y_true")
        _check_loss(obj, x, np.asarray(y_true), eps, result)
        return result
    parameters: Callable[[], list[Array]] = getattr(obj, "parameters", list)
    gradients: Callable[[], list[Array]] = getattr(obj, "gradients", list)
    regularization_loss = getattr(obj, "regularization_loss", lambda: 0.0)
    for param in parameters():
        if param.dtype != np.float64:
            hint = "build it with dtype=numpy.float64"
            if isinstance(obj, Dense) and type(obj).__name__ == "Layer_Dense":
                hint = (
                    "the book's Layer_Dense is always float32: check the same layer as "
                    "scratchnn.Dense(n_inputs, n_neurons, dtype=numpy.float64)"
                )
            raise TypeError(
                f"gradcheck needs float64 parameters; {type(obj).__name__} holds {param.dtype}: "
                f"{hint}"
            )

    mask_rng = getattr(obj, "rng", None)
    rng_snapshot = _snapshot(mask_rng)

    takes_training = _accepts_training(obj.forward)

    def forward() -> Array:
        _restore(mask_rng, rng_snapshot)  # the same dropout mask every time
        output = obj.forward(x, training=training) if takes_training else obj.forward(x)
        if output is None:                # the book's style: the result is in .output
            output = obj.output
        return np.asarray(output, dtype=np.float64)

    projection = np.random.default_rng(seed).normal(size=forward().shape)

    def f() -> float:
        return float(np.sum(forward() * projection)) + float(regularization_loss())

    # A model's first Dense skips d(loss)/d(inputs); the check needs it.
    needs_dinputs = getattr(obj, "needs_dinputs", None)
    if needs_dinputs is False:
        obj.needs_dinputs = True
    try:
        forward()
        obj.backward(projection.copy())
        analytic_inputs = _checked_shape("dinputs", obj.dinputs, x)
        result.errors["dinputs"] = relative_error(analytic_inputs, numerical_gradient(f, x, eps))
        pairs = zip(parameters(), gradients(), strict=True)
        for index, (param, grad) in enumerate(pairs):
            name = _param_name(obj, index)
            analytic = _checked_shape(name, grad, param)
            numeric = numerical_gradient(f, param, eps)
            result.errors[name] = relative_error(analytic, numeric)
            if not result.errors[name] < tolerance:
                _note_l1_kink(obj, name, param, result)
            if math.isnan(result.errors[name]):
                result.notes[name] = "the analytic gradient holds NaN or infinity"
        if math.isnan(result.errors["dinputs"]):
            result.notes["dinputs"] = "the analytic gradient holds NaN or infinity"
    finally:
        if needs_dinputs is False:
            obj.needs_dinputs = False
    return result


def _checked_shape(name: str, gradient: Any, like: Array) -> Array:
    """``gradient`` as float64, refused unless it has the shape of what it differentiates."""
    array = np.array(gradient, dtype=np.float64)
    if array.shape != like.shape:
        raise ValueError(
            f"the analytic {name} has shape {array.shape} but must have the shape of what it "
            f"is the gradient of, {like.shape}; check the layer's backward"
        )
    return array


# The L1 penalty lambda * |p| has no derivative at p == 0 (slopes -lambda and +lambda meet).
_L1_PENALTIES = {"dweights": "weight_regularizer_l1", "dbiases": "bias_regularizer_l1"}


def _note_l1_kink(obj: Any, name: str, param: Array, result: GradcheckResult) -> None:
    strength = getattr(obj, _L1_PENALTIES.get(name, ""), 0.0)
    zeros = int(np.count_nonzero(param == 0))
    if strength > 0 and zeros:
        result.notes[name] = (
            f"{zeros} entries are exactly 0 under {_L1_PENALTIES[name]}={strength}, where the "
            "L1 penalty has a kink; nudge them away from 0 before checking"
        )


def _check_loss(obj: Any, x: Array, y_true: Array, eps: float, result: GradcheckResult) -> None:
    if isinstance(obj, SoftmaxCategoricalCrossentropy):
        def f() -> float:
            return float(obj.forward(x, y_true))

        f()
        obj.backward(obj.output, y_true)
    else:
        def f() -> float:
            return float(np.mean(obj.forward(x, y_true)))

        obj.backward(x.copy(), y_true)
    analytic = np.array(obj.dinputs, dtype=np.float64)
    result.errors["dinputs"] = relative_error(analytic, numerical_gradient(f, x, eps))


def _accepts_training(method: Any) -> bool:
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return True
    return "training" in parameters or any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()
    )


def _param_name(obj: Any, index: int) -> str:
    names = {0: "dweights", 1: "dbiases"} if hasattr(obj, "weights") else {}
    return names.get(index, f"dparameter{index}")


def _snapshot(rng: Any) -> Any:
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.state
    if isinstance(rng, np.random.RandomState):
        return rng.get_state()
    return None


def _restore(rng: Any, state: Any) -> None:
    if isinstance(rng, np.random.Generator):
        rng.bit_generator.state = state
    elif isinstance(rng, np.random.RandomState):
        rng.set_state(state)
