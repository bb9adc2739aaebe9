from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vcm.cli import app
from vcm.config import load_config
from vcm import frameworks
from vcm.errors import VcmError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["default.yaml", "ci.yaml", "lite.yaml"])
def test_shipped_configs_are_valid(name):
    config = load_config(CONFIGS / name)
    assert config["qps"]


def _broken(tmp_path, change):
    config = yaml.safe_load((CONFIGS / "ci.yaml").read_text())
    change(config)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.update(qp=[22]), "(top level): Additional properties are not allowed ('qp' was unexpected)"),
        (lambda c: c.update(qps=[22, 99]), "qps/1: 99 is greater than the maximum of 63"),
        (lambda c: c["detector"].update(score=1.5), "detector/score: 1.5 is greater than the maximum of 1"),
        (lambda c: c["detector"].update(name="ssd"), "detector/name: unknown detector 'ssd'"),
        (lambda c: c["single_task"]["track"].update(name="jde"), "single_task/track/name: unknown detector 'jde'"),
        (lambda c: c["codecs"].update(vtm2={}), "codecs/vtm2: unknown codec 'vtm2'"),
        (lambda c: c.pop("pose"), "'pose' is a required property"),
        (lambda c: c["segment"].update(segmenter="sam2"), "segment/segmenter: unknown segmenter 'sam2'"),
        (lambda c: c["single_task"].pop("segment"), "single_task: 'segment' is a required property"),
    ],
)
def test_a_wrong_key_or_value_is_named(tmp_path, change, message):
    path = _broken(tmp_path, change)
    with pytest.raises(VcmError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_cli_checks_a_config(tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, ["config", str(CONFIGS / "ci.yaml")]).exit_code == 0
    result = runner.invoke(app, ["config", str(_broken(tmp_path, lambda c: c.update(qps=[])))])
    assert result.exit_code == 1 and "qps: [] should be non-empty" in result.output
    result = runner.invoke(app, ["config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1 and "missing.yaml: file does not exist" in result.output


def _pretend_missing(monkeypatch, modules):
    """Make ``modules`` look uninstalled and every other module installed."""
    monkeypatch.setattr(frameworks, "module_available", lambda module: module not in modules)


def test_paper_config_lists_everything_missing_in_one_message(monkeypatch, tmp_path):
    _pretend_missing(monkeypatch, {"detectron2", "mmcv", "mmpose"})
    for variable in ("VCM_VTM_ENCODER", "VCM_VTM_DECODER"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no EncoderApp
    with pytest.raises(VcmError) as error:
        load_config(CONFIGS / "paper.yaml")
    assert str(error.value).splitlines() == [
        f"{CONFIGS / 'paper.yaml'}: cannot run here:",
        "- not installed: detectron2 (for detector/name detectron2, single_task/pose/name "
        "detectron2, single_task/track/name detectron2); install: pip install "
        "--no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git' "
        "(after torch)",
        "- not installed: mmcv, mmpose (for pose/estimator hrnet); install: make install-mmpose",
        "- codecs/vtm: VTM's EncoderApp not found: install VTM "
        "(https://vcgit.hhi.fraunhofer.de/jvet/VVCSoftware_VTM) and put EncoderApp and "
        "DecoderApp on PATH, or set $VCM_VTM_ENCODER, or pass the codec option encoder=PATH",
    ]


def test_paper_config_passes_where_everything_is_installed(monkeypatch, tmp_path):
    _pretend_missing(monkeypatch, set())
    for program in ("EncoderApp", "DecoderApp"):
        path = tmp_path / program
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # the config's VTM cfg path is relative to the working folder
    (tmp_path / "data" / "VTM").mkdir(parents=True)
    (tmp_path / "data" / "VTM" / "encoder_randomaccess_vtm.cfg").write_text("")
    config = load_config(CONFIGS / "paper.yaml")
    assert config["detector"] == {
        "name": "detectron2", "score": 0.6,
        "options": {"config": "COCO-Detection/faster_rcnn_X_101_32x8d_FPN_3x", "device": "auto",
                    "frames_per_batch": 4},
    }
    assert config["pose"]["estimator"] == "hrnet"
    assert sorted(config["sequences"]) == ["hieve-16", "hieve-2", "hieve-4", "hieve-7"]
    assert config["qps"] == [22, 27, 32, 37, 42, 47]


def test_missing_vtm_cfg_is_named(monkeypatch, tmp_path):
    _pretend_missing(monkeypatch, set())
    monkeypatch.setenv("VCM_VTM_ENCODER", "/bin/true")
    monkeypatch.setenv("VCM_VTM_DECODER", "/bin/true")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(VcmError, match="- codecs/vtm: data/VTM/encoder_randomaccess_vtm.cfg: "
                                       "VTM configuration file does not exist"):
        load_config(CONFIGS / "paper.yaml")
