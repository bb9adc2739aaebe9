"""The sam segmenter: its store entry, box prompts, masks kept in their boxes, options and the
missing-package message (no marker); Meta's SAM ViT-B with random weights on CPU, one real
forward pass per frame (marker ``heavy``: needs torch, torchvision and segment-anything;
`make test` runs these in .venv-heavy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vcm import frameworks
from vcm.errors import VcmError
from vcm.masks import decode_mask
from vcm.segmenters import SEGMENTERS, build_segmenter
from vcm.segmenters.box import BoxSegmenter
from vcm.segmenters.sam import (
    CHECKPOINTS,
    MODELS_BY_ENCODER,
    SamSegmenter,
    person_masks,
    sam_box_prompts,
)
from vcm.store import MODELS, ModelFile, ModelSpec, ModelStore, file_sha256

FRAME_HEIGHT, FRAME_WIDTH = 48, 64
REPOSITORY = Path(__file__).resolve().parents[1]


def test_registered_with_meta_checkpoints_in_the_store():
    assert "sam" in SEGMENTERS.names()
    assert {name: list(MODELS[name].files) for name in ("sam-vit-b", "sam-vit-l", "sam-vit-h")} == {
        "sam-vit-b": ["sam_vit_b_01ec64.pth"], "sam-vit-l": ["sam_vit_l_0b3195.pth"],
        "sam-vit-h": ["sam_vit_h_4b8939.pth"]}
    vit_b = MODELS["sam-vit-b"].file("sam_vit_b_01ec64.pth")
    assert vit_b.url == "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"
    assert vit_b.checksum_kind == "sha256"
    assert SamSegmenter.model_files() == [("sam-vit-b", "sam_vit_b_01ec64.pth")]
    assert SamSegmenter.model_files(encoder="vit_h") == [("sam-vit-h", "sam_vit_h_4b8939.pth")]
    assert SamSegmenter.model_files(weights="random") == []


def test_box_prompts_are_the_first_and_last_pixel_of_each_box():
    boxes = np.array([[10.0, 20.0, 30.0, 40.0], [5.0, 6.0, 5.5, 6.25], [0.0, 0.0, 64.0, 48.0]])
    np.testing.assert_array_equal(sam_box_prompts(boxes), [
        [10.0, 20.0, 29.0, 39.0],  # pixels 10..29 and 20..39
        [5.0, 6.0, 5.0, 6.0],  # narrower than a pixel: never inverted
        [0.0, 0.0, 63.0, 47.0],
    ])


def test_box_restricted_masks_are_the_box_baseline_where_sam_marks_everything():
    """Where SAM marks every pixel, ``restrict="box"`` keeps exactly the pixels whose centres
    are in the box: the ``box`` segmenter's mask (written independently); ``frame`` keeps all."""
    boxes = np.array([[1.0, 2.0, 7.5, 9.0], [40.2, 30.0, 64.0, 48.0], [10.6, 10.6, 11.4, 11.4]])
    everything = np.ones((3, FRAME_HEIGHT, FRAME_WIDTH), dtype=bool)
    frame = np.zeros((FRAME_HEIGHT, FRAME_WIDTH, 3), dtype=np.uint8)
    in_box = person_masks(everything, boxes, "box")
    assert in_box == BoxSegmenter().segment(frame, boxes, np.ones(3))
    # Columns 1..6 (column 7's centre 7.5 is on the right edge: out), rows 2..8.
    assert decode_mask(in_box[0]).sum() == 6 * 7
    assert in_box[2] is None  # the box holds no pixel centre
    assert all(decode_mask(mask).all() for mask in person_masks(everything, boxes, "frame"))
    # A person SAM found only outside its box is no mask when restricted to the box.
    outside = np.zeros((1, FRAME_HEIGHT, FRAME_WIDTH), dtype=bool)
    outside[0, 20, 20] = True
    assert person_masks(outside, boxes[:1], "box") == [None]
    assert decode_mask(person_masks(outside, boxes[:1], "frame")[0]).sum() == 1
    with pytest.raises(ValueError, match="one \\(H, W\\) mask per box"):
        person_masks(everything[:2], boxes, "box")


@pytest.mark.parametrize("options, message", [
    ({"encoder": "vit_x"}, "segmenter sam: option encoder must be one of vit_b, vit_l, vit_h; "
                           "got 'vit_x'"),
    ({"weights": "coco"}, "option weights must be one of sam, random; got 'coco'"),
    ({"threshold": 1.0}, "option threshold must be at most 0.999"),
    ({"threshold": 0.0}, "option threshold must be greater than 0"),
    ({"restrict": "window"}, "option restrict must be one of box, frame"),
    ({"device": "tpu"}, "option device must look like auto, cpu, cuda or cuda:N"),
    ({"seed": -1}, "option seed must be at least 0"),
    ({"prompt": "points"}, "unknown option 'prompt'"),
])
def test_options_are_checked_before_anything_is_built(options, message):
    """The registry's check (what `vcm config` runs) refuses them without importing SAM."""
    with pytest.raises(VcmError) as error:
        build_segmenter("sam", **options)
    assert message in str(error.value)



