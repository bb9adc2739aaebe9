"""Codec wrappers: exact argv lists, and real round trips through ffmpeg on tiny clips."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vcm.codecs.vtm import vtm_frame_rate, vvc_level
from vcm.codecs import (
    CODECS,
    DecodeResult,
    EncodeResult,
    build_codec,
    decode_video,
    encode_video,
    sidecar_path,
)
from vcm.errors import VcmError
from vcm.ffmpeg import ffmpeg_executable
from vcm.video import open_video, write_lossless_video

WIDTH, HEIGHT, FRAMES, FPS = 65, 49, 6, 30
BLACK_ROWS, BLACK_COLUMNS = slice(30, 40), slice(40, 56)


def gradient_frames(width: int, height: int, frames: int) -> list[np.ndarray]:
    """Smooth gradients, a diagonal wave moving 3 px per frame, a moving square, a black block."""
    rows, columns = np.mgrid[0:height, 0:width]
    clip = []
    for index in range(frames):
        frame = np.empty((height, width, 3), dtype=np.uint8)
        frame[..., 0] = 40 + 150 * columns // width
        frame[..., 1] = 60 + 120 * rows // height
        frame[..., 2] = (100 + 50 * np.sin((columns + rows + 3 * index) / 6)).astype(np.uint8)
        frame[8:24, 4 + 3 * index : 20 + 3 * index] = (30, 200, 250)
        frame[BLACK_ROWS, BLACK_COLUMNS] = 0
        clip.append(frame)
    return clip


def write_clip(path: Path, width: int = WIDTH, height: int = HEIGHT) -> list[np.ndarray]:
    frames = gradient_frames(width, height, FRAMES)
    write_lossless_video(iter(frames), path, width=width, height=height, fps=FPS)
    return frames


def read_yuv420p(path: Path, width: int, height: int) -> list[tuple[np.ndarray, ...]]:
    """The (Y, U, V) planes of every frame of ``path``, as ffmpeg decodes it to yuv420p."""
    completed = subprocess.run(
        [ffmpeg_executable(), "-v", "error", "-i", str(path),
         "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
        capture_output=True, check=True,
    )
    return split_yuv420p(completed.stdout, width, height)


def split_yuv420p(data: bytes, width: int, height: int) -> list[tuple[np.ndarray, ...]]:
    chroma_width, chroma_height = (width + 1) // 2, (height + 1) // 2
    luma, chroma = width * height, chroma_width * chroma_height
    frame_size = luma + 2 * chroma
    assert len(data) % frame_size == 0
    planes = []
    for start in range(0, len(data), frame_size):
        buffer = np.frombuffer(data[start : start + frame_size], dtype=np.uint8)
        planes.append((
            buffer[:luma].reshape(height, width),
            buffer[luma : luma + chroma].reshape(chroma_height, chroma_width),
            buffer[luma + chroma :].reshape(chroma_height, chroma_width),
        ))
    return planes


def bt601_yuv420p(frame: np.ndarray) -> tuple[np.ndarray, ...]:
    """Exact BT.601 limited-range (Y, U, V) of a BGR frame padded black to even size, as
    floats: U and V are means over 2x2 pixel blocks (ITU-R BT.601 coefficients)."""
    height, width = frame.shape[:2]
    padded = np.zeros((height + height % 2, width + width % 2, 3))
    padded[:height, :width] = frame
    blue, green, red = padded[..., 0], padded[..., 1], padded[..., 2]
    luma = 16 + (65.481 * red + 128.553 * green + 24.966 * blue) / 255
    chroma_u = 128 + (-37.797 * red - 74.203 * green + 112.0 * blue) / 255
    chroma_v = 128 + (112.0 * red - 93.786 * green - 18.214 * blue) / 255

    def block_mean(plane):
        return plane.reshape(plane.shape[0] // 2, 2, plane.shape[1] // 2, 2).mean(axis=(1, 3))

    return luma[:height, :width], block_mean(chroma_u), block_mean(chroma_v)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB of 8-bit arrays."""
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def coded(tmp_path_factory) -> dict:
    """The clip, and its lossless reference decoded to BGR (codec loss is measured against it)."""
    folder = tmp_path_factory.mktemp("coded")
    clip = folder / "clip.mkv"
    frames = write_clip(clip)
    encode_video(clip, folder / "reference.mkv", codec="ffv1", qp=0, progress=False)
    decode_video(folder / "reference.mkv", folder / "reference.decoded.mkv")
    reference = np.stack(list(open_video(folder / "reference.decoded.mkv")))
    return {"folder": folder, "clip": clip, "frames": frames, "reference": reference}


