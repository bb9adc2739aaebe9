"""Bit-level reading and writing of RBSP syntax: ``u(n)``, ``ue(v)``, ``f(n)`` and strings.

Descriptors as in ITU-T H.266 / H.265 clause 7.2 and H.274 clause 7: ``u(n)`` an unsigned
integer of ``n`` bits, most significant bit first; ``ue(v)`` an Exp-Golomb code (``k``
leading zero bits, a one, then ``k`` bits: value ``2**k - 1 + bits``); ``st(v)`` a
null-terminated byte string.
"""

from __future__ import annotations


class BitstreamError(ValueError):
    """The bits end early or break the syntax; the message says which element and why."""


# ue(v) codes of more than 31 leading zeros carry values above 2**32 - 2, which no
# syntax element read here may take (H.266 clause 9.2: ue(v) is limited to 32 bits).
MAX_EXP_GOLOMB_LEADING_ZEROS = 31


class BitReader:
    """Reads syntax elements from ``data`` (an RBSP: emulation prevention already removed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0  # in bits from the start of ``data``
        self.size = 8 * len(data)

    @property
    def bits_left(self) -> int:
        return self.size - self.position

    def byte_aligned(self) -> bool:
        return self.position % 8 == 0

    def u(self, bits: int, name: str = "value") -> int:
        """Read ``u(bits)``; raise :class:`BitstreamError` if fewer bits are left."""
        if bits == 0:
            return 0
        if bits > self.bits_left:
            raise BitstreamError(f"{name} needs {bits} bits but only {self.bits_left} are left")
        first, end = self.position >> 3, (self.position + bits + 7) >> 3
        window = int.from_bytes(self.data[first:end], "big")
        unused_low_bits = 8 * end - (self.position + bits)
        self.position += bits
        return (window >> unused_low_bits) & ((1 << bits) - 1)

    def flag(self, name: str = "flag") -> bool:
        return bool(self.u(1, name))

    def ue(self, name: str = "value") -> int:
        """Read ``ue(v)``."""
        leading_zeros = 0
        while self.u(1, name) == 0:
            leading_zeros += 1
            if leading_zeros > MAX_EXP_GOLOMB_LEADING_ZEROS:
                raise BitstreamError(f"{name}: Exp-Golomb code longer than 32 bits")
        return (1 << leading_zeros) - 1 + self.u(leading_zeros, name)

    def skip(self, bits: int, name: str = "bits") -> None:
        if bits > self.bits_left:
            raise BitstreamError(f"{name} needs {bits} bits but only {self.bits_left} are left")
        self.position += bits

    def zero_bits_to_byte_boundary(self, name: str) -> None:
        """Read ``f(1)`` bits equal to 0 up to the next byte boundary."""
        while not self.byte_aligned():
            if self.u(1, name) != 0:
                raise BitstreamError(f"{name} must be 0")

    def string(self, name: str, max_bytes: int = 255) -> bytes:
        """Read ``st(v)`` (byte aligned): bytes up to and without the terminating zero byte."""
        if not self.byte_aligned():
            raise BitstreamError(f"{name} does not start on a byte boundary")
        start = self.position >> 3
        end = self.data.find(b"\x00", start, start + max_bytes + 1)
        if end < 0:
            raise BitstreamError(f"{name} has no terminating zero byte within {max_bytes} bytes")
        self.position = 8 * (end + 1)
        return bytes(self.data[start:end])


class BitWriter:
    """Collects syntax elements into bytes."""

    def __init__(self) -> None:
        self.value = 0  # the bits written so far, as one integer
        self.length = 0  # how many bits

    def byte_aligned(self) -> bool:
        return self.length % 8 == 0

    def u(self, value: int, bits: int) -> None:
        """Write ``value`` as ``u(bits)``; raise ``ValueError`` if it does not fit."""
        if bits < 0 or not 0 <= value < (1 << bits):
            raise ValueError(f"{value} does not fit in {bits} bits")
        self.value = (self.value << bits) | value
        self.length += bits

    def flag(self, value: bool) -> None:
        self.u(1 if value else 0, 1)

    def ue(self, value: int) -> None:
        """Write ``value`` (0 .. 2**32 - 2) as ``ue(v)``: ``k`` zeros, then ``value + 1`` in
        ``k + 1`` bits."""
        if not 0 <= value <= 0xFFFFFFFE:
            raise ValueError(f"{value} is out of the ue(v) range")
        code = value + 1
        self.u(code, 2 * code.bit_length() - 1)

    def zero_bits_to_byte_boundary(self) -> None:
        self.u(0, -self.length % 8)

    def string(self, value: bytes) -> None:
        """Write ``st(v)`` at a byte boundary: ``value`` (no zero byte inside) and a zero byte."""
        if not self.byte_aligned():
            raise ValueError("st(v) must start on a byte boundary")
        if b"\x00" in value:
            raise ValueError("a st(v) string cannot contain a zero byte")
        data = value + b"\x00"
        self.u(int.from_bytes(data, "big"), 8 * len(data))

    def to_bytes(self) -> bytes:
        """The bits written so far; the caller must have ended on a byte boundary."""
        if not self.byte_aligned():
            raise ValueError(f"{self.length} bits do not end on a byte boundary")
        return self.value.to_bytes(self.length // 8, "big")