def test_vcm_config_checks_sam_options_and_names_the_checkpoint_to_fetch(tmp_path, monkeypatch):
    import yaml

    from vcm.config import backend_option_problems, missing_model_files

    monkeypatch.setenv("VCM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VCM_MIRROR", raising=False)
    config = yaml.safe_load((REPOSITORY / "configs" / "ci.yaml").read_text())
    config["segment"] = {"segmenter": "sam", "options": {"encoder": "vit_x", "restrict": "box"}}
    assert backend_option_problems(config) == [
        "segment/options: option encoder must be one of vit_b, vit_l, vit_h; got 'vit_x'"]
    config["segment"]["options"] = {"encoder": "vit_l"}
    assert backend_option_problems(config) == []
    cached = tmp_path / "cache" / "models" / "sam-vit-l" / "sam_vit_l_0b3195.pth"
    assert missing_model_files(config) == [
        f"segment/segmenter sam: model file sam-vit-l/sam_vit_l_0b3195.pth is not in the cache "
        f"{cached} ($VCM_CACHE), and no mirror is set ($VCM_MIRROR: a folder with "
        "models/sam-vit-l/sam_vit_l_0b3195.pth); fetch: vcm models fetch sam-vit-l"]
    config["segment"]["options"] = {"weights": "random"}
    assert missing_model_files(config) == []

@pytest.mark.parametrize("options, message", [
    ({"encoder": "vit_x"}, "unknown sam encoder 'vit_x'"),
    ({"weights": "coco"}, "unknown sam weights 'coco'"),
    ({"threshold": 1.0}, "sam threshold must be in"),
    ({"restrict": "window"}, "unknown sam restrict 'window'"),
])
def test_bad_options_are_refused_when_built_from_code(options, message):
    with pytest.raises(VcmError, match=message):
        SamSegmenter(**options)


def test_without_segment_anything_the_error_gives_the_install_command(monkeypatch):
    monkeypatch.setattr(frameworks, "module_available",
                        lambda module: module != "segment_anything")
    with pytest.raises(VcmError) as error:
        build_segmenter("sam", weights="random")
    assert str(error.value) == ("the sam segmenter needs segment_anything, not installed: "
                                "segment_anything: make install-sam")


# ----------------------------------------------------------------------- real SAM, random weights


def person_frame() -> np.ndarray:
    """A 64x48 BGR frame: mid-grey background, a bright 'person' block and a dark one."""
    frame = np.full((FRAME_HEIGHT, FRAME_WIDTH, 3), 128, dtype=np.uint8)
    frame[6:40, 8:24] = (40, 200, 230)
    frame[20:46, 40:58] = (30, 30, 30)
    return frame


BOXES = np.array([
    [6.0, 4.0, 26.0, 42.0],
    [38.5, 18.0, 60.0, 48.0],
    [10.6, 10.6, 11.4, 11.4],  # holds no pixel centre
])


@pytest.fixture(scope="module")
def segmenter():
    return SamSegmenter(weights="random", seed=0, device="cpu")


@pytest.fixture(scope="module")
def segmented(segmenter):
    """:meth:`SamSegmenter.segment` on :func:`person_frame` with :data:`BOXES`, and the logits
    it thresholded (recorded on the way: one image-encoder pass, ~14 CPU seconds)."""
    recorded = []

    def recording(frame_bgr, boxes):
        logits = SamSegmenter.mask_logits(segmenter, frame_bgr, boxes)
        recorded.append(logits.numpy())
        return logits

    segmenter.mask_logits = recording
    try:
        masks = segmenter.segment(person_frame(), BOXES, np.array([0.9, 0.8, 0.7]))
    finally:
        del segmenter.mask_logits
    [logits] = recorded
    return masks, logits


