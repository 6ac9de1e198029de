"""The ``scratchnn`` command, run the way a user runs it (a real subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from scratchnn.cli import main


def run_cli(*args: str, data_dir=None, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if data_dir is not None:
        env["SCRATCHNN_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "scratchnn", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=600,
    )


def test_readme_main_job_trains_the_spiral_classifier(tmp_path):
    # Exactly the README's main job: `scratchnn train`, defaults and all.
    result = run_cli("train", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    match = re.search(r"final validation accuracy: ([0-9.]+)", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) >= 0.8   # the book's chapter-14 set-up reaches ~0.85 here
    assert "Dense(2, 64)" in result.stdout


def test_console_script_is_installed():
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("scratchnn") == "scratchnn.cli:main"


def test_train_saves_evaluates_and_plots(tmp_path, capsys):
    model_path = tmp_path / "spiral.snn"
    plot_path = tmp_path / "history.png"
    assert main(["train", "--epochs", "50", "--hidden", "32,16", "--optimizer", "sgd",
                 "--lr", "1.0", "--seed", "3", "--out", str(model_path),
                 "--plot", str(plot_path)]) == 0
    out = capsys.readouterr().out
    assert "Dense(2, 32)" in out and "Dense(32, 16)" in out and "Dense(16, 3)" in out
    assert model_path.is_file() and plot_path.stat().st_size > 1000
    assert main(["evaluate", str(model_path), "--seed", "4"]) == 0
    assert re.search(r"spiral test set \(300 samples\): accuracy [0-9.]+", capsys.readouterr().out)


def test_verbose_0_prints_the_verbose_2_line_every_tenth_epoch_and_the_last(capsys):
    # One format for both: fit(verbose=2)'s "Epoch N/M - 0.01s - loss: ... - lr: ..." line.
    lines = {}
    for verbose in ("0", "2"):
        assert main(["train", "--epochs", "20", "--samples", "30", "--verbose", verbose]) == 0
        printed = capsys.readouterr().out.splitlines()
        # The time of each epoch differs between runs; the rest is the same seeded training.
        lines[verbose] = [re.sub(r" - [\d.]+s - ", " - TIME - ", line)
                          for line in printed if line.startswith("Epoch ")]
    assert len(lines["2"]) == 20
    # Epochs 1, 3, ..., 19, and the last one, 20 (whatever the tenth of the epochs is).
    assert lines["0"] == [*lines["2"][::2], lines["2"][-1]]
    assert re.fullmatch(r"Epoch 1/20 - TIME - loss: [\d.]+ - accuracy: [\d.]+ - lr: 0.02 - "
                        r"val_loss: [\d.]+ - val_accuracy: [\d.]+", lines["0"][0])


def test_sine_regression_from_the_command_line(capsys):
    assert main(["train", "--dataset", "sine", "--epochs", "300", "--verbose", "0"]) == 0
    assert re.search(r"final loss: [0-9.]+", capsys.readouterr().out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--epochs", "0"], "expected a positive integer; got 0"),
        (["train", "--hidden", "12,x"], "comma-separated layer widths"),
        (["train", "--lr", "-1"], "expected a positive number"),
        (["train", "--dataset", "cifar"], "invalid choice: 'cifar'"),
        # An empty width is a typo, not a request for fewer layers.
        (["train", "--hidden", "64,,64"], "argument --hidden: empty layer width in '64,,64'"),
        (["train", "--hidden", "64,"], "argument --hidden: empty layer width"),
        (["train", "--hidden", ","], "argument --hidden: empty layer width"),
        (["train", "--hidden", "64, 0"], "layer widths must be positive integers"),
    ],
)
def test_bad_arguments_are_explained(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_hidden_widths_may_have_spaces():
    from scratchnn.cli import build_parser

    assert build_parser().parse_args(["train", "--hidden", "64, 32"]).hidden == (64, 32)


@pytest.mark.parametrize(
    ("argv", "abbreviation"),
    [
        # argparse would take each of these as the longer option it starts.
        (["train", "--epoch", "5"], "--epoch"),
        (["train", "--epoch=5"], "--epoch=5"),
        (["train", "--hid", "8"], "--hid"),
        (["evaluate", "m.snn", "--data", "spiral"], "--data"),
        (["predict", "m.snn", "x.png", "--inv", "yes"], "--inv"),
        (["--vers"], "--vers"),
    ],
)
def test_abbreviated_options_are_refused(argv, abbreviation, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert abbreviation in capsys.readouterr().err


def test_every_subcommand_refuses_abbreviations():
    # A subcommand's parser does not inherit allow_abbrev from the main parser.
    import argparse

    from scratchnn.cli import build_parser

    parser = build_parser()
    [commands] = [action for action in parser._actions
                  if isinstance(action, argparse._SubParsersAction)]
    assert set(commands.choices) == {"train", "evaluate", "predict", "export"}
    assert parser.allow_abbrev is False
    for name, subparser in commands.choices.items():
        assert subparser.allow_abbrev is False, name


def test_help_is_self_contained(capsys):
    # A pip user has no docs/ folder: the help names no file of the repository, and
    # `train --help` lists every dataset's defaults itself.
    from scratchnn.cli import RECIPES

    for argv in (["--help"], ["train", "--help"], ["evaluate", "--help"], ["predict", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert "docs/" not in out and ".md" not in out, argv
        if argv[0] == "train":
            for name, recipe in RECIPES.items():
                assert re.search(rf"^  {name} +hidden {','.join(map(str, recipe.hidden))}, "
                                 rf"{recipe.epochs} epochs", out, re.MULTILINE), name
            assert "weights 0.1 * randn" in out     # sine's chapter-17 weights


@pytest.mark.parametrize(
    ("command", "make_one"),
    [
        (["evaluate"], "scratchnn train --out"),
        (["predict"], "scratchnn train --dataset fashion-mnist --out"),
    ],
)
def test_a_missing_model_file_says_how_to_make_one(tmp_path, capsys, command, make_one):
    missing = tmp_path / "fashion-mnist.snn"    # the name must not pass for a missing dataset
    argv = [*command, str(missing)] + (["x.png"] if command == ["predict"] else [])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == f"scratchnn: error: no model file {missing}: train and save one first with " \
                  f"`{make_one} {missing}`\n"


def test_errors_are_one_line_not_a_traceback(tmp_path, capsys):
    missing = tmp_path / "nope.snn"
    assert main(["evaluate", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("scratchnn: error:") and "Traceback" not in err
    garbage = tmp_path / "garbage.snn"
    garbage.write_bytes(b"not a model at all")
    assert main(["predict", str(garbage), str(tmp_path / "x.png")]) == 1
    assert "garbage.snn" in capsys.readouterr().err


def test_fashion_mnist_train_save_and_predict_pictures(tmp_path, data_dir):
    """The book's Fashion-MNIST model, briefly, then `scratchnn predict` on PNG files."""
    from PIL import Image

    from scratchnn import load_model
    from scratchnn.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist, preprocess_images

    model_path = tmp_path / "fashion.snn"
    result = run_cli("train", "--dataset", "fashion-mnist", "--samples", "12000", "--epochs", "2",
                     "--no-download", "--out", str(model_path), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert "Dense(784, 128)" in result.stdout and "Dense(128, 10)" in result.stdout
    accuracy = float(re.search(r"final validation accuracy: ([0-9.]+)", result.stdout).group(1))
    assert accuracy >= 0.75

    result = run_cli("evaluate", str(model_path), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert "fashion-mnist test set (10000 samples)" in result.stdout

    _, (X_test, y_test) = load_fashion_mnist(data_dir / "fashion-mnist", download=False)
    model = load_model(model_path)
    count = 30
    expected = model.predict_classes(preprocess_images(X_test[:count]))
    plain, photo = [], []
    for index in range(count):
        plain.append(tmp_path / f"plain{index}.png")
        Image.fromarray(X_test[index]).save(plain[-1])
        # Like a photo: dark garment on a light background, bigger, in colour.
        inverted = Image.fromarray(255 - X_test[index]).resize((280, 280), Image.BILINEAR)
        photo.append(tmp_path / f"photo{index}.jpg")
        inverted.convert("RGB").save(photo[-1], quality=95)

    for paths, name in ((plain, "plain"), (photo, "photo")):
        result = run_cli("predict", str(model_path), *map(str, paths))
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert len(lines) == count
        named = [line.split(": ", 1)[1].rsplit(" (", 1)[0] for line in lines]
        ids = np.array([FASHION_MNIST_CLASSES.index(label) for label in named])
        agree = float(np.mean(ids == expected))
        right = float(np.mean(ids == y_test[:count]))
        if name == "plain":
            assert agree == 1.0          # the same pixels give the same answer
        else:
            assert agree >= 0.9, (name, agree)
        assert right >= 0.7, (name, right)


def test_output_problems_are_refused_before_training(tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "folder" / "m.snn"
    assert main(["train", "--epochs", "5000", "--out", str(missing)]) == 1
    captured = capsys.readouterr()
    assert "the folder" in captured.err and "does not exist" in captured.err
    assert "training on" not in captured.out        # refused before any training


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp: ["--plot", str(tmp / "curves.txt")], "must end in a picture format"),
        (lambda tmp: ["--plot", str(tmp / "curves")], "must end in a picture format"),
        (lambda tmp: ["--out", str(tmp)], "that is a folder"),
    ],
)
def test_bad_output_names_are_refused_before_training(tmp_path, capsys, make_args, message):
    assert main(["train", "--epochs", "5000", *make_args(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert message in captured.err
    assert "training on" not in captured.out


def test_out_of_memory_is_one_line_not_a_traceback(capsys):
    assert main(["train", "--samples", "1000000000000"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("scratchnn: error: not enough memory") and "--samples" in error
    assert "Traceback" not in error


def _fashion_shaped_model(path):
    import scratchnn as snn

    model = snn.Model([snn.Dense(784, 10, rng=0), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam())
    model.finalize()
    model.save(path)
    return model


def test_evaluate_needs_only_the_test_files(tmp_path, data_dir, capsys):
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).symlink_to(data_dir / "fashion-mnist" / name)
    _fashion_shaped_model(tmp_path / "m.snn")
    code = main(["evaluate", str(tmp_path / "m.snn"), "--data-dir", str(tmp_path / "data"),
                 "--no-download"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "fashion-mnist test set (10000 samples)" in captured.out


def test_predict_reports_each_picture_and_goes_on_after_a_bad_one(tmp_path, capsys):
    from PIL import Image

    model = _fashion_shaped_model(tmp_path / "m.snn")
    good = tmp_path / "good.png"
    Image.fromarray(np.full((28, 28), 200, dtype=np.uint8)).save(good)
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    code = main(["predict", str(tmp_path / "m.snn"), str(good), str(bad), str(good)])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{good}: ") for line in lines)
    assert captured.err.count("scratchnn: error:") == 1 and "notes.png" in captured.err
    from scratchnn.datasets import FASHION_MNIST_CLASSES
    from scratchnn.images import predict_image

    [(name, confidence)] = predict_image(model, good, class_names=FASHION_MNIST_CLASSES)
    assert lines[0] == f"{good}: {name} ({confidence:.1%})"


def test_predict_refuses_a_model_that_is_not_a_fashion_classifier(tmp_path, capsys):
    import scratchnn as snn

    model = snn.Model([snn.Dense(2, 3, rng=0), snn.Softmax()],
                      loss=snn.CategoricalCrossentropy(), optimizer=snn.Adam())
    model.finalize()
    model.save(tmp_path / "spiral.snn")
    picture = tmp_path / "p.png"
    picture.write_bytes(b"")   # never read: the model is refused first
    assert main(["predict", str(tmp_path / "spiral.snn"), str(picture)]) == 1
    error = capsys.readouterr().err
    assert "takes 2 inputs and gives 3 outputs" in error and "784 inputs" in error


def test_negative_seed_is_an_argument_error(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--seed", "-1"])
    assert "expected an integer >= 0; got -1" in capsys.readouterr().err


def test_missing_dataset_points_at_data_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCRATCHNN_DATA_DIR", str(tmp_path))
    assert main(["train", "--dataset", "fashion-mnist", "--no-download"]) == 1
    assert "--data-dir" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "scales"),
    [
        # fashion-mnist defaults to He weights, sqrt(2 / n_inputs); the others to the book's 0.01.
        (["--dataset", "fashion-mnist"], [np.sqrt(2 / 784), np.sqrt(2 / 128), np.sqrt(2 / 128)]),
        (["--dataset", "fashion-mnist", "--init", "book"], [0.01, 0.01, 0.01]),
        (["--dataset", "spiral"], [0.01, 0.01]),
        (["--dataset", "spiral", "--init", "glorot"], [np.sqrt(2 / 66), np.sqrt(2 / 67)]),
        (["--dataset", "sine", "--init", "book"], [0.1, 0.1, 0.1]),
    ],
)
def test_initial_weights_follow_the_recipe_or_init(argv, scales):
    from scratchnn import Dense
    from scratchnn.cli import _build_model, build_parser

    args = build_parser().parse_args(["train", *argv])
    n_features = 784 if "fashion-mnist" in argv else (1 if "sine" in argv else 2)
    model = _build_model(args, n_features, 10 if "fashion-mnist" in argv else 3)
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    assert len(dense) == len(scales)
    for layer, scale in zip(dense, scales, strict=True):
        # Each layer's sample standard deviation within 25% of the intended scale.
        assert abs(layer.weights.std() / scale - 1) < 0.25, (layer, layer.weights.std(), scale)


def test_unknown_init_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--init", "zeros"])
    assert "--init" in capsys.readouterr().err


def test_plot_without_matplotlib_names_the_extra_before_training(monkeypatch, capsys, tmp_path):
    import sys

    for name in [name for name in sys.modules if name.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "scratchnn.plot", raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # "not installed"
    assert main(["train", "--epochs", "5000", "--plot", str(tmp_path / "h.png")]) == 1
    captured = capsys.readouterr()
    assert "pip install 'scratchnn[plot]'" in captured.err
    assert "training on" not in captured.out


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs a device file")
def test_out_on_a_device_is_refused_before_training(capsys):
    assert main(["train", "--epochs", "5000", "--out", "/dev/null"]) == 1
    captured = capsys.readouterr()
    assert "not a regular file" in captured.err and "training on" not in captured.out


@pytest.mark.parametrize("command", [["train"], ["evaluate", "model.snn"]])
def test_download_deadline_reaches_the_loader(command, monkeypatch, capsys, tmp_path):
    from scratchnn.datasets import fashion_mnist
    from scratchnn.errors import DatasetError

    seen = {}

    def fake_load_splits(path, splits, **options):
        seen.update(options)
        raise DatasetError("stopped by the test")

    monkeypatch.setattr(fashion_mnist, "_load_splits", fake_load_splits)
    if command[0] == "evaluate":
        assert main(["train", "--epochs", "1", "--verbose", "0", "--out",
                     str(tmp_path / "model.snn")]) == 0
        command = ["evaluate", str(tmp_path / "model.snn")]
    assert main([*command, "--dataset", "fashion-mnist", "--download-deadline", "7.5"]) == 1
    assert seen["deadline"] == 7.5
    assert "stopped by the test" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*command, "--download-deadline", "0"])
    assert "--download-deadline: expected a positive number" in capsys.readouterr().err


def test_a_fashion_mnist_cnn_trains_evaluates_and_predicts_pictures(tmp_path, data_dir):
    """`--model cnn` briefly (a tenth of the data, one epoch), then evaluate and predict."""
    from PIL import Image

    from scratchnn import load_model
    from scratchnn.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist, preprocess_images

    model_path = tmp_path / "cnn.snn"
    result = run_cli("train", "--dataset", "fashion-mnist", "--model", "cnn", "--samples", "6000",
                     "--epochs", "1", "--no-download", "--out", str(model_path),
                     data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert "Conv2D(1, 16, 3, padding=1)" in result.stdout and "(16, 28, 28)" in result.stdout
    accuracy = float(re.search(r"final validation accuracy: ([0-9.]+)", result.stdout).group(1))
    assert accuracy >= 0.7
    result = run_cli("evaluate", str(model_path), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert f"accuracy {accuracy:.4f}" in result.stdout    # the same test images, the same model

    _, (X_test, _) = load_fashion_mnist(data_dir / "fashion-mnist", download=False)
    model = load_model(model_path)
    assert model.sample_shape == (1, 28, 28)
    expected = model.predict_classes(preprocess_images(X_test[:10]).reshape(10, 1, 28, 28))
    paths = []
    for index in range(10):
        paths.append(tmp_path / f"p{index}.png")
        Image.fromarray(X_test[index]).save(paths[-1])
    result = run_cli("predict", str(model_path), *map(str, paths))
    assert result.returncode == 0, result.stderr
    named = [line.split(": ", 1)[1].rsplit(" (", 1)[0] for line in result.stdout.splitlines()]
    assert [FASHION_MNIST_CLASSES.index(label) for label in named] == list(expected)


def test_mnist1d_trains_with_either_model_and_evaluates(tmp_path, data_dir):
    for model, accuracy_at_least in (("mlp", 0.3), ("cnn", 0.3)):
        path = tmp_path / f"{model}.snn"
        result = run_cli("train", "--dataset", "mnist1d", "--model", model, "--epochs", "3",
                         "--out", str(path), data_dir=data_dir)
        assert result.returncode == 0, result.stderr
        final = float(re.search(r"final validation accuracy: ([0-9.]+)", result.stdout).group(1))
        assert final >= accuracy_at_least          # chance is 0.1
        result = run_cli("evaluate", str(path), data_dir=data_dir)
        assert result.returncode == 0, result.stderr
        assert f"mnist1d test set (1000 samples): accuracy {final:.4f}" in result.stdout


@pytest.mark.parametrize(("argv", "message"), [
    (["--dataset", "spiral", "--model", "cnn"], "--model cnn is for fashion-mnist and mnist1d"),
    (["--dataset", "mnist1d", "--model", "cnn", "--hidden", "8"], "--hidden sets the dense"),
    (["--dataset", "mnist1d", "--model", "cnn", "--init", "he"], "--init sets the dense"),
])
def test_cnn_options_that_do_not_apply_are_refused(argv, message, capsys):
    assert main(["train", *argv]) == 1
    assert message in capsys.readouterr().err


def test_adamw_with_a_cosine_schedule_from_the_command_line(tmp_path, data_dir):
    path = tmp_path / "m.snn"
    result = run_cli("train", "--dataset", "mnist1d", "--optimizer", "adamw", "--schedule",
                     "cosine", "--epochs", "4", "--lr", "0.01", "--verbose", "2",
                     "--out", str(path), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    rates = [float(rate) for rate in re.findall(r"lr: ([0-9.e-]+)", result.stdout)]
    # 40 steps an epoch: the warm-up reaches 0.01 after the first epoch, then the cosine
    # falls to 0 at the last step (the logged rate is each epoch's last update's).
    assert len(rates) == 4 and rates[0] == pytest.approx(0.01 * 39 / 40)
    assert rates[1] > rates[2] > rates[3] and rates[3] < 1e-4
    from scratchnn import AdamW, load_model
    from scratchnn.schedules import CosineDecay

    optimizer = load_model(path).optimizer
    assert isinstance(optimizer, AdamW) and isinstance(optimizer.learning_rate, CosineDecay)


def test_decay_and_schedule_together_are_refused(capsys):
    assert main(["train", "--schedule", "step", "--decay", "0.1"]) == 1
    assert "--decay and --schedule" in capsys.readouterr().err


def test_export_writes_an_onnx_file_onnxruntime_runs(tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    from scratchnn import load_model

    model_path, onnx_path = tmp_path / "spiral.snn", tmp_path / "spiral.onnx"
    assert main(["train", "--epochs", "3", "--samples", "30", "--verbose", "0",
                 "--out", str(model_path)]) == 0
    assert main(["export", str(model_path), str(onnx_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    model = load_model(model_path)
    X = np.random.default_rng(0).normal(size=(5, 2)).astype(model.dtype)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(["output"], {"input": X})[0]
    np.testing.assert_allclose(got, model.predict(X), atol=1e-5, rtol=0)


def test_export_errors_are_one_line(tmp_path, capsys):
    pytest.importorskip("onnx")
    missing = tmp_path / "missing.snn"
    assert main(["export", str(missing), str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("scratchnn: error: no model file") and err.count("\n") == 1
    garbage = tmp_path / "garbage.snn"
    garbage.write_bytes(b"not a model")
    assert main(["export", str(garbage), str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("scratchnn: error:") and err.count("\n") == 1
    assert not (tmp_path / "m.onnx").exists()
    model_path = tmp_path / "ok.snn"
    assert main(["train", "--epochs", "2", "--samples", "30", "--verbose", "0",
                 "--out", str(model_path)]) == 0
    capsys.readouterr()
    unwritable = tmp_path / "no-such-folder" / "m.onnx"
    assert main(["export", str(model_path), str(unwritable)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("scratchnn: error:") and err.count("\n") == 1


def test_export_without_onnx_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "scratchnn.onnx", None)
    assert main(["export", str(tmp_path / "m.snn"), str(tmp_path / "m.onnx")]) == 1
    assert 'pip install "scratchnn[onnx]"' in capsys.readouterr().err
