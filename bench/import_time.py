"""How long ``import scratchnn`` takes in a fresh interpreter (NumPy's share shown apart).

The product asks for under 0.3 s, NumPy included. Timing is measured here, not in the test
suite (a threshold there would fail at random on a busy machine); the suite checks instead
that the import loads nothing but the standard library and scratchnn's core modules.

    python3 bench/import_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CODE = """
import json, time
start = time.perf_counter()
import numpy
numpy_done = time.perf_counter()
import scratchnn
end = time.perf_counter()
print(json.dumps({"total": end - start, "numpy": numpy_done - start}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    reports = [json.loads(subprocess.run([sys.executable, "-c", CODE], capture_output=True,
                                         text=True, check=True).stdout) for _ in range(runs)]
    totals = [r["total"] for r in reports]
    print(f"import numpy + scratchnn: best {min(totals):.3f} s, median "
          f"{statistics.median(totals):.3f} s over {runs} fresh interpreters; NumPy alone best "
          f"{min(r['numpy'] for r in reports):.3f} s")


if __name__ == "__main__":
    main()
