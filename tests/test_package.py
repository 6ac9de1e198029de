"""The package as users get it: a light import and a wheel with exactly its two dependencies."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

IMPORT_AND_TIME = """
import json, sys, time
start = time.perf_counter()
import numpy
numpy_done = time.perf_counter()
import scratchnn
end = time.perf_counter()
heavy = [name for name in ("tqdm", "matplotlib", "PIL") if name in sys.modules]
report = {"elapsed": end - start, "numpy": numpy_done - start, "heavy": heavy}
print(json.dumps(report))
"""


def import_in_fresh_interpreter() -> dict:
    """``{"elapsed": s, "numpy": s, "heavy": [...]}``; elapsed covers NumPy plus scratchnn."""
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_TIME],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_import_leaves_optional_and_heavy_modules_unloaded():
    heavy = import_in_fresh_interpreter()["heavy"]
    assert heavy == [], f"import scratchnn loaded {heavy}; import them lazily where used"


IMPORT_AND_LIST = """
import json, sys
import numpy
before = set(sys.modules)
import scratchnn
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_import_loads_only_the_standard_library_and_scratchnn_core():
    # What keeps ``import scratchnn`` fast (the product asks for under 0.3 s with NumPy), as a
    # deterministic check: no third-party package and none of the lazily loaded submodules
    # (a timing threshold here would fail at random on a busy machine; bench/import_time.py
    # measures the time itself).
    completed = subprocess.run([sys.executable, "-c", IMPORT_AND_LIST], capture_output=True,
                               text=True, check=True, cwd=ROOT)
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    allowed = (*sys.stdlib_module_names, "scratchnn", "numpy",
               "cython_runtime")    # NumPy's compiled parts bring these
    third_party = [name for name in loaded
                   if name.partition(".")[0] not in allowed and not name.startswith("_cython_")]
    assert third_party == []
    lazy = [f"scratchnn.{name}" for name in ("book", "cli", "datasets", "images", "io", "plot")]
    assert [name for name in lazy if name in loaded] == []


def test_submodules_are_reachable_as_attributes():
    code = ("import scratchnn as snn\n"
            "print(snn.datasets.spiral_data.__name__, snn.plot.plot_history.__name__,\n"
            "      snn.io.save_model.__name__, snn.book.init.__name__)\n"
            "print('datasets' in dir(snn))\n"
            "try:\n    snn.no_such_thing\nexcept AttributeError as error:\n    print(error)\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True, cwd=ROOT)
    assert completed.stdout.splitlines() == [
        "spiral_data plot_history save_model init",
        "True",
        "module 'scratchnn' has no attribute 'no_such_thing'",
    ]


def build_wheel(
    source: Path, outdir: Path, kind: str = "--wheel"
) -> subprocess.CompletedProcess:
    offline_ready = all(importlib.util.find_spec(name) for name in ("setuptools", "build"))
    command = [sys.executable, "-m", "build", kind, "--outdir", str(outdir)]
    if offline_ready:
        command.insert(4, "--no-isolation")  # use the installed setuptools, no download
    result = subprocess.run(command, cwd=source, capture_output=True, text=True)
    if result.returncode != 0 and offline_ready:
        # --no-isolation failed: fall back to an isolated build.
        command.remove("--no-isolation")
        result = subprocess.run(command, cwd=source, capture_output=True, text=True)
    return result


def test_wheel_depends_on_exactly_numpy_and_tqdm(tmp_path):
    # Build from a clean copy so the shared working tree gets no build/ or egg-info churn.
    source = tmp_path / "project"
    source.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", source)
    for extra in ("README.md", "LICENSE"):
        if (ROOT / extra).exists():
            shutil.copy2(ROOT / extra, source)
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "*.pyc"),
    )
    outdir = tmp_path / "dist"
    result = build_wheel(source, outdir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    wheels = sorted(outdir.glob("*.whl"))
    assert len(wheels) == 1, wheels
    assert wheels[0].name.startswith("scratchnn-")
    assert wheels[0].name.endswith("-py3-none-any.whl")

    with zipfile.ZipFile(wheels[0]) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
    assert "scratchnn/py.typed" in names
    assert "scratchnn/__init__.py" in names
    requirements = [
        line.removeprefix("Requires-Dist:").strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    core = [req for req in requirements if "extra ==" not in req]
    core_names = sorted(re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0] for req in core)
    assert core_names == ["numpy", "tqdm"], core
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "License-Expression: MIT" in metadata


def test_sdist_carries_what_its_test_suite_and_docs_need(tmp_path):
    # A clean copy of the project (no venv, caches or build output); works from the sdist too.
    source = tmp_path / "project"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "mkdocs.yml"):
        shutil.copy2(ROOT / name, source)
    junk = shutil.ignore_patterns("*.egg-info", "__pycache__", "*.pyc", ".ipynb_checkpoints")
    for folder in ("src", "tests", "docs"):
        shutil.copytree(ROOT / folder, source / folder, ignore=junk)
    outdir = tmp_path / "dist"
    result = build_wheel(source, outdir, "--sdist")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    import tarfile

    [sdist] = outdir.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("LICENSE", "mkdocs.yml", "tests/conftest.py", "tests/strategies.py",
                   "tests/fixtures/classifier-v1.snn", "docs/common-errors.md",
                   "docs/check_common_errors.py", "docs/make_notebooks.py"):
        assert needed in names, needed
    assert not any("__pycache__" in name for name in names)


@pytest.mark.parametrize("name", ["Dense", "Dropout", "ReLU", "Softmax", "Adam", "gradcheck"])
def test_public_names_are_exported(name):
    import scratchnn

    assert name in scratchnn.__all__
    assert hasattr(scratchnn, name)


def test_version_is_a_string():
    import scratchnn

    assert isinstance(scratchnn.__version__, str) and scratchnn.__version__


def test_help_works_without_the_optional_extras():
    # dir(scratchnn) must not list plot/images: help() and pydoc get every name it lists.
    code = ("import sys\n"
            "sys.modules['matplotlib'] = None\n"
            "sys.modules['PIL'] = None\n"
            "import pydoc, inspect, scratchnn as snn\n"
            "text = pydoc.render_doc(snn)\n"
            "inspect.getmembers(snn)\n"
            "print('plot' in dir(snn), 'datasets' in dir(snn))\n"
            "try:\n    snn.plot\n"
            "except ImportError as error:\n    print('scratchnn[plot]' in str(error))\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True, cwd=ROOT)
    assert completed.stdout.split() == ["False", "True", "True"]
