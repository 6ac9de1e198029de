"""docs/common-errors.md quotes messages the library really gives (checked by triggering each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_quoted_message_is_the_real_one():
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "check_common_errors.py")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " messages as quoted" in result.stdout
