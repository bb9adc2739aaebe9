"""The ``vtm`` codec with a real VTM: encode and decode tiny clips, read what they hold.

VTM is found the way a user's build is: ``EncoderApp`` and ``DecoderApp`` on PATH (``make test``
puts the mirror's VTM 23.13 there), VTM's ``cfg/`` beside them. Without VTM these tests skip
(the ``vtm`` fixture of conftest.py; CI fails them): VTM is slow (about a second per 160x96 frame here), so the clips have 4 frames.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vcm.codecs import EncodeResult, decode_video, encode_video, sidecar_path
from vcm.video import open_video, write_lossless_video

from conftest import require_vtm
from test_codecs import gradient_frames, read_yuv420p

REPOSITORY = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT, FRAMES, FPS = 160, 96, 4, 30
QPS = (27, 37, 47)


def luma_psnr(reference: list, decoded: list) -> float:
    """PSNR in dB of the 8-bit luma of all frames together."""
    errors = [(want[0].astype(np.float64) - got[0].astype(np.float64)) ** 2
              for want, got in zip(reference, decoded, strict=True)]
    return float(10 * np.log10(255**2 / np.mean(errors)))


def write_clip(path: Path, width: int, height: int) -> None:
    write_lossless_video(iter(gradient_frames(width, height, FRAMES)), path,
                         width=width, height=height, fps=FPS)


@pytest.fixture(scope="module")
def vtm_coded(tmp_path_factory) -> dict:
    """A 160x96 clip coded by VTM at each of :data:`QPS` and decoded by DecoderApp, run from
    an empty current folder; and its lossless (FFV1) reference."""
    require_vtm()
    folder = tmp_path_factory.mktemp("vtm")
    clip = folder / "clip.mkv"
    write_clip(clip, WIDTH, HEIGHT)
    encode_video(clip, folder / "reference.mkv", codec="ffv1", qp=0, progress=False)
    current = folder / "current"
    current.mkdir()
    before = os.getcwd()
    os.chdir(current)
    try:
        points = {}
        for qp in QPS:
            bitstream = folder / f"qp{qp}.266"
            encoded = encode_video(clip, bitstream, codec="vtm", qp=qp, progress=False)
            decoded = decode_video(bitstream, folder / f"qp{qp}.mkv")
            points[qp] = (encoded, decoded)
    finally:
        os.chdir(before)
    return {"folder": folder, "clip": clip, "current": current, "points": points,
            "reference": read_yuv420p(folder / "reference.mkv", WIDTH, HEIGHT)}


def test_bytes_fall_and_quality_is_sane(vtm_coded):
    points, reference = vtm_coded["points"], vtm_coded["reference"]
    sizes = [points[qp][0].bytes for qp in QPS]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    psnrs = []
    for qp in QPS:
        decoded = read_yuv420p(vtm_coded["folder"] / f"qp{qp}.mkv", WIDTH, HEIGHT)
        assert len(decoded) == FRAMES
        assert all(planes[0].shape == (HEIGHT, WIDTH) for planes in decoded)
        psnrs.append(luma_psnr(reference, decoded))
    # Measured with VTM 23.13 on this clip: 47.8, 40.9 and 34.2 dB; the bounds leave room
    # for other VTM versions, not for a broken pipeline (a frame shift or a swapped plane
    # costs well over 10 dB).
    assert psnrs == sorted(psnrs, reverse=True)
    assert 38 < psnrs[0] < 60 and 25 < psnrs[-1] < 40, psnrs


def test_decoded_video_has_the_input_count_size_and_rate(vtm_coded):
    info = open_video(vtm_coded["folder"] / "qp37.mkv").info
    assert (info.width, info.height, info.frames, info.fps) == (WIDTH, HEIGHT, FRAMES, FPS)


def test_odd_size_round_trip(vtm, tmp_path):
    clip = tmp_path / "odd.mkv"
    write_clip(clip, 161, 97)
    encoded = encode_video(clip, tmp_path / "odd.266", codec="vtm", qp=32, progress=False)
    assert (encoded.padded_width, encoded.padded_height) == (162, 98)
    decode_video(tmp_path / "odd.266", tmp_path / "odd.decoded.mkv")
    info = open_video(tmp_path / "odd.decoded.mkv").info
    assert (info.width, info.height, info.frames) == (161, 97, FRAMES)
    encode_video(clip, tmp_path / "odd.reference.mkv", codec="ffv1", qp=0, progress=False)
    reference = read_yuv420p(tmp_path / "odd.reference.mkv", 162, 98)
    decoded = read_yuv420p(tmp_path / "odd.decoded.mkv", 161, 97)
    cropped = [(planes[0][:97, :161],) for planes in reference]
    assert 30 < luma_psnr(cropped, decoded) < 60


def test_ffmpeg_decodes_vtm_streams_to_the_same_frames(vtm_coded):
    folder = vtm_coded["folder"]
    for qp in (27, 47):
        decode_video(folder / f"qp{qp}.266", folder / f"qp{qp}.ffmpeg.mkv", codec="vvenc")
        by_vtm = read_yuv420p(folder / f"qp{qp}.mkv", WIDTH, HEIGHT)
        by_ffmpeg = read_yuv420p(folder / f"qp{qp}.ffmpeg.mkv", WIDTH, HEIGHT)
        assert len(by_vtm) == len(by_ffmpeg) == FRAMES
        for vtm_planes, ffmpeg_planes in zip(by_vtm, by_ffmpeg):
            for vtm_plane, ffmpeg_plane in zip(vtm_planes, ffmpeg_planes):
                np.testing.assert_array_equal(vtm_plane, ffmpeg_plane)


def test_sidecar_records_the_commands_version_cfg_and_seconds(vtm_coded, vtm):
    encoder, decoder = vtm["EncoderApp"], vtm["DecoderApp"]
    cfg = encoder.resolve().parent / "cfg" / "encoder_randomaccess_vtm.cfg"
    encoded = EncodeResult.read(sidecar_path(vtm_coded["folder"] / "qp37.266"))
    assert encoded == vtm_coded["points"][37][0]
    command = encoded.argv[1]
    assert command[:3] == [str(encoder), "-c", str(cfg)]
    for argument in ("--QP=37", "--ReconFile=", "--FrameRate=30:1", "--Level=1",
                     "--SourceWidth=160", "--SourceHeight=96", f"--FramesToBeEncoded={FRAMES}"):
        assert argument in command
    assert encoded.encode_seconds > 0
    assert encoded.options == {"cfg": None, "intra_period": 32, "level": None}
    # The version VTM prints, read here on its own.
    banner = subprocess.run([str(encoder), "--help"], capture_output=True).stdout
    version = re.search(rb"Version (\d+\.\d+)", banner).group(1).decode()
    assert encoded.tools == {
        "EncoderApp": {"path": str(encoder), "version": version},
        "cfg": {"path": str(cfg), "sha256": hashlib.sha256(cfg.read_bytes()).hexdigest()},
    }
    decoded = vtm_coded["points"][37][1]
    assert decoded.argv[0][0] == str(decoder) and decoded.decode_seconds > 0
    assert decoded.tools == {"DecoderApp": {"path": str(decoder), "version": version}}


def test_nothing_is_written_to_the_current_folder(vtm_coded):
    # VTM's cfg names rec.yuv; encoding and decoding ran in this folder.
    assert list(vtm_coded["current"].iterdir()) == []


def test_a_moved_bitstream_decodes_with_this_machines_decoder(vtm_coded, vtm, tmp_path,
                                                             monkeypatch):
    # Encoded with explicit program paths, then moved to a "machine" where DecoderApp is
    # elsewhere: the sidecar keeps no program path, the decoder found here runs.
    encoder, decoder = vtm["EncoderApp"], vtm["DecoderApp"]
    encoded = encode_video(vtm_coded["clip"], tmp_path / "a.266", codec="vtm", qp=47,
                           encoder=str(encoder), decoder=str(decoder), progress=False)
    assert "decoder" not in encoded.options
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "DecoderApp").symlink_to(decoder)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{tmp_path / 'empty'}")
    monkeypatch.setenv("VCM_VTM_DECODER", str(elsewhere / "DecoderApp"))
    result = decode_video(tmp_path / "a.266", tmp_path / "a.mkv")
    assert result.argv[0][0] == str(elsewhere / "DecoderApp")
    # A decoder given as an option wins over the environment.
    monkeypatch.setenv("VCM_VTM_DECODER", str(tmp_path / "missing" / "DecoderApp"))
    result = decode_video(tmp_path / "a.266", tmp_path / "b.mkv",
                          codec_options={"decoder": str(decoder)})
    assert result.argv[0][0] == str(decoder)
    np.testing.assert_array_equal(np.stack(list(open_video(tmp_path / "a.mkv"))),
                                  np.stack(list(open_video(tmp_path / "b.mkv"))))


def test_ci_sweep_with_vtm_completes(vtm, tmp_path):
    # The ci config with VTM in place of VVenC, on 6 frames: 4 VTM encodes (2 pipelines x 2 QPs).
    config = (REPOSITORY / "configs" / "ci.yaml").read_text()
    config = config.replace("synth: {frames: 12,", "synth: {frames: 6,")
    config = config.replace("vvenc: {preset: faster, intra_period: 32}", "vtm: {}")
    assert "vtm: {}" in config and "frames: 6," in config
    (tmp_path / "ci-vtm.yaml").write_text(config)
    bin_dir = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    completed = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "ci-vtm.yaml"),
         "--cores", "2"],
        capture_output=True, text=True, env=environment,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = (tmp_path / "results" / "ci-vtm" / "summary.csv").read_text().splitlines()
    assert len(summary) == 5 and all(",vtm," in row for row in summary[1:])
    # The manifest names the codec with VTM's version and the cfg's content.
    cfg = vtm["EncoderApp"].resolve().parent / "cfg" / "encoder_randomaccess_vtm.cfg"
    manifest = json.loads((tmp_path / "results" / "ci-vtm" / "manifest.json").read_text())
    assert list(manifest["codecs"]) == ["vtm"]
    tools = manifest["codecs"]["vtm"]["tools"]
    assert tools["cfg"]["sha256"] == hashlib.sha256(cfg.read_bytes()).hexdigest()
    assert re.fullmatch(r"\d+\.\d+", tools["EncoderApp"]["version"])


def test_manifest_lists_each_codec_once_per_options_and_tools(tmp_path):
    from vcm.experiment.manifest import codec_summary, codecs_used

    def sidecar(path, codec, options, tools=None):
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"bitstream": path.name[:-5], "codec": codec, "qp": 22, "options": options,
                  "argv": [["x"]]}
        if tools is not None:
            record["tools"] = tools
        path.write_text(json.dumps(record))

    vtm_tools = {"EncoderApp": {"path": "/a/EncoderApp", "version": "23.13"},
                 "cfg": {"path": "/a/cfg/ra.cfg", "sha256": "ab" * 32}}
    sidecar(tmp_path / "m" / "qp22" / "foreground.266.json", "vtm", {"intra_period": 32},
            vtm_tools)
    sidecar(tmp_path / "m" / "qp47" / "foreground.266.json", "vtm", {"intra_period": 32},
            vtm_tools)
    sidecar(tmp_path / "s" / "qp22" / "original.266.json", "vvenc", {"preset": "faster"})
    sidecar(tmp_path / "s" / "qp47" / "original.266.json", "vvenc", {"preset": "medium"}, {})
    (tmp_path / "m" / "qp22" / "decoded.mkv.json").write_text(json.dumps({"output": "x"}))
    (tmp_path / "m" / "point.json").write_text("[1, 2]")
    assert codecs_used(tmp_path) == {
        "vtm": {"codec": "vtm", "options": {"intra_period": 32}, "tools": vtm_tools},
        "vvenc": {"codec": "vvenc", "options": {"preset": "faster"}, "tools": {}},
        "vvenc 2": {"codec": "vvenc", "options": {"preset": "medium"}, "tools": {}},
    }
    assert codec_summary(codecs_used(tmp_path)) == (
        "vtm (EncoderApp 23.13, cfg sha256 abababababab), vvenc, vvenc 2"
    )
