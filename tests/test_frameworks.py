"""Optional frameworks: what is missing, how to install it, and the error a backend gives."""

from __future__ import annotations

import sys

import pytest

from vcm import frameworks
from vcm.anonymise import FaceFinder
from vcm.detectors import build_detector
from vcm.errors import VcmError
from vcm.pose import build_pose_estimator
from vcm.segmenters import SEGMENTERS


def test_module_available_finds_installed_modules_and_dotted_names():
    assert frameworks.module_available("json")
    assert frameworks.module_available("json.decoder")
    assert not frameworks.module_available("vcm_no_such_module")
    assert not frameworks.module_available("vcm_no_such_module.child")


def test_missing_requirements_keeps_the_order():
    assert frameworks.missing_requirements(["zz_missing_b", "json", "zz_missing_a"]) == [
        "zz_missing_b", "zz_missing_a",
    ]


def test_install_lines_group_modules_by_command():
    assert frameworks.install_lines(["torch", "mmpose", "torchvision", "zz_x"]) == (
        "torch, torchvision: make install-torch; mmpose: make install-mmpose; "
        "zz_x: pip install zz_x"
    )


def test_require_names_the_backend_what_is_missing_and_the_command():
    with pytest.raises(VcmError) as error:
        frameworks.require("the thing", ["json", "zz_missing"])
    assert str(error.value) == (
        "the thing needs zz_missing, not installed: zz_missing: pip install zz_missing"
    )
    frameworks.require("the thing", ["json"])  # all there: no error


@pytest.mark.parametrize(
    "build, missing, message",
    [
        (lambda: build_detector("torchvision", weights="random"), {"torchvision"},
         "the torchvision detector needs torchvision, not installed: "
         "torchvision: make install-torch"),
        (lambda: build_pose_estimator("hrnet", weights="random"), {"mmpose", "mmdet"},
         "the hrnet pose estimator needs mmdet, mmpose, not installed: "
         "mmdet, mmpose: make install-mmpose"),
        (lambda: build_detector("detectron2", weights="random"), {"detectron2"},
         "detectron2 detector needs detectron2"),
    ],
)
def test_a_backend_without_its_framework_says_how_to_install_it(monkeypatch, build, missing,
                                                                  message):
    monkeypatch.setattr(frameworks, "module_available", lambda module: module not in missing)
    with pytest.raises(VcmError, match=message):
        build()


@pytest.mark.parametrize("build, user", [
    (lambda: build_pose_estimator("blazepose"), "pose estimator blazepose"),
    (lambda: SEGMENTERS.build("mediapipe"), "segmenter mediapipe"),
    (lambda: FaceFinder(), "anonymise"),
])
def test_a_mediapipe_backend_without_mediapipe_says_which_needs_it(monkeypatch, build, user):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # `import mediapipe` raises ImportError
    with pytest.raises(VcmError) as error:
        build()
    assert str(error.value).startswith(f"{user} needs mediapipe (")
    assert "\n" not in str(error.value)