@pytest.mark.heavy
def test_one_mask_per_box_of_the_frame_size_inside_its_box(segmented):
    masks, logits = segmented
    assert logits.shape == (3, FRAME_HEIGHT, FRAME_WIDTH) and np.isfinite(logits).all()
    assert len(masks) == 3 and masks[2] is None
    for mask, box in zip(masks[:2], BOXES):
        assert mask is not None and mask["size"] == [FRAME_HEIGHT, FRAME_WIDTH]
        rows, columns = np.nonzero(decode_mask(mask))
        assert columns.min() + 0.5 >= box[0] and columns.max() + 0.5 < box[2]
        assert rows.min() + 0.5 >= box[1] and rows.max() + 0.5 < box[3]
    # segment() is the logits over SAM's own cut (probability 0.5 = logit 0), kept in the box.
    assert masks == person_masks(logits > 0, BOXES, "box")
    # These random weights mark pixels outside the boxes too: restrict="box" does remove some.
    in_frame = person_masks(logits > 0, BOXES, "frame")
    assert decode_mask(in_frame[0]).sum() > decode_mask(masks[0]).sum()


@pytest.mark.heavy
def test_a_frame_without_boxes_gives_no_masks_and_bad_frames_are_refused(segmenter):
    assert segmenter.segment(person_frame(), np.zeros((0, 4)), np.zeros(0)) == []
    with pytest.raises(ValueError, match="expected an \\(H, W, 3\\) uint8 BGR frame"):
        segmenter.mask_logits(person_frame()[..., 0], BOXES)


@pytest.mark.heavy
def test_the_seed_decides_the_random_network(segmenter):
    import torch

    same = SamSegmenter(weights="random", seed=0, device="cpu").model.state_dict()
    other = SamSegmenter(weights="random", seed=1, device="cpu").model.state_dict()
    name = "image_encoder.blocks.0.attn.qkv.weight"
    assert torch.equal(segmenter.model.state_dict()[name], same[name])
    assert not torch.equal(segmenter.model.state_dict()[name], other[name])


@pytest.mark.heavy
def test_describe_names_encoder_weights_and_device(segmenter):
    record = segmenter.describe()
    assert record["model"] == "segment-anything/vit_b"
    assert record["weights"] == "random (seed 0)"
    assert record["device"] == "cpu" and record["image_size"] == 1024
    assert record["segment_anything"] == "1.0"
    assert record["threshold"] == 0.5 and record["restrict"] == "box"


def checkpoint_path(tmp_path):
    """Where a store mirrored at ``tmp_path/mirror`` keeps the SAM ViT-B checkpoint."""
    path = tmp_path / "mirror" / "models" / "sam-vit-b" / CHECKPOINTS["vit_b"].filename
    path.parent.mkdir(parents=True)
    return path


def store_serving(path, tmp_path) -> ModelStore:
    """A store (mirror ``tmp_path/mirror``) that knows ``path`` by its sha256."""
    model = MODELS_BY_ENCODER["vit_b"]
    spec = ModelSpec(model, (ModelFile(path.name, "http://127.0.0.1:9/sam", file_sha256(path)),))
    return ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror",
                      offline=True, models={model: spec})


@pytest.mark.heavy
def test_a_checkpoint_from_the_store_is_what_runs(tmp_path):
    """A checkpoint in the store (the seed-5 random network's state dict, the layout Meta
    publishes) is loaded strictly: the segmenter holds exactly its tensors."""
    import torch

    reference = SamSegmenter(weights="random", seed=5, device="cpu").model.state_dict()
    path = checkpoint_path(tmp_path)
    torch.save(reference, path)
    loaded = SamSegmenter(weights="sam", device="cpu", store=store_serving(path, tmp_path))
    state = loaded.model.state_dict()
    assert state.keys() == reference.keys()
    assert all(torch.equal(state[name], reference[name]) for name in reference)
    assert loaded.describe()["weights"] == {
        "source": "Meta segment-anything release", "url": CHECKPOINTS["vit_b"].url,
        "file": "sam_vit_b_01ec64.pth", "sha256": file_sha256(path)}


@pytest.mark.heavy
def test_the_store_refuses_a_file_that_is_not_metas_checkpoint(tmp_path):
    path = checkpoint_path(tmp_path)
    path.write_bytes(b"not SAM")
    store = ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True)
    with pytest.raises(VcmError, match="sam_vit_b_01ec64.pth: sha256 mismatch in the mirror .*"
                                       "expected ec2df627"):
        SamSegmenter(weights="sam", device="cpu", store=store)


@pytest.mark.heavy
def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    import torch

    path = checkpoint_path(tmp_path)
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(VcmError, match="sam_vit_b_01ec64.pth: does not fit SAM vit_b"):
        SamSegmenter(weights="sam", device="cpu", store=store_serving(path, tmp_path))
    path.write_bytes(b"not a pickle")
    with pytest.raises(VcmError, match="sam_vit_b_01ec64.pth: not a readable checkpoint"):
        SamSegmenter(weights="sam", device="cpu", store=store_serving(path, tmp_path))