# -- argv building ------------------------------------------------------------------------

def test_registry_names():
    assert CODECS.names() == ["ffv1", "vtm", "vvenc", "x265"]
    assert [build_codec(name).extension for name in ["vvenc", "x265", "vtm", "ffv1"]] == [
        ".266", ".265", ".266", ".mkv",
    ]


def test_vvenc_encode_and_decode_argv():
    ffmpeg = ffmpeg_executable()
    codec = build_codec("vvenc")
    argv = codec.encode_argv(
        width=65, height=49, fps=30, frames=6, qp=32, output=Path("out/a.266"),
        workdir=Path("work"),
    )
    assert argv == [[
        ffmpeg, "-hide_banner", "-nostdin", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "65x49", "-r", "30", "-i", "-",
        "-vf", "pad=66:50:0:0:black,scale=out_color_matrix=bt601:out_range=tv:"
               "flags=area+accurate_rnd,format=yuv420p,format=yuv420p10le",
        "-c:v", "libvvenc", "-preset", "faster", "-qp", "32", "-qpa", "0",
        "-vvenc-params", "intraperiod=32",
        "-f", "vvc", "out/a.266",
    ]]
    assert codec.decode_argv(
        bitstream=Path("a.266"), output=Path("a.mkv"), width=65, height=49, fps=29.97,
        workdir=Path("work"),
    ) == [[
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-f", "vvc", "-framerate", "29.97",
        "-i", "a.266",
        "-vf", "crop=65:49:0:0:exact=1,scale=sws_dither=none,format=yuv420p",
        "-fps_mode", "passthrough", "-c:v", "ffv1", "-level", "3", "-g", "1",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
        "-f", "matroska", "a.mkv",
    ]]


def test_vvenc_options_change_argv():
    argv = build_codec("vvenc", preset="slow", intra_period=64, threads=2).encode_argv(
        width=64, height=48, fps=25, frames=6, qp=0, output=Path("a.266"), workdir=Path("w"),
    )[0]
    assert argv[argv.index("-preset") + 1] == "slow"
    assert argv[argv.index("-threads") + 1] == "2"
    assert argv[argv.index("-vvenc-params") + 1] == "intraperiod=64"
    assert argv[argv.index("-vf") + 1].startswith("pad=64:48:0:0:black,")


def test_x265_encode_and_decode_argv():
    ffmpeg = ffmpeg_executable()
    codec = build_codec("x265")
    assert codec.encode_argv(
        width=64, height=48, fps=25, frames=6, qp=32, output=Path("a.265"), workdir=Path("w"),
    ) == [[
        ffmpeg, "-hide_banner", "-nostdin", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "64x48", "-r", "25", "-i", "-",
        "-vf", "pad=64:48:0:0:black,scale=out_color_matrix=bt601:out_range=tv:"
               "flags=area+accurate_rnd,format=yuv420p",
        "-c:v", "libx265", "-preset", "medium",
        "-x265-params", "qp=32:keyint=32:min-keyint=32:scenecut=0:info=0",
        "-f", "hevc", "a.265",
    ]]
    assert build_codec("x265", threads=3).x265_params(20).endswith(":pools=3")
    assert codec.decode_argv(
        bitstream=Path("a.265"), output=Path("a.mkv"), width=None, height=None, fps=None,
        workdir=Path("w"),
    ) == [[
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-f", "hevc", "-i", "a.265",
        "-vf", "scale=sws_dither=none,format=yuv420p",
        "-fps_mode", "passthrough", "-c:v", "ffv1", "-level", "3", "-g", "1",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
        "-f", "matroska", "a.mkv",
    ]]


def test_vvenc_params_follow_the_intra_period():
    argv = build_codec("vvenc", intra_period=16, params="GOPSize=16:POC0IDR=1").encode_argv(
        width=64, height=48, fps=25, frames=6, qp=32, output=Path("a.266"), workdir=Path("w"),
    )[0]
    assert argv[argv.index("-vvenc-params") + 1] == "intraperiod=16:GOPSize=16:POC0IDR=1"


