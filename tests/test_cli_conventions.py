"""Conventions every `vcm` command follows: --progress/--no-progress accepted everywhere (a
no-op where there is nothing to show), and `vcm --version`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from vcm.cli import app

REPOSITORY = Path(__file__).resolve().parents[1]


def command_paths(command=None, path=()) -> list[tuple[str, ...]]:
    """Every leaf command of the app, as its words (``("evaluate", "pose")``)."""
    command = command or typer.main.get_command(app)
    if not hasattr(command, "commands"):
        return [path]
    return [found for name, sub in sorted(command.commands.items())
            for found in command_paths(sub, (*path, name))]


def test_the_walk_finds_every_command():
    paths = command_paths()
    assert len(paths) >= 28
    for expected in [("decode",), ("evaluate", "track"), ("detections", "extract"),
                     ("single-task", "pose"), ("report",), ("point",), ("models", "fetch")]:
        assert expected in paths


@pytest.mark.parametrize("words", command_paths(), ids=" ".join)
def test_every_command_accepts_no_progress(words):
    # An unknown option is a usage error (exit 2) found while parsing, before --help runs.
    for flag in ("--no-progress", "--progress"):
        result = CliRunner().invoke(app, [*words, flag, "--help"])
        assert result.exit_code == 0, result.output


def test_a_listing_runs_with_no_progress():
    result = CliRunner().invoke(app, ["codecs", "--no-progress"])
    assert result.exit_code == 0 and "vvenc" in result.output.split()


def test_version_is_the_packages():
    version = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["version"]
    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"vcm {version}\n")
