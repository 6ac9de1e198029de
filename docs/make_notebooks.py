"""Write the tutorial notebooks in docs/notebooks/ from the cells below.

The notebooks are generated so that a change to them is reviewed here, as text. They are
stored without outputs; ``tests/test_notebooks.py`` runs every one and checks that the stored
files match this script. After editing, run::

    python docs/make_notebooks.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"


def install(*packages: str) -> str:
    """First cell: install in JupyterLite (the browser); a no-op anywhere else."""
    names = ", ".join(repr(name) for name in ("scratchnn", *packages))
    return f"""\
# In JupyterLite (Python in the browser) the library is installed first.
# Anywhere else this cell does nothing: install with pip install 'scratchnn[plot]'.
import sys

if sys.platform == "emscripten":
    import piplite

    await piplite.install([{names}])"""


# Notebooks 5 and 6 load Fashion-MNIST alike: from $SCRATCHNN_DATA_DIR when it is set (the
# test machines), else downloaded once; when neither works the cell says what to set.
LOAD_FASHION_MNIST = """\
download = "SCRATCHNN_DATA_DIR" not in os.environ   # set: read that folder, never download
try:
    (train_images, train_labels), (test_images, test_labels) = load_fashion_mnist(
        download=download
    )
except (snn.DatasetError, OSError) as error:
    raise RuntimeError(
        "Fashion-MNIST is not here and could not be downloaded. Put the four .gz files in a "
        "folder named fashion-mnist, set SCRATCHNN_DATA_DIR to the folder that holds it "
        "(os.environ['SCRATCHNN_DATA_DIR'] = 'path/to/that/folder' in a cell above, or "
        f"before starting Jupyter), then run this cell again.\\n({error})"
    ) from None
print(train_images.shape, train_images.dtype, train_labels.shape)
print(test_images.shape, test_labels.shape)"""


def load_fashion_mnist_cell(imports: str, *more: str) -> str:
    """The cell that loads Fashion-MNIST (notebooks 5 and 6): ``imports`` first, then the
    loading, which says what to set when the files are missing, then the lines ``more``."""
    return "\n".join([imports, "", LOAD_FASHION_MNIST, *more])


NOTEBOOK_1 = [
    ("md", """\
# 1. Batches and the dot product

A neuron multiplies each input by a weight, adds the products up and adds a bias. A layer is
several neurons reading the same inputs, and a *batch* is several samples pushed through at
once. NumPy's dot product does all of it in one call. This notebook follows the first
chapters of *Neural Networks from Scratch in Python* and ends with scratchnn's `Dense` layer."""),
    ("code", install()),
    ("md", """\
## One neuron

Four inputs, four weights, one bias: the output is `sum(inputs * weights) + bias`."""),
    ("code", """\
import numpy as np

inputs = [1, 2, 3, 2.5]
weights = [0.2, 0.8, -0.5, 1]
bias = 2

output = np.dot(weights, inputs) + bias
print(output)"""),
    ("md", """\
## A layer of three neurons

Each neuron has its own row of weights. `np.dot(weights, inputs)` takes the dot product of
every row with the inputs, giving one number per neuron."""),
    ("code", """\
weights = [[0.2, 0.8, -0.5, 1],
           [0.5, -0.91, 0.26, -0.5],
           [-0.26, -0.27, 0.17, 0.87]]
biases = [2, 3, 0.5]

layer_outputs = np.dot(weights, inputs) + biases
print(layer_outputs)"""),
    ("md", """\
## A batch of samples

Now three samples, one per row. Inputs are `(3 samples, 4 features)` and weights are
`(3 neurons, 4 inputs)`. A matrix product needs the inner sizes to agree, so the weights are
transposed to `(4, 3)`: every sample row meets every neuron column, and the result has one
row per sample and one column per neuron."""),
    ("code", """\
inputs = [[1, 2, 3, 2.5],
          [2, 5, -1, 2],
          [-1.5, 2.7, 3.3, -0.8]]

outputs = np.dot(inputs, np.array(weights).T) + biases
print("inputs", np.shape(inputs), "@ weights.T", np.array(weights).T.shape, "->", outputs.shape)
print(outputs)"""),
    ("md", """\
The biases, shape `(3,)`, are *broadcast*: added to every row. Without the transpose the
shapes do not line up and NumPy says so:"""),
    ("code", """\
try:
    np.dot(inputs, weights)
except ValueError as error:
    print("ValueError:", error)"""),
    ("md", """\
## scratchnn's Dense layer

`scratchnn.Dense(n_inputs, n_neurons)` stores its weights the other way round,
`(n_inputs, n_neurons)`, so the forward pass is `inputs @ weights + biases` with no transpose.
Giving it the weights above (transposed once) reproduces the same numbers. (`dtype=np.float64`
makes it compute in the same precision as NumPy above; scratchnn's default, float32, is
explained further down.)"""),
    ("code", """\
import scratchnn as snn

layer = snn.Dense(4, 3, dtype=np.float64)
print("weights", layer.weights.shape, "biases", layer.biases.shape)

layer.weights[:] = np.array(weights).T
layer.biases[:] = biases
print(layer.forward(inputs))
print("same as above:", np.allclose(layer.output, outputs))"""),
    ("md", """\
Shapes are the most common mistake. Dense checks them and says what it expected, what it got
and what probably went wrong: here the batch was passed transposed, then a single sample was
passed without its batch dimension."""),
    ("code", """\
try:
    layer.forward(np.array(inputs).T)
except ValueError as error:
    print(error)

try:
    layer.forward(np.array([1, 2, 3, 2.5]))
except ValueError as error:
    print(error)"""),
    ("md", """\
## Two layers with random weights

Real layers start from small random weights. Passing a `RandomState(0)` draws them exactly as
the book does (`0.10 * np.random.randn(...)` after `np.random.seed(0)`), so the numbers below
match the book's. The output of the first layer is the input of the second."""),
    ("code", """\
rng = np.random.RandomState(0)
layer1 = snn.Dense(4, 5, weight_scale=0.10, rng=rng)
layer2 = snn.Dense(5, 2, weight_scale=0.10, rng=rng)

layer1.forward(inputs)
layer2.forward(layer1.output)
print(layer1.output)
print(layer2.output)"""),
    ("md", """\
The arrays are float32, scratchnn's default: half the memory of float64 and plenty of
precision for training. Pass `dtype=np.float64` to a layer when you need more."""),
    ("code", """\
print(layer2.output.dtype, snn.Dense(4, 5, dtype=np.float64, rng=0).weights.dtype)"""),
    ("md", """\
## Why batches?

Training looks at a batch at a time: more samples per step give a steadier direction to
move the weights in, and the matrix product makes a batch much cheaper per sample than one
sample at a time.
Yet the whole dataset at once rarely fits in memory, so it is cut into batches. With 10,000
samples and batches of 32 there are `ceil(10000 / 32) = 313` steps per epoch, the last one
holding the 16 samples left over."""),
    ("code", """\
import math

n_samples, batch_size = 10_000, 32
steps = math.ceil(n_samples / batch_size)
print("steps per epoch:", steps)

X = np.random.default_rng(0).normal(size=(n_samples, 4)).astype(np.float32)
sizes = [len(X[step * batch_size:(step + 1) * batch_size]) for step in range(steps)]
print("first batches:", sizes[:3], "last batch:", sizes[-1], "total:", sum(sizes))"""),
]