def test_vtm_encode_and_decode_argv(tmp_path):
    ffmpeg = ffmpeg_executable()
    cfg = tmp_path / "my.cfg"
    cfg.write_text("GOPSize : 1\n")
    codec = build_codec(
        "vtm", cfg=str(cfg), encoder="/opt/vtm/EncoderApp", decoder="/opt/vtm/DecoderApp",
    )
    assert codec.encode_argv(
        width=65, height=49, fps=29.97, frames=6, qp=32, output=Path("out/a.266"),
        workdir=Path("work"),
    ) == [
        [
            ffmpeg, "-hide_banner", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "65x49", "-r", "29.97", "-i", "-",
            "-vf", "pad=66:50:0:0:black,scale=out_color_matrix=bt601:out_range=tv:"
                   "flags=area+accurate_rnd,format=yuv420p",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "work/input.yuv",
        ],
        [
            "/opt/vtm/EncoderApp", "-c", str(cfg),
            "-i", "work/input.yuv", "-b", "out/a.266", "--ReconFile=",
            # 29.97 as VTM 23 takes it; level 1 holds 66x50 (3300 luma samples) at 29.97/s.
            "--SourceWidth=66", "--SourceHeight=50", "--FrameRate=2997:100",
            "--FramesToBeEncoded=6", "--InputChromaFormat=420",
            "--InputBitDepth=8", "--InternalBitDepth=10", "--IntraPeriod=32", "--QP=32",
            "--Level=1", "--ConformanceWindowMode=1",
        ],
    ]
    assert codec.decode_argv(
        bitstream=Path("out/a.266"), output=Path("a.mkv"), width=65, height=49, fps=25,
        workdir=Path("work"),
    ) == [
        ["/opt/vtm/DecoderApp", "-b", "out/a.266", "-o", "work/decoded.yuv", "-d", "8"],
        [
            ffmpeg, "-hide_banner", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "66x50", "-r", "25",
            "-i", "work/decoded.yuv",
            "-vf", "crop=65:49:0:0:exact=1,scale=sws_dither=none,format=yuv420p",
            "-fps_mode", "passthrough", "-c:v", "ffv1", "-level", "3", "-g", "1",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
            "-f", "matroska", "a.mkv",
        ],
    ]


def test_vtm_executables_from_environment_and_cfg_beside_them(monkeypatch, tmp_path):
    # A VTM checkout built with cmake: binaries in bin/umake/gcc-12.2/x86_64/release/, VTM's
    # cfg/ five levels up; the binaries reached through a link elsewhere.
    release = tmp_path / "VTM" / "bin" / "umake" / "gcc-12.2" / "x86_64" / "release"
    release.mkdir(parents=True)
    (tmp_path / "VTM" / "cfg").mkdir()
    cfg = tmp_path / "VTM" / "cfg" / "encoder_randomaccess_vtm.cfg"
    cfg.write_text("GOPSize : 16\n")
    (release / "EncoderApp").write_text("")
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "EncoderApp").symlink_to(release / "EncoderApp")
    monkeypatch.setenv("VCM_VTM_ENCODER", str(tmp_path / "links" / "EncoderApp"))
    monkeypatch.setenv("VCM_VTM_DECODER", "/env/DecoderApp")
    codec = build_codec("vtm")
    assert codec.encoder_executable() == str(tmp_path / "links" / "EncoderApp")
    assert codec.decoder_executable() == "/env/DecoderApp"
    assert codec.cfg_file() == cfg
    argv = codec.encode_argv(
        width=64, height=48, fps=25, frames=6, qp=22, output=Path("a.266"), workdir=Path("w"),
    )[1]
    assert argv[:7] == [str(tmp_path / "links" / "EncoderApp"), "-c", str(cfg),
                        "-i", "w/input.yuv", "-b", "a.266"]
    assert "--FrameRate=25:1" in argv and "--Level=1" in argv


def test_vtm_without_cfg_is_a_clear_error(monkeypatch, tmp_path):
    (tmp_path / "EncoderApp").write_text("")
    monkeypatch.setenv("VCM_VTM_ENCODER", str(tmp_path / "EncoderApp"))
    monkeypatch.setenv("VCM_VTM_DECODER", str(tmp_path / "DecoderApp"))
    with pytest.raises(VcmError, match="encoder_randomaccess_vtm.cfg not found.*cfg=PATH"):
        build_codec("vtm").encode_argv(
            width=64, height=48, fps=25, frames=6, qp=22, output=Path("a.266"),
            workdir=Path("w"),
        )
    with pytest.raises(VcmError, match="missing.cfg: VTM configuration file does not exist"):
        build_codec("vtm", cfg=str(tmp_path / "missing.cfg")).check_tools()


