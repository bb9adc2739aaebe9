"""What carrying the live stream in MPEG-TS through ffmpeg adds to plain Annex-B over TCP.

Codes ``--frames`` frames of a generated 160x96 clip with the live x265 (or vvenc) encoder,
then writes the access units one every ``--interval`` seconds

* *tcp*: over a loopback TCP connection, cut back into AUs by
  :class:`vcm.bitstream.access_units.AccessUnitSplitter` on the other side (what ``vcm
  serve`` does);
* *mpegts*: into ``ffmpeg -c copy -f mpegts`` (muxer), whose output goes into
  ``ffmpeg -f mpegts -c copy -f hevc`` (demuxer), cut into AUs the same way; the two ffmpeg
  processes stand for the sender's and the receiver's side of an MPEG-TS transport (UDP,
  SRT or RTP would carry the same packets), so the transport itself is left out.

Prints, per way, the median and max seconds from writing an AU to having it whole again.

    python experiments/bench_live_transport.py --codec x265 --frames 30 --interval 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import threading
import time

import numpy as np

from vcm.bitstream.access_units import AccessUnitSplitter, access_unit_delimiter
from vcm.ffmpeg import ffmpeg_executable
from vcm.live.coding import SYNTAX, LiveEncoder, live_codec

WIDTH, HEIGHT = 160, 96


def coded(codec: str, frames: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    background = rng.integers(40, 200, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    encoder = LiveEncoder(live_codec(codec), width=WIDTH, height=HEIGHT, fps=25, qp=32)
    for index in range(frames):
        frame = background.copy()
        frame[20:60, index % 100 : index % 100 + 40] = 255
        encoder.encode(frame)
    encoder.finish()
    units = []
    while (unit := encoder.next_access_unit(timeout=120)) is not None:
        units.append(unit)
    encoder.close()
    return units


def timed_receive(read, syntax: str, arrivals: list[float]) -> None:
    splitter = AccessUnitSplitter(syntax)
    while data := read():
        for _ in splitter.feed(data):
            arrivals.append(time.monotonic())


def over_tcp(units: list[bytes], syntax: str, interval: float) -> list[float]:
    listener = socket.create_server(("127.0.0.1", 0))
    sender = socket.create_connection(listener.getsockname(), timeout=30)
    sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    receiver, _ = listener.accept()
    arrivals: list[float] = []
    thread = threading.Thread(target=timed_receive,
                              args=(lambda: receiver.recv(65536), syntax, arrivals))
    thread.start()
    sent = []
    for unit in units:
        sent.append(time.monotonic())
        sender.sendall(unit)
        time.sleep(interval)
    sender.close()
    thread.join(30)
    receiver.close()
    listener.close()
    return [arrived - start for start, arrived in zip(sent, arrivals)]


def over_mpegts(units: list[bytes], syntax: str, interval: float) -> list[float]:
    ffmpeg = ffmpeg_executable()
    quiet = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error"]
    muxer = subprocess.Popen(
        quiet + ["-probesize", "32", "-analyzeduration", "0", "-f", syntax, "-i", "pipe:0",
                 "-c", "copy", "-f", "mpegts", "-flush_packets", "1", "pipe:1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    demuxer = subprocess.Popen(
        quiet + ["-probesize", "32", "-analyzeduration", "0", "-f", "mpegts", "-i", "pipe:0",
                 "-c", "copy", "-f", syntax, "-flush_packets", "1", "pipe:1"],
        stdin=muxer.stdout, stdout=subprocess.PIPE, bufsize=0)
    muxer.stdout.close()
    arrivals: list[float] = []
    output = demuxer.stdout.fileno()
    thread = threading.Thread(target=timed_receive,
                              args=(lambda: os.read(output, 65536), syntax, arrivals))
    thread.start()
    sent = []
    for index, unit in enumerate(units):
        sent.append(time.monotonic())
        # As the server feeds its decoder: the AU, then the next one's delimiter.
        body = unit if index == 0 else unit[unit.index(b"\x00\x00\x01", 4) - 1 :]
        muxer.stdin.write(body + access_unit_delimiter(syntax))
        time.sleep(interval)
    muxer.stdin.close()
    muxer.wait(30)
    demuxer.wait(30)
    thread.join(30)
    return [arrived - start for start, arrived in zip(sent, arrivals)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec", choices=("x265", "vvenc"), default="x265")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between AUs")
    arguments = parser.parse_args()
    units = coded(arguments.codec, arguments.frames)
    syntax = SYNTAX[arguments.codec]
    for name, way in (("tcp", over_tcp), ("mpegts", over_mpegts)):
        delays = way(units, syntax, arguments.interval)
        print(json.dumps({"transport": name, "codec": arguments.codec, "units": len(units),
                          "received": len(delays), "interval": arguments.interval,
                          "median_seconds": float(np.median(delays)) if delays else None,
                          "max_seconds": float(np.max(delays)) if delays else None}))


if __name__ == "__main__":
    main()
