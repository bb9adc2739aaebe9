"""Video codecs, looked up by name in :data:`CODECS` (``vvenc``, ``x265``, ``vtm``, ``ffv1``).

Importing this package imports every codec module, which registers it. The wrappers only
build argv lists; :func:`encode_video` and :func:`decode_video` run them.
"""

from vcm.codecs.base import CODECS, Codec, build_codec, padded_size
from vcm.codecs import ffv1, vtm, vvenc, x265  # noqa: F401  (registration)
from vcm.codecs.pipeline import (
    DecodeResult,
    EncodeResult,
    decode_video,
    encode_video,
    sidecar_path,
)

__all__ = [
    "CODECS",
    "Codec",
    "DecodeResult",
    "EncodeResult",
    "build_codec",
    "decode_video",
    "encode_video",
    "padded_size",
    "sidecar_path",
]