@pytest.mark.parametrize(
    ("fps", "expected"),
    [(25, "25:1"), (7.0, "7:1"), (29.97, "2997:100"), (30000 / 1001, "30000:1001"),
     (0.2, "1:5"), (0.4, "2:5")],
)
def test_vtm_frame_rate_is_a_fraction(fps, expected):
    assert vtm_frame_rate(fps) == expected


@pytest.mark.parametrize(
    ("width", "height", "fps", "level"),
    [
        (160, 96, 30, "1"),        # 15360 samples, 460800 /s <= 552960
        (192, 192, 30, "2"),       # 36864 samples fit level 1, 1105920 /s do not
        (768, 576, 7, "3"),        # PETS09: 442368 samples > 245760 (level 2.1)
        (1920, 1080, 30, "4"),     # 2073600 samples, 62208000 /s <= 66846720
        (1920, 1080, 60, "4.1"),
        (3840, 2160, 60, "5.1"),
        # 8704 samples, but one side longer than sqrt(8 x 122880) = 991 (level 2); level
        # 2.1 allows sqrt(8 x 245760) = 1402.
        (8, 1088, 1, "2.1"),
    ],
)
def test_vtm_level_is_the_lowest_that_holds_the_video(width, height, fps, level):
    assert vvc_level(width, height, fps) == level


def test_vtm_level_option_is_checked():
    assert build_codec("vtm", level="5.1").level == "5.1"
    with pytest.raises(VcmError, match=r"codec vtm: option level must be one of 1, 2, 2\.1, .*, "
                                       r"6\.2; got '7'"):
        build_codec("vtm", level="7")


@pytest.mark.parametrize(
    ("codec", "qp", "message"),
    [("vvenc", 64, "0..63"), ("vvenc", -1, "0..63"), ("x265", 52, "0..51"),
     ("vtm", 64, "0..63"), ("x265", 3.5, "integer")],
)
def test_qp_out_of_range(codec, qp, message):
    coder = build_codec(codec, **({"encoder": "EncoderApp"} if codec == "vtm" else {}))
    with pytest.raises(VcmError, match=f"{codec}: QP .*{message}"):
        coder.encode_argv(
            width=64, height=48, fps=25, frames=6, qp=qp, output=Path("a"), workdir=Path("w"),
        )


def test_ffv1_accepts_any_qp():
    build_codec("ffv1").check_qp(99)


def test_unknown_codec_and_option():
    with pytest.raises(VcmError, match="unknown codec 'h264'"):
        build_codec("h264")
    with pytest.raises(VcmError, match="codec vvenc: unknown option 'crf'; its options are: "
                                       "intra_period, params, preset, threads"):
        build_codec("vvenc", crf=20)
    with pytest.raises(VcmError, match="codec x265: option intra_period must be at least 1, got 0"):
        build_codec("x265", intra_period=0)
    with pytest.raises(VcmError, match="codec ffv1: unknown option 'preset'; it takes none"):
        build_codec("ffv1", preset="fast")


# -- encoding and decoding ----------------------------------------------------------------

@pytest.mark.parametrize("codec", ["vvenc", "x265"])
def test_lossy_round_trip(coded, codec):
    folder = coded["folder"]
    results, quality = {}, {}
    for qp in (22, 42):
        bitstream = folder / f"clip.{codec}.qp{qp}{build_codec(codec).extension}"
        results[qp] = encode_video(coded["clip"], bitstream, codec=codec, qp=qp, progress=False)
        decoded = folder / f"clip.{codec}.qp{qp}.decoded.mkv"
        decode = decode_video(bitstream, decoded)
        assert decode == DecodeResult.read(sidecar_path(decoded))
        assert decode.seconds == decode.decode_seconds > 0
        assert (decode.codec, decode.width, decode.height, decode.fps) == (codec, 65, 49, 30.0)
        source = open_video(decoded)
        assert (source.info.width, source.info.height, source.info.frames) == (65, 49, FRAMES)
        quality[qp] = psnr(coded["reference"], np.stack(list(source)))

        result = results[qp]
        assert result == EncodeResult.read(sidecar_path(bitstream))
        assert (result.codec, result.qp, result.frames, result.fps) == (codec, qp, FRAMES, 30.0)
        assert (result.width, result.height) == (65, 49)
        assert (result.padded_width, result.padded_height) == (66, 50)
        assert result.bytes == bitstream.stat().st_size > 0
        assert result.bitstream == bitstream.name
        assert result.options["intra_period"] == 32
        assert result.seconds == result.encode_seconds > 0
        assert f"-{'qp' if codec == 'vvenc' else 'x265-params'}" in result.argv[0]

    assert results[42].bytes < results[22].bytes
    # Measured with ffmpeg 9.0.2: vvenc 37.3 / 22.1 dB, x265 40.5 / 27.4 dB (QP 22 / 42)
    # against the lossless yuv420p reference, in BGR.
    assert quality[22] > 34
    assert quality[42] < quality[22]