NOTEBOOK_2 = [
    ("md", """\
# 2. Layers and activations

Stacked Dense layers alone can only draw straight lines: a product of linear maps is linear.
An *activation function* between them bends the line. This notebook builds ReLU and
Softmax by hand, checks them against scratchnn's, and sends the book's spiral data through
an untrained network."""),
    ("code", install("matplotlib")),
    ("md", """\
## ReLU

The rectified linear unit keeps positive values and turns negative ones into zero."""),
    ("code", """\
import numpy as np
import scratchnn as snn

x = np.array([[0, 2, -1, 3.3, -2.7, 1.1, 2.2, -100]])
print(np.maximum(0, x))
print(snn.ReLU().forward(x))"""),
    ("md", """\
## Softmax

For classification the last layer should output a probability per class. Softmax
exponentiates (every value becomes positive) and divides by the row's sum (each row adds up
to one)."""),
    ("code", """\
layer_outputs = np.array([[4.8, 1.21, 2.385],
                          [8.9, -1.81, 0.2],
                          [1.41, 1.051, 0.026]])

exp_values = np.exp(layer_outputs)
probabilities = exp_values / exp_values.sum(axis=1, keepdims=True)
print(probabilities)
print("row sums:", probabilities.sum(axis=1))"""),
    ("md", """\
`np.exp` overflows past about 709. Subtracting each row's maximum first changes nothing
(the factor cancels in the division) and keeps every exponential at most `exp(0) = 1`.
scratchnn's `Softmax` does this, so even huge inputs are fine:"""),
    ("code", """\
softmax = snn.Softmax()
print(softmax.forward(layer_outputs))
print(softmax.forward(np.array([[1000.0, 1001.0, 1002.0]])))"""),
    ("md", """\
## The spiral data

The book's toy problem: three interleaved spiral arms, one per class, 100 points each. Points
are `(x, y)` pairs, so the network has two inputs. With `RandomState(0)` the data and the
weights below are drawn in the book's order and give the book's numbers."""),
    ("code", """\
%matplotlib inline
from matplotlib.figure import Figure
from scratchnn.datasets import spiral_data

X, y = spiral_data(samples=100, classes=3, rng=np.random.RandomState(0))
print(X.shape, y.shape, np.bincount(y))

fig = Figure(figsize=(4, 4))
ax = fig.add_subplot()
ax.scatter(X[:, 0], X[:, 1], c=y, cmap="brg", s=10)
ax.set_title("spiral_data(100, 3)")
fig"""),
    ("md", """\
## A forward pass through a small network

Dense(2, 3) -> ReLU -> Dense(3, 3) -> Softmax. The weights are tiny and random, so every
class gets about a third of the probability: the network knows nothing yet. The data and the
weights are drawn from one `RandomState(0)`, in the book's order, in this cell, so running it
again gives the same numbers."""),
    ("code", """\
rng = np.random.RandomState(0)
X, y = spiral_data(samples=100, classes=3, rng=rng)
dense1 = snn.Dense(2, 3, rng=rng)
activation1 = snn.ReLU()
dense2 = snn.Dense(3, 3, rng=rng)
activation2 = snn.Softmax()

dense1.forward(X)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
activation2.forward(dense2.output)
print(activation2.output[:5])"""),
    ("md", """\
Which class does it pick for each point of the plane? `scratchnn.plot.plot_decision_boundary`
colours the plane by the predicted class; it needs only an object with a `predict_classes`
method, so a few lines wrap the layers. (`scratchnn.Model` has that method built in; see
notebook 4.) Untrained, the network draws no spiral at all."""),
    ("code", """\
from scratchnn.plot import plot_decision_boundary


class Network:
    \"\"\"Layers applied in order; the class is the most probable output.\"\"\"

    def __init__(self, *layers):
        self.layers = layers

    def forward(self, X):
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def predict_classes(self, X):
        return np.argmax(self.forward(X), axis=1)


untrained = Network(dense1, activation1, dense2, activation2)
plot_decision_boundary(untrained, X, y)"""),
]


