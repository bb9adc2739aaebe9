from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vcm.cli import app
from vcm.config import load_config
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
        (lambda c: c["detector"].update(name="detectron2"), "detector/name: unknown detector 'detectron2'"),
        (lambda c: c["single_task"]["track"].update(name="jde"), "single_task/track/name: unknown detector 'jde'"),
        (lambda c: c["codecs"].update(vtm2={}), "codecs/vtm2: unknown codec 'vtm2'"),
        (lambda c: c.pop("pose"), "'pose' is a required property"),
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
