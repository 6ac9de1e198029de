"""scratchnn.plot: each figure renders to a non-blank picture, says what it should, checks input."""

from __future__ import annotations

import importlib
import io
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scratchnn import plot
from scratchnn.datasets import spiral_data

HISTORY = {
    "loss": [1.1, 0.8, 0.6, 0.5],
    "accuracy": [0.35, 0.55, 0.7, 0.78],
    "val_loss": [1.15, 0.9, 0.75, 0.7],
    "val_accuracy": [0.3, 0.5, 0.62, 0.66],
}


class QuadrantModel:
    """A fixed 'classifier' of 2-D points: class = which side of x=0 plus which side of y=0."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, ...]] = []

    def predict_classes(self, X):
        self.calls.append(X.shape)
        return (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0).astype(np.int64)


class FixedPredictions:
    def __init__(self, predictions) -> None:
        self.predictions = np.asarray(predictions)

    def predict_classes(self, X):
        return self.predictions


def rendered(fig: Figure) -> np.ndarray:
    """The figure drawn by Agg as an (height, width, 3) uint8 array."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def assert_not_blank(fig: Figure, min_colours: int = 8) -> None:
    pixels = rendered(fig)
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert pixels.std() > 10, f"figure looks blank: pixel std {pixels.std():.1f}"
    assert len(colours) > min_colours, f"figure has only {len(colours)} colours"


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.fixture
def spiral():
    return spiral_data(samples=60, classes=3, rng=0)


# -- plot_history ----------------------------------------------------------------------------


def test_history_draws_training_and_validation_curves():
    fig = plot.plot_history(HISTORY)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    loss_ax, accuracy_ax = fig.axes
    training, validation = loss_ax.get_lines()
    np.testing.assert_allclose(training.get_ydata(), HISTORY["loss"])
    np.testing.assert_allclose(validation.get_ydata(), HISTORY["val_loss"])
    np.testing.assert_array_equal(training.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(accuracy_ax.get_lines()[1].get_ydata(), HISTORY["val_accuracy"])
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["training", "validation"]
    assert_not_blank(fig)
    assert png_bytes(fig).startswith(b"\x89PNG")


def test_history_object_and_loss_only():
    class History:
        history = {"loss": [0.9, 0.4], "learning_rate": [1.0, 0.5]}
        epoch = [0, 1]

    fig = plot.plot_history(History())
    assert [ax.get_title() for ax in fig.axes] == ["Loss"]
    assert len(fig.axes[0].get_lines()) == 1
    assert fig.axes[0].get_legend() is None
    assert_not_blank(fig, min_colours=4)


@pytest.mark.parametrize(
    ("history", "error", "match"),
    [
        ([0.5, 0.4], TypeError, "History returned by Model.fit"),
        ({"accuracy": [0.5]}, ValueError, "no 'loss'"),
        ({"loss": []}, ValueError, "non-empty"),
        ({"loss": [1.0, 0.5], "val_loss": [1.0]}, ValueError, "one value per epoch"),
        ({"loss": ["a", "b"]}, TypeError, "numbers"),
    ],
)
def test_history_errors(history, error, match):
    with pytest.raises(error, match=match):
        plot.plot_history(history)


def test_history_from_a_real_fit_and_its_epoch_numbers(spiral):
    import scratchnn as snn

    X, y = spiral
    model = snn.Model(
        [snn.Dense(2, 16, rng=0), snn.ReLU(), snn.Dense(16, 3, rng=1), snn.Softmax()],
        loss=snn.CategoricalCrossentropy(),
        optimizer=snn.Adam(learning_rate=0.05),
        accuracy=snn.CategoricalAccuracy(),
        seed=0,
    )
    history = model.fit(X, y, epochs=3, validation_data=(X, y), verbose=0)
    fig = plot.plot_history(history)
    training, validation = fig.axes[0].get_lines()
    np.testing.assert_allclose(training.get_ydata(), history.history["loss"])
    np.testing.assert_allclose(validation.get_ydata(), history.history["val_loss"])
    np.testing.assert_array_equal(training.get_xdata(), np.asarray(history.epoch) + 1)
    assert_not_blank(plot.plot_decision_boundary(model, X, y, resolution=30))


# -- plot_decision_boundary ------------------------------------------------------------------


def test_decision_boundary_paints_the_models_classes(spiral):
    X, y = spiral
    model = QuadrantModel()
    fig = plot.plot_decision_boundary(model, X, y, resolution=50)
    (ax,) = fig.axes
    regions = np.asarray(ax.images[0].get_array())
    assert regions.shape == (50, 50)
    # Bottom-left of the grid is x<0, y<0 (class 0), top-right x>0, y>0 (class 2).
    assert regions[0, 0] == 0 and regions[-1, -1] == 2 and regions[0, -1] == 1
    assert model.calls[0] == (2500, 2)
    expected = np.mean(model.predict_classes(X) == y)
    assert f"{expected:.1%}" in ax.get_title()
    assert len(ax.collections[0].get_offsets()) == len(X)
    assert_not_blank(fig)


def test_decision_boundary_accepts_one_hot_labels_and_column_predictions(spiral):
    X, y = spiral

    class ColumnModel:
        def predict_classes(self, X):
            return (X[:, :1] > 0).astype(np.int64)   # (n, 1), like a Sigmoid output

    fig = plot.plot_decision_boundary(ColumnModel(), X, np.eye(3)[y], resolution=20)
    assert_not_blank(fig)


@pytest.mark.parametrize(
    ("model", "X", "y", "error", "match"),
    [
        (object(), np.zeros((4, 2)), [0, 1, 0, 1], TypeError, "predict_classes"),
        (QuadrantModel(), np.zeros((4, 3)), [0, 1, 0, 1], ValueError, r"\(n_samples, 2\)"),
        (QuadrantModel(), np.zeros((4, 2)), [0, 1, 0], ValueError, "3 labels but there are 4"),
        (QuadrantModel(), np.zeros((4, 2)), [0, 1, 0, -1], ValueError, ">= 0"),
        (QuadrantModel(), np.zeros((4, 2)), [0, 0.5, 0, 1], ValueError, "whole-number"),
        (QuadrantModel(), [[0, np.nan]] * 4, [0, 1, 0, 1], ValueError, "finite"),
        (FixedPredictions([0, 1]), np.zeros((4, 2)), [0, 1, 0, 1], ValueError, "one class id"),
    ],
)
def test_decision_boundary_errors(model, X, y, error, match):
    with pytest.raises(error, match=match):
        plot.plot_decision_boundary(model, X, y)


def test_decision_boundary_rejects_regression_output():
    class Regressor:
        def predict_classes(self, X):
            return X[:, 0] * 0.5 + 0.25

    with pytest.raises(ValueError, match="regression"):
        plot.plot_decision_boundary(Regressor(), np.ones((4, 2)), [0, 1, 0, 1])


# -- confusion matrix ------------------------------------------------------------------------


def test_confusion_matrix_counts_by_hand():
    # true 0 -> 0, 0 -> 1, 1 -> 1, 2 -> 1, 2 -> 2, 2 -> 2
    counts = plot.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [0, 1, 2]])
    assert plot.confusion_matrix([0, 1], [0, 1], n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="n_classes is 2"):
        plot.confusion_matrix([0, 2], [0, 1], n_classes=2)


