"""The tutorial notebooks run from top to bottom without error, and match their generator."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "docs" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL = "scratchnn-tests"
CELL_TIMEOUT_S = 300   # a hang fails the test instead of blocking the suite


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec that runs this interpreter, so the kernel sees the same scratchnn."""
    data = tmp_path_factory.mktemp("jupyter")
    spec = data / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "scratchnn tests", "language": "python"})
    )
    return data


def test_there_are_six_tutorials():
    assert [path.name[:2] for path in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]


def test_stored_notebooks_match_the_generator():
    generator = runpy.run_path(str(ROOT / "docs" / "make_notebooks.py"))
    expected = generator["notebooks"]()
    assert sorted(expected) == [path.name for path in NOTEBOOKS]
    for path in NOTEBOOKS:
        stored = path.read_text(encoding="utf-8")
        assert stored == nbformat.writes(expected[path.name]) + "\n", (
            f"{path.name} differs from docs/make_notebooks.py: run python docs/make_notebooks.py"
        )
        assert all(not cell.get("outputs") for cell in nbformat.reads(stored, 4).cells)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, kernel_dir, data_dir, monkeypatch):
    # The kernel inherits this environment: the shared data and the test kernelspec.
    monkeypatch.setenv("SCRATCHNN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")   # silences jupyter_core's migration notice
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},   # files a notebook writes go here
    )
    client.execute()   # raises CellExecutionError on the first failing cell
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells), "a code cell was not executed"
    errors = [out for cell in code_cells for out in cell.outputs if out.output_type == "error"]
    assert errors == []
    # Every plotting call left a picture behind.
    for cell in code_cells:
        lines = cell.source.splitlines()
        if lines[-1] == "fig" or any(line.startswith("plot_") for line in lines):
            assert any("image/png" in out.get("data", {}) for out in cell.outputs), (
                f"no figure shown by cell {cell.id}:\n{cell.source}"
            )


def _fashion_data_cell(notebook: str) -> str:
    """A notebook's Fashion-MNIST loading cell, without its IPython magic; scratchnn imported
    first as ``snn`` (notebook 6 imports it in an earlier cell)."""
    generator = runpy.run_path(str(ROOT / "docs" / "make_notebooks.py"))
    [source] = [source for kind, source in generator[notebook]
                if kind == "code" and "load_fashion_mnist(" in source]
    lines = [line for line in source.splitlines() if not line.startswith("%")]
    return "\n".join(["import scratchnn as snn", *lines])


@pytest.mark.parametrize("notebook", ["NOTEBOOK_5", "NOTEBOOK_6"])
@pytest.mark.parametrize("where", ["offline", "empty SCRATCHNN_DATA_DIR"])
def test_fashion_notebook_says_what_to_set_when_the_data_is_missing(where, notebook, tmp_path):
    import os
    import subprocess

    env = {key: value for key, value in os.environ.items()
           if key.lower() not in ("scratchnn_data_dir", "no_proxy")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")        # no cached copy either
    env["MPLBACKEND"] = "Agg"
    if where == "offline":
        # Downloads go through a proxy nothing listens on: refused at once, as offline.
        env["http_proxy"] = env["https_proxy"] = "http://127.0.0.1:9"
    else:
        env["SCRATCHNN_DATA_DIR"] = str(tmp_path)           # no fashion-mnist/ in it
    result = subprocess.run([sys.executable, "-c", _fashion_data_cell(notebook)],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()
    assert error[0] == "Traceback (most recent call last):"
    # The cell's own message, not the loader's traceback: what to set, and the reason.
    assert not any("fashion_mnist.py" in line for line in error)
    message = "\n".join(error)
    assert "RuntimeError: Fashion-MNIST is not here and could not be downloaded" in message
    assert "set SCRATCHNN_DATA_DIR to the folder that holds it" in message
    reason = "downloading http" if where == "offline" else "not found in"
    assert reason in error[-1]
