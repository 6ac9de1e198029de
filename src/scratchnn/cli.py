"""The ``scratchnn`` command: train the book's networks, evaluate them, classify pictures.

    scratchnn train                          # the book's spiral classifier, no download
    scratchnn train --dataset fashion-mnist --out fashion.snn
    scratchnn train --dataset fashion-mnist --model cnn --out cnn.snn
    scratchnn evaluate fashion.snn
    scratchnn predict fashion.snn shirt.jpg
    scratchnn export fashion.snn fashion.onnx  # needs scratchnn[onnx]

Also ``python -m scratchnn ...``. Errors while running are printed as one line on stderr (exit
status 1); invalid options get argparse's usage text (exit status 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._version import __version__
from .callbacks import Callback
from .datasets._download import DEFAULT_DEADLINE
from .errors import DatasetError
from .training import format_epoch_line  # fit(verbose=2)'s line: one format for both

DATASETS = ("spiral", "vertical", "sine", "fashion-mnist", "mnist1d")
MODELS = ("mlp", "cnn")
OPTIMIZERS = ("adam", "adamw", "sgd", "adagrad", "rmsprop")
SCHEDULES = ("none", "cosine", "step")
INITS = ("book", "he", "glorot")


@dataclass(frozen=True)
class Recipe:
    """The book's set-up for a dataset: network, optimizer and training defaults."""

    hidden: tuple[int, ...]
    learning_rate: float
    decay: float
    epochs: int
    batch_size: int | None
    weight_scale: float = 0.01
    l2: float = 0.0
    init: str = "book"


RECIPES = {
    # Chapter 14: Dense(2, 64) with L2 5e-4, Adam(0.02, decay 5e-7), full batches.
    "spiral": Recipe((64,), 0.02, 5e-7, 3000, None, l2=5e-4),
    "vertical": Recipe((64,), 0.02, 5e-7, 1000, None, l2=5e-4),
    # Chapter 17: two hidden layers, weights drawn with scale 0.1 (0.01 does not learn).
    "sine": Recipe((64, 64), 0.005, 1e-3, 3000, None, weight_scale=0.1),
    # Chapter 19+: 784-128-128-10, Adam(decay 1e-3), batches of 128, 10 epochs. Weights drawn
    # with He scaling, sqrt(2 / n_inputs): with the book's 0.01 the test accuracy after 10
    # epochs was 0.872-0.876 over 8 seeds, with He 0.882-0.885 (see docs/cli.md).
    "fashion-mnist": Recipe((128, 128), 0.001, 1e-3, 10, 128, init="he"),
    # MNIST-1D's MLP as its README trains it: 40-100-100-10, Adam(1e-2), batches of 100,
    # 8,000 steps (200 epochs of 4,000 signals).
    "mnist1d": Recipe((100, 100), 0.01, 0.0, 200, 100, init="he"),
}


@dataclass(frozen=True)
class CnnRecipe:
    """A convolutional network for a dataset (``--model cnn``) and its training defaults."""

    layers: str          # what the help shows
    learning_rate: float
    decay: float
    epochs: int
    batch_size: int


CNN_RECIPES = {
    # Two 3x3 convolutions, each normalised (BatchNorm) and max-pooled 2x2, then a dense
    # layer: the classic small CNN, with dropout against its overfitting.
    "fashion-mnist": CnnRecipe(
        "conv 16 3x3 + batchnorm, pool 2, conv 32 3x3 + batchnorm, pool 2, dropout 0.25, "
        "dense 128, dropout 0.25",
        0.001, 1e-4, 15, 64),
    # The MNIST-1D paper's CNN: three 1-d convolutions with stride 2, then a linear layer;
    # dropout before it (without, it fits the 4,000 signals exactly and tests at 0.90).
    "mnist1d": CnnRecipe("conv1d 25 k5 s2, conv1d 25 k3 s2, conv1d 25 k3 s2, dropout 0.25",
                         0.01, 1e-3, 150, 100),
}


def _hidden(text: str) -> tuple[int, ...]:
    """``--hidden 128,64``: one positive width per hidden layer (argparse names the option)."""
    parts = text.split(",")
    if any(not part.strip() for part in parts):
        # "64,,64" or "64,": a typo, not a request for fewer layers.
        raise argparse.ArgumentTypeError(
            f"empty layer width in {text!r}: give one positive integer per hidden layer, "
            "such as 128,128"
        )
    try:
        sizes = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths such as 128,128; got {text!r}"
        ) from None
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer widths must be positive integers; got {text!r}")
    return sizes