def test_decode_without_sidecar_keeps_padded_size(coded, tmp_path):
    bitstream = tmp_path / "copy.266"
    encode_video(coded["clip"], tmp_path / "a.266", codec="vvenc", qp=37, progress=False)
    shutil.copyfile(tmp_path / "a.266", bitstream)
    result = decode_video(bitstream, tmp_path / "copy.mkv")
    assert (result.codec, result.width, result.height, result.fps) == ("vvenc", None, None, None)
    info = open_video(tmp_path / "copy.mkv").info
    assert (info.width, info.height, info.frames) == (66, 50, FRAMES)

    # VVenC signals the frame rate in the stream, which wins over the fps given.
    cropped = decode_video(bitstream, tmp_path / "cropped.mkv", width=64, height=47, fps=10)
    info = open_video(tmp_path / "cropped.mkv").info
    assert (info.width, info.height, info.fps, info.frames) == (64, 47, 30.0, FRAMES)
    assert (cropped.width, cropped.height, cropped.fps) == (64, 47, 10)


def test_decode_vtm_sidecar_needs_decoder_app(coded, tmp_path, monkeypatch):
    # A real VVC stream labelled as VTM's: decoding it needs DecoderApp unless the codec
    # is overridden, which decodes it with ffmpeg.
    bitstream = tmp_path / "a.266"
    encoded = encode_video(coded["clip"], bitstream, codec="vvenc", qp=37, progress=False)
    relabelled = dataclasses.replace(encoded, codec="vtm", options={})
    relabelled.write(sidecar_path(bitstream))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("VCM_VTM_DECODER", raising=False)
    with pytest.raises(VcmError, match="DecoderApp"):
        decode_video(bitstream, tmp_path / "out" / "a.mkv")
    assert not (tmp_path / "out").exists()  # the folder made for the output went with it
    result = decode_video(bitstream, tmp_path / "out" / "a.mkv", codec="vvenc")
    assert (result.codec, result.width, result.height) == ("vvenc", 65, 49)


def test_decode_rejects_unknown_suffix_and_missing_file(tmp_path):
    unknown = tmp_path / "a.bin"
    unknown.write_bytes(b"\x00\x00\x01")
    with pytest.raises(VcmError, match="unknown suffix"):
        decode_video(unknown, tmp_path / "a.mkv")
    with pytest.raises(VcmError, match="does not exist"):
        decode_video(tmp_path / "missing.266", tmp_path / "a.mkv")
    with pytest.raises(VcmError, match="both width and height"):
        decode_video(unknown, tmp_path / "a.mkv", width=64)


def test_ffv1_round_trip_is_exact_bt601(coded, tmp_path):
    bitstream = tmp_path / "odd.ffv1.mkv"
    result = encode_video(coded["clip"], bitstream, codec="ffv1", qp=7, progress=False)
    assert (result.qp, result.padded_width, result.padded_height) == (7, 66, 50)

    # The bitstream holds the padded frames: the added column and row are black in
    # BT.601 limited range.
    padded = read_yuv420p(bitstream, 66, 50)
    assert len(padded) == FRAMES
    for luma, _, _ in padded:
        assert (luma[:, 65] == 16).all() and (luma[49, :] == 16).all()

    # Decoded (cropped back to 65x49), every sample is the exact BT.601 value rounded (up
    # to 0.53 off, measured: swscale's fixed-point arithmetic), with no bias (swscale's
    # default fast path truncates: its samples are 0.5 low on average).
    decode_video(bitstream, tmp_path / "odd.decoded.mkv")
    decoded = read_yuv420p(tmp_path / "odd.decoded.mkv", 65, 49)
    assert len(decoded) == FRAMES
    for planes, frame in zip(decoded, coded["frames"]):
        for plane, exact in zip(planes, bt601_yuv420p(frame)):
            assert plane.shape == exact.shape
            assert np.abs(plane - exact).max() <= 0.55
            assert abs(np.mean(plane - exact)) < 0.05