def test_confusion_matrix_figure_labels_every_cell():
    y = np.array([0, 0, 1, 2, 2, 2])
    model = FixedPredictions([0, 1, 1, 1, 2, 2])
    fig = plot.plot_confusion_matrix(model, np.zeros((6, 4)), y, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), [[1, 1, 0], [0, 1, 0], [0, 1, 2]])
    assert [t.get_text() for t in ax.texts] == ["1", "1", "0", "0", "1", "0", "0", "1", "2"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert "66.7%" in ax.get_title()
    assert_not_blank(fig)


def test_confusion_matrix_errors():
    model = FixedPredictions([0, 1, 3])
    with pytest.raises(ValueError, match="only 3 names"):
        plot.plot_confusion_matrix(model, np.zeros((3, 2)), [0, 1, 2], class_names=["a", "b", "c"])
    with pytest.raises(TypeError, match="class_names"):
        plot.plot_confusion_matrix(model, np.zeros((3, 2)), [0, 1, 2], class_names="abcd")
    with pytest.raises(ValueError, match="expected \\(3,\\)"):
        plot.plot_confusion_matrix(FixedPredictions([0, 1]), np.zeros((3, 2)), [0, 1, 2])


# -- plot_images -----------------------------------------------------------------------------


def garments(n: int, rng: np.random.Generator) -> np.ndarray:
    """Blocky uint8 'images' with a bright rectangle on black, like Fashion-MNIST."""
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for index in range(n):
        top, left = rng.integers(2, 12, size=2)
        images[index, top : top + 14, left : left + 10] = rng.integers(80, 255)
    return images


@pytest.mark.parametrize("flat", [False, True])
def test_images_grid_with_names_and_guesses(flat, rng):
    images = garments(7, rng)
    X = images.reshape(7, 784) / 127.5 - 1 if flat else images
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    guesses = np.eye(3)[[0, 1, 1, 0, 2, 2, 0]]   # probabilities: two wrong guesses
    fig = plot.plot_images(X, y, predictions=guesses, class_names=["shirt", "bag", "boot"])
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 7 and len(fig.axes) == 10   # 2 rows of 5, 3 left empty
    assert shown[2].get_title() == "bag (boot)"
    wrong = [ax.get_title() for ax in shown if ax.title.get_color() == "tab:red"]
    assert wrong == ["bag (boot)", "boot (bag)"]
    np.testing.assert_allclose(shown[3].images[0].get_array(), X.reshape(7, 28, 28)[3])
    assert_not_blank(fig, min_colours=20)


def test_images_with_a_binary_models_sigmoid_column(rng):
    probabilities = np.array([[0.9], [0.2], [0.7], [0.4]])     # what a 1-output model predicts
    fig = plot.plot_images(garments(4, rng), np.array([1, 0, 0, 0]), predictions=probabilities,
                           class_names=["no", "yes"])
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["yes (yes)", "no (no)", "yes (no)", "no (no)"]


def test_images_max_images_and_plain_titles(rng):
    fig = plot.plot_images(garments(40, rng), np.arange(40) % 10, max_images=12)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == [str(i % 10) for i in range(12)]


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "error", "match"),
    [
        (np.zeros((3, 780)), [0, 1, 2], {}, ValueError, "not a square image"),
        (np.zeros((3, 4, 28, 28)), [0, 1, 2], {}, ValueError, r"\(n, height, width\)"),
        (np.zeros((3, 28, 28)), [0, 1], {}, ValueError, "2 labels but there are 3"),
        (np.zeros((3, 28, 28)), [0, 1, 2], {"class_names": ["a"]}, ValueError, "only 1 names"),
        (np.zeros((3, 28, 28)), [0, 1, 2], {"predictions": [0, 1]}, ValueError, "predictions"),
        (np.zeros((3, 28, 28)), [0, 1, 2], {"max_images": 0}, ValueError, "max_images"),
        (np.array([["a"] * 4] * 3), [0, 1, 2], {}, TypeError, "X must hold numbers"),
    ],
)
def test_images_errors(X, y, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.plot_images(X, y, **kwargs)


# -- save_training_plot ----------------------------------------------------------------------


def test_save_training_plot_adds_the_boundary_for_2d_data(tmp_path, spiral):
    from PIL import Image

    X, y = spiral
    curves_only = plot.save_training_plot(HISTORY, tmp_path / "curves.png")
    with_boundary = plot.save_training_plot(
        HISTORY, tmp_path / "both.png", model=QuadrantModel(), X=X, y=y
    )
    assert curves_only == tmp_path / "curves.png"
    with Image.open(curves_only) as small, Image.open(with_boundary) as wide:
        assert wide.width > small.width   # a third panel
        pixels = np.asarray(wide.convert("RGB"))
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20
    # Data with more than two features gets the curves only.
    flat = plot.save_training_plot(
        HISTORY, tmp_path / "flat.png", model=QuadrantModel(), X=np.zeros((5, 4)), y=np.zeros(5)
    )
    with Image.open(flat) as picture, Image.open(curves_only) as small:
        assert picture.size == small.size


def test_save_training_plot_errors(tmp_path):
    with pytest.raises(ValueError, match="picture format"):
        plot.save_training_plot(HISTORY, tmp_path / "curves.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot.save_training_plot(HISTORY, tmp_path / "missing" / "curves.png")
    with pytest.raises(ValueError, match="no 'loss'"):
        plot.save_training_plot({"acc": [1]}, tmp_path / "curves.png")
    assert not list(tmp_path.iterdir())


# -- matplotlib is optional and left alone ---------------------------------------------------


def test_missing_matplotlib_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "scratchnn.plot")
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'scratchnn\[plot\]'") as info:
        importlib.import_module("scratchnn.plot")
    assert info.value.name == "matplotlib"


def test_scratchnn_does_not_import_matplotlib_and_plot_leaves_pyplot_alone():
    code = (
        "import sys, scratchnn\n"
        "assert 'matplotlib' not in sys.modules, 'import scratchnn imported matplotlib'\n"
        "from scratchnn.plot import plot_history\n"
        "plot_history({'loss': [1.0, 0.5]}).savefig(__import__('io').BytesIO(), format='png')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
