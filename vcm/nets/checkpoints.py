"""Reading a published torch checkpoint into a network rebuilt here, strictly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vcm.errors import VcmError

CONTAINER_KEYS = ("model", "state_dict")
"""Keys under which training scripts save the network's state: JDE's ``train.py`` saves
``{"model": ...}``, torchreid's ``save_checkpoint`` ``{"state_dict": ...}``."""


def read_state_dict(path: str | Path, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """The state dict in the checkpoint at ``path``: the file itself if it is one, else the
    dict under one of :data:`CONTAINER_KEYS`. A ``module.`` prefix (left by
    ``DataParallel``) is removed from every name, and parameters whose names start with one of
    ``drop`` (training-only layers, such as an identity classifier whose size is the number
    of training identities) are left out.

    The file is read with ``weights_only=True``: tensors and plain containers only, never
    arbitrary pickled objects. A file that cannot be read so, or holds no state dict, is a
    :class:`VcmError` naming it.
    """
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (unpickling raises many kinds)
        raise VcmError(f"{path}: not a readable checkpoint ({error})") from None
    state = checkpoint
    if isinstance(checkpoint, dict):
        for key in CONTAINER_KEYS:
            if isinstance(checkpoint.get(key), dict):
                state = checkpoint[key]
                break
    if not isinstance(state, dict) or not all(isinstance(name, str) for name in state):
        raise VcmError(f"{path}: holds no state dict")
    cleaned = {}
    for name, value in state.items():
        name = name.removeprefix("module.")
        if not name.startswith(drop):
            cleaned[name] = value
    return cleaned


def load_strictly(model: Any, path: str | Path, model_name: str, *,
                  drop: tuple[str, ...] = ()) -> None:
    """Load the checkpoint at ``path`` (see :func:`read_state_dict`) into the torch ``model``
    with ``strict=True``: every parameter and buffer must be there, with its shape, and nothing
    else. A mismatch is a :class:`VcmError` naming the file, ``model_name`` and the first few
    names that are missing, unexpected or of another shape."""
    state = read_state_dict(path, drop=drop)
    problem = state_dict_problem(model.state_dict(), state)
    if problem:
        raise VcmError(f"{path}: does not fit {model_name} ({problem})")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise VcmError(f"{path}: does not fit {model_name} ({error})") from None


def state_dict_problem(expected: dict[str, Any], found: dict[str, Any], shown: int = 3) -> str:
    """What keeps ``found`` from loading where ``expected`` is (names and tensor shapes), in
    one line naming at most ``shown`` entries of each kind; ``""`` when nothing does. Entries
    without a shape (``num_batches_tracked`` may be absent: torch fills it in) are not
    required."""
    def listed(names: list[str]) -> str:
        more = f" and {len(names) - shown} more" if len(names) > shown else ""
        return ", ".join(names[:shown]) + more

    missing = [name for name in expected
               if name not in found and not name.endswith("num_batches_tracked")]
    unexpected = [name for name in found if name not in expected]
    reshaped = [
        f"{name} {tuple(found[name].shape)} instead of {tuple(expected[name].shape)}"
        for name in expected
        if name in found and hasattr(found[name], "shape")
        and tuple(found[name].shape) != tuple(expected[name].shape)
    ]
    parts = []
    if reshaped:
        parts.append(f"{len(reshaped)} of another shape: {listed(reshaped)}")
    if missing:
        parts.append(f"{len(missing)} missing: {listed(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected: {listed(unexpected)}")
    return "; ".join(parts)
