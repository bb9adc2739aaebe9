"""Model files and datasets: a local mirror, a download cache, and checksums for both.

A model is a named set of files, each with the URL it is downloaded from and the checksum its
publisher gives. :meth:`ModelStore.fetch` looks for a file in this order:

1. the local mirror ``$VCM_MIRROR/models/<model>/<file>`` (used in place, never copied);
2. the cache ``$VCM_CACHE/models/<model>/<file>`` (default cache: ``~/.cache/vcm``);
3. a download into the cache (skipped when ``VCM_OFFLINE=1``).

Every file is checked before use against one of three kinds of checksum
(:attr:`ModelFile.checksum_kind`):

* ``sha256``: the full 64-hex-digit digest must match;
* ``sha256 prefix``: the digest must start with the published prefix (at least 8 hex digits,
  as torchvision and OpenMMLab put in their file names);
* none published (detectron2's model zoo): the first download is trusted and its digest is
  pinned in ``<file>.sha256`` beside the cached file; later uses must match the pin.

Datasets are only looked up in the mirror, as ``$VCM_MIRROR/datasets/<name>/``.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from tqdm import tqdm

from vcm.errors import VcmError
from vcm.fileio import atomic_output
from vcm.registry import Option

LOG = logging.getLogger(__name__)

CACHE_VARIABLE = "VCM_CACHE"
MIRROR_VARIABLE = "VCM_MIRROR"
OFFLINE_VARIABLE = "VCM_OFFLINE"

PIN_SUFFIX = ".sha256"

_CHUNK_BYTES = 1 << 20
_DOWNLOAD_TIMEOUT_SECONDS = 60.0
_SHA256_HEX_DIGITS = 64
_MIN_PREFIX_HEX_DIGITS = 8
_PUBLISHED_SHA256 = re.compile(f"[0-9a-f]{{{_MIN_PREFIX_HEX_DIGITS},{_SHA256_HEX_DIGITS}}}")
_FULL_SHA256 = re.compile(f"[0-9a-f]{{{_SHA256_HEX_DIGITS}}}")


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: its ``filename``, the ``url`` to download it from, its ``sha256``.

    ``sha256`` is what the publisher gives: the full digest (64 lowercase hex digits), a
    prefix of it (8 to 63 lowercase hex digits, matched against the start of the digest), or
    ``None`` when nothing is published (the first download is pinned; see :class:`ModelStore`).
    """

    filename: str
    url: str
    sha256: str | None

    def __post_init__(self) -> None:
        if self.sha256 is None:
            return
        if not isinstance(self.sha256, str) or not _PUBLISHED_SHA256.fullmatch(self.sha256):
            raise ValueError(
                f"model file {self.filename!r}: sha256 {self.sha256!r} is not a checksum; give "
                f"the full digest ({_SHA256_HEX_DIGITS} lowercase hex digits), a published "
                f"prefix of at least {_MIN_PREFIX_HEX_DIGITS} lowercase hex digits, or None "
                "when none is published"
            )

    @property
    def checksum_kind(self) -> str:
        """``"sha256"``, ``"sha256 prefix"`` or ``"none (pinned on first download)"``."""
        if self.sha256 is None:
            return "none (pinned on first download)"
        if len(self.sha256) == _SHA256_HEX_DIGITS:
            return "sha256"
        return "sha256 prefix"


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


def weights_record(model_file: ModelFile, path: str | os.PathLike | None, *, source: str,
                   seed: int) -> str | dict:
    """What a run record says of a network's weights: ``"random (seed N)"`` when it was built
    without a weights file (``path`` None), else the file's ``source``, URL, name and sha256."""
    if path is None:
        return f"random (seed {seed})"
    return {"source": source, "url": model_file.url, "file": model_file.filename,
            "sha256": file_sha256(path)}


def _matches_published(model_file: ModelFile, digest: str) -> bool:
    # A full digest is its own (64-digit) prefix, so one test covers both published kinds.
    return model_file.sha256 is not None and digest.startswith(model_file.sha256)


def _expected_text(model_file: ModelFile) -> str:
    # What follows "expected" in a mismatch message; only published checksums can mismatch.
    if model_file.checksum_kind == "sha256 prefix":
        return f"a digest starting with the published prefix {model_file.sha256}"
    return str(model_file.sha256)


def _published_text(model_file: ModelFile) -> str:
    if model_file.sha256 is None:
        return "no published checksum; its sha256 is pinned on first download"
    if model_file.checksum_kind == "sha256 prefix":
        return f"sha256 starting with {model_file.sha256}"
    return f"sha256 {model_file.sha256}"


def pin_path(path: str | os.PathLike) -> Path:
    """The pin file ``<path>.sha256`` that holds the trusted digest of a cached file."""
    path = Path(path)
    return path.with_name(path.name + PIN_SUFFIX)


def read_pin(path: str | os.PathLike) -> str | None:
    """The digest pinned for the file at ``path``; ``None`` if it has no pin file.

    Raises :class:`VcmError` when the pin file does not start with a full hex sha256.
    """
    pin = pin_path(path)
    try:
        text = pin.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    fields = text.split()
    if not fields or not _FULL_SHA256.fullmatch(fields[0]):
        raise VcmError(f"{pin}: not a sha256 pin (expected 64 lowercase hex digits first)")
    return fields[0]


