"""OSNet-x1.0 re-ID embeddings (vcm/nets/osnet.py, vcm/nets/osnet_torch.py).

The crop and its normalisation are worked out by hand and run without torch, as does the
refusal of a file that does not match a pinned sha256. The network runs with random weights
(marker ``heavy``; `make test` runs those in .venv-heavy): torchreid's state-dict names and
shapes, unit-length embeddings, a checkpoint in torchreid's layout loaded through the store.
"""

from __future__ import annotations

import numpy as np
import pytest

from vcm.errors import VcmError
from vcm.nets import osnet
from vcm.store import MODELS, ModelStore, file_sha256

FILENAME = osnet.WEIGHTS.filename


def test_crop_pixels_cover_every_touched_pixel_inside_the_frame():
    boxes = np.array([
        [10.2, 20.7, 30.1, 40.0],   # floor / ceil: columns 10..30, rows 20..39
        [-5.0, -5.0, 2.0, 3.0],     # clipped at the top left
        [70.0, 50.0, 80.0, 60.0],   # wholly outside a 64 x 48 frame: its last pixel
        [5.0, 5.0, 5.0, 5.0],       # empty: one pixel
    ])
    np.testing.assert_array_equal(osnet.crop_pixels(boxes, 64, 48), [
        [10, 20, 31, 40], [0, 0, 2, 3], [63, 47, 64, 48], [5, 5, 6, 6]])


def test_crop_inputs_normalise_rgb_with_imagenet_statistics():
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :] = (0, 128, 255)  # BGR: blue 0, green 128, red 255
    frame[24:, :] = (255, 0, 0)  # the lower half blue
    inputs = osnet.crop_inputs(frame, np.array([[8.0, 4.0, 40.0, 20.0], [8.0, 0.0, 40.0, 48.0]]))
    assert inputs.shape == (2, 3, 256, 128) and inputs.dtype == np.float32
    # red (255 / 255 - 0.485) / 0.229, green (128 / 255 - 0.456) / 0.224, blue -0.406 / 0.225
    expected = [(1 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0 - 0.406) / 0.225]
    np.testing.assert_allclose(inputs[0].reshape(3, -1), np.repeat(expected, 256 * 128)
                               .reshape(3, -1), rtol=1e-5)
    # The second box holds both halves: its top rows are the orange, its bottom rows blue.
    np.testing.assert_allclose(inputs[1][:, 0, 0], expected, rtol=1e-5)
    np.testing.assert_allclose(inputs[1][:, -1, 0],
                               [-0.485 / 0.229, -0.456 / 0.224, (1 - 0.406) / 0.225], rtol=1e-5)


def test_crop_inputs_of_no_boxes_and_of_a_bad_frame():
    assert osnet.crop_inputs(np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4))).shape == (0, 3, 256, 128)
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 BGR frame"):
        osnet.crop_inputs(np.zeros((4, 4), np.uint8), np.zeros((1, 4)))


def test_the_store_entry_names_its_source_and_claims_no_checksum():
    model_file = MODELS["torchreid"].files[FILENAME]
    assert model_file.sha256 is None
    assert model_file.checksum_kind == "none (pinned on first download)"
    assert model_file.url == "https://drive.google.com/uc?id=112EMUfBPYeYg70w-syK6V6Mx8-Qb9Q1M"


def mirrored(tmp_path, content: bytes):
    path = tmp_path / "mirror" / "models" / "torchreid" / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    store = ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True)
    return path, store


def test_a_pinned_sha256_refuses_any_other_file(tmp_path):
    path, store = mirrored(tmp_path, b"some other file")
    assert osnet.pinned_store(store, file_sha256(path)).fetch("torchreid", FILENAME) == path
    with pytest.raises(VcmError, match=f"sha256 mismatch in the mirror \\(got {file_sha256(path)}, "
                                       f"expected {'a' * 64}\\)"):
        osnet.pinned_store(store, "a" * 64).fetch("torchreid", FILENAME)
    assert osnet.pinned_store(store, None) is store


def test_options_are_checked():
    with pytest.raises(VcmError, match="osnet sha256 must look like 64 lowercase hex digits"):
        osnet.OSNetEmbedder(weights="msmt17", sha256="6b135b0a")
    with pytest.raises(VcmError, match="osnet weights must be 'msmt17' or 'random'"):
        osnet.OSNetEmbedder(weights="market")
    with pytest.raises(VcmError, match="crops_per_batch must be at least 1"):
        osnet.OSNetEmbedder(weights="random", crops_per_batch=0)


# -- the network, random weights (torch) ---------------------------------------------------------

@pytest.fixture(scope="module")
def embedder():
    return osnet.OSNetEmbedder(weights="random", seed=0, device="cpu", crops_per_batch=2)


def frame(seed: int = 0, width: int = 160, height: int = 120) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


BOXES = np.array([[10.0, 5.0, 50.0, 110.0], [60.5, 0.0, 100.0, 119.5], [100.0, 20.0, 160.0, 90.0]])


