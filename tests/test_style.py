"""The code base stays ruff clean (rules in pyproject.toml); CI enforces it through this test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff")
    cmd = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    try:
        proc = subprocess.run([*cmd, "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    except FileNotFoundError:
        pytest.fail("ruff is not installed: install the test extra (pip install -e '.[test]')")
    assert proc.returncode == 0, proc.stdout + proc.stderr
