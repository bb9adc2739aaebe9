"""The server side of the WebSocket protocol (RFC 6455), as much as the dashboard needs: the
opening handshake, unfragmented text frames to the browser, and the client's control frames
(close, ping) read with a size limit. Standard library only.

A client's frames are masked (RFC 6455, 5.3), the server's are not; a data frame from the
client is read and ignored (the dashboard's viewers send nothing but control frames).
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""The fixed string the accept key is derived with (RFC 6455, 1.3)."""
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
MAX_CLIENT_FRAME = 4096
"""Longest payload a viewer may send in one frame, in bytes (control frames: 125)."""
CLOSE_NORMAL, CLOSE_PROTOCOL, CLOSE_TOO_BIG = 1000, 1002, 1009


class WebSocketError(Exception):
    """The client broke the protocol or went away; the connection is to be closed."""


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for the client's ``Sec-WebSocket-Key`` (RFC 6455, 4.2.2)."""
    digest = hashlib.sha1((key.strip() + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def valid_key(key: str | None) -> bool:
    """Whether ``key`` is a base64-encoded 16-byte value, as RFC 6455 (4.1) asks."""
    if not key:
        return False
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except ValueError:
        return False


def frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One unmasked, final server frame of ``payload`` (RFC 6455, 5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def read_frame(connection: socket.socket) -> tuple[int, bytes]:
    """The next client frame, ``(opcode, unmasked payload)``; raises :class:`WebSocketError`
    for an unmasked frame, a payload over :data:`MAX_CLIENT_FRAME` (or 125 bytes in a control
    frame) or a connection closed inside a frame, and ``socket.timeout`` as the socket does."""
    first, second = _read_exactly(connection, 2)
    opcode, masked, size = first & 0x0F, second & 0x80, second & 0x7F
    if not masked:
        raise WebSocketError("a client frame is not masked")
    if size == 126:
        (size,) = struct.unpack("!H", _read_exactly(connection, 2))
    elif size == 127:
        (size,) = struct.unpack("!Q", _read_exactly(connection, 8))
    if size > MAX_CLIENT_FRAME or (opcode >= CLOSE and size > 125):
        raise WebSocketError(f"a client frame of {size} bytes is over the limit")
    mask = _read_exactly(connection, 4)
    payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(_read_exactly(connection, size)))
    return opcode, payload


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise WebSocketError("the client closed the connection inside a frame")
        data += chunk
    return bytes(data)
