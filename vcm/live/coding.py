"""Low-delay coding for live streams: an encoder and a decoder that work one frame at a time.

Both run ffmpeg (imageio-ffmpeg's build) as a child process with pipes, through the same
codec wrappers as ``vcm encode`` / ``vcm decode`` (:mod:`vcm.codecs`), so a recorded live
stream decodes with ``vcm decode`` exactly as it decoded live.

Low delay means no picture reordering (decoding order = output order) and no lookahead:

* ``vvenc``: ``GOPSize=8:PicReordering=0`` (VVenC's low-delay B structure; GOP sizes other
  than 1, 8, 16, 32 are refused and 1 is all-intra), ``DecodingRefreshType=none`` (the only
  refresh type VVenC allows with low delay, so only the first picture is an IDR: a stream is
  one coded video sequence, and a receiver joins it only at its start: each connection
  restarts the encoder), ``MCTF=0:BIM=0`` (temporal filtering looks ahead),
  ``MaxParallelFrames=0``. VVenC still collects a whole GOP (8 frames) before it codes the
  first of it (it is an offline encoder; fraunhoferhhi/vvenc issue 176), so it adds 8 frame
  intervals of delay that no setting removes.
* ``x265``: ``-tune zerolatency`` (no B frames, no lookahead, no frame threads): a frame's
  access unit comes out before the next frame goes in.

Both encoders write an access unit delimiter first in each AU and a decoded picture hash
SEI (CRC) last, so :class:`vcm.bitstream.access_units.AccessUnitSplitter` knows an AU has
ended as soon as its last byte is there.
"""

from __future__ import annotations

import os
import queue
import subprocess
import time
from pathlib import Path

import numpy as np

from vcm.bitstream.access_units import AUD, AccessUnitSplitter, access_unit_delimiter
from vcm.bitstream.bits import BitstreamError
from vcm.codecs.base import Codec, build_codec, decoder_output_filter
from vcm.errors import VcmError
from vcm.ffmpeg import ffmpeg_executable
from vcm.live.threads import spawn

LIVE_CODECS = ("vvenc", "x265")
SYNTAX = {"vvenc": "vvc", "x265": "hevc"}

LOW_DELAY_VVENC = ("GOPSize=8:PicReordering=0:DecodingRefreshType=none:MCTF=0:BIM=0:"
                   "MaxParallelFrames=0:SEIDecodedPictureHash=2")
LOW_DELAY_X265 = "aud=1:hash=2:bframes=0"

DEFAULT_PRESET = {"vvenc": "faster", "x265": "ultrafast"}

READ_CHUNK = 1 << 16
PROCESS_TIMEOUT = 10.0
"""Seconds a coder may take to exit after its input closed, before it is killed."""


def live_codec(name: str, *, preset: str | None = None, intra_period: int = 32,
               threads: int | None = None) -> Codec:
    """The registered codec ``name`` (``vvenc`` or ``x265``) set up for low delay."""
    if name not in LIVE_CODECS:
        raise VcmError(f"live coding supports {', '.join(LIVE_CODECS)}, not {name!r}")
    options = {"preset": preset or DEFAULT_PRESET[name], "intra_period": intra_period,
               "threads": threads}
    if name == "vvenc":
        return build_codec(name, params=LOW_DELAY_VVENC, **options)
    return build_codec(name, tune="zerolatency", params=LOW_DELAY_X265, **options)


def encoder_argv(codec: Codec, *, width: int, height: int, fps: float, qp: int,
                 output: str = "-") -> list[str]:
    """The codec's encode command, writing the Annex-B stream to ``output`` (an ffmpeg URL,
    ``pipe:N`` for file descriptor ``N``) packet by packet."""
    (argv,) = codec.encode_argv(width=width, height=height, fps=fps, frames=0, qp=qp,
                                output=Path(output), workdir=Path("."))
    # ffmpeg otherwise holds output in its I/O buffer until it is full. And it probes its
    # input before it codes anything: at some frame rates (4.9248 or 3.5152, as a paced
    # --fps gives; not 25, 29.97, 12.5 or 6.16) it read up to its default probe size, 5 MB
    # (8 frames of 640x360), so the first access units came out up to 8 frame intervals
    # late. A raw input has nothing to probe: its size, format and rate are given.
    first = argv.index("-f")
    return [argv[0], "-loglevel", "error", *argv[1:first], "-probesize", "32",
            "-analyzeduration", "0", *argv[first:-3], "-flush_packets", "1", *argv[-3:]]


