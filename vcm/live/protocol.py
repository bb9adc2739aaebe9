"""The live protocol over one TCP connection (specified in docs/live.md).

Edge to server: one hello line, ``VCMLIVE/1 `` and a JSON object, ending in ``\\n``; then the
Annex-B byte stream itself (H.266 or H.265, every access unit led by an access unit
delimiter and ended by a decoded picture hash SEI, each frame's detections in it as an
annotated regions SEI); then the edge half-closes the connection (end of stream).

Server to edge: JSON lines (UTF-8, one object each, ``\\n``-terminated): first ``accepted``
(or ``error``, after which the server closes), then one ``frame`` per frame in order, then
``end``. Every line is at most :data:`MAX_LINE_BYTES`.
"""

from __future__ import annotations

import hmac
import json
import math
import socket
from dataclasses import dataclass

from vcm.errors import VcmError

MAGIC = b"VCMLIVE/1 "
MAX_HELLO_BYTES = 4096
"""Longest hello line, newline included."""
MAX_LINE_BYTES = 16 << 20
"""Longest results line (a frame's masks as RLE can be large), newline included."""
MAX_FRAME_SIDE = 8192
MAX_FPS = 1000.0
HELLO_FIELDS = {"token", "codec", "options", "qp", "width", "height", "fps"}
CODEC_OPTIONS = {"preset", "intra_period", "threads", "params", "tune"}


class ProtocolError(VcmError):
    """The peer broke the protocol (wrong greeting, bad JSON, a line too long, ...)."""


@dataclass(frozen=True)
class Hello:
    """What the edge announces before its stream.

    Attributes:
        codec: ``vvenc`` or ``x265``; options: its keyword arguments (``preset``,
            ``intra_period``, ``threads``, ``params``, ``tune``); qp: the QP.
        width, height: frame size in pixels (the decoded pictures are cropped to it).
        fps: frames per second of the source.
        token: the shared secret, or ``None``.
    """

    codec: str
    options: dict
    qp: int
    width: int
    height: int
    fps: float
    token: str | None = None

    def to_line(self) -> bytes:
        body = {"codec": self.codec, "options": self.options, "qp": self.qp,
                "width": self.width, "height": self.height, "fps": self.fps,
                "token": self.token}
        line = MAGIC + json.dumps(body, sort_keys=True).encode() + b"\n"
        if len(line) > MAX_HELLO_BYTES:
            raise VcmError(f"the hello line would be {len(line)} bytes; at most {MAX_HELLO_BYTES}")
        return line

    @classmethod
    def parse(cls, line: bytes) -> Hello:
        """The hello of ``line`` (newline included); raises :class:`ProtocolError`."""
        if not line.startswith(MAGIC):
            raise ProtocolError("not a vcm live stream (the connection must open with "
                                f"{MAGIC.decode().strip()!r})")
        try:
            body = json.loads(line[len(MAGIC):].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ProtocolError("the hello line is not a JSON object") from None
        if not isinstance(body, dict) or set(body) != HELLO_FIELDS:
            raise ProtocolError(f"the hello must have exactly the fields {sorted(HELLO_FIELDS)}")
        options = body["options"]
        if not isinstance(options, dict) or not set(options) <= CODEC_OPTIONS:
            raise ProtocolError(f"hello options must be some of {sorted(CODEC_OPTIONS)}")
        for name in ("qp", "width", "height"):
            if type(body[name]) is not int:
                raise ProtocolError(f"hello {name} must be a whole number")
        if not (1 <= body["width"] <= MAX_FRAME_SIDE and 1 <= body["height"] <= MAX_FRAME_SIDE):
            raise ProtocolError(f"frame size must be 1..{MAX_FRAME_SIDE} pixels a side")
        fps = body["fps"]
        if type(fps) not in (int, float) or not math.isfinite(fps) or not 0 < fps <= MAX_FPS:
            raise ProtocolError(f"hello fps must be a number in (0, {MAX_FPS:g}]")
        if not isinstance(body["codec"], str) or not (body["token"] is None or isinstance(body["token"], str)):
            raise ProtocolError("hello codec must be a string and token a string or null")
        return cls(codec=body["codec"], options=options, qp=body["qp"], width=body["width"],
                   height=body["height"], fps=float(fps), token=body["token"])


def token_matches(expected: str | None, given: str | None) -> bool:
    """Whether ``given`` is the server's token (compared in constant time); any client
    matches a server without one."""
    if expected is None:
        return True
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def read_line(connection: socket.socket, buffer: bytearray, limit: int) -> bytes | None:
    """The next ``\\n``-terminated line from ``connection`` (``buffer`` keeps bytes read past
    it); ``None`` at end of stream before any byte of a line. Raises :class:`ProtocolError`
    for a line longer than ``limit`` bytes or a stream ending inside a line, and
    ``socket.timeout`` as the socket does."""
    while True:
        end = buffer.find(b"\n")
        if end >= 0:
            if end + 1 > limit:
                raise ProtocolError(f"a line is longer than {limit} bytes")
            line = bytes(buffer[: end + 1])
            del buffer[: end + 1]
            return line
        if len(buffer) >= limit:
            raise ProtocolError(f"a line is longer than {limit} bytes")
        data = connection.recv(min(1 << 16, limit - len(buffer)))
        if not data:
            if buffer:
                raise ProtocolError("the connection closed inside a line")
            return None
        buffer += data


def message_line(message: dict) -> bytes:
    """``message`` as one JSON line (compact, keys in order given)."""
    line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
    if len(line) > MAX_LINE_BYTES:
        raise VcmError(f"a results line would be {len(line)} bytes; at most {MAX_LINE_BYTES}")
    return line


def parse_message(line: bytes) -> dict:
    """One server message; raises :class:`ProtocolError` unless it is a JSON object with a
    string ``type``."""
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProtocolError("a results line is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("a results line is not an object with a type")
    return message