NOTEBOOK_3 = [
    ("md", """\
# 3. Loss, backpropagation and the gradient check

To improve, the network needs a number that says how wrong it is (the *loss*) and, for every
weight, which way to move to make that number smaller (the *gradient*). Backpropagation
computes all the gradients with the chain rule, layer by layer from the end. A numerical
*gradient check* then proves the calculus right."""),
    ("code", install()),
    ("md", """\
## Categorical cross-entropy

For a sample whose true class is `k` the loss is `-log(p[k])`, the negative log of the
probability the network gave the right answer: 0 when it is certain and right, large when
it is confident and wrong. The batch loss is the mean."""),
    ("code", """\
import numpy as np
import scratchnn as snn

softmax_outputs = np.array([[0.7, 0.1, 0.2],
                            [0.1, 0.5, 0.4],
                            [0.02, 0.9, 0.08]])
class_targets = np.array([0, 1, 1])

correct = softmax_outputs[range(len(softmax_outputs)), class_targets]
print("probability of the right class:", correct)
print("by hand:  ", np.mean(-np.log(correct)))
print("scratchnn:", snn.CategoricalCrossentropy().calculate(softmax_outputs, class_targets))"""),
    ("md", """\
`log(0)` is minus infinity, so probabilities are clipped to `[1e-7, 1 - 1e-7]` first: a
confident wrong answer costs about 16 instead of breaking training.

*Accuracy* is the easier number to read: how often the most probable class is the right
one."""),
    ("code", """\
outputs = np.array([[0.7, 0.2, 0.1],
                    [0.5, 0.1, 0.4],
                    [0.02, 0.9, 0.08]])
predictions = np.argmax(outputs, axis=1)
print("predicted", predictions, "true", class_targets,
      "accuracy:", np.mean(predictions == class_targets))

certain_and_wrong = np.array([[0.0, 1.0, 0.0]])
print("loss when certain and wrong:",
      snn.CategoricalCrossentropy().calculate(certain_and_wrong, np.array([0])))"""),
    ("md", """\
## Backpropagation through a Dense layer

Backward gets `dvalues`, the gradient of the loss with respect to the layer's output, one
row per sample. The chain rule then gives

* `dweights = inputs.T @ dvalues` (each weight's effect summed over the batch),
* `dbiases = dvalues.sum(axis=0, keepdims=True)`,
* `dinputs = dvalues @ weights.T`, passed on to the layer before.

With L2 regularisation (`weight_regularizer_l2=λ`), the loss gains `λ * sum(weights**2)`
and `dweights` gains `2 * λ * weights`: a pull towards small weights. L1 adds `λ * sum(|w|)`
and `λ * sign(w)`. The book's chapter 14 covers both, and `Dense` takes them as arguments."""),
    ("code", """\
inputs = np.array([[1, 2, 3, 2.5],
                   [2., 5., -1., 2],
                   [-1.5, 2.7, 3.3, -0.8]])
dvalues = np.array([[1., 1., 1.],
                    [2., 2., 2.],
                    [3., 3., 3.]])

layer = snn.Dense(4, 3, dtype=np.float64, rng=0)
layer.forward(inputs)
layer.backward(dvalues)
print("dweights by hand agree:", np.allclose(layer.dweights, inputs.T @ dvalues))
print("dbiases:", layer.dbiases)
print("dinputs shape:", layer.dinputs.shape)"""),
    ("md", """\
## Softmax and cross-entropy together

Chaining the Softmax Jacobian with the loss's gradient simplifies to
`(probabilities - one_hot(targets)) / n_samples`. `SoftmaxCategoricalCrossentropy` uses
that shortcut; it agrees with the two separate backward passes and is much cheaper."""),
    ("code", """\
combined = snn.SoftmaxCategoricalCrossentropy()
combined.backward(softmax_outputs, class_targets)

softmax = snn.Softmax()
softmax.output = softmax_outputs        # as if forward had produced these probabilities
loss = snn.CategoricalCrossentropy()
loss.backward(softmax_outputs, class_targets)
softmax.backward(loss.dinputs)

print(combined.dinputs)
print("same as the separate passes:", np.allclose(combined.dinputs, softmax.dinputs))"""),
    ("md", """\
## The gradient check

How do we know a backward pass is right? Nudge each input and parameter by a tiny `eps` and
watch the loss: `(f(x + eps) - f(x - eps)) / (2 eps)` approximates the derivative.
`scratchnn.gradcheck` does this for every entry, in float64, and reports the relative error
between the two gradients; below `1e-6` means they agree. A layer on its own has no loss, so
the check uses `sum(output * R)` for a fixed random `R` (whose gradient is `R`), plus the
layer's regularisation penalty: the Dense below has an L2 penalty, and its gradient is checked
too."""),
    ("code", """\
rng = np.random.default_rng(0)
x = rng.normal(size=(5, 4))

print(snn.gradcheck(snn.Dense(4, 3, dtype=np.float64, weight_regularizer_l2=0.01, rng=0), x))"""),
    ("code", """\
x_away_from_zero = x + np.sign(x) * 0.1   # ReLU has a kink at 0, where no derivative exists
for activation in (snn.ReLU(), snn.Sigmoid(), snn.Tanh(), snn.Softmax()):
    result = snn.gradcheck(activation, x_away_from_zero)
    print(f"{type(activation).__name__:8} max relative error {result.max_error:.1e}", bool(result))

logits, labels = rng.normal(size=(6, 3)), np.array([0, 1, 2, 2, 1, 0])
print(snn.gradcheck(snn.SoftmaxCategoricalCrossentropy(), logits, labels))"""),
    ("md", """\
A gradient check catches real mistakes. This layer "forgets" to sum the bias gradient over the
batch, an easy slip, and the check points at `dbiases` straight away:"""),
    ("code", """\
class BrokenDense(snn.Dense):
    def backward(self, dvalues):
        super().backward(dvalues)
        self.dbiases = dvalues[:1].copy()   # only the first sample's gradient
        return self.dinputs


print(snn.gradcheck(BrokenDense(4, 3, dtype=np.float64, rng=0), x))"""),
]