def decoder_argv(codec: Codec, *, width: int, height: int) -> list[str]:
    """An ffmpeg command decoding the Annex-B stream on stdin to ``bgr24`` frames on stdout,
    cropped to ``width`` x ``height``, through the same filter as ``vcm decode``."""
    demuxer = SYNTAX[codec.name]
    return [
        ffmpeg_executable(), "-hide_banner", "-nostdin", "-loglevel", "error",
        "-probesize", "32", "-analyzeduration", "0",
        "-threads", "1", "-f", demuxer, "-i", "-",
        "-vf", decoder_output_filter(width, height),
        "-fps_mode", "passthrough", "-pix_fmt", "bgr24", "-f", "rawvideo", "-flush_packets", "1", "-",
    ]


class _Child:
    """A child process with a thread that reads its stdout into a bounded queue."""

    def __init__(self, argv: list[str], what: str, output_fd: int | None = None) -> None:
        self.what = what
        self.argv = argv
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                # VVenC prints its configuration warnings on stdout, so a stream read from
                # there would have text in it: it comes through its own pipe instead.
                stdout=subprocess.PIPE if output_fd is None else subprocess.DEVNULL,
                pass_fds=() if output_fd is None else (output_fd,),
            )
        except OSError as error:
            raise VcmError(f"{what}: cannot start {argv[0]} ({error.strerror})") from None
        self.errors = b""
        self.error_reader = spawn("coder-stderr", self._read_errors)

    def _read_errors(self) -> None:
        data = self.process.stderr.read()
        self.errors = data[-4000:]

    def write(self, data: bytes) -> None:
        try:
            self.process.stdin.write(data)
        except (BrokenPipeError, ValueError):
            raise VcmError(f"{self.what}: ffmpeg stopped ({self.problem()})") from None

    def close_input(self) -> None:
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass

    def problem(self) -> str:
        self.error_reader.join(timeout=1.0)
        text = self.errors.decode("utf-8", "replace").strip().splitlines()
        return text[-1] if text else f"exit status {self.process.poll()}"

    def stop(self) -> None:
        """Close the input and wait; kill the process if it does not exit in time."""
        self.close_input()
        try:
            self.process.wait(timeout=PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_END = object()


class LiveEncoder:
    """Frames in, access units out, with the codec's own delay in between.

    Args:
        codec: a codec from :func:`live_codec`.
        width, height: frame size in pixels; fps: frame rate (frames/s); qp: the QP.
        max_pending: access units held before :meth:`next_access_unit`'s caller takes them.

    :meth:`encode` writes a ``bgr24`` frame; :meth:`next_access_unit` gives the next AU in
    order (one per frame, the ``k``-th for the ``k``-th frame), or ``None`` at the end.
    """

    def __init__(self, codec: Codec, *, width: int, height: int, fps: float, qp: int,
                 max_pending: int = 64) -> None:
        self.codec = codec
        self.syntax = SYNTAX[codec.name]
        self.width, self.height = width, height
        read_end, write_end = os.pipe()
        self.output = read_end
        self.argv = encoder_argv(codec, width=width, height=height, fps=fps, qp=qp,
                                 output=f"pipe:{write_end}")
        self.units: queue.Queue = queue.Queue(max_pending)
        try:
            self.child = _Child(self.argv, f"{codec.name} encoder", output_fd=write_end)
        finally:
            os.close(write_end)
        self.failure: str | None = None
        self.reader = spawn("encoder-read", self._read)

    def _read(self) -> None:
        splitter = AccessUnitSplitter(self.syntax)
        try:
            while True:
                data = os.read(self.output, READ_CHUNK)
                if not data:
                    last = splitter.flush()
                    if last is not None:
                        self.units.put(last)
                    break
                for unit in splitter.feed(data):
                    self.units.put(unit)
        except BitstreamError as error:
            self.failure = f"the encoder's output is not as expected: {error}"
        finally:
            os.close(self.output)
            self.units.put(_END)

    def encode(self, frame: np.ndarray) -> None:
        """Send one ``bgr24`` frame of ``height`` x ``width`` x 3 to the encoder."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise VcmError(f"live encoder: frame of shape {frame.shape} {frame.dtype}, expected "
                           f"{(self.height, self.width, 3)} uint8")
        self.child.write(np.ascontiguousarray(frame).tobytes())

    def finish(self) -> None:
        """No more frames: the encoder codes what it holds and exits."""
        self.child.close_input()

    def next_access_unit(self, timeout: float | None = None) -> bytes | None:
        """The next AU (bytes, start codes included); ``None`` once the encoder has ended.

        Raises :class:`VcmError` if the encoder failed, or ``queue.Empty`` after ``timeout``.
        """
        unit = self.units.get(timeout=timeout)
        if unit is _END:
            self.units.put(_END)
            if self.failure or self.child.process.wait(timeout=PROCESS_TIMEOUT) != 0:
                raise VcmError(f"{self.codec.name} encoder: {self.failure or self.child.problem()}")
            return None
        return unit

    def close(self) -> None:
        """Stop the encoder (killing it if it does not exit in time)."""
        self.child.stop()
        self.reader.join(timeout=PROCESS_TIMEOUT)


class LiveDecoder:
    """Access units in, ``bgr24`` frames of the original size out, one per AU.

    Each AU is given to ffmpeg followed by an AUD of the next one (the next AU's own AUD is
    left out), so ffmpeg's parser sees the AU end at once instead of one frame later.
    """

    def __init__(self, codec: Codec, *, width: int, height: int, max_pending: int = 64) -> None:
        self.syntax = SYNTAX[codec.name]
        self.width, self.height = width, height
        self.frame_bytes = width * height * 3
        self.argv = decoder_argv(codec, width=width, height=height)
        self.frames: queue.Queue = queue.Queue(max_pending)
        self.child = _Child(self.argv, f"{codec.name} decoder")
        self.units_fed = 0
        self.reader = spawn("decoder-read", self._read)

    def _read(self) -> None:
        stdout = self.child.process.stdout
        try:
            while True:
                data = _read_exactly(stdout, self.frame_bytes)
                if data is None:
                    break
                image = np.frombuffer(data, np.uint8).reshape(self.height, self.width, 3)
                self.frames.put((image, time.monotonic()))
        finally:
            self.frames.put(_END)

    def decode(self, access_unit: bytes) -> None:
        """Give the decoder one AU (as :class:`AccessUnitSplitter` cut it)."""
        if self.units_fed:
            access_unit = _without_leading_aud(access_unit, self.syntax)
        self.child.write(access_unit + access_unit_delimiter(self.syntax))
        self.units_fed += 1

    def finish(self) -> None:
        """No more AUs: the decoder outputs what it holds and exits."""
        self.child.close_input()

    def next_frame(self, timeout: float | None = None) -> tuple[np.ndarray, float] | None:
        """The next decoded frame and when it came out of the decoder (``time.monotonic()``);
        ``None`` once the decoder has ended. Raises ``queue.Empty`` after ``timeout`` s."""
        frame = self.frames.get(timeout=timeout)
        if frame is _END:
            self.frames.put(_END)
            return None
        return frame

    def problem(self) -> str:
        return self.child.problem()

    def close(self) -> None:
        self.child.stop()
        self.reader.join(timeout=PROCESS_TIMEOUT)


def _read_exactly(stream, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        data = os.read(stream.fileno(), size - len(chunks))
        if not data:
            return None
        chunks += data
    return bytes(chunks)


def _without_leading_aud(access_unit: bytes, syntax: str) -> bytes:
    """``access_unit`` less its first NAL unit, an AUD (which the decoder was already given)."""
    header = access_unit.index(b"\x00\x00\x01") + 3
    unit_type = access_unit[header + 1] >> 3 if syntax == "vvc" else (access_unit[header] >> 1) & 0x3F
    if unit_type != AUD[syntax]:
        return access_unit
    following = access_unit.find(b"\x00\x00\x01", header)
    if following < 0:
        return b""
    # The next start code's zero_byte stays with it.
    return access_unit[following - 1 if access_unit[following - 1] == 0 else following:]