def _write_pin(path: Path, digest: str) -> None:
    # The layout of ``sha256sum`` output, so ``sha256sum -c <file>.sha256`` checks it by hand.
    pin = pin_path(path)
    try:
        with atomic_output(pin) as partial_pin:
            partial_pin.write_text(f"{digest}  {path.name}\n", encoding="ascii")
    except OSError as error:
        raise VcmError(f"{pin}: cannot write the sha256 pin of {path.name} ({error})") from None


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

    Files without a published checksum are trusted on first use, and the trust is written
    down: a download writes the pin file ``<file>.sha256`` first and only then renames the data
    file into place, so every data file this store cached has its pin. A pin without its data
    file (a run stopped between the two renames) is removed before the next download; a
    cached file without a pin was put there by hand and is pinned, with a warning, on first
    use. A cached file that no longer matches its pin is removed with its pin and downloaded
    again. A mirror file without a checksum is used in place with a warning naming its digest.
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

    def places(self, model: str, filename: str) -> str:
        """Where this store looks for ``filename`` of ``model``, for a message: the mirror
        (``$VCM_MIRROR``, or that none is set) and the cache (``$VCM_CACHE``)."""
        cache = f"the cache {self.cache_path(model, filename)} (${CACHE_VARIABLE})"
        mirror = self.mirror_path(model, filename)
        if mirror is None:
            return (f"{cache}, and no mirror is set (${MIRROR_VARIABLE}: a folder with "
                    f"models/{model}/{filename})")
        return f"the mirror {mirror} (${MIRROR_VARIABLE}) or {cache}"

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
            if self._cached_copy_is_good(model_file, cache_path):
                return cache_path
        elif model_file.sha256 is None:
            # A pin without its data file is left by a run stopped between the two renames.
            pin_path(cache_path).unlink(missing_ok=True)

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
        if model_file.sha256 is None:
            LOG.warning(
                "%s: no published checksum, using the %s copy as is (sha256 %s)",
                path, where, actual,
            )
        elif not _matches_published(model_file, actual):
            raise VcmError(
                f"{path}: sha256 mismatch in the {where} (got {actual}, expected "
                f"{_expected_text(model_file)}); replace it with a good copy from "
                f"{model_file.url}"
            )

    def _cached_copy_is_good(self, model_file: ModelFile, cache_path: Path) -> bool:
        """Whether the cached file matches its checksum or pin; removes it (and its pin) if not."""
        actual = file_sha256(cache_path)
        if model_file.sha256 is not None:
            if _matches_published(model_file, actual):
                return True
            # Downloads are renamed into place only after their checksum passed, so a
            # mismatch here means the file was replaced by hand: fetch a good copy.
            LOG.warning("%s: sha256 mismatch, removing the cached copy", cache_path)
            cache_path.unlink()
            return False
        try:
            pinned = read_pin(cache_path)
        except VcmError as error:
            LOG.warning("%s; removing it and %s", error, cache_path)
        else:
            if pinned is None:
                LOG.warning(
                    "%s: no published checksum and no pin (placed by hand?); pinning sha256 "
                    "%s in %s", cache_path, actual, pin_path(cache_path),
                )
                _write_pin(cache_path, actual)
                return True
            if actual == pinned:
                return True
            LOG.warning(
                "%s: sha256 %s does not match its pin %s (%s); removing both",
                cache_path, actual, pin_path(cache_path), pinned,
            )
        cache_path.unlink()
        pin_path(cache_path).unlink()
        return False

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
            f"({_published_text(model_file)}) and put it at either\n"
            f"  {cache_path} (cache, {CACHE_VARIABLE})\n"
            f"{mirror_hint}"
        )

    def _download(self, model: str, model_file: ModelFile, cache_path: Path) -> None:
        LOG.info("downloading %s to %s", model_file.url, cache_path)
        try:
            with atomic_output(cache_path) as partial_path:
                self._download_to(model_file, partial_path)
                actual = file_sha256(partial_path)
                if model_file.sha256 is None:
                    # Pin before the data file is renamed into place (see the class docstring).
                    LOG.warning(
                        "%s: no published checksum; trusting this download and pinning sha256 "
                        "%s in %s", model_file.url, actual, pin_path(cache_path),
                    )
                    _write_pin(cache_path, actual)
                elif not _matches_published(model_file, actual):
                    raise VcmError(
                        f"{model_file.url}: downloaded file has sha256 {actual}, expected "
                        f"{_expected_text(model_file)}; nothing was cached"
                    )
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as error:
            raise VcmError(
                self._missing_message(model, model_file, f"download failed ({error})")
            ) from None
        finally:
            # After a failed download, a pin written for it has no data file.
            self._remove_orphan_pin(model_file, cache_path)

    @staticmethod
    def _remove_orphan_pin(model_file: ModelFile, cache_path: Path) -> None:
        if model_file.sha256 is None and not cache_path.exists():
            pin_path(cache_path).unlink(missing_ok=True)

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


STORE = Option(ModelStore, optional=True, help="model store (from code only)")
"""The ``store`` option of the backends that load model files: a :class:`ModelStore` given
from code (tests, a custom cache); configs never set it."""