NOTEBOOK_4 = [
    ("md", """\
# 4. Optimizers

An optimizer turns gradients into weight updates. Plain SGD takes a step of
`learning_rate * gradient` downhill; momentum keeps part of the previous step, which rolls
through small bumps; Adam keeps a running average of the gradient (momentum) and divides each
weight's step by the square root of a running average of its squared gradient, both
bias-corrected, so every weight gets a step of about the same size. Here all three train the
same network on the spiral data.

`decay` lowers the learning rate as training goes on: at step `t` it is
`learning_rate / (1 + decay * t)`. Each step calls `pre_update_params()` (which sets that
rate), `update_params(layer)` for each layer with weights, then `post_update_params()` (which
counts the step)."""),
    ("code", install("matplotlib")),
    ("code", """\
%matplotlib inline
import numpy as np
import scratchnn as snn
from scratchnn.datasets import spiral_data
from scratchnn.plot import plot_decision_boundary, plot_history

X, y = spiral_data(samples=100, classes=3, rng=np.random.RandomState(0))
X_test, y_test = spiral_data(samples=100, classes=3, rng=1)
print(X.shape, X_test.shape)"""),
    ("md", """\
## A training loop by hand

One *epoch* here is one step on all 300 samples: forward, loss, backward, update. The loop
records the loss and accuracy in a dict, the same shape as the history `Model.fit` returns,
so `plot_history` can draw it."""),
    ("code", """\
def train(optimizer, epochs=1001, seed=0):
    dense1 = snn.Dense(2, 64, rng=seed)
    activation1 = snn.ReLU()
    dense2 = snn.Dense(64, 3, rng=seed + 1)
    loss_activation = snn.SoftmaxCategoricalCrossentropy()
    history = {"loss": [], "accuracy": []}
    for epoch in range(epochs):
        dense1.forward(X)
        activation1.forward(dense1.output)
        dense2.forward(activation1.output)
        loss = loss_activation.forward(dense2.output, y)
        accuracy = np.mean(np.argmax(loss_activation.output, axis=1) == y)
        history["loss"].append(loss)
        history["accuracy"].append(accuracy)

        loss_activation.backward(loss_activation.output, y)
        dense2.backward(loss_activation.dinputs)
        activation1.backward(dense2.dinputs)
        dense1.backward(activation1.dinputs)

        optimizer.pre_update_params()
        optimizer.update_params(dense1)
        optimizer.update_params(dense2)
        optimizer.post_update_params()
    return history


optimizers = {
    "SGD": snn.SGD(learning_rate=1.0),
    "SGD + momentum": snn.SGD(learning_rate=1.0, decay=1e-3, momentum=0.9),
    "Adam": snn.Adam(learning_rate=0.05, decay=5e-7),
}
histories = {name: train(optimizer) for name, optimizer in optimizers.items()}
for name, history in histories.items():
    print(f"{name:15} loss {history['loss'][-1]:.3f}  accuracy {history['accuracy'][-1]:.3f}")"""),
    ("md", """\
The same epochs, three very different results (the settings differ too: momentum runs with a
decay of 1e-3, Adam with a smaller learning rate, as in the book). With a learning rate of 1,
SGD with momentum overshoots now and then: its loss jumps before it settles again.
Overlaid on one plot:"""),
    ("code", """\
from matplotlib.figure import Figure

fig = Figure(figsize=(6, 4))
ax = fig.add_subplot()
for name, history in histories.items():
    ax.plot(history["loss"], label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.legend()
fig"""),
    ("md", """\
`plot_history` draws one run's loss and accuracy side by side:"""),
    ("code", """\
plot_history(histories["Adam"])"""),
    ("md", """\
## The same with `scratchnn.Model`

`Model` holds the layers, the loss, the optimizer and an accuracy, and runs the loop above
for us: in batches, shuffled, with validation on held-out data after every epoch. `fit`
returns the history. The model ends in `Softmax()` and uses `CategoricalCrossentropy()`; seeing
the pair, it uses the fused gradient of notebook 3 by itself."""),
    ("code", """\
model = snn.Model(
    [snn.Dense(2, 64, rng=0), snn.ReLU(), snn.Dense(64, 3, rng=1), snn.Softmax()],
    loss=snn.CategoricalCrossentropy(),
    optimizer=snn.Adam(learning_rate=0.05, decay=5e-7),
    accuracy=snn.CategoricalAccuracy(),
    seed=0,
)
history = model.fit(X, y, epochs=300, batch_size=64, validation_data=(X_test, y_test), verbose=0)
print({key: round(values[-1], 3) for key, values in history.history.items()})
print(model.evaluate(X_test, y_test, verbose=0))"""),
    ("md", """\
With validation data, `plot_history` draws both curves. Here a gap opens between them while
the validation loss still falls; if it stopped falling while the training loss kept going,
the network would be memorising its training points (*overfitting*)."""),
    ("code", """\
plot_history(history)"""),
    ("md", """\
And the plane, coloured by the trained model's predictions: the spiral arms appear."""),
    ("code", """\
plot_decision_boundary(model, X_test, y_test)"""),
    ("md", """\
## Regularisation: a price on large weights

A network can fit its training points with large, finely balanced weights that generalise
badly. L2 regularisation (the book's chapter 14) adds `λ * sum(weights**2)` to the loss, so
the gradient gains `2 * λ * weights` and every step also pulls the weights towards zero; L1
adds `λ * sum(|weights|)`. `Dense` takes the strengths as arguments, and the history reports
the penalty as `regularization_loss` next to the `data_loss`.

Two runs of a wider network, without and with L2 on the hidden layer:"""),
    ("code", """\
def spiral_run(l2=0.0, dropout=0.0, decay=5e-7):
    layers = [snn.Dense(2, 256, weight_regularizer_l2=l2, bias_regularizer_l2=l2, rng=0),
              snn.ReLU()]
    if dropout:
        layers.append(snn.Dropout(dropout))
    layers += [snn.Dense(256, 3, rng=1), snn.Softmax()]
    model = snn.Model(layers, loss=snn.CategoricalCrossentropy(),
                      optimizer=snn.Adam(learning_rate=0.02, decay=decay), seed=0)
    history = model.fit(X, y, epochs=1000, validation_data=(X_test, y_test), verbose=0)
    return model, {key: values[-1] for key, values in history.history.items()}


for l2 in (0.0, 5e-4):
    model, logs = spiral_run(l2=l2)
    gap = logs["val_loss"] - logs["data_loss"]
    print(f"L2 {l2:g}:  mean |w| {np.abs(model.layers[0].weights).mean():.3f}  "
          f"training loss {logs['data_loss']:.3f}  validation loss {logs['val_loss']:.3f}  "
          f"gap {gap:.3f}  validation accuracy {logs['val_accuracy']:.3f}")"""),
    ("md", """\
With the penalty the weights are much smaller and the gap between training and validation
loss narrows: the network fits its training points less closely. Whether that buys better
validation accuracy depends on the data and the strength; on these 300 points it does not.
Regularisation is a trade to measure on held-out data, not a free gain.

## Dropout

Dropout (chapter 15) switches off a random fraction `rate` of a layer's outputs at every
training step, so no neuron can rely on one particular other. The survivors are scaled by
`1 / (1 - rate)`, so the expected sum stays the same and nothing needs rescaling at
inference, where dropout is off (`training=False`, what `predict` and `evaluate` use):"""),
    ("code", """\
dropout = snn.Dropout(0.2, rng=0)
ones = np.ones((1000, 10), dtype=np.float32)
dropped = dropout.forward(ones, training=True)
print("fraction zeroed:", float(np.mean(dropped == 0)))
print("survivors become", dropped.max(), "so the mean stays near 1:",
      round(float(dropped.mean()), 3))
print("at inference nothing changes:", np.array_equal(dropout.forward(ones), ones))"""),
    ("md", """\
In a model, `Dropout` goes after an activation. `fit` turns it on; `evaluate` and `predict`
turn it off. Here it makes things worse: 300 points and 1,000 steps are too little for a
network that keeps losing a tenth of its hidden layer to learn from (the book's run uses
1,000 points per class and 10,000 epochs). Training accuracy with dropout on is measured on
the thinned network, so it usually reads lower than `evaluate` on the same data."""),
    ("code", """\
for rate in (0.0, 0.1):
    model, logs = spiral_run(l2=5e-4, dropout=rate, decay=5e-5)
    evaluated = model.evaluate(X, y, verbose=0)["accuracy"]
    print(f"dropout {rate}:  training accuracy during fit {logs['accuracy']:.3f}, "
          f"evaluated {evaluated:.3f}; validation accuracy {logs['val_accuracy']:.3f}")"""),
]


