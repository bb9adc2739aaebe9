"""Model files and datasets: a local mirror, a download cache, and checksums for both.

A model is a named set of files, each with the URL it is downloaded from and its sha256.
:meth:`ModelStore.fetch` looks for a file in this order:

1. the local mirror ``$VCM_MIRROR/models/<model>/<file>`` (used in place, never copied);
2. the cache ``$VCM_CACHE/models/<model>/<file>`` (default cache: ``~/.cache/vcm``);
3. a download into the cache (skipped when ``VCM_OFFLINE=1``).

Every file is checked against its sha256 before use. Datasets are only looked up in the
mirror, as ``$VCM_MIRROR/datasets/<name>/``.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from tqdm import tqdm

from vcm.errors import VcmError
from vcm.fileio import atomic_output

LOG = logging.getLogger(__name__)

CACHE_VARIABLE = "VCM_CACHE"
MIRROR_VARIABLE = "VCM_MIRROR"
OFFLINE_VARIABLE = "VCM_OFFLINE"

_CHUNK_BYTES = 1 << 20
_DOWNLOAD_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: its ``filename``, the ``url`` to download it from, its ``sha256``."""

    filename: str
    url: str
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """A named model: the files it needs and where they come from.

    ``files`` maps each filename to its :class:`ModelFile` (iterating gives the filenames);
    a sequence of :class:`ModelFile` is accepted and turned into that mapping.
    """

    name: str
    files: Mapping[str, ModelFile]
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.files, Mapping):
            files = {model_file.filename: model_file for model_file in self.files}
            object.__setattr__(self, "files", files)

    def file(self, filename: str) -> ModelFile:
        try:
            return self.files[filename]
        except KeyError:
            known = ", ".join(self.files)
            raise VcmError(
                f"model {self.name!r} has no file {filename!r}; its files are: {known}"
            ) from None


_YOLO_FASTEST_URL = (
    "https://raw.githubusercontent.com/dog-qiuqiu/Yolo-Fastest/"
    "96a2900d163196c396e73f3fdab04ca4dd9a2f70/ModelZoo"
)

YOLO_FASTEST = ModelSpec(
    name="yolo-fastest",
    description=(
        "Yolo-Fastest v1.1 Darknet models (YOLO License v2), github.com/dog-qiuqiu/Yolo-Fastest"
    ),
    files=(
        # The person-only model has its own folder; both COCO models share yolo-fastest-1.1_coco/.
        ModelFile(
            "yolo-fastest-1.1_body.cfg",
            f"{_YOLO_FASTEST_URL}/yolo-fastest-1.1_body/yolo-fastest-1.1_body.cfg",
            "045b8e276ebe3924474da8c866b7e709159ea067137b5d66bf9dd560411b2c1a",
        ),
        ModelFile(
            "yolo-fastest-1.1_body.weights",
            f"{_YOLO_FASTEST_URL}/yolo-fastest-1.1_body/yolo-fastest-1.1_body.weights",
            "5bbb6d878f6e2eb3deee39e91dc6f9b39700e99ec83fa94d258670a554949728",
        ),
        ModelFile(
            "yolo-fastest-1.1.cfg",
            f"{_YOLO_FASTEST_URL}/yolo-fastest-1.1_coco/yolo-fastest-1.1.cfg",
            "f6df5775c1e862998cf69046eba9265be3ae84dfe8b2caab7529823f0795bf70",
        ),
        ModelFile(
            "yolo-fastest-1.1.weights",
            f"{_YOLO_FASTEST_URL}/yolo-fastest-1.1_coco/yolo-fastest-1.1.weights",
            "1c445c42bbd6df63edea2cc69f99667b5650d663ca11e34b116240740cd42890",
        ),
        ModelFile(
            "yolo-fastest-1.1-xl.cfg",
            f"{_YOLO_FASTEST_URL}/yolo-fastest-1.1_coco/yolo-fastest-1.1-xl.cfg",
            "c458427acc4fbeabceff4528ef7b65b066c0308ce599460f8ba299eba63abad3",
        ),
        ModelFile(
            "yolo-fastest-1.1-xl.weights",
            f"{_YOLO_FASTEST_URL}/yolo-fastest-1.1_coco/yolo-fastest-1.1-xl.weights",
            "fac5fb41786c1f38f04972a658443b189f48720d7d117f9a044100e98a35b0c5",
        ),
    ),
)

