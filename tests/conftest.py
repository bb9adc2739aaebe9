"""Shared fixtures: small generated clips and the mirror of real models and data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vcm.video import write_lossless_video

from clips import moving_square_frames

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture
def mirror() -> Path:
    """The local mirror of models and datasets ($VCM_MIRROR, else ../shared/mirror); must exist."""
    path = Path(os.environ.get("VCM_MIRROR", REPOSITORY.parent / "shared" / "mirror"))
    if not (path / "models").is_dir():
        pytest.fail(f"model mirror not found at {path}: set VCM_MIRROR")
    return path


@pytest.fixture
def small_clip(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    """A 5-frame 65x49 (odd size) lossless clip and its frames."""
    frames = moving_square_frames(65, 49, 5)
    path = tmp_path / "clip.mkv"
    write_lossless_video(iter(frames), path, width=65, height=49, fps=7)
    return path, frames