NOTEBOOK_5 = [
    ("md", """\
# 5. Fashion-MNIST, end to end

70,000 greyscale pictures of clothes, 28x28 pixels, in 10 classes. We load them, train a
small network, look at what it confuses, and finally classify a picture read from a file.
To keep the notebook quick, training uses a tenth of the data and checks on the first 2,000
test images; the same network trained on all 60,000 images for five epochs reaches about 87 %
accuracy on the 10,000 test images.

This notebook needs the dataset's four files. In local Jupyter they are downloaded once (or
found through `SCRATCHNN_DATA_DIR`). In JupyterLite the browser cannot download them from
Python: upload the four `.gz` files and pass their folder, `load_fashion_mnist("folder")`."""),
    ("code", install("matplotlib", "Pillow")),
    ("md", """\
## Loading the data

`load_fashion_mnist` reads the files from `$SCRATCHNN_DATA_DIR/fashion-mnist` when that
variable is set (as on the test machines, where nothing is downloaded); otherwise it downloads
them once (about 30 MB) into `~/.cache/scratchnn/fashion-mnist` (under `$XDG_CACHE_HOME` when
that is set) and checks each file's MD5 checksum before keeping it.

Offline, or in JupyterLite, put the four `.gz` files in a folder named `fashion-mnist` and set
`SCRATCHNN_DATA_DIR` to the folder that holds it, before starting Jupyter or in the notebook
with `os.environ["SCRATCHNN_DATA_DIR"] = "path/to/that/folder"`. If the files cannot be
found or downloaded, the cell below says so and stops."""),
    ("code", load_fashion_mnist_cell("""\
%matplotlib inline
import os

import numpy as np
import scratchnn as snn
from scratchnn.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist, preprocess_images""",
                                     "print(FASHION_MNIST_CLASSES)")),
    ("code", """\
from scratchnn.plot import plot_images

plot_images(train_images, train_labels, class_names=FASHION_MNIST_CLASSES, max_images=10)"""),
    ("md", """\
## Preparing the inputs

A Dense layer wants one row per sample, so each 28x28 image is flattened into 784 values and
scaled from 0..255 to -1..1, as the book does. We shuffle before taking a subset, so that
every class is represented whatever the order of the files."""),
    ("code", """\
rng = np.random.default_rng(0)
subset = rng.permutation(len(train_images))[:6_000]
X = preprocess_images(train_images[subset])
y = train_labels[subset]
X_test = preprocess_images(test_images[:2_000])
y_test = test_labels[:2_000]
print(X.shape, X.dtype, float(X.min()), float(X.max()))
print("samples per class:", np.bincount(y))"""),
    ("md", """\
## Training

Two hidden layers of 128 ReLU neurons and a Softmax output, trained with Adam in batches of
128 for four epochs (`verbose=2` prints one line per epoch). The book draws the first weights
as `0.01 * randn`; here the ReLU layers use He initialisation, `sqrt(2 / n_inputs) * randn`,
which trains faster (see the command line page for the measured difference), and the decay is
smaller for the short run."""),
    ("code", """\
model = snn.Model(
    [
        snn.Dense(784, 128, init="he", rng=0),
        snn.ReLU(),
        snn.Dense(128, 128, init="he", rng=1),
        snn.ReLU(),
        snn.Dense(128, 10, rng=2),
        snn.Softmax(),
    ],
    loss=snn.CategoricalCrossentropy(),
    optimizer=snn.Adam(learning_rate=0.001, decay=1e-4),
    accuracy=snn.CategoricalAccuracy(),
    seed=0,
)
history = model.fit(
    X, y, epochs=4, batch_size=128, validation_data=(X_test, y_test), verbose=2
)"""),
    ("code", """\
from scratchnn.plot import plot_confusion_matrix, plot_history

plot_history(history)"""),
    ("md", """\
## What does it confuse?

Rows are the true classes, columns the predictions. Shirts, T-shirts, pullovers and coats
look alike at 28x28 pixels and are mixed up among themselves; so are the footwear classes,
sandals, sneakers and ankle boots."""),
    ("code", """\
print(model.evaluate(X_test, y_test, verbose=0))
plot_confusion_matrix(model, X_test, y_test, class_names=FASHION_MNIST_CLASSES)"""),
    ("md", """\
Test images with the model's guess and, in brackets, the truth; wrong guesses are red."""),
    ("code", """\
plot_images(
    test_images[:15],
    test_labels[:15],
    predictions=model.predict(X_test[:15]),
    class_names=FASHION_MNIST_CLASSES,
)"""),
    ("md", """\
## Predicting a picture from a file

`scratchnn.images` reads a picture with Pillow and prepares it like the training data:
greyscale, 28x28, scaled to -1..1. Fashion-MNIST garments are light on black; a photo is
usually dark on a light background, so such pictures are inverted automatically.

To try it without a camera, save a test image as a PNG, once as it is and once inverted
(dark on white, like a photo of a real garment), and read both back."""),
    ("code", """\
import tempfile
from pathlib import Path

from PIL import Image
from scratchnn.images import load_image, predict_image

folder = Path(tempfile.mkdtemp())
picture = test_images[0]
Image.fromarray(picture).save(folder / "garment.png")
Image.fromarray(255 - picture).save(folder / "garment-photo.png")

row = load_image(folder / "garment.png")
print(row.shape, "same as the test input:", np.allclose(row, X_test[:1]))
print("the inverted picture is turned back:",
      np.allclose(load_image(folder / "garment-photo.png"), row))

print("truth:", FASHION_MNIST_CLASSES[test_labels[0]])
for path in ("garment.png", "garment-photo.png"):
    name, confidence = predict_image(model, folder / path)[0]
    print(f"{path:18} -> {name} ({confidence:.0%})")"""),
    ("md", """\
## Keeping the model

`model.save` writes the layers, the trained parameters and the optimizer state to one file;
`snn.load_model` reads it back, ready to predict or to continue training. The file holds
no pickle, so loading one never runs code."""),
    ("code", """\
model.save(folder / "fashion.snn")
restored = snn.load_model(folder / "fashion.snn")
same = np.array_equal(restored.predict_classes(X_test), model.predict_classes(X_test))
print("same predictions:", same)"""),
]



