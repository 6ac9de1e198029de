"""Build the JupyterLite site: the tutorial notebooks and scratchnn's wheel, Pyodide kernel.

Offline: the wheel is built with ``--no-isolation`` and ``jupyter lite build`` copies no
Pyodide (the site loads it from its CDN in the browser). Run::

    .venv/bin/python lite/build.py [--output DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LITE = ROOT / "lite"
NOTEBOOKS = ROOT / "docs" / "notebooks"
DEFAULT_OUTPUT = LITE / "_output"


def run(command: list[str], what: str, cwd: Path) -> None:
    """Run ``command``; on failure say what failed and show its output."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            f"lite/build.py: {what} failed (exit {result.returncode}):\n"
            f"$ {' '.join(command)}\n{result.stdout}{result.stderr}"
        )


def build_wheel(dist: Path) -> Path:
    """The project's wheel, built offline from this checkout into ``dist``."""
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        "building scratchnn's wheel", ROOT)
    [wheel] = sorted(dist.glob("scratchnn-*.whl"))
    return wheel


def build_site(output: Path) -> Path:
    """Build the site into ``output`` (replaced); returns it."""
    try:
        import jupyter_server  # noqa: F401  (jupyterlite-core indexes contents with it)
    except ImportError:
        raise SystemExit(
            "lite/build.py: jupyter_server is not installed; jupyterlite-core needs it to index "
            "the notebooks (pip install jupyter_server)"
        ) from None
    with tempfile.TemporaryDirectory() as scratch:
        wheel = build_wheel(Path(scratch) / "dist")
        if output.exists():
            shutil.rmtree(output)
        command = [sys.executable, "-m", "jupyterlite_core", "build",
                    "--lite-dir", str(LITE),
                    "--contents", str(NOTEBOOKS),
                    "--piplite-wheels", str(wheel),
                    "--output-dir", str(output)]
        run(command, "jupyter lite build", LITE)
    for needed in ("pypi/all.json", "api/contents/all.json", "jupyter-lite.json"):
        if not (output / needed).is_file():
            raise SystemExit(f"lite/build.py: jupyter lite build made no {needed} in {output}")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"where the site goes (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    site = build_site(args.output.resolve())
    print("built", site)
    return 0


if __name__ == "__main__":
    sys.exit(main())