def _bounded(convert: Any, expected: str, accept: Any) -> Any:
    """An argparse ``type``: ``convert(text)``, refused unless ``accept(value)``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}; got {value}")
        return value

    return parse


_positive_int = _bounded(int, "a positive integer", lambda value: value >= 1)
_non_negative_int = _bounded(int, "an integer >= 0", lambda value: value >= 0)
_positive_float = _bounded(
    float, "a positive number", lambda value: value > 0 and np.isfinite(value)
)


def _recipes_text() -> str:
    """The per-dataset defaults, for ``scratchnn train --help`` (made from RECIPES)."""
    lines = ["defaults per --dataset (the book's network and settings for each):"]
    for name, recipe in RECIPES.items():
        batches = f"batches of {recipe.batch_size}" if recipe.batch_size else "full batch"
        weights = (f"weights {recipe.weight_scale:g} * randn" if recipe.init == "book"
                   else f"{recipe.init} weights")
        penalty = f", L2 {recipe.l2:g}" if recipe.l2 else ""
        lines.append(f"  {name:<14} hidden {','.join(map(str, recipe.hidden))}, "
                     f"{recipe.epochs} epochs, {batches}")
        lines.append(f"  {'':<14} lr {recipe.learning_rate:g}, decay {recipe.decay:g}, "
                     f"{weights}{penalty}")
    lines.append("with --model cnn (fashion-mnist and mnist1d):")
    for name, cnn in CNN_RECIPES.items():
        lines.append(f"  {name:<14} {cnn.layers}, {cnn.epochs} epochs, batches of "
                     f"{cnn.batch_size}")
        lines.append(f"  {'':<14} lr {cnn.learning_rate:g}, decay {cnn.decay:g}, he weights")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    # allow_abbrev=False everywhere: argparse would otherwise take --epoch as --epochs. Each
    # subcommand is its own parser and does not inherit the setting, so each is given it.
    parser = argparse.ArgumentParser(
        prog="scratchnn",
        description="Neural networks from scratch on NumPy. "
        "`scratchnn COMMAND --help` lists a command's options.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"scratchnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train one of the book's networks", allow_abbrev=False,
        epilog=_recipes_text(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--dataset", choices=DATASETS, default="spiral",
                       help="what to learn (default: spiral); each has the book's network and "
                       "settings, listed below")
    train.add_argument("--model", choices=MODELS, default="mlp",
                       help="mlp: the book's dense network (default); cnn: a convolutional "
                       "network (fashion-mnist and mnist1d)")
    train.add_argument("--epochs", type=_positive_int, help="passes over the training data")
    train.add_argument("--batch-size", type=_positive_int, help="samples per step")
    train.add_argument("--hidden", type=_hidden, help="hidden layer widths, e.g. 128,128")
    train.add_argument("--init", choices=INITS,
                       help="initial weights: book (normal, scale 0.01; 0.1 for sine), he or "
                       "glorot (default: per dataset)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="default: adam")
    train.add_argument("--schedule", choices=SCHEDULES, default="none",
                       help="learning-rate schedule instead of the recipe's decay: cosine (one "
                       "epoch of linear warm-up to --lr, then half a cosine to 0 at the last "
                       "step) or step (x0.1 after each third of the epochs); default: none")
    train.add_argument("--lr", type=_positive_float, help="learning rate")
    train.add_argument("--decay", type=float, help="learning-rate decay (lr / (1 + decay*t))")
    train.add_argument("--samples", type=_positive_int,
                       help="spiral/vertical: samples per class; sine: points; fashion-mnist, "
                       "mnist1d: the first N training samples after shuffling")
    train.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seed for data, weights, shuffling")
    train.add_argument("--data-dir", help="folder holding fashion-mnist/ and mnist1d/ "
                       "(default: $SCRATCHNN_DATA_DIR, then a per-user cache)")
    train.add_argument("--no-download", action="store_true",
                       help="fail instead of downloading missing dataset files")
    _add_deadline(train)
    train.add_argument("--out", metavar="MODEL", help="save the trained model to this file")
    train.add_argument("--plot", metavar="FILE.png",
                       help="save the loss/accuracy curves (and the decision boundary for 2-D "
                       "data); needs scratchnn[plot]")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                       help="0 a line every tenth of the epochs, 1 progress bars, 2 a line per "
                       "epoch")

    evaluate = commands.add_parser("evaluate", help="evaluate a saved model on its test data",
                                   allow_abbrev=False)
    evaluate.add_argument("model", metavar="MODEL")
    evaluate.add_argument("--dataset", choices=DATASETS,
                          help="default: guessed from the model's input width (2 inputs: "
                          "spiral; a vertical model needs --dataset vertical; 40: mnist1d; "
                          "784: fashion-mnist)")
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--no-download", action="store_true")
    _add_deadline(evaluate)
    evaluate.add_argument("--seed", type=_non_negative_int, default=1,
                          help="seed of generated test data")

    predict = commands.add_parser("predict", help="classify pictures with a Fashion-MNIST model",
                                  allow_abbrev=False)
    predict.add_argument("model", metavar="MODEL")
    predict.add_argument("images", metavar="IMAGE", nargs="+")
    predict.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                         help="invert dark-on-light pictures (auto decides per picture)")

    export = commands.add_parser("export", help="write a saved model as an ONNX file "
                                 '(needs pip install "scratchnn[onnx]")', allow_abbrev=False)
    export.add_argument("model", metavar="MODEL")
    export.add_argument("output", metavar="OUTPUT", help="the ONNX file to write")
    return parser


def _add_deadline(command: argparse.ArgumentParser) -> None:
    command.add_argument("--download-deadline", metavar="SECONDS", type=_positive_float,
                         default=DEFAULT_DEADLINE,
                         help="give up a Fashion-MNIST download that takes longer than this "
                         f"in all (default {DEFAULT_DEADLINE:g})")


# -- data --------------------------------------------------------------------------------------


def _load_data(args: argparse.Namespace, *, train: bool) -> tuple[Any, Any, Any, Any]:
    """(X_train, y_train, X_test, y_test) for ``args.dataset``."""
    from .datasets import (
        preprocess_images,
        sine_data,
        spiral_data,
        vertical_data,
    )
    from .datasets.fashion_mnist import _load_splits

    seed = args.seed
    if args.dataset == "mnist1d":
        from .datasets import load_mnist1d

        folder = os.path.join(args.data_dir, "mnist1d") if args.data_dir else None
        (X, y), (X_test, y_test) = load_mnist1d(folder)
        if train:
            order = np.random.default_rng(seed).permutation(len(X))
            limit = getattr(args, "samples", None)
            X, y = X[order[:limit] if limit else order], y[order[:limit] if limit else order]
        return X, y, X_test, y_test
    if args.dataset == "fashion-mnist":
        path = None
        if args.data_dir:
            path = os.path.join(args.data_dir, "fashion-mnist")
        # evaluate needs only the test split: neither its files nor a download of the rest.
        splits = _load_splits(
            path, ("train", "test") if train else ("test",), download=not args.no_download,
            deadline=args.download_deadline,
        )
        (X, y), (X_test, y_test) = splits if train else (splits[0], splits[0])
        limit = getattr(args, "samples", None)
        if train:
            # The book shuffles once before training; fit shuffles every epoch as well.
            order = np.random.default_rng(seed).permutation(len(X))
            if limit:
                order = order[:limit]
            X, y = X[order], y[order]
        if not train:
            X_test = preprocess_images(X_test)
            return X_test, y_test, X_test, y_test
        return preprocess_images(X), y, preprocess_images(X_test), y_test
    samples = getattr(args, "samples", None) or 1000
    if args.dataset == "sine":
        X, y = sine_data(samples)
        return X, y, X, y
    make = spiral_data if args.dataset == "spiral" else vertical_data
    X, y = make(samples, 3, rng=seed)
    X_test, y_test = make(max(samples // 10, 10), 3, rng=seed + 1)
    return X, y, X_test, y_test


def _build_model(args: argparse.Namespace, n_features: int, n_classes: int) -> Any:
    if getattr(args, "model", "mlp") == "cnn":
        return _build_cnn(args, n_classes)
    from . import (
        CategoricalCrossentropy,
        Dense,
        Linear,
        MeanSquaredError,
        Model,
        ReLU,
        Softmax,
    )

    recipe = RECIPES[args.dataset]
    hidden = args.hidden or recipe.hidden
    rng = np.random.default_rng(args.seed)
    choice = args.init or recipe.init
    init = None if choice == "book" else choice
    layers: list[Any] = []
    width = n_features
    for size in hidden:
        layers += [
            Dense(width, size, weight_scale=recipe.weight_scale, init=init,
                  weight_regularizer_l2=recipe.l2, bias_regularizer_l2=recipe.l2, rng=rng),
            ReLU(),
        ]
        width = size
    regression = args.dataset == "sine"
    layers.append(Dense(width, 1 if regression else n_classes,
                        weight_scale=recipe.weight_scale, init=init, rng=rng))
    layers.append(Linear() if regression else Softmax())
    learning_rate = args.lr if args.lr is not None else recipe.learning_rate
    decay = args.decay if args.decay is not None else recipe.decay
    optimizer = _optimizer(args.optimizer, learning_rate, decay)
    loss = MeanSquaredError() if regression else CategoricalCrossentropy()
    return Model(layers, loss=loss, optimizer=optimizer, seed=args.seed)


def _build_cnn(args: argparse.Namespace, n_classes: int) -> Any:
    """``--model cnn``: the dataset's convolutional network (see CNN_RECIPES)."""
    from . import (
        BatchNorm,
        CategoricalCrossentropy,
        Conv1D,
        Conv2D,
        Dense,
        Dropout,
        Flatten,
        MaxPool2D,
        Model,
        ReLU,
        Softmax,
    )

    recipe = CNN_RECIPES[args.dataset]
    rng = np.random.default_rng(args.seed)
    layers: list[Any]
    if args.dataset == "fashion-mnist":
        # (1, 28, 28) -> (16, 28, 28) -> (16, 14, 14) -> (32, 14, 14) -> (32, 7, 7) -> 1568
        layers = [
            Conv2D(1, 16, 3, padding=1, rng=rng), BatchNorm(16), ReLU(), MaxPool2D(2),
            Conv2D(16, 32, 3, padding=1, rng=rng), BatchNorm(32), ReLU(), MaxPool2D(2),
            Flatten(), Dropout(0.25), Dense(32 * 7 * 7, 128, init="he", rng=rng), ReLU(),
            Dropout(0.25), Dense(128, n_classes, init="glorot", rng=rng), Softmax(),
        ]
    else:
        # (1, 40) -> (25, 19) -> (25, 10) -> (25, 5) -> 125
        layers = [
            Conv1D(1, 25, 5, stride=2, padding=1, rng=rng), ReLU(),
            Conv1D(25, 25, 3, stride=2, padding=1, rng=rng), ReLU(),
            Conv1D(25, 25, 3, stride=2, padding=1, rng=rng), ReLU(),
            Flatten(), Dropout(0.25), Dense(25 * 5, n_classes, init="glorot", rng=rng),
            Softmax(),
        ]
    learning_rate = args.lr if args.lr is not None else recipe.learning_rate
    decay = args.decay if args.decay is not None else recipe.decay
    optimizer = _optimizer(args.optimizer, learning_rate, decay)
    return Model(layers, loss=CategoricalCrossentropy(), optimizer=optimizer, seed=args.seed)