NOTEBOOK_6 = [
    ("md", """\
# 6. From dense layers to convolutions

A Dense layer joins every pixel to every neuron: to it a 28x28 picture is 784 unrelated
numbers, and a shirt moved one pixel to the right is a different set of inputs. A
*convolution* slides a small filter over the picture instead, so that the same few weights
look for the same pattern (an edge, a corner) everywhere. It is still the seed's dot product,
inputs times weights plus a bias, taken on patches of the picture; and as with the transpose
in notebook 1, getting the shapes the right way round is the whole game.

This notebook writes a convolution by hand, turns it into one matrix product (*im2col*),
checks it against scratchnn's `Conv2D`, adds pooling and trains a small convolutional network
on Fashion-MNIST. The book stops before convolutions; the layers here follow its style."""),
    ("code", install()),
    ("md", """\
## A convolution by hand

A picture is stored as `(channels, height, width)`: one channel for grey, three for colour.
A *kernel* (a filter) is a small block of weights as deep as the picture, here `(1, 3, 3)`.
At each position `(y, x)` the output is the dot product of the kernel with the patch of the
picture under it: a neuron's `sum(inputs * weights)` with the patch as its inputs. A 3x3
kernel fits in 3 positions along each side of a 5x5 picture, so the output is 3x3.

This kernel subtracts the left column of its patch from the right one: it answers +3 where
the picture gets brighter from left to right, -3 where it gets darker, 0 where nothing
changes. The picture is a bright vertical bar. (Strictly this is a cross-correlation: the
kernel is not flipped, as in every deep-learning library.)"""),
    ("code", """\
import numpy as np
import scratchnn as snn

picture = np.zeros((1, 5, 5))       # (channels, height, width): one grey 5x5 picture
picture[0, :, 2] = 1.0              # a bright vertical bar down the middle
kernel = np.array([[[-1.0, 0.0, 1.0],
                    [-1.0, 0.0, 1.0],
                    [-1.0, 0.0, 1.0]]])   # (channels, kh, kw): as deep as the picture

channels, height, width = picture.shape
_, kh, kw = kernel.shape
out_h, out_w = height - kh + 1, width - kw + 1
output = np.zeros((out_h, out_w))
for y in range(out_h):
    for x in range(out_w):
        patch = picture[:, y:y + kh, x:x + kw]           # (1, 3, 3): the window at (y, x)
        output[y, x] = np.dot(patch.ravel(), kernel.ravel())
print(picture[0])
print("output", output.shape)
print(output)"""),
    ("md", """\
## im2col: every patch a column

The loop takes one dot product at a time, which is slow in Python. *im2col* ("image to
columns") copies every patch, flattened, into a column of one matrix shaped
`(in_channels * kh * kw, out_h * out_w)`: here 9 rows (a patch's values) by 9 columns (the
positions). A kernel, flattened, is a row of 9 weights, and several kernels stacked are a
matrix `(out_channels, in_channels * kh * kw)`, one filter per row. One matrix product then
computes every filter at every position, and a reshape lays the result out as pictures again,
one *feature map* per filter.

It is notebook 1's layer once more, with positions in place of samples and filters in place
of neurons. The second filter is the first one transposed: it looks for horizontal edges, and
finds none in a vertical bar."""),
    ("code", """\
# im2col: column y * out_w + x holds the patch at (y, x), flattened in (channel, row, column)
# order, the order of the weights below.
columns = np.empty((channels * kh * kw, out_h * out_w))
for y in range(out_h):
    for x in range(out_w):
        columns[:, y * out_w + x] = picture[:, y:y + kh, x:x + kw].ravel()

weights = np.stack([kernel, kernel.transpose(0, 2, 1)])   # (out_channels, in_channels, kh, kw)
matrix = weights.reshape(len(weights), -1)                 # one filter per row
product = matrix @ columns
feature_maps = product.reshape(len(weights), out_h, out_w)

print("picture", picture.shape, "-> columns", columns.shape)
print("weights", weights.shape, "-> matrix", matrix.shape)
print("matrix @ columns:", matrix.shape, "@", columns.shape, "->", product.shape,
      "-> feature maps", feature_maps.shape)
print(feature_maps)
print("the first map is the loop's:", np.array_equal(feature_maps[0], output))"""),
    ("md", """\
## scratchnn's Conv2D

`Conv2D(in_channels, out_channels, kernel_size)` keeps its weights shaped
`(out_channels, in_channels, kh, kw)`: one filter per output channel, each as deep as its
inputs. That is the order of the matrix above, so `weights.reshape(out_channels, -1)` is the
matrix, one filter per row, with nothing copied or transposed. Its biases are shaped
`(1, out_channels, 1, 1)`: one per filter, with axes of size 1 that broadcast over the
samples, the height and the width, as Dense's `(1, n_neurons)` broadcast over the samples.
Batches come in *NCHW* order, `(n_samples, channels, height, width)`.

The layer builds the columns of the whole batch at once, each sample's positions more
columns of the same matrix, with one strided copy per kernel offset (9 for a 3x3 kernel)
instead of one per position. Its backward pass reverses the steps: `dweights` is one
product of the output's gradient with the columns (Dense's `inputs.T @ dvalues`), and the
columns' gradient is added back to the pixels each entry was copied from (*col2im*;
overlapping patches add up).

Given the weights above, the layer computes the same feature maps. Then a batch of two
pictures, the bar and the bar on its side, with a bias per filter: in the second picture's
maps the first filter finds nothing (only its bias, 0.5) and the second finds the bar.

### Stride and padding

*Padding* adds a border of zeros around the picture, so that the kernel can sit over the
edge pixels too; the *stride* is the step from one position to the next. Along each axis
the output has `(size + 2*padding - kernel)//stride + 1` values: a 3x3 kernel with
`padding=1` keeps the size (the network below keeps 28x28 that way) and `stride=2` halves it,
rounding up. `output_shape` works this out from the layer's settings, without computing."""),
    ("code", """\
layer = snn.Conv2D(1, 2, 3, dtype=np.float64, rng=0)
print("weights", layer.weights.shape, "biases", layer.biases.shape)
layer.weights[...] = weights
layer.forward(picture[np.newaxis])            # a batch of one picture, (1, 1, 5, 5)
np.testing.assert_allclose(layer.output[0], feature_maps)
print("output", layer.output.shape, "is the matrix product's")

layer.biases[...] = np.array([0.5, -0.5]).reshape(1, 2, 1, 1)
batch = np.stack([picture, picture.transpose(0, 2, 1)])   # (2, 1, 5, 5): upright, on its side
layer.forward(batch)
np.testing.assert_allclose(layer.output[0], feature_maps + layer.biases[0])
print("batch", batch.shape, "-> output", layer.output.shape)
print(layer.output[1])

print("size  padding  stride  formula  output_shape")
for size, padding, stride in [(5, 0, 1), (5, 1, 1), (5, 1, 2), (28, 1, 1), (28, 1, 2)]:
    conv = snn.Conv2D(1, 2, 3, padding=padding, stride=stride, rng=0)
    formula = (size + 2 * padding - 3) // stride + 1
    print(f"{size:4} {padding:8} {stride:7} {formula:8}  {conv.output_shape((1, size, size))}")"""),
    ("md", """\
## Pooling

`MaxPool2D(2)` keeps the largest value of each 2x2 window, channel by channel, so it halves
the height and the width; a last row or column that fills no window is left out (7x7 becomes
3x3). It has no weights. Its backward pass sends each output's gradient to the one input that
was its window's maximum and nothing to the other three, since only that input moved the
output: the layer remembers where each maximum was."""),
    ("code", """\
pool = snn.MaxPool2D(2)
x = np.array([[1, 3, 2, 0],
              [4, 2, 1, 5],
              [0, 1, 7, 2],
              [6, 2, 3, 3]], dtype=np.float32).reshape(1, 1, 4, 4)
print(pool.forward(x)[0, 0])
pool.backward(np.array([[10, 20], [30, 40]], dtype=np.float32).reshape(1, 1, 2, 2))
print(pool.dinputs[0, 0])
print(pool.output_shape((16, 28, 28)), pool.output_shape((32, 7, 7)))"""),
    ("md", """\
## A convolutional network on Fashion-MNIST

The data is loaded as in notebook 5: from `$SCRATCHNN_DATA_DIR/fashion-mnist` when that
variable is set, otherwise downloaded once (about 30 MB) into the per-user cache. Offline or
in JupyterLite, put the four `.gz` files in a folder named `fashion-mnist` and set
`SCRATCHNN_DATA_DIR` to the folder that holds it; if the files cannot be found or
downloaded, the cell below says so and stops."""),
    ("code", load_fashion_mnist_cell("""\
import os

from scratchnn.datasets import load_fashion_mnist, preprocess_images""")),
    ("md", """\
`preprocess_images` gives notebook 5's rows, `(n, 784)`, scaled to -1..1. A convolution
needs the pictures back, with their channel axis: `(n, 1, 28, 28)`. As in notebook 5, a
shuffled tenth of the training images keeps the notebook quick. Forgetting the reshape is
the classic mistake, and the layer says what it got and what to do:"""),
    ("code", """\
rng = np.random.default_rng(0)
subset = rng.permutation(len(train_images))[:6_000]
rows = preprocess_images(train_images[subset])
X = rows.reshape(len(rows), 1, 28, 28)       # (n_samples, channels, height, width)
y = train_labels[subset]
X_test = preprocess_images(test_images).reshape(len(test_images), 1, 28, 28)
y_test = test_labels
print("rows", rows.shape, "-> pictures", X.shape, "; test pictures", X_test.shape)

conv = snn.Conv2D(1, 16, 3, padding=1, rng=0)
for wrong in (rows[:8], train_images[:8]):    # flat rows; pictures without a channel axis
    try:
        conv.forward(wrong)
    except ValueError as error:
        print(error)"""),
    ("md", """\
## The network

Two rounds of convolution, ReLU and pooling, then notebook 5's dense layers. Each 3x3
convolution with `padding=1` keeps the size and each pool halves it: a 28x28 picture becomes
16 maps of 28x28, pooled to 14x14, then 32 maps of 14x14, pooled to 7x7, and `Flatten` lays
the 32x7x7 values out as one row of 1,568 for `Dense(1568, 128)`. The first convolution has
16 filters of 3x3 weights plus 16 biases, 160 parameters, whatever the size of the picture;
the first dense layer holds nearly all the rest.

A first Dense layer fixes the shape of a sample, a convolution does not (it takes pictures of
any size), so the summary is given the samples' shape; `fit` would learn it from `X`."""),
    ("code", """\
model = snn.Model(
    [
        snn.Conv2D(1, 16, 3, padding=1, rng=0),
        snn.ReLU(),
        snn.MaxPool2D(2),
        snn.Conv2D(16, 32, 3, padding=1, rng=1),
        snn.ReLU(),
        snn.MaxPool2D(2),
        snn.Flatten(),
        snn.Dense(1568, 128, init="he", rng=2),
        snn.ReLU(),
        snn.Dense(128, 10, rng=3),
        snn.Softmax(),
    ],
    loss=snn.CategoricalCrossentropy(),
    optimizer=snn.Adam(learning_rate=0.001),
    accuracy=snn.CategoricalAccuracy(),
    seed=0,
)
model.sample_shape = X.shape[1:]
print(model.summary())"""),
    ("md", """\
## Training

Two epochs over the 6,000 training pictures in batches of 64, then the accuracy on all
10,000 test pictures. The test set is evaluated in batches of 1,000: im2col makes one column
per position, and the second convolution's columns for all 10,000 pictures at once,
`(16 * 3 * 3, 10000 * 14 * 14)` in float32, would take over a gigabyte.

This short run is only a start. The command line trains the same kind of network on all
60,000 images for more epochs: `scratchnn train --dataset fashion-mnist --model cnn` reaches
about 0.91 test accuracy or more (`scratchnn train --help` lists its settings), where
notebook 5's dense network, trained on all the data, reached about 0.87."""),
    ("code", """\
history = model.fit(X, y, epochs=2, batch_size=64, verbose=2)
results = model.evaluate(X_test, y_test, batch_size=1_000, verbose=0)
print(f"test loss {results['loss']:.3f}, test accuracy {results['accuracy']:.3f}")"""),
    ("md", """\
## Conv1D: the same for signals

Everything above works along one axis too. `Conv1D` takes signals shaped
`(n_samples, channels, length)`, keeps its weights as `(out_channels, in_channels, k)` and
its biases as `(1, out_channels, 1)`, and its output length follows the same formula; it is
computed as a Conv2D on pictures one row high, and `MaxPool1D` pools along the length.

`scratchnn.datasets.load_mnist1d` loads MNIST-1D, the ten digits drawn as 1-D signals of
40 values (from an `.npz` file made with the `mnist1d` package: there is nothing to
download). Its signals come as rows, `(n, 40)`, so `x[:, np.newaxis, :]` gives the
`(n, 1, 40)` a Conv1D takes, and `scratchnn train --dataset mnist1d --model cnn` trains the
MNIST-1D paper's small convolutional network on them. Shapes only, on four random signals:"""),
    ("code", """\
signals = np.random.default_rng(0).normal(size=(4, 40)).astype(np.float32)   # rows, (n, 40)
conv1d = snn.Conv1D(1, 25, 5, stride=2, padding=1, rng=0)
print("weights", conv1d.weights.shape, "biases", conv1d.biases.shape)
print(signals.shape, "->", signals[:, np.newaxis, :].shape, "->",
      conv1d.forward(signals[:, np.newaxis, :]).shape)
print("(40 + 2*1 - 5)//2 + 1 =", (40 + 2 * 1 - 5) // 2 + 1)"""),
]

