"""Optional deep-learning frameworks: which backend needs which, how to install them, devices.

The paper-grade backends (``torchvision`` and ``detectron2`` detectors, ``hrnet`` pose, ``sam``
and ``detectron2-mask`` segmenters) are always registered, so a config that names them
validates everywhere; they import their framework only when built.
:func:`missing_requirements` tells, without importing anything, which modules are absent;
:func:`broken_requirements` imports the few whose presence is not enough
(:data:`IMPORT_CHECKS`); :func:`require` turns both into one error that says how to install
them (docs/install.md, "Paper-grade backends").
"""

from __future__ import annotations

import importlib
import importlib.util
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

from vcm.errors import VcmError
from vcm.logs import quiet_native_stderr

INSTALL_HINTS = {
    "torch": "make install-torch",
    "torchvision": "make install-torch",
    "mmpose": "make install-mmpose",
    "mmcv": "make install-mmpose",
    "mmengine": "make install-mmpose",
    "mmdet": "make install-mmpose",
    "segment_anything": "make install-sam",
    # detectron2's dependency tensorboard pulls protobuf >= 6, which breaks mediapipe
    # 0.10.21; its model_zoo imports pkg_resources, which setuptools 81 removed.
    "detectron2": "pip install --no-build-isolation "
                  "'git+https://github.com/facebookresearch/detectron2.git' "
                  "'protobuf>=4.25.3,<5' 'setuptools<81' (after torch)",
}
"""For each optional top-level module, the command that installs it."""

IMPORT_CHECKS = {"detectron2": "detectron2.model_zoo"}
"""Modules that can be present yet fail to import, and the submodule whose import is the check
(``detectron2.model_zoo`` imports ``pkg_resources``, gone in setuptools >= 81)."""


def module_available(module: str) -> bool:
    """Whether ``module`` (a dotted name) can be imported, found without importing it.

    For a dotted name the parent package is imported to look inside it (``mmcv._ext`` imports
    ``mmcv``); a missing parent means the module is missing.
    """
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_requirements(modules: Iterable[str]) -> list[str]:
    """The modules of ``modules`` that cannot be imported, in the given order."""
    return [module for module in modules if not module_available(module)]


def import_problem(module: str) -> str | None:
    """Why the installed ``module`` fails to import its :data:`IMPORT_CHECKS` submodule, or
    ``None`` (also when it is absent or has no check). Importing it loads the framework."""
    probe = IMPORT_CHECKS.get(module)
    if probe is None or not module_available(module):
        return None
    try:
        importlib.import_module(probe)
    except Exception as error:  # an install can break any way: each is the same problem
        return f"importing {probe} fails ({type(error).__name__}: {error})"
    return None


def broken_requirements(modules: Iterable[str]) -> dict[str, str]:
    """The modules of ``modules`` that are installed but fail to import, with the reason."""
    problems = {module: import_problem(module) for module in modules}
    return {module: problem for module, problem in problems.items() if problem is not None}


def install_hint(module: str) -> str:
    """How to install ``module`` (looked up by its top-level package)."""
    top = module.split(".")[0]
    return INSTALL_HINTS.get(top, f"pip install {top}")


def requirement_message(backend: str, missing: list[str]) -> str:
    """What ``backend`` needs of ``missing`` and the commands that install it (README,
    "Paper-grade backends")."""
    return f"{backend} needs {', '.join(missing)}, not installed: " + install_lines(missing)


def install_commands(missing: Iterable[str]) -> dict[str, list[str]]:
    """The commands that install ``missing``, each with the modules it installs, in order."""
    commands: dict[str, list[str]] = {}
    for module in missing:
        commands.setdefault(install_hint(module), []).append(module)
    return commands


def install_lines(missing: Iterable[str]) -> str:
    """The install commands for ``missing``, one per command, each naming its modules."""
    return "; ".join(f"{', '.join(modules)}: {command}"
                     for command, modules in install_commands(missing).items())


def broken_message(backend: str, broken: dict[str, str]) -> str:
    """What of ``broken`` (module -> reason) fails for ``backend`` and how to reinstall it."""
    reasons = "; ".join(f"{module} is installed but {reason}" for module, reason in broken.items())
    return f"{backend}: {reasons}; reinstall: {install_lines(broken)}"


def require(backend: str, modules: Iterable[str]) -> None:
    """Raise :class:`VcmError` naming every module of ``modules`` that is missing for
    ``backend``, or installed but failing to import, and how to install it."""
    modules = list(modules)
    missing = missing_requirements(modules)
    if missing:
        raise VcmError(requirement_message(backend, missing))
    broken = broken_requirements(modules)
    if broken:
        raise VcmError(broken_message(backend, broken))


class MediaPipe(NamedTuple):
    """The imported ``mediapipe`` package, its version (for run records) and the folder of
    the models its wheel bundles (``modules/``)."""

    package: Any
    version: str
    modules: Path


def import_mediapipe(user: str) -> MediaPipe:
    """Import MediaPipe for ``user`` (the backend, as said in errors), its native log lines
    kept off the console from now on (:func:`vcm.logs.quiet_native_stderr`). Without it, a
    :class:`VcmError` "``user`` needs mediapipe (why)"."""
    quiet_native_stderr()
    try:
        import mediapipe
    except ImportError as error:
        raise VcmError(f"{user} needs mediapipe ({error})") from None
    return MediaPipe(mediapipe, mediapipe.__version__, Path(mediapipe.__file__).parent / "modules")


def select_device(device: str) -> Any:
    """The ``torch.device`` for ``device``: ``auto`` (CUDA when present, else CPU), ``cpu``,
    ``cuda`` or ``cuda:N``. Asking for CUDA where there is none is a :class:`VcmError`."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise VcmError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise VcmError(f"device {device!r} asked for, but torch {torch.__version__} sees no "
                           "CUDA device; use device: auto or cpu")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise VcmError(f"device {device!r} asked for, but there are only "
                           f"{torch.cuda.device_count()} CUDA devices")
    elif chosen.type != "cpu":
        raise VcmError(f"unsupported device {device!r}; use auto, cpu, cuda or cuda:N")
    return chosen


def describe_device(device: Any) -> dict:
    """Device, its name and the torch build, for run records."""
    import torch

    record = {
        "device": str(device),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        record["device_name"] = torch.cuda.get_device_name(device)
    return record


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside the block torch's CPU random generator starts from ``seed``; it is restored
    after, so a randomly initialised model is the same in every run and other users of the
    generator are not disturbed."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def load_state_dict(model: Any, path: Any, model_name: str) -> None:
    """Load the checkpoint at ``path`` into the torch ``model``, strictly: a bare state dict (as
    Meta publishes SAM's) or a dict holding it under ``state_dict`` (as mmpose saves). The file
    is read with ``weights_only=True`` (tensors and plain containers only). A file that is not
    a checkpoint, holds no state dict, or does not fit ``model_name`` is a :class:`VcmError`
    naming it."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (unpickling raises many kinds)
        raise VcmError(f"{path}: not a readable checkpoint ({error})") from None
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise VcmError(f"{path}: holds no state dict")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise VcmError(f"{path}: does not fit {model_name} ({error})") from None
