"""Shared fixtures: small generated clips, and what some tests need from outside the
repository (the mirror of real models and data, VTM, detectron2, the heavy backends).

Every test that needs something from outside goes through :func:`require`, which skips it with
a reason naming what is missing and how to provide it (``pytest -ra`` lists the reasons, and
the closing summary counts them). Where everything must be there (CI sets
``VCM_REQUIRE_ALL=1`` in ``.ci/run``), :func:`pytest_runtest_makereport` turns every skip into
a failure, so a lost mirror cannot pass quietly.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import NoReturn, TypeVar

import numpy as np
import pytest

from vcm.video import write_lossless_video

from clips import moving_square_frames

REPOSITORY = Path(__file__).resolve().parents[1]
REQUIRE_ALL_VARIABLE = "VCM_REQUIRE_ALL"
HOW_MIRROR = ("set VCM_MIRROR to a folder with models/, datasets/, tools/vtm/ and wheels/, "
              "or put it at ../shared/mirror beside the checkout; see docs/install.md")
HOW_HEAVY = "run these tests in .venv-heavy: make test-heavy; see docs/install.md"

Found = TypeVar("Found")


def require(found: Found | None, what: str, how: str) -> Found:
    """``found`` where it is there (not None, not False); else skips the test with the reason
    ``needs WHAT (HOW)``. The one place where a test gives up for something missing."""
    if found is None or found is False:
        skip_for(what, how)
    return found


def skip_for(what: str, how: str) -> NoReturn:
    """Skips the test: ``needs WHAT (HOW)``."""
    pytest.skip(f"needs {what} ({how})")


def mirror_dir() -> Path:
    """Where the mirror should be: ``$VCM_MIRROR``, else ``../shared/mirror`` beside the
    checkout (the layout CI has)."""
    return Path(os.environ.get("VCM_MIRROR") or REPOSITORY.parent / "shared" / "mirror")


def require_mirror(*parts: str) -> Path:
    """``mirror_dir() / parts``, skipping the test where it does not exist."""
    path = mirror_dir().joinpath(*parts)
    return require(path if path.exists() else None,
                   f"the model mirror's {'/'.join(parts) or 'folder'} (not at {path})", HOW_MIRROR)


def require_module(name: str, how: str = HOW_HEAVY):
    """The imported module ``name``, skipping the test where it is not installed."""
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        skip_for(f"the Python module {name} ({error})", how)
    return module


def require_vtm() -> dict[str, Path]:
    """VTM's ``EncoderApp`` and ``DecoderApp`` as the ``vtm`` codec finds them
    (``$VCM_VTM_ENCODER``/``$VCM_VTM_DECODER`` or PATH), skipping the test without them."""
    from vcm.codecs import build_codec
    from vcm.errors import VcmError

    codec = build_codec("vtm")
    try:
        return {"EncoderApp": Path(codec.encoder_executable()),
                "DecoderApp": Path(codec.decoder_executable())}
    except VcmError:
        skip_for("VTM's EncoderApp and DecoderApp (on PATH, or $VCM_VTM_ENCODER and "
                 "$VCM_VTM_DECODER)", "make test puts the mirror's tools/vtm on PATH, from "
                 "VCM_MIRROR; or build VTM yourself; see docs/install.md")


@pytest.fixture
def mirror(monkeypatch) -> Path:
    """The local mirror of models and datasets (:func:`mirror_dir`), also as ``$VCM_MIRROR``
    for the model store; the test is skipped where it has no models/ and datasets/."""
    require_mirror("models")
    require_mirror("datasets")
    monkeypatch.setenv("VCM_MIRROR", str(mirror_dir()))
    return mirror_dir()


@pytest.fixture
def vtm() -> dict[str, Path]:
    """VTM's programs (:func:`require_vtm`)."""
    return require_vtm()


def pytest_runtest_setup(item: pytest.Item) -> None:
    # The markers say which installed packages a test needs: `make test` runs them in
    # .venv-heavy, where detectron2 is there only if a wheel or its source could be had.
    if item.get_closest_marker("heavy") is not None:
        require_module("torch")
        require_module("torchvision")
    if item.get_closest_marker("detectron2") is not None:
        require_module("detectron2", "install it into .venv-heavy: make install-detectron2 "
                       "ENV=.venv-heavy, with the mirror's wheels/ or DETECTRON2=WHEEL_OR_SOURCE; "
                       "see docs/install.md")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    if (os.environ.get(REQUIRE_ALL_VARIABLE) == "1" and report.skipped
            and not hasattr(report, "wasxfail")):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (f"{REQUIRE_ALL_VARIABLE}=1 allows no skip: "
                           f"{str(reason).removeprefix('Skipped: ')}")


@pytest.fixture
def small_clip(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    """A 5-frame 65x49 (odd size) lossless clip and its frames."""
    frames = moving_square_frames(65, 49, 5)
    path = tmp_path / "clip.mkv"
    write_lossless_video(iter(frames), path, width=65, height=49, fps=7)
    return path, frames
