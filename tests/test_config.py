from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vcm.cli import app
from vcm.config import load_config
from vcm import frameworks
from vcm.errors import VcmError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["default.yaml", "ci.yaml", "lite.yaml", "pets.yaml",
                                  "own-video.yaml", "reid.yaml"])
def test_shipped_configs_are_valid(name, request, tmp_path, monkeypatch):
    if name in ("lite.yaml", "pets.yaml"):
        request.getfixturevalue("mirror")  # yolo-fastest's weights, PETS09-S3MF1
    if name == "own-video.yaml":  # the template names a video of the user's
        monkeypatch.chdir(tmp_path)
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "my-video.mp4").write_bytes(b"")
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
        (lambda c: c["single_task"]["track"].update(name="fairmot"), "single_task/track/name: unknown detector 'fairmot'"),
        (lambda c: c["codecs"].update(vtm2={}), "codecs/vtm2: unknown codec 'vtm2'"),
        (lambda c: c.pop("pose"), "'pose' is a required property"),
        (lambda c: c["segment"].update(segmenter="sam2"), "segment/segmenter: unknown segmenter 'sam2'"),
        (lambda c: c["single_task"].pop("segment"), "single_task: 'segment' is a required property"),
        (lambda c: c["detections"].update(format="xml"),
         "detections/format: unknown detection format 'xml'"),
        (lambda c: c["detections"]["options"].update(quality=9),
         "detections/options: vcmd has no option 'quality'"),
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
    monkeypatch.setenv("VCM_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("VCM_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no data/HiEve
    with pytest.raises(VcmError) as error:
        load_config(CONFIGS / "paper.yaml")
    lines = str(error.value).splitlines()
    assert lines[:4] == [
        f"{CONFIGS / 'paper.yaml'}: cannot run here:",
        "- not installed: detectron2 (for detector/name detectron2, single_task/pose/name "
        "detectron2, single_task/track/name detectron2); install: pip install "
        "--no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git' "
        "'protobuf>=4.25.3,<5' 'setuptools<81' (after torch)",
        "- not installed: mmcv, mmpose (for pose/estimator hrnet); install: make install-mmpose",
        "- codecs/vtm: VTM's EncoderApp not found: install VTM "
        "(https://vcgit.hhi.fraunhofer.de/jvet/VVCSoftware_VTM) and put EncoderApp and "
        "DecoderApp on PATH, or set $VCM_VTM_ENCODER, or pass the codec option encoder=PATH",
    ]
    # Each model file once, then every HiEve video with its two ground-truth files.

    def model_line(key, model, filename):
        return (f"- {key}: model file {model}/{filename} is not in the mirror "
                f"{tmp_path / 'mirror' / 'models' / model / filename} ($VCM_MIRROR) or the "
                f"cache {tmp_path / 'cache' / 'models' / model / filename} ($VCM_CACHE); "
                f"fetch: vcm models fetch {model}")

    assert lines[4:] == [
        model_line("detector/name detectron2", "detectron2",
                   "faster_rcnn_X_101_32x8d_FPN_3x-model_final_68b088.pkl"),
        model_line("pose/estimator hrnet", "mmpose",
                   "hrnet_w32_coco_256x192-c78dce93_20200708.pth"),
        model_line("single_task/pose/name detectron2", "detectron2",
                   "faster_rcnn_R_50_FPN_3x-model_final_280758.pkl"),
    ] + [
        f"- sequences/hieve-{n}: missing data/HiEve/videos/{n}.mp4 (path), "
        f"data/HiEve/gt/pose/{n}.json (pose_gt), data/HiEve/gt/track/{n}.txt (track_gt) "
        f"(ground truth elsewhere: `pose_gt: FILE` / `track_gt: FILE`; none for this sequence: "
        f"`pose_gt: null` / `track_gt: null`); "
        "HiEve pose files convert with: vcm data hieve-pose FOLDER -o FILE"
        for n in (2, 4, 7, 16)
    ]


def _paper_machine(monkeypatch, tmp_path):
    """A folder where everything configs/paper.yaml needs is present (as empty files): VTM's
    programs on PATH with its cfg/ beside them, HiEve laid out, the weights in a mirror."""
    _pretend_missing(monkeypatch, set())
    monkeypatch.setattr(frameworks, "import_problem", lambda module: None)
    vtm = tmp_path / "vtm"
    (vtm / "cfg").mkdir(parents=True)
    (vtm / "cfg" / "encoder_randomaccess_vtm.cfg").write_text("")
    for program in ("EncoderApp", "DecoderApp"):
        path = vtm / program
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    for variable in ("VCM_VTM_ENCODER", "VCM_VTM_DECODER"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PATH", str(vtm))
    monkeypatch.chdir(tmp_path)  # the config's HiEve paths are relative to the working folder
    for video in (2, 4, 7, 16):
        for path in (f"data/HiEve/videos/{video}.mp4", f"data/HiEve/gt/track/{video}.txt",
                     f"data/HiEve/gt/pose/{video}.json"):
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text("")
    monkeypatch.setenv("VCM_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("VCM_CACHE", str(tmp_path / "cache"))
    for model, filename in [
        ("detectron2", "faster_rcnn_X_101_32x8d_FPN_3x-model_final_68b088.pkl"),
        ("detectron2", "faster_rcnn_R_50_FPN_3x-model_final_280758.pkl"),
        ("mmpose", "hrnet_w32_coco_256x192-c78dce93_20200708.pth"),
    ]:
        (tmp_path / "mirror" / "models" / model).mkdir(parents=True, exist_ok=True)
        (tmp_path / "mirror" / "models" / model / filename).write_text("")


def test_paper_config_passes_where_everything_is_present(monkeypatch, tmp_path):
    _paper_machine(monkeypatch, tmp_path)
    config = load_config(CONFIGS / "paper.yaml")
    assert config["detector"] == {
        "name": "detectron2", "score": 0.6,
        "options": {"config": "COCO-Detection/faster_rcnn_X_101_32x8d_FPN_3x", "device": "auto",
                    "frames_per_batch": 4},
    }
    assert config["pose"]["estimator"] == "hrnet"
    assert sorted(config["sequences"]) == ["hieve-16", "hieve-2", "hieve-4", "hieve-7"]
    assert config["qps"] == [22, 27, 32, 37, 42, 47]


def test_a_weights_file_in_the_cache_counts(monkeypatch, tmp_path):
    _paper_machine(monkeypatch, tmp_path)
    filename = "hrnet_w32_coco_256x192-c78dce93_20200708.pth"
    (tmp_path / "mirror" / "models" / "mmpose" / filename).unlink()
    with pytest.raises(VcmError, match=f"mmpose/{filename} is not in the mirror"):
        load_config(CONFIGS / "paper.yaml")
    (tmp_path / "cache" / "models" / "mmpose").mkdir(parents=True)
    (tmp_path / "cache" / "models" / "mmpose" / filename).write_text("")
    load_config(CONFIGS / "paper.yaml")


def test_vtm_without_its_cfg_is_named(monkeypatch, tmp_path):
    _paper_machine(monkeypatch, tmp_path)
    (tmp_path / "vtm" / "cfg" / "encoder_randomaccess_vtm.cfg").unlink()
    with pytest.raises(VcmError) as error:
        load_config(CONFIGS / "paper.yaml")
    assert str(error.value).splitlines()[1:] == [
        f"- codecs/vtm: {tmp_path / 'vtm' / 'EncoderApp'}: VTM's encoder_randomaccess_vtm.cfg "
        "not found in a cfg/ folder beside or above it; pass the codec option cfg=PATH (e.g. "
        "-p cfg=VTM/cfg/encoder_randomaccess_vtm.cfg, or in the sweep config codecs: "
        "{vtm: {cfg: PATH}})",
    ]


def test_a_framework_that_fails_to_import_is_named(monkeypatch, tmp_path):
    _paper_machine(monkeypatch, tmp_path)
    monkeypatch.setattr(
        frameworks, "import_problem",
        lambda module: ("importing detectron2.model_zoo fails (ModuleNotFoundError: No module "
                        "named 'pkg_resources')") if module == "detectron2" else None,
    )
    with pytest.raises(VcmError) as error:
        load_config(CONFIGS / "paper.yaml")
    assert str(error.value).splitlines()[1:] == [
        "- detectron2 is installed but importing detectron2.model_zoo fails "
        "(ModuleNotFoundError: No module named 'pkg_resources') (for detector/name detectron2, "
        "single_task/pose/name detectron2, single_task/track/name detectron2); reinstall: pip "
        "install --no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git' "
        "'protobuf>=4.25.3,<5' 'setuptools<81' (after torch)",
    ]


def _reid_with_network_embedders(tmp_path):
    """configs/reid.yaml with appearance ``osnet`` in ``track`` and ``jde`` in a ``trackers:``
    entry, both with random weights (no model file needed): only torch is left to check."""
    config = yaml.safe_load((CONFIGS / "reid.yaml").read_text())
    config["track"]["options"] = {"appearance": "osnet",
                                  "appearance_options": {"weights": "random"}}
    config["trackers"]["appearance"]["options"].update(
        appearance="jde", appearance_options={"weights": "random"})
    path = tmp_path / "reid-networks.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_appearance_embedder_without_its_framework_is_named(monkeypatch, tmp_path):
    # osnet and jde build torch networks; without torch the sweep used to start and fail at
    # its first tracking job with appearance.
    path = _reid_with_network_embedders(tmp_path)
    _pretend_missing(monkeypatch, {"torch"})
    with pytest.raises(VcmError) as error:
        load_config(path)
    assert str(error.value).splitlines() == [
        f"{path}: cannot run here:",
        "- not installed: torch (for track/options/appearance osnet, "
        "trackers/appearance/options/appearance jde); install: make install-torch",
    ]
    result = CliRunner().invoke(app, ["config", str(path)])
    assert (result.exit_code, result.output) == (1, f"error: {error.value}\n")
    _pretend_missing(monkeypatch, set())  # torch there: the same config passes
    monkeypatch.setattr(frameworks, "import_problem", lambda module: None)
    assert load_config(path)["track"]["options"]["appearance"] == "osnet"


def test_an_appearance_embedders_weights_are_looked_for(monkeypatch, tmp_path):
    path = _reid_with_network_embedders(tmp_path)
    config = yaml.safe_load(path.read_text())
    del config["track"]["options"]["appearance_options"]  # osnet's default: MSMT17 weights
    path.write_text(yaml.safe_dump(config))
    _pretend_missing(monkeypatch, set())
    monkeypatch.setattr(frameworks, "import_problem", lambda module: None)
    monkeypatch.setenv("VCM_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("VCM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(VcmError) as error:
        load_config(path)
    [line] = str(error.value).splitlines()[1:]
    assert line.startswith("- track/options/appearance osnet: model file torchreid/osnet_x1_0_")
    assert line.endswith("fetch: vcm models fetch torchreid")


def test_partial_ground_truth(tmp_path, monkeypatch, mirror):
    # Issue 10: PETS09 has tracking ground truth but no pose ground truth. Without
    # `pose_gt: null` the config check names the missing default file (before, the sweep
    # failed minutes in, in evaluate_pose); with it the config passes and says none is there.
    # (ci.yaml segments too, and PETS09 has no instance masks either: `segm_gt: null`.)
    from vcm.config import ground_truth

    monkeypatch.chdir(tmp_path)
    pets = str(mirror / "datasets" / "PETS09-S3MF1")
    config = yaml.safe_load((CONFIGS / "ci.yaml").read_text())
    config["sequences"] = {"pets": {"path": pets}}
    path = tmp_path / "pets.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(VcmError) as error:
        load_config(path)
    assert str(error.value).splitlines()[1:] == [
        f"- sequences/pets: missing {pets}/gt/keypoints.json (pose_gt), "
        f"{pets}/gt/instances.json (segm_gt) (ground truth elsewhere: `pose_gt: FILE` / "
        "`segm_gt: FILE`; none for this sequence: `pose_gt: null` / `segm_gt: null`); HiEve "
        "pose files convert with: vcm data hieve-pose FOLDER -o FILE"
    ]
    config["sequences"]["pets"].update(pose_gt=None, segm_gt=None)
    path.write_text(yaml.safe_dump(config))
    entry = load_config(path)["sequences"]["pets"]
    assert ground_truth("pets", entry, "pose") is None
    assert ground_truth("pets", entry, "track") == f"{pets}/gt/gt.txt"
    # A given file that is not there is named too.
    config["sequences"]["pets"]["track_gt"] = "nowhere/gt.txt"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(VcmError, match="sequences/pets: missing nowhere/gt.txt \\(track_gt\\)"):
        load_config(path)
    result = CliRunner().invoke(app, ["config", str(path)])
    assert result.exit_code == 1 and "nowhere/gt.txt (track_gt)" in result.output


def test_a_dataset_sequence_comes_from_the_mirror(tmp_path, mirror):
    from vcm.config import ground_truth, sequence_path

    entry = load_config(CONFIGS / "pets.yaml")["sequences"]["pets09-s3mf1"]
    folder = mirror / "datasets" / "PETS09-S3MF1"
    assert sequence_path("pets09-s3mf1", entry) == str(folder)
    assert ground_truth("pets09-s3mf1", entry, "track") == f"{folder}/gt/gt.txt"
    assert ground_truth("pets09-s3mf1", entry, "pose") is None
    config = yaml.safe_load((CONFIGS / "pets.yaml").read_text())
    config["sequences"]["pets09-s3mf1"]["dataset"] = "NOPE"
    path = tmp_path / "nope.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(VcmError, match="- sequences/pets09-s3mf1: dataset 'NOPE' not found"):
        load_config(path)



def test_segmentation_ground_truth_is_read_only_when_the_config_segments(tmp_path, monkeypatch,
                                                                          mirror):
    # PETS09 has no instance masks (test_partial_ground_truth: `segm_gt: null` makes it pass).
    from vcm.config import ground_truth

    monkeypatch.chdir(tmp_path)
    pets = str(mirror / "datasets" / "PETS09-S3MF1")
    assert ground_truth("pets", {"path": pets}, "segm") == f"{pets}/gt/instances.json"
    assert ground_truth("pets", {"path": pets, "segm_gt": None}, "segm") is None
    config = yaml.safe_load((CONFIGS / "ci.yaml").read_text())
    config["sequences"] = {"pets": {"path": pets, "pose_gt": None, "segm_gt": "nowhere.json"}}
    path = tmp_path / "pets.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(VcmError, match=r"- sequences/pets: missing nowhere.json \(segm_gt\) "
                                       r"\(ground truth elsewhere: `segm_gt: FILE`; none for "
                                       r"this sequence: `segm_gt: null`\)$"):
        load_config(path)
    del config["segment"], config["single_task"]["segment"], config["sequences"]["pets"]["segm_gt"]
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["config", str(path)])
    assert result.exit_code == 0, result.output
    config["sequences"]["pets"]["segm_gt"] = 5
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(VcmError, match="sequences/pets/segm_gt: 5 is not of type 'string', 'null'"):
        load_config(path)


# Issue 20, part 6: `vcm config` says ok only to configs the sweep can run ------------------


@pytest.mark.parametrize("change, message", [
    (lambda c: c["detector"].update(score=float("nan")), "detector/score: must be a finite number, got nan"),
    (lambda c: c.update(score_study=[float("nan")]), "score_study/0: must be a finite number, got nan"),
    (lambda c: c.update(variants={"x": {"score": float("nan")}}), "variants/x/score: must be a finite number, got nan"),
    (lambda c: c.update(variants={"grey\n": {"foreground": {"fill": "grey"}}}), "variants: 'grey\\n' does not match"),
    (lambda c: c["sequences"].update({"tiny\n": {"synth": {}}}), "sequences: 'tiny\\n' does not match"),
    (lambda c: c.update(results="out\n"), "results: 'out\\n' does not match"),
    (lambda c: c["detections"]["options"].update(step=3),
     "detections/options: coordinate step 3 px is not one of 0.0625, 0.125"),
    (lambda c: c["detections"]["options"].update(score_bits=0),
     "detections/options: score bits must be an integer 1..16, got 0"),
    (lambda c: c["detections"]["options"].update(step=True), "detections/options/step: must be a number, got True"),
])
def test_a_value_the_sweep_cannot_run_is_refused(tmp_path, change, message):
    path = _broken(tmp_path, change)
    result = CliRunner().invoke(app, ["config", str(path)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: {path}: ")
    assert message in result.output
    assert "Traceback" not in result.output


def test_results_through_a_link_that_leads_outside_is_refused(tmp_path, monkeypatch):
    work = tmp_path / "work"
    outside = tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (work / "out").symlink_to(outside)
    monkeypatch.chdir(work)
    path = _broken(tmp_path, lambda c: c.update(results="out/ci"))
    with pytest.raises(VcmError, match=f"results: out/ci leads outside the working directory {work}"):
        load_config(path)
    inside = _broken(tmp_path, lambda c: c.update(results="results/ci"))
    assert load_config(inside)["results"] == "results/ci"


def schema_patterns(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern":
                yield value
            else:
                yield from schema_patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_patterns(value)


def test_no_schema_pattern_takes_a_trailing_newline():
    import re

    from vcm.config import SCHEMA_PATH

    patterns = list(schema_patterns(yaml.safe_load(SCHEMA_PATH.read_text())))
    assert len(patterns) == 5  # sequence and dataset names, variant and tracker names, results
    for pattern in patterns:
        assert re.search(pattern, "name1")  # jsonschema's "pattern" is re.search
        assert not re.search(pattern, "name1\n"), pattern


@pytest.mark.parametrize("change, message", [
    (lambda c: c["detector"].update(score=float("nan")), "detector/score: must be a finite number, got nan"),
    (lambda c: c["detections"]["options"].update(score_bits=0),
     "detections/options: score bits must be an integer 1..16, got 0"),
])
def test_the_sweep_refuses_at_start_what_vcm_config_refuses(tmp_path, change, message):
    """One function: a dry run of the sweep stops with the message `vcm config` gives."""
    import subprocess
    import sys

    path = _broken(tmp_path, change)
    assert message in CliRunner().invoke(app, ["config", str(path)]).output
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(CONFIGS.parent / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(path), "--dry-run", "--quiet", "rules"],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode != 0
    assert message in completed.stdout + completed.stderr
def test_config_paths_expand_home_and_environment_variables(tmp_path, monkeypatch):
    # Issue 19: `path: ~/videos/x.mp4` was taken literally. `~` and $VARIABLES expand as in a
    # shell, in `path` and in the ground-truth keys; an unset variable stays as written.
    from vcm.config import ground_truth, sequence_path

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FOOTAGE", "/data/footage")
    monkeypatch.delenv("VCM_UNSET_VARIABLE", raising=False)
    entry = {"path": "~/videos/street.mp4", "pose_gt": "$FOOTAGE/gt/pose.json",
             "track_gt": "${FOOTAGE}/gt.txt", "segm_gt": None}
    assert sequence_path("street", entry) == f"{tmp_path}/home/videos/street.mp4"
    assert ground_truth("street", entry, "pose") == "/data/footage/gt/pose.json"
    assert ground_truth("street", entry, "track") == "/data/footage/gt.txt"
    assert ground_truth("street", entry, "segm") is None
    assert sequence_path("x", {"path": "$VCM_UNSET_VARIABLE/x.mp4"}) == "$VCM_UNSET_VARIABLE/x.mp4"
    # The config check looks at the expanded path.
    (tmp_path / "home" / "videos").mkdir(parents=True)
    config = yaml.safe_load((CONFIGS / "own-video.yaml").read_text())
    config["sequences"]["my-video"]["path"] = "~/videos/street.mp4"
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(VcmError, match=f"missing {tmp_path}/home/videos/street.mp4 \\(path\\)"):
        load_config(path)
    (tmp_path / "home" / "videos" / "street.mp4").write_bytes(b"")
    assert load_config(path)["sequences"]["my-video"]["path"] == "~/videos/street.mp4"