def _optimizer(name: str, learning_rate: Any, decay: float = 0.0) -> Any:
    """``--optimizer``: the class by name, with the rate (a number or a schedule)."""
    from . import SGD, Adagrad, Adam, AdamW, RMSprop

    cls = {"adam": Adam, "adamw": AdamW, "sgd": SGD, "adagrad": Adagrad,
           "rmsprop": RMSprop}[name]
    return cls(learning_rate=learning_rate, decay=decay)


def _schedule(name: str, learning_rate: float, epochs: int, steps: int) -> Any:
    """``--schedule``: cosine with one epoch of warm-up, or x0.1 every third of the run."""
    from .schedules import CosineDecay, StepDecay

    total = epochs * steps
    if name == "cosine":
        return CosineDecay(learning_rate, decay_steps=total, warmup_steps=min(steps, total))
    return StepDecay(learning_rate, step_size=max(1, epochs // 3) * steps, gamma=0.1)


def _check_model_choice(args: argparse.Namespace) -> None:
    """``--model cnn`` exists for pictures and signals; the MLP options do not apply to it."""
    if args.model != "cnn":
        return
    if args.dataset not in CNN_RECIPES:
        raise ValueError(
            f"--model cnn is for fashion-mnist and mnist1d; {args.dataset} trains the book's "
            "dense network (drop --model cnn)"
        )
    for option, value in (("--hidden", args.hidden), ("--init", args.init)):
        if value is not None:
            raise ValueError(f"{option} sets the dense network (--model mlp); the cnn has its "
                             "own layers")


def _as_samples(X: Any, model: Any) -> Any:
    """Rows of pixels or signal values shaped as the model's samples, e.g. (n, 1, 28, 28)."""
    shape = model.sample_shape
    if shape is not None and len(shape) > 1 and X.ndim == 2:
        return X.reshape(len(X), *shape)
    return X


# -- commands ----------------------------------------------------------------------------------


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse --out/--plot problems before training, not after (nothing trained is lost)."""
    for option, path in (("--out", args.out), ("--plot", args.plot)):
        if path:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"{option} {path}: the folder {folder} does not exist")
            if os.path.isdir(path):
                raise IsADirectoryError(f"{option} {path}: that is a folder; give a file name")
            if os.path.exists(path) and not os.path.isfile(path):
                raise OSError(f"{option} {path}: that is not a regular file (a device, pipe "
                              "or socket); give a file name")
            if not os.access(folder, os.W_OK):
                raise PermissionError(f"{option} {path}: the folder {folder} is not writable")
    if args.plot:
        # Fails now, naming the extra, if matplotlib is missing; and checks the picture format.
        from .plot import check_picture_path

        try:
            check_picture_path(args.plot)
        except ValueError as error:
            raise ValueError(f"--plot {args.plot}: {error}") from None


def _train(args: argparse.Namespace) -> int:
    _check_model_choice(args)
    recipe: Recipe | CnnRecipe = (CNN_RECIPES[args.dataset] if args.model == "cnn"
                                  else RECIPES[args.dataset])
    _check_outputs(args)
    X, y, X_test, y_test = _load_data(args, train=True)
    n_classes = 10 if args.dataset in ("fashion-mnist", "mnist1d") else 3
    model = _build_model(args, X.shape[1], n_classes)
    if args.model == "cnn":
        # One channel: (n, 784) pixels become (n, 1, 28, 28) pictures, (n, 40) (n, 1, 40).
        shape = (1, 28, 28) if args.dataset == "fashion-mnist" else (1, X.shape[1])
        X, X_test = X.reshape(len(X), *shape), X_test.reshape(len(X_test), *shape)
    epochs = args.epochs or recipe.epochs
    batch_size = args.batch_size or recipe.batch_size
    if args.schedule != "none":
        if args.decay is not None:
            raise ValueError("--decay and --schedule both set the learning rate's course; "
                             "give one of them")
        steps = -(-len(X) // batch_size) if batch_size else 1
        rate = args.lr if args.lr is not None else recipe.learning_rate
        model.set(optimizer=_optimizer(args.optimizer,
                                       _schedule(args.schedule, rate, epochs, steps)))
    verbose = args.verbose
    if verbose is None:
        # Thousands of full-batch epochs: a line per epoch would flood, a bar per epoch too.
        verbose = 1 if batch_size is not None else 0
    print(f"training on {args.dataset}: {len(X)} samples, {epochs} "
          f"epoch{'s' if epochs != 1 else ''}, "
          f"batch size {batch_size or 'all'}, "
          f"{args.init or getattr(recipe, 'init', 'he')} initial weights")
    model.sample_shape = X.shape[1:]      # for the summary's shapes (a CNN does not fix it)
    print(model.summary())
    callbacks = []
    if verbose == 0:
        callbacks.append(_EveryNEpochs(max(1, epochs // 10), epochs))
    validation = None if args.dataset == "sine" else (X_test, y_test)
    history = model.fit(X, y, epochs=epochs, batch_size=batch_size, validation_data=validation,
                        verbose=verbose, callbacks=callbacks)
    final = {key: values[-1] for key, values in history.history.items()}
    if validation is not None:
        print(f"final validation accuracy: {final['val_accuracy']:.4f} "
              f"(loss {final['val_loss']:.4f}; training accuracy {final['accuracy']:.4f})")
    else:
        print(f"final loss: {final['loss']:.6f} (accuracy {final['accuracy']:.4f})")
    if args.out:
        model.save(args.out)
        print(f"saved the model to {args.out}")
    if args.plot:
        from .plot import save_training_plot

        two_d = X.ndim == 2 and X.shape[1] == 2
        save_training_plot(history, args.plot, model=model if two_d else None,
                           X=X if two_d else None, y=y if two_d else None)
        print(f"saved the plot to {args.plot}")
    return 0


def _guess_dataset(model: Any) -> str:
    features = model.n_features
    if features == 784:
        return "fashion-mnist"
    if features == 40:
        return "mnist1d"
    if features == 1:
        return "sine"
    if features == 2:
        return "spiral"
    raise ValueError(
        f"cannot tell which dataset a model with {features} inputs was trained on; "
        "pass --dataset"
    )


def _load_model_file(path: str, make_one: str) -> Any:
    """``load_model(path)``; a missing file is named with the command that makes one."""
    from .model import load_model

    try:
        return load_model(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no model file {path}: train and save one first with `{make_one}`"
        ) from None


def _evaluate(args: argparse.Namespace) -> int:
    model = _load_model_file(args.model, f"scratchnn train --out {args.model}")
    model.finalize()
    guessed = args.dataset is None
    args.dataset = args.dataset or _guess_dataset(model)
    if guessed and args.dataset == "spiral":
        # spiral and vertical both have 2 inputs and 3 classes: say which was assumed.
        print("2 inputs: evaluating on spiral data (pass --dataset vertical for a model "
              "trained on vertical data)")
    args.samples = None
    _, _, X_test, y_test = _load_data(args, train=False)
    result = model.evaluate(_as_samples(X_test, model), y_test, batch_size=1024, verbose=0)
    print(f"{args.dataset} test set ({len(X_test)} samples): "
          f"accuracy {result['accuracy']:.4f}, loss {result['loss']:.4f}")
    return 0


def _export(args: argparse.Namespace) -> int:
    # onnx first: a missing extra is said before the model file is read.
    try:
        from .onnx import to_onnx
    except ImportError:
        raise ImportError(
            'exporting to ONNX needs the onnx package: pip install "scratchnn[onnx]"'
        ) from None
    model = _load_model_file(args.model, f"scratchnn train --out {args.model}")
    model.finalize()
    to_onnx(model, args.output)
    print(f"wrote {args.output} (ONNX: input \"input\", output \"output\")")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .datasets import FASHION_MNIST_CLASSES
    from .images import predict_image

    model = _load_model_file(
        args.model, f"scratchnn train --dataset fashion-mnist --out {args.model}"
    )
    model.finalize()
    if (model.n_features, model.n_outputs) != (784, len(FASHION_MNIST_CLASSES)):
        raise ValueError(
            f"{args.model} takes {model.n_features} inputs and gives {model.n_outputs} "
            "outputs; predict needs a Fashion-MNIST classifier (784 inputs, one per pixel of "
            "a 28x28 picture, and 10 classes), such as one saved by "
            "`scratchnn train --dataset fashion-mnist --out MODEL`"
        )
    invert: bool | Literal["auto"] = {"yes": True, "no": False}.get(args.invert, "auto")
    failed = 0
    # One picture at a time: a bad file is reported and the others still get their answer.
    for path in args.images:
        try:
            [(name, confidence)] = predict_image(
                model, path, class_names=FASHION_MNIST_CLASSES, invert=invert
            )
        except (ValueError, OSError) as error:
            print(f"scratchnn: error: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: {name} ({confidence:.1%})", flush=True)
    return 1 if failed else 0


class _EveryNEpochs(Callback):
    """Print a line every ``every`` epochs, and the last one, when progress bars are off.

    The line is ``fit(verbose=2)``'s, ``Epoch N/M - 0.01s - loss: ...``, so ``--verbose 0``
    and ``--verbose 2`` differ only in how often they print.
    """

    def __init__(self, every: int, epochs: int) -> None:
        self.every = every
        self.epochs = epochs
        self.started = 0.0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        last = epoch == self.epochs - 1
        if epoch % self.every and not last and not self.model.stop_training:
            return
        seconds = time.perf_counter() - self.started
        print(format_epoch_line(epoch, self.epochs, seconds, logs), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scratchnn`` console script."""
    args = build_parser().parse_args(argv)
    handler = {"train": _train, "evaluate": _evaluate, "predict": _predict,
               "export": _export}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("scratchnn: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        advice = ("; try fewer --samples, narrower --hidden layers or a smaller --batch-size"
                  if args.command == "train" else "")
        print(f"scratchnn: error: not enough memory for this network and data{advice}",
              file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError, ImportError, FloatingPointError) as error:
        hint = ""
        if isinstance(error, DatasetError) and isinstance(error, FileNotFoundError):
            hint = " (from the command line: --data-dir FOLDER, or drop --no-download)"
        elif isinstance(error, DatasetError) and "download" in str(error):
            hint = " (from the command line: --data-dir FOLDER)"
        print(f"scratchnn: error: {error}{hint}", file=sys.stderr)
        return 1
