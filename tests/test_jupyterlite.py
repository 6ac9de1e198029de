"""The JupyterLite site (lite/build.py): scratchnn's wheel indexed for piplite, the tutorial
notebooks in its contents, the Pyodide kernel configured. Built offline; nothing is run."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scratchnn._version import __version__

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
PYODIDE_KERNEL = "@jupyterlite/pyodide-kernel-extension:kernel"

# Dev dependencies, imported (not importorskip'd) so that a missing one fails, not skips:
# jupyterlite-core builds the site, the Pyodide kernel's addon indexes the wheel, and
# jupyter_server is what jupyterlite-core indexes the notebooks (--contents) with.
import jupyter_server  # noqa: E402, F401
import jupyterlite_core  # noqa: E402, F401
import jupyterlite_pyodide_kernel  # noqa: E402, F401


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("lite") / "site"
    result = subprocess.run([sys.executable, str(ROOT / "lite" / "build.py"), "--output",
                             str(output)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return output


def test_the_wheel_is_indexed_for_piplite(site):
    index = json.loads((site / "pypi" / "all.json").read_text(encoding="utf-8"))
    [release] = index["scratchnn"]["releases"][__version__]
    assert release["filename"] == f"scratchnn-{__version__}-py3-none-any.whl"
    assert (site / "pypi" / release["filename"]).is_file()


def test_the_wheel_is_pure_python_and_needs_only_numpy_and_tqdm(site):
    wheel = site / "pypi" / f"scratchnn-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        info = f"scratchnn-{__version__}.dist-info"
        assert "Root-Is-Purelib: true" in archive.read(f"{info}/WHEEL").decode().splitlines()
        metadata = archive.read(f"{info}/METADATA").decode().splitlines()
    requires = [line.split(":", 1)[1].strip() for line in metadata
                if line.startswith("Requires-Dist:")]
    plain = sorted(req.split(">")[0].split("=")[0].strip() for req in requires if ";" not in req)
    assert plain == ["numpy", "tqdm"]
    assert all("extra ==" in req for req in requires if ";" in req)


def test_the_notebooks_are_in_the_site_with_the_install_cell(site):
    contents = json.loads((site / "api" / "contents" / "all.json").read_text(encoding="utf-8"))
    listed = sorted(entry["name"] for entry in contents["content"])
    assert [path.name for path in NOTEBOOKS] == [n for n in listed if n.endswith(".ipynb")]
    for path in NOTEBOOKS:
        notebook = json.loads((site / "files" / path.name).read_text(encoding="utf-8"))
        first = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
        source = "".join(first["source"])
        assert 'if sys.platform == "emscripten":' in source
        assert "await piplite.install([" in source and "'scratchnn'" in source


def test_the_pyodide_kernel_reads_the_sites_wheels(site):
    config = json.loads((site / "jupyter-lite.json").read_text(encoding="utf-8"))
    settings = config["jupyter-config-data"]["litePluginSettings"][PYODIDE_KERNEL]
    assert settings["pipliteUrls"][0].startswith("./pypi/all.json")
    assert (site / "extensions" / "@jupyterlite" / "pyodide-kernel-extension").is_dir()