@pytest.mark.heavy
def test_the_state_dict_has_torchreids_names_and_shapes(embedder):
    state = embedder.network.state_dict()
    expected = {
        "conv1.conv.weight": (64, 3, 7, 7),
        "conv2.0.conv1.conv.weight": (64, 64, 1, 1),          # 256 // 4 bottleneck
        "conv2.0.conv2d.3.conv2.weight": (64, 1, 3, 3),       # depthwise
        "conv2.0.gate.fc1.weight": (4, 64, 1, 1),             # reduction 16
        "conv2.0.downsample.conv.weight": (256, 64, 1, 1),
        "conv2.2.0.conv.weight": (256, 256, 1, 1),            # the stage's transition
        "conv3.0.conv3.bn.running_var": (384,),
        "conv4.1.conv2c.2.bn.weight": (128,),
        "conv5.conv.weight": (512, 512, 1, 1),
        "fc.0.weight": (512, 512),
        "fc.1.running_mean": (512,),
    }
    for name, shape in expected.items():
        assert tuple(state[name].shape) == shape, name
    assert "conv4.0.downsample.conv.weight" in state and "conv4.1.downsample.conv.weight" not in state
    assert not any(name.startswith("classifier") for name in state)
    # The OSNet paper gives osnet_x1_0 2.2 million parameters (without the classifier).
    count = sum(parameter.numel() for parameter in embedder.network.parameters())
    assert round(count / 1e5) / 10 == 2.2


@pytest.mark.heavy
def test_embeddings_are_unit_float32_rows_one_per_box(embedder):
    image = frame()
    embeddings = embedder.embed(image, BOXES)
    assert embeddings.shape == (3, 512) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
    # Three boxes in batches of two give what each box alone gives.
    for box, row in zip(BOXES, embeddings):
        np.testing.assert_allclose(embedder.embed(image, box[None]), row[None], atol=1e-5)
    assert embedder.embed(image, np.zeros((0, 4))).shape == (0, 512)


@pytest.mark.heavy
def test_a_checkpoint_in_torchreids_layout_loads_through_a_pinned_sha256(tmp_path):
    import torch

    reference = osnet.OSNetEmbedder(weights="random", seed=5, device="cpu")
    state = {f"module.{name}": value for name, value in reference.network.state_dict().items()}
    state["module.classifier.weight"] = torch.zeros(12, 512)  # 12 training identities
    state["module.classifier.bias"] = torch.zeros(12)
    path = tmp_path / "mirror" / "models" / "torchreid" / FILENAME
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": state, "epoch": 150}, path)
    store = ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True)
    loaded = osnet.OSNetEmbedder(weights="msmt17", sha256=file_sha256(path), device="cpu",
                                 store=store)
    image = frame(3)
    np.testing.assert_array_equal(loaded.embed(image, BOXES), reference.embed(image, BOXES))
    assert loaded.describe()["weights"]["sha256"] == file_sha256(path)
    with pytest.raises(VcmError, match="sha256 mismatch in the mirror"):
        osnet.OSNetEmbedder(weights="msmt17", sha256="0" * 64, device="cpu", store=store)


@pytest.mark.heavy
def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    import torch

    path = tmp_path / "mirror" / "models" / "torchreid" / FILENAME
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": {"conv1.conv.weight": torch.zeros(32, 3, 7, 7)}}, path)
    store = ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True)
    with pytest.raises(VcmError, match=r"does not fit OSNet-x1.0 \(1 of another shape: "
                                       r"conv1.conv.weight \(32, 3, 7, 7\) instead of "
                                       r"\(64, 3, 7, 7\); \d+ missing: conv1.bn.weight"):
        osnet.OSNetEmbedder(weights="msmt17", sha256=file_sha256(path), device="cpu",
                            store=store)


@pytest.mark.heavy
def test_describe_names_weights_and_preprocessing(embedder):
    record = embedder.describe()
    assert record["weights"] == "random (seed 0)"
    assert record["input"] == [128, 256]
    assert record["normalisation"]["mean_rgb"] == pytest.approx([0.485, 0.456, 0.406])


@pytest.mark.heavy
def test_the_iou_tracker_takes_osnet_as_its_appearance_embedder():
    """Registered in vcm.appearance: the tracker builds it by name, embeds 512 values per box
    and keeps person B (never hidden) on one id through the occlusion scene."""
    from test_appearance import occlusion_scene, track_ids
    from vcm.trackers import TRACKERS

    tracker = TRACKERS.build("iou", appearance="osnet",
                             appearance_options={"weights": "random", "seed": 0, "threads": 1})
    assert tracker.dimension == 512
    scene = occlusion_scene()
    per_frame = track_ids(tracker, scene)
    # Before the occlusion the two boxes are far apart: the same ids as overlap alone gives.
    assert per_frame[:5] == track_ids(TRACKERS.build("iou"), scene)[:5]
    assert len({ids[240] for ids in per_frame if 240 in ids}) == 1
