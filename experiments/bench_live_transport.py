"""What carrying the live stream in MPEG-TS, RTP or SRT through ffmpeg adds to plain Annex-B
over TCP.

Codes ``--frames`` frames of a generated 160x96 clip with the live x265 (or vvenc) encoder,
then writes the access units one every ``--interval`` seconds

* *tcp*: over a loopback TCP connection, cut back into AUs by
  :class:`vcm.bitstream.access_units.AccessUnitSplitter` on the other side (what ``vcm
  serve`` does);
* *mpegts*: into ``ffmpeg -c copy -f mpegts`` (muxer), whose output goes into
  ``ffmpeg -f mpegts -c copy -f hevc`` (demuxer) through a pipe, cut into AUs the same way:
  the container alone, no network;
* *rtp*: into ``ffmpeg -c copy -f rtp rtp://127.0.0.1:PORT`` (RFC 7798 packets over UDP
  on loopback), received by ``ffmpeg -i SDP -c copy -f hevc`` with its reordering queue off
  (``-reorder_queue_size 0``); HEVC only: ffmpeg's RTP muxer refuses VVC
  ("Unsupported codec vvc");
* *srt*: MPEG-TS over SRT (``srt://127.0.0.1:PORT``, the receiver listening, the sender
  calling) with SRT's receive latency (``--srt-latency`` ms; libsrt's default is 120 ms).

Every AU but the first is written with the next AU's delimiter after it, as the server feeds
its decoder, so ffmpeg's raw-stream parser sees each AU end when it is written. Ports are
chosen by the OS (a UDP port bound to 127.0.0.1:0 and released; for RTP an even one with
the next one free, for RTCP); every process and thread is waited for a bounded time.

Prints, per way, the median and max seconds from writing an AU to having it whole again.

    python experiments/bench_live_transport.py --codec x265 --frames 30 --interval 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

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
    sent = feed(muxer, units, syntax, interval)
    muxer.wait(30)
    demuxer.wait(30)
    thread.join(30)
    return [arrived - start for start, arrived in zip(sent, arrivals)]


QUIET = ["-hide_banner", "-nostdin", "-loglevel", os.environ.get("BENCH_FFMPEG_LOGLEVEL", "error")]
# Probing as little as each demuxer can start with: with -probesize 32 ffmpeg's SDP (RTP)
# input hands out nothing, and with its default (5 MB) it holds the first 2 s; an MPEG-TS
# input over SRT with the default holds everything until the stream ends.
RTP_INPUT = ["-probesize", "2000", "-analyzeduration", "0", "-reorder_queue_size", "0"]
SRT_INPUT = ["-probesize", "32", "-analyzeduration", "0"]
WAIT_SECONDS = 30.0


def free_udp_port(pair: bool = False) -> int:
    """A UDP port on 127.0.0.1 that the OS chose and that is free now (with ``pair``, an even
    one whose successor is free too, as RTP wants for RTCP)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            if not pair:
                return port
            if port % 2 or port >= 65535:
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
                    second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise SystemExit("error: found no free UDP port pair on 127.0.0.1")


def udp_bound(port: int) -> bool:
    """Whether a socket listens on UDP ``port`` (Linux: /proc/net/udp)."""
    needle = f":{port:04X} "
    return any(needle in line.split()[1] + " " for line in
               open("/proc/net/udp").read().splitlines()[1:])


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"error: {what} did not happen in {WAIT_SECONDS:g} s")
        time.sleep(0.01)


def feed(sender: subprocess.Popen, units: list[bytes], syntax: str, interval: float) -> list[float]:
    """Write ``units`` to ``sender``'s input one every ``interval`` s; the write times."""
    sent = []
    for index, unit in enumerate(units):
        sent.append(time.monotonic())
        # As the server feeds its decoder: the AU, then the next one's delimiter.
        body = unit if index == 0 else unit[unit.index(b"\x00\x00\x01", 4) - 1 :]
        sender.stdin.write(body + access_unit_delimiter(syntax))
        time.sleep(interval)
    sender.stdin.close()
    return sent