MODELS: dict[str, ModelSpec] = {YOLO_FASTEST.name: YOLO_FASTEST}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the catalogue :data:`MODELS` that stores use by default."""
    if spec.name in MODELS:
        raise ValueError(f"model {spec.name!r} is registered twice")
    MODELS[spec.name] = spec
    return spec


_SHA256_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path``.

    Memoised on (absolute path, size, modification time) so that a weights file is hashed
    once per process however many detectors load it, while a replaced file is hashed again.
    """
    path = Path(path).absolute()
    status = path.stat()
    key = (str(path), status.st_size, status.st_mtime_ns)
    digest = _SHA256_MEMO.get(key)
    if digest is None:
        hasher = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
                hasher.update(chunk)
        digest = hasher.hexdigest()
        _SHA256_MEMO[key] = digest
    return digest


def _environment_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def default_cache_dir() -> Path:
    """``$VCM_CACHE`` if set, else ``~/.cache/vcm``."""
    configured = os.environ.get(CACHE_VARIABLE)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "vcm"


class ModelStore:
    """Finds, verifies and downloads model files; finds datasets in the mirror.

    Arguments left as ``None`` are read from the environment when the store is built:
    ``cache_dir`` from ``VCM_CACHE`` (default ``~/.cache/vcm``), ``mirror_dir`` from
    ``VCM_MIRROR`` (default: no mirror), ``offline`` from ``VCM_OFFLINE`` (``1`` = never
    download). ``models`` defaults to the catalogue :data:`MODELS`.
    """

    def __init__(
        self,
        *,
        cache_dir: str | os.PathLike | None = None,
        mirror_dir: str | os.PathLike | None = None,
        offline: bool | None = None,
        models: Mapping[str, ModelSpec] | None = None,
        progress: bool = True,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        if mirror_dir is None and os.environ.get(MIRROR_VARIABLE):
            mirror_dir = Path(os.environ[MIRROR_VARIABLE]).expanduser()
        self.mirror_dir = Path(mirror_dir) if mirror_dir is not None else None
        self.offline = _environment_flag(OFFLINE_VARIABLE) if offline is None else offline
        self.models = MODELS if models is None else models
        self.progress = progress

    @classmethod
    def from_environment(cls, *, progress: bool = True) -> "ModelStore":
        """A store configured by ``VCM_CACHE``, ``VCM_MIRROR`` and ``VCM_OFFLINE`` alone."""
        return cls(progress=progress)

    def spec(self, model: str) -> ModelSpec:
        try:
            return self.models[model]
        except KeyError:
            raise VcmError(
                f"unknown model {model!r}; known models: {', '.join(sorted(self.models))}"
            ) from None

    def cache_path(self, model: str, filename: str) -> Path:
        """Where the cache keeps ``filename`` of ``model``."""
        return self.cache_dir / "models" / model / filename

    def mirror_path(self, model: str, filename: str) -> Path | None:
        """Where the mirror would hold ``filename`` of ``model``; ``None`` without a mirror."""
        if self.mirror_dir is None:
            return None
        return self.mirror_dir / "models" / model / filename

    def fetch(self, model: str, filename: str) -> Path:
        """Path of a verified copy of ``filename`` of ``model``: mirror, cache, or download.

        Raises :class:`VcmError` on a checksum mismatch in the mirror, a failed or corrupt
        download, or when the file is nowhere and cannot be downloaded; the message says
        where to put the file and where to get it.
        """
        model_file = self.spec(model).file(filename)
        mirror_path = self.mirror_path(model, filename)
        if mirror_path is not None and mirror_path.is_file():
            self._verify(mirror_path, model_file, where="mirror")
            return mirror_path

        cache_path = self.cache_path(model, filename)
        if cache_path.is_file():
            if file_sha256(cache_path) == model_file.sha256:
                return cache_path
            # Downloads are renamed into place only after their checksum passed, so a
            # mismatch here means the file was replaced by hand: fetch a good copy.
            LOG.warning("%s: sha256 mismatch, removing the cached copy", cache_path)
            cache_path.unlink()

        if self.offline:
            raise VcmError(
                self._missing_message(
                    model, model_file, f"not found and {OFFLINE_VARIABLE} forbids downloading"
                )
            )
        self._download(model, model_file, cache_path)
        return cache_path

    def dataset(self, name: str) -> Path:
        """Folder ``$VCM_MIRROR/datasets/<name>``; :class:`VcmError` if there is none."""
        if self.mirror_dir is None:
            raise VcmError(
                f"dataset {name!r}: no local mirror; set {MIRROR_VARIABLE} to a folder that "
                f"holds datasets/{name}/"
            )
        path = self.mirror_dir / "datasets" / name
        if not path.is_dir():
            raise VcmError(
                f"dataset {name!r} not found: expected the folder {path} "
                f"(mirror from {MIRROR_VARIABLE}={self.mirror_dir})"
            )
        return path

    def _verify(self, path: Path, model_file: ModelFile, *, where: str) -> None:
        actual = file_sha256(path)
        if actual != model_file.sha256:
            raise VcmError(
                f"{path}: sha256 mismatch in the {where} (got {actual}, expected "
                f"{model_file.sha256}); replace it with a good copy from {model_file.url}"
            )

    def _missing_message(self, model: str, model_file: ModelFile, reason: str) -> str:
        cache_path = self.cache_path(model, model_file.filename)
        mirror_path = self.mirror_path(model, model_file.filename)
        if mirror_path is None:
            mirror_hint = (
                f"  ${MIRROR_VARIABLE}/models/{model}/{model_file.filename} "
                f"(no mirror is set: set {MIRROR_VARIABLE})"
            )
        else:
            mirror_hint = f"  {mirror_path} (mirror, {MIRROR_VARIABLE})"
        return (
            f"model file {model}/{model_file.filename}: {reason}.\n"
            f"Download it from {model_file.url}\n"
            f"(sha256 {model_file.sha256}) and put it at either\n"
            f"  {cache_path} (cache, {CACHE_VARIABLE})\n"
            f"{mirror_hint}"
        )

    def _download(self, model: str, model_file: ModelFile, cache_path: Path) -> None:
        LOG.info("downloading %s to %s", model_file.url, cache_path)
        try:
            with atomic_output(cache_path) as partial_path:
                self._download_to(model_file, partial_path)
                actual = file_sha256(partial_path)
                if actual != model_file.sha256:
                    raise VcmError(
                        f"{model_file.url}: downloaded file has sha256 {actual}, expected "
                        f"{model_file.sha256}; nothing was cached"
                    )
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as error:
            raise VcmError(
                self._missing_message(model, model_file, f"download failed ({error})")
            ) from None

    def _download_to(self, model_file: ModelFile, path: Path) -> None:
        with urllib.request.urlopen(model_file.url, timeout=_DOWNLOAD_TIMEOUT_SECONDS) as response:
            length_header = response.headers.get("Content-Length")
            expected = int(length_header) if length_header else None
            received = 0
            with (
                open(path, "wb") as handle,
                tqdm(
                    total=expected, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=model_file.filename, file=sys.stderr, disable=not self.progress,
                ) as bar,
            ):
                while chunk := response.read(_CHUNK_BYTES):
                    handle.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        # http.client returns a short body without complaint when the server hangs up early.
        if expected is not None and received != expected:
            raise OSError(f"connection closed after {received} of {expected} bytes")
