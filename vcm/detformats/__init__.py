"""Detection file formats, looked up by name in :data:`DETECTION_FORMATS`.

``voc-zip`` is the paper's zipped Pascal-VOC XML (:mod:`vcm.detformats.voc_zip`); ``vcmd`` is
vcm's compact binary format (:mod:`vcm.detformats.vcmd`, ``docs/detection-format.md``).
:func:`read_detections` recognises a file's format by its first bytes, never by its name, so
every stage takes every format; :func:`write_detections` writes the one asked for.
A new format is one module with one class registered here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vcm.detections import DetectionSequence
from vcm.detformats import vcmd, voc_zip
from vcm.errors import VcmError
from vcm.fileio import input_file
from vcm.registry import Registry


class DetectionFormat:
    """A detection file format: its name, file extension, how to recognise, read and write it.

    Attributes:
        name: registry name.
        extension: file extension with the dot (``.zip``).
        magics: the byte strings a file of this format starts with.
        options: the writer's keyword options and their defaults.
    """

    name: str
    extension: str
    magics: tuple[bytes, ...]
    options: dict[str, object] = {}
    reader: Callable[[Path], DetectionSequence]
    writer: Callable[..., None]

    def read(self, path: Path) -> DetectionSequence:
        return type(self).reader(path)

    def write(self, sequence: DetectionSequence, path: Path, **options) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(self.options) or "none"
            raise VcmError(f"detection format {self.name!r} has no option {unknown[0]!r} "
                           f"(options: {known})")
        type(self).writer(sequence, path, **options)


DETECTION_FORMATS: Registry[DetectionFormat] = Registry("detection format")

DEFAULT_FORMAT = "vcmd"
"""What :func:`write_detections` writes unless told otherwise: the compact format, 4 bytes
per box instead of about 120 on PETS09-S3MF1 (docs/formats.md, "Detection formats")."""


@DETECTION_FORMATS.register("voc-zip")
class VocZipFormat(DetectionFormat):
    """The paper's zipped Pascal-VOC XML, one document per frame."""

    name = "voc-zip"
    extension = ".zip"
    # A local file header, or the end-of-directory record of an empty zip (which the reader
    # rejects with its own message).
    magics = (b"PK\x03\x04", b"PK\x05\x06")
    options = {}
    reader = staticmethod(voc_zip.read_detections_zip)
    writer = staticmethod(voc_zip.write_detections_zip)


@DETECTION_FORMATS.register("vcmd")
class VcmdFormat(DetectionFormat):
    """vcm's compact binary format: quantised, predicted, LZMA2-coded boxes."""

    name = "vcmd"
    extension = ".vcmd"
    magics = (vcmd.MAGIC,)
    options = {"step": 1.0, "score_bits": 8}
    reader = staticmethod(vcmd.read_vcmd)
    writer = staticmethod(vcmd.write_vcmd)


def get_format(name: str) -> DetectionFormat:
    """The registered format ``name``; :class:`VcmError` listing the names otherwise."""
    return DETECTION_FORMATS.build(name)


def all_formats() -> list[DetectionFormat]:
    return [get_format(name) for name in DETECTION_FORMATS.names()]


def format_of_file(path: Path) -> DetectionFormat:
    """The format of the detection file ``path``, from its first bytes."""
    path = input_file(path)
    with path.open("rb") as stream:
        head = stream.read(8)
    for detection_format in all_formats():
        if head.startswith(detection_format.magics):
            return detection_format
    names = ", ".join(f"{each.name} ({each.extension})" for each in all_formats())
    raise VcmError(f"{path}: not a detection file: unrecognised content (first bytes "
                   f"{head[:4]!r}); formats: {names}")


def format_for_output(path: Path, name: str | None = None) -> DetectionFormat:
    """The format to write ``path`` in: ``name`` if given, else the one whose extension
    ``path`` has, else :data:`DEFAULT_FORMAT`."""
    if name is not None:
        return get_format(name)
    for detection_format in all_formats():
        if Path(path).suffix.lower() == detection_format.extension:
            return detection_format
    return get_format(DEFAULT_FORMAT)


def read_detections(path: Path) -> DetectionSequence:
    """Read the detection file ``path`` in whatever registered format its content is."""
    return format_of_file(path).read(Path(path))


def write_detections(sequence: DetectionSequence, path: Path, *, format: str = DEFAULT_FORMAT,
                     **options) -> None:
    """Write ``sequence`` at ``path`` in ``format`` with that format's ``options``
    (``vcmd``: ``step`` in pixels, ``score_bits``), atomically."""
    get_format(format).write(sequence, Path(path), **options)


def detection_stats(path: Path) -> dict:
    """``{"file", "format", "frames", "boxes", "bytes", "bytes_per_box"}`` of a detection file;
    ``bytes_per_box`` is None when it holds no box."""
    detection_format = format_of_file(path)
    sequence = detection_format.read(Path(path))
    size = Path(path).stat().st_size
    return {
        "file": str(path),
        "format": detection_format.name,
        "frames": len(sequence),
        "boxes": sequence.count,
        "bytes": size,
        "bytes_per_box": size / sequence.count if sequence.count else None,
    }


def detections_record(path: Path) -> dict:
    """:func:`detection_stats` of ``path`` plus ``bytes_by_format``: the bytes the same
    detections take in every registered format at its default options (what a point's
    format comparison reads)."""
    import tempfile

    record = detection_stats(path)
    sequence = read_detections(path)
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="vcm-formats-") as folder:
        for detection_format in all_formats():
            converted = Path(folder) / f"detections{detection_format.extension}"
            detection_format.write(sequence, converted)
            sizes[detection_format.name] = converted.stat().st_size
    sizes[record["format"]] = record["bytes"]  # the file itself, whatever its options
    return {**record, "bytes_by_format": sizes}


__all__ = [
    "DEFAULT_FORMAT",
    "DETECTION_FORMATS",
    "DetectionFormat",
    "all_formats",
    "detection_stats",
    "detections_record",
    "format_for_output",
    "format_of_file",
    "get_format",
    "read_detections",
    "write_detections",
]