def test_black_is_limited_range(coded):
    decoded = read_yuv420p(coded["folder"] / "reference.decoded.mkv", 65, 49)
    chroma_rows = slice(BLACK_ROWS.start // 2 + 1, BLACK_ROWS.stop // 2 - 1)
    chroma_columns = slice(BLACK_COLUMNS.start // 2 + 1, BLACK_COLUMNS.stop // 2 - 1)
    for luma, chroma_u, chroma_v in decoded:
        assert (luma[BLACK_ROWS, BLACK_COLUMNS] == 16).all()
        assert (chroma_u[chroma_rows, chroma_columns] == 128).all()
        assert (chroma_v[chroma_rows, chroma_columns] == 128).all()


# -- failures -----------------------------------------------------------------------------

def test_failing_encoder_leaves_nothing(coded, tmp_path, monkeypatch):
    output_folder = tmp_path / "out"
    log_path = tmp_path / "encode.log"
    # An ffmpeg that reads a little, complains and fails, as a real encoder does on bad input.
    failing = tmp_path / "failing-ffmpeg"
    failing.write_text("#!/bin/sh\nhead -c 100 > /dev/null\necho 'encoder gave up' >&2\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setenv("VCM_FFMPEG", str(failing))
    with pytest.raises(VcmError) as raised:
        encode_video(coded["clip"], output_folder / "a.266", codec="vvenc", qp=30,
                     log_path=log_path, progress=False)
    message = str(raised.value)
    assert "failed with exit code 3" in message and str(log_path) in message
    assert "encoder gave up" in message
    assert not output_folder.exists()  # the folder made for the output went with it
    assert "libvvenc" in log_path.read_text()


def test_an_unknown_preset_is_refused_before_anything_runs(coded, tmp_path):
    output_folder = tmp_path / "out"
    log_path = tmp_path / "encode.log"
    with pytest.raises(VcmError, match="codec vvenc: option preset must be one of faster, fast, "
                                       "medium, slow, slower; got 'nonsense'"):
        encode_video(coded["clip"], output_folder / "a.266", codec="vvenc", qp=30,
                     preset="nonsense", log_path=log_path, progress=False)
    assert not log_path.exists()
    assert not output_folder.exists() or list(output_folder.iterdir()) == []


def test_vtm_missing_is_a_clear_error(coded, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("VCM_VTM_ENCODER", raising=False)
    output_folder = tmp_path / "out"
    with pytest.raises(VcmError, match="EncoderApp.*on PATH.*VCM_VTM_ENCODER"):
        encode_video(coded["clip"], output_folder / "a.266", codec="vtm", qp=32,
                     progress=False)
    assert not output_folder.exists()  # the folder made for the output went with it


def test_encode_checks_qp_before_reading(tmp_path):
    with pytest.raises(VcmError, match="x265: QP 60 is out of range 0..51"):
        encode_video(tmp_path / "missing.mkv", tmp_path / "a.265", codec="x265", qp=60)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [None, b"", b"not a video at all"])
def test_unreadable_input(tmp_path, content):
    clip = tmp_path / "clip.mkv"
    if content is not None:
        clip.write_bytes(content)
    with pytest.raises(VcmError, match="clip.mkv"):
        encode_video(clip, tmp_path / "out" / "a.265", codec="x265", qp=30, progress=False)
    assert not (tmp_path / "out" / "a.265").exists()


def test_a_sidecar_cannot_name_a_program_to_run(coded, tmp_path, monkeypatch):
    # A hostile (or old) sidecar naming a "decoder" program: decoding must not run it; the
    # decoder is looked up on this machine instead (here: none, so a clear error).
    bitstream = tmp_path / "a.266"
    encoded = encode_video(coded["clip"], bitstream, codec="vvenc", qp=37, progress=False)
    marker = tmp_path / "ran"
    program = tmp_path / "evil"
    program.write_text(f"#!/bin/sh\ntouch {marker}\n")
    program.chmod(0o755)
    relabelled = dataclasses.replace(encoded, codec="vtm",
                                     options={"decoder": str(program), "encoder": str(program)})
    relabelled.write(sidecar_path(bitstream))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("VCM_VTM_DECODER", raising=False)
    with pytest.raises(VcmError, match="DecoderApp"):
        decode_video(bitstream, tmp_path / "out" / "a.mkv")
    assert not marker.exists()
