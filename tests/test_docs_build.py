"""The documentation builds with ``mkdocs build --strict``: every warning is an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mkdocs_strict_build(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr

    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    # The reference is built from the docstrings: spot-check entries and their content.
    for anchor in (
        'id="scratchnn.Dense"',
        'id="scratchnn.Model.fit"',
        'id="scratchnn.plot.plot_history"',
        'id="scratchnn.plot.save_training_plot"',
        'id="scratchnn.datasets.spiral_data"',
    ):
        assert anchor in api, f"{anchor} missing from the API reference"
    assert "no transpose is needed in the forward pass" in api   # Dense's docstring
    tutorials = (site / "tutorials" / "index.html").read_text(encoding="utf-8")
    notebooks = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        assert f'href="../notebooks/{notebook.name}"' in tutorials
        assert (site / "notebooks" / notebook.name).is_file()
