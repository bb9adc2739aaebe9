"""Small generated clips for tests."""

import numpy as np


def moving_square_frames(width: int, height: int, frames: int, seed: int = 0) -> list[np.ndarray]:
    """A textured background with a bright square moving right one pixel per frame."""
    rng = np.random.default_rng(seed)
    background = rng.integers(40, 200, size=(height, width, 3), dtype=np.uint8)
    clips = []
    for index in range(frames):
        frame = background.copy()
        frame[10:26, 5 + index : 21 + index] = (30, 200, 250)
        clips.append(frame)
    return clips


class MiscountedSource:
    """A 65x49 video whose header says 5 frames while it decodes ``decoded`` (black) frames."""

    def __init__(self, path, decoded):
        from vcm.video import VideoInfo

        self.info = VideoInfo(path, 65, 49, 7.0, 5)
        self._frames = [np.zeros((49, 65, 3), np.uint8)] * decoded

    def __iter__(self):
        return iter(self._frames)
