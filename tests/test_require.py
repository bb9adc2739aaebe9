"""tests/conftest.py's `require`: a missing mirror skips with its reason; under
VCM_REQUIRE_ALL=1 (CI) every skip is a failure. Run in a pytest of its own on a generated file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

TINY_TESTS = '''
from conftest import require


def test_present():
    assert require(3, "three", "count to three") == 3


def test_absent():
    require(None, "a thing", "make one")


def test_mirror_fixture(mirror):
    pass
'''


def run_tiny(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    """pytest on TINY_TESTS with tests/conftest.py loaded as a plugin; no mirror there."""
    (tmp_path / "test_tiny.py").write_text(TINY_TESTS)
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("VCM_REQUIRE_ALL", "PYTEST_ADDOPTS")}
    environment.update(PYTHONPATH=os.pathsep.join([str(TESTS), environment.get("PYTHONPATH", "")]),
                       VCM_MIRROR=str(tmp_path / "no-mirror"), **variables)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-ra",
         "--rootdir", str(tmp_path), str(tmp_path / "test_tiny.py")],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120,
    )


def test_a_missing_requirement_skips_with_its_reason(tmp_path):
    completed = run_tiny(tmp_path)
    assert completed.returncode == 0, completed.stdout
    assert "1 passed, 2 skipped" in completed.stdout
    assert "needs a thing (make one)" in completed.stdout
    assert (f"needs the model mirror's models (not at {tmp_path / 'no-mirror' / 'models'}) "
            "(set VCM_MIRROR to a folder") in completed.stdout


@pytest.mark.parametrize("flag, outcome", [("0", "1 passed, 2 skipped"),
                                           ("1", "1 failed, 1 passed, 1 error")])
def test_require_all_turns_every_skip_into_a_failure(tmp_path, flag, outcome):
    completed = run_tiny(tmp_path, VCM_REQUIRE_ALL=flag)
    assert outcome in completed.stdout, completed.stdout
    assert completed.returncode == (1 if flag == "1" else 0)
    if flag == "1":
        assert "VCM_REQUIRE_ALL=1 allows no skip: needs a thing (make one)" in completed.stdout
