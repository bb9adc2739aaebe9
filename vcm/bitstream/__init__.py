"""Detections inside the coded bitstream: H.274 annotated regions SEI messages in the Annex-B
stream of VVC (``.266``) and HEVC (``.265``), so one file carries video and detections.

* :mod:`vcm.bitstream.bits`: bit reader/writer (``u(n)``, ``ue(v)``, ``st(v)``);
* :mod:`vcm.bitstream.annexb`: NAL units, emulation prevention, pictures, POC, output order;
* :mod:`vcm.bitstream.annotated_regions`: the SEI payload syntax and its persistence;
* :mod:`vcm.bitstream.embedded`: :func:`embed_detections` / :func:`extract_detections`.
"""

from vcm.bitstream.embedded import (
    DEFAULT_CONFIDENCE_BITS,
    EmbedRecord,
    count_pictures,
    embed_detections,
    embed_into_stream,
    extract_detections,
    extract_from_stream,
    quantise_detections,
)

__all__ = [
    "DEFAULT_CONFIDENCE_BITS",
    "EmbedRecord",
    "count_pictures",
    "embed_detections",
    "embed_into_stream",
    "extract_detections",
    "extract_from_stream",
    "quantise_detections",
]