TITLES = {
    "01-batches-and-the-dot-product.ipynb": NOTEBOOK_1,
    "02-layers-and-activations.ipynb": NOTEBOOK_2,
    "03-loss-backpropagation-gradcheck.ipynb": NOTEBOOK_3,
    "04-optimizers.ipynb": NOTEBOOK_4,
    "05-fashion-mnist.ipynb": NOTEBOOK_5,
    "06-convolutions.ipynb": NOTEBOOK_6,
}


def build(cells: list[tuple[str, str]], stem: str) -> nbformat.NotebookNode:
    """A notebook without outputs; cell ids are fixed so that rebuilding changes nothing."""
    notebook = new_notebook(
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        }
    )
    for index, (kind, source) in enumerate(cells):
        cell_id = f"{stem[:2]}-{index:02d}"
        if kind == "md":
            notebook.cells.append(new_markdown_cell(source, id=cell_id))
        else:
            notebook.cells.append(new_code_cell(source, id=cell_id))
    nbformat.validate(notebook)
    return notebook


def notebooks() -> dict[str, nbformat.NotebookNode]:
    """Every tutorial notebook by file name."""
    return {name: build(cells, name) for name, cells in TITLES.items()}


def main() -> int:
    NOTEBOOKS.mkdir(exist_ok=True)
    for name, notebook in notebooks().items():
        nbformat.write(notebook, NOTEBOOKS / name)
        print("wrote", NOTEBOOKS / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
