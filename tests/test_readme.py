"""The README's code runs as written, and its quick start prints the seed's numbers."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run_block(code: str, tmp_path, monkeypatch) -> tuple[str, dict]:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    namespace: dict = {"__name__": "readme"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace)
    return out.getvalue(), namespace


def commented_matrix(lines: str) -> np.ndarray:
    rows = re.findall(r"\[([^\[\]]+)\]", lines)
    return np.array([[float(x) for x in row.split()] for row in rows])


def test_quick_start_reproduces_the_seed(tmp_path, monkeypatch):
    quick_start = python_blocks()[0]
    printed, namespace = run_block(quick_start, tmp_path, monkeypatch)
    # The comment under each print is what the seed printed.
    expected = [commented_matrix(block) for block in
                re.findall(r"print\(.*\)(?:  .*)?\n((?:# .*\n)+)", quick_start)[:3]]
    np.testing.assert_allclose(namespace["layer1"].output, expected[0], rtol=1e-12)
    np.testing.assert_allclose(namespace["layer2"].output, expected[1], rtol=1e-12)
    np.testing.assert_allclose(namespace["dense2"].output, expected[2], rtol=1e-5)
    assert "Dense(4, 3) expects inputs shaped (n_samples, 4); got (4, 3)" in printed
    assert "pass X.T" in printed


def test_every_readme_example_runs(tmp_path, monkeypatch):
    for code in python_blocks()[1:]:
        run_block(code, tmp_path, monkeypatch)
    assert (tmp_path / "spiral.snn").is_file()


def test_the_training_example_repeats_exactly(tmp_path, monkeypatch):
    """Its seeds (snn.seed for the weights, Model(seed=) for the rest) fix the whole run."""
    training = next(code for code in python_blocks() if "model.fit(" in code)
    assert "snn.seed(0)" in training
    first, _ = run_block(training, tmp_path, monkeypatch)
    again, _ = run_block(training, tmp_path, monkeypatch)
    assert first == again and "loss" in first


def test_the_summary_example_prints_what_its_comment_shows(tmp_path, monkeypatch):
    (code,) = [block for block in python_blocks() if "print(model.summary())" in block]
    printed, _ = run_block(code, tmp_path, monkeypatch)
    shown = code.split("print(model.summary())\n", 1)[1]
    expected = [line[2:] for line in shown.splitlines() if line.startswith("# ")]
    assert printed.splitlines() == expected