def through_ffmpeg(units: list[bytes], syntax: str, interval: float, sender_argv: list[str],
                   receiver_argv: list[str], ready) -> list[float]:
    """Start the receiver, wait for ``ready()``, start the sender, feed it; the delays."""
    ffmpeg = ffmpeg_executable()
    receiver = subprocess.Popen([ffmpeg, *QUIET, *receiver_argv], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, bufsize=0)
    sender = None
    arrivals: list[float] = []
    try:
        wait_until(ready, "the receiver listening")
        # Each AU stamped with the time it is read, as a live source's frames are (a raw
        # stream has no timestamps, and RTP cuts frames where the timestamp changes).
        sender = subprocess.Popen([ffmpeg, *QUIET, "-probesize", "32", "-analyzeduration", "0",
                                   "-use_wallclock_as_timestamps", "1", "-f", syntax,
                                   "-i", "pipe:0", *sender_argv],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, bufsize=0)
        output = receiver.stdout.fileno()
        thread = threading.Thread(target=timed_receive, daemon=True,
                                  args=(lambda: os.read(output, 65536), syntax, arrivals))
        thread.start()
        sent = feed(sender, units, syntax, interval)
        sender.wait(WAIT_SECONDS)
        # The receiver sees no end of a UDP stream: give it time, then stop it.
        deadline = time.monotonic() + max(2.0, 10 * interval)
        while len(arrivals) < len(units) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        for process in (sender, receiver):
            if process is not None and process.poll() is None:
                process.kill()
            if process is not None:
                process.wait(WAIT_SECONDS)
    thread.join(WAIT_SECONDS)
    return [arrived - start for start, arrived in zip(sent, arrivals)]


def over_rtp(units: list[bytes], syntax: str, interval: float) -> list[float]:
    if syntax != "hevc":
        raise SystemExit("error: ffmpeg's RTP muxer has no VVC packetisation")
    port = free_udp_port(pair=True)
    with tempfile.TemporaryDirectory(prefix="bench-rtp-") as folder:
        sdp = Path(folder) / "stream.sdp"
        # Parameter sets travel in band (the first AU), so the SDP needs no sprop-*.
        sdp.write_text(f"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=vcm\r\nc=IN IP4 127.0.0.1\r\n"
                       f"t=0 0\r\nm=video {port} RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n")
        return through_ffmpeg(
            units, syntax, interval,
            ["-c", "copy", "-f", "rtp", "-payload_type", "96",
             f"rtp://127.0.0.1:{port}?pkt_size=1200"],
            ["-protocol_whitelist", "file,udp,rtp", *RTP_INPUT, "-i", str(sdp), "-c", "copy", "-f", syntax, "-flush_packets", "1", "pipe:1"],
            lambda: udp_bound(port))


def over_srt(units: list[bytes], syntax: str, interval: float, latency_ms: float) -> list[float]:
    port = free_udp_port()
    options = f"latency={int(latency_ms * 1000)}&pkt_size=1316"  # ffmpeg's latency is in us
    return through_ffmpeg(
        units, syntax, interval,
        ["-c", "copy", "-f", "mpegts", "-flush_packets", "1",
         f"srt://127.0.0.1:{port}?mode=caller&{options}"],
        [*SRT_INPUT, "-f", "mpegts", "-i", f"srt://127.0.0.1:{port}?mode=listener&{options}",
         "-c", "copy", "-f", syntax, "-flush_packets", "1", "pipe:1"],
        lambda: udp_bound(port))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec", choices=("x265", "vvenc"), default="x265")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between AUs")
    parser.add_argument("--way", choices=("tcp", "mpegts", "rtp", "srt"), action="append",
                        help="transports to measure [all; rtp: x265 only]")
    parser.add_argument("--srt-latency", type=float, default=120.0,
                        help="SRT receive latency, ms [libsrt's default, 120]")
    arguments = parser.parse_args()
    units = coded(arguments.codec, arguments.frames)
    syntax = SYNTAX[arguments.codec]
    ways = {"tcp": over_tcp, "mpegts": over_mpegts, "rtp": over_rtp,
            "srt": lambda *given: over_srt(*given, arguments.srt_latency)}
    chosen = arguments.way or [name for name in ways
                               if not (name == "rtp" and arguments.codec == "vvenc")]
    for name in chosen:
        delays = ways[name](units, syntax, arguments.interval)
        print(json.dumps({"transport": name, "codec": arguments.codec, "units": len(units),
                          **({"srt_latency_ms": arguments.srt_latency} if name == "srt" else {}),
                          "received": len(delays), "interval": arguments.interval,
                          "median_seconds": float(np.median(delays)) if delays else None,
                          "max_seconds": float(np.max(delays)) if delays else None}))


if __name__ == "__main__":
    main()
