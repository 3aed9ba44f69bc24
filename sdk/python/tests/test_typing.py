"""The package and its tests type-check under ``mypy --strict`` (the settings in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

from mypy import api


def test_the_sdk_and_its_tests_pass_mypy_strict() -> None:
    root = Path(__file__).resolve().parents[1]
    out, err, status = api.run(["--config-file", str(root / "pyproject.toml"), str(root / "src"), str(root / "tests")])
    assert status == 0, out + err
