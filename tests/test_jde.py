"""JDE-1088x608 (vcm/nets/jde.py, vcm/nets/darknet.py, the detector ``jde``).

The letterbox, the decoding, the selection and the mapping back to the frame are worked out by
hand and run without torch. The network itself runs with random weights (marker ``heavy``;
`make test` runs those in .venv-heavy): its state-dict names and shapes, a checkpoint loaded
through the model store by sha256, and the refusal of a wrong file.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vcm.errors import VcmError
from vcm.nets import jde
from vcm.store import MODELS, ModelFile, ModelSpec, ModelStore, file_sha256

SMALL = dict(input_width=320, input_height=192)  # 10 x 6 cells at stride 32: a quick forward


def frame(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# -- letterbox, decoding, selection (no torch) ---------------------------------------------------

def test_letterbox_pads_a_wide_frame_above_and_below():
    image, ratio, pad_x, pad_y = jde.letterbox(np.zeros((100, 200, 3), np.uint8))
    # ratio = min(608 / 100, 1088 / 200) = 5.44; resized to 1088 x 544; (608 - 544) / 2 = 32
    assert image.shape == (608, 1088, 3)
    assert ratio == pytest.approx(5.44) and (pad_x, pad_y) == (0.0, 32.0)
    # JDE's grey 127.5 lands in a uint8 image as 128; the frame's black fills rows 32..575.
    assert (image[:32] == 128).all() and (image[576:] == 128).all()
    assert (image[32:576] == 0).all()


def test_letterbox_splits_an_odd_padding_as_jde_does():
    image, ratio, pad_x, pad_y = jde.letterbox(np.full((480, 640, 3), 255, np.uint8))
    # ratio = 608 / 480; width round(640 * 1.2667) = 811; (1088 - 811) / 2 = 138.5:
    # round(138.4) = 138 columns on the left, round(138.6) = 139 on the right.
    assert ratio == pytest.approx(608 / 480) and (pad_x, pad_y) == (138.5, 0.0)
    assert (image[:, :138] == 128).all() and (image[:, 138:949] == 255).all()
    assert (image[:, 949:] == 128).all()


def test_network_input_is_rgb_channels_first_in_0_1():
    image = np.zeros((2, 3, 3), np.uint8)
    image[..., 0], image[..., 2] = 51, 255  # blue 51, red 255 (BGR)
    tensor = jde.network_input(image)
    assert tensor.shape == (3, 2, 3) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor[:, 0, 0], [1.0, 0.0, 0.2])


def head_with(proposals, rows=2, columns=3, embedding_channels=4):
    """A head output (24 + E, rows, columns) of zeros with ``proposals``: (anchor, x, y,
    deltas dx dy dw dh, logits background person) set."""
    head = np.zeros((24 + embedding_channels, rows, columns), np.float32)
    for anchor, x, y, deltas, logits in proposals:
        head[anchor * 6: anchor * 6 + 4, y, x] = deltas
        head[anchor * 6 + 4: anchor * 6 + 6, y, x] = logits
    return head


def test_decode_one_anchor_at_one_cell_by_hand():
    # Stride 32, anchor 0 of that head is (128, 384). Cell x=2, y=1:
    # cx = 128 * 0.5 + 2 * 32 = 128; cy = 384 * 0.25 + 1 * 32 = 128;
    # w = 128 * exp(ln 2) = 256; h = 384 * exp(0) = 384; score = 3 / (1 + 3) = 0.75.
    head = head_with([(0, 2, 1, [0.5, 0.25, math.log(2), 0.0], [0.0, math.log(3)])])
    boxes, scores, cells = jde.decode_head(head, jde.HEAD_ANCHORS[0], 32)
    assert boxes.shape == (4 * 2 * 3, 4) and scores.shape == cells.shape == (24,)
    index = 0 * 6 + 1 * 3 + 2  # anchor-major, then row, then column
    np.testing.assert_allclose(boxes[index], [128, 128, 256, 384])
    assert scores[index] == pytest.approx(0.75) and cells[index] == 1 * 3 + 2
    # Zero deltas put an anchor at its cell's corner with its own size; logits 0, 0 score 0.5.
    np.testing.assert_allclose(boxes[4], [1 * 32, 1 * 32, 128, 384])  # anchor 0, x=1, y=1
    np.testing.assert_allclose(boxes[6 + 5], [2 * 32, 1 * 32, 180, 540])  # anchor 1, x=2, y=1
    assert scores[4] == pytest.approx(0.5)


def test_select_thresholds_suppresses_and_gives_each_box_its_cells_embedding():
    big = head_with([
        (0, 2, 1, [0.5, 0.25, math.log(2), 0.0], [0.0, math.log(3)]),   # (0, -64, 256, 320), 0.75
        (0, 1, 1, [1.0, 0.25, math.log(2), 0.0], [0.0, math.log(1.5)]),  # (32, -64, 288, 320), 0.6
    ])
    big[24:, 1, 2] = [3, 4, 0, 0]
    big[24:, 1, 1] = [0, 0, 5, 0]
    # Stride 8, anchor (8, 24) at cell 0, 0 with zero deltas: (-4, -12, 4, 12), score 0.9.
    small = head_with([(0, 0, 0, [0, 0, 0, 0], [0.0, math.log(9)])])
    small[24:, 0, 0] = [0, 0, 0, 2]
    middle = head_with([])  # every proposal scores exactly 0.5: not above min_score 0.5
    heads = [big, middle, small]
    boxes, scores, embeddings = jde.select(heads, min_score=0.5, nms_iou=0.4)
    # IoU of the first two: 224 * 384 / (2 * 256 * 384 - 224 * 384) = 224 / 288 = 0.78 > 0.4.
    np.testing.assert_allclose(scores, [0.9, 0.75])
    np.testing.assert_allclose(boxes, [[-4, -12, 4, 12], [0, -64, 256, 320]], atol=1e-4)
    assert embeddings.dtype == np.float32 and embeddings.shape == (2, 4)
    np.testing.assert_allclose(embeddings, [[0, 0, 0, 1], [0.6, 0.8, 0, 0]], atol=1e-7)
    # At NMS IoU 0.8 the 0.6 box (0.78 with the 0.75 box) stays, with its own cell's embedding.
    boxes, scores, embeddings = jde.select(heads, min_score=0.5, nms_iou=0.8)
    np.testing.assert_allclose(scores, [0.9, 0.75, 0.6])
    np.testing.assert_allclose(embeddings[2], [0, 0, 1, 0])


def test_embeddings_of_boxes_come_from_the_best_overlapping_proposal():
    big = head_with([
        (0, 2, 1, [0.5, 0.25, math.log(2), 0.0], [0.0, math.log(3)]),   # (0, -64, 256, 320)
        (0, 1, 1, [1.0, 0.25, math.log(2), 0.0], [0.0, math.log(1.5)]),  # (32, -64, 288, 320)
    ])
    big[24:, 1, 2] = [3, 4, 0, 0]
    big[24:, 1, 1] = [0, 0, 5, 0]
    small = head_with([])
    small[24:, 0, 0] = [0, 0, 0, 2]  # anchor (8, 24) at cell 0, 0: (-4, -12, 4, 12)
    heads = [big, head_with([]), small]
    boxes = np.array([[0, -64, 256, 320], [30, -60, 290, 322], [-4, -12, 4, 13]], float)
    # The second box overlaps (32, -64, 288, 320) best: 256 * 380 / (260 * 382 + 256 * 384 -
    # 256 * 380) = 0.97, against 226 * 380 / (260 * 382 + 256 * 384 - 226 * 380) = 0.77.
    np.testing.assert_allclose(jde.embeddings_of_boxes(boxes, heads),
                               [[0.6, 0.8, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], atol=1e-6)
    assert jde.embeddings_of_boxes(np.zeros((0, 4)), heads).shape == (0, 4)


def test_to_input_inverts_to_frame():
    boxes = np.array([[0.0, 0, 100, 100], [320, 240, 640, 480]])
    np.testing.assert_allclose(jde.to_frame(jde.to_input(boxes, 640, 480), 640, 480), boxes)


def test_select_without_a_confident_proposal_gives_empty_arrays():
    boxes, scores, embeddings = jde.select([head_with([])] * 3, min_score=0.5, nms_iou=0.4)
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    assert embeddings.shape == (0, jde.EMBEDDING_DIM) and embeddings.dtype == np.float32


def test_to_frame_undoes_the_letterbox_with_jdes_padding():
    # 640 x 480: ratio 608 / 480 = 1.2667, JDE's pad_x = (1088 - 640 * 1.2667) / 2 = 138.667.
    ratio, pad_x = 608 / 480, (1088 - 640 * 608 / 480) / 2
    boxes = np.array([[pad_x, 0.0, pad_x + 100 * ratio, 100 * ratio],
                      [pad_x + 320 * ratio, 240 * ratio, pad_x + 640 * ratio, 608.0]])
    np.testing.assert_allclose(jde.to_frame(boxes, 640, 480),
                               [[0, 0, 100, 100], [320, 240, 640, 480]], atol=1e-9)


def test_the_proposal_count_is_the_one_jdes_code_names():
    # JDE's tracker comments "default number of proposals: 54264" for 1088 x 608.
    assert jde.proposal_count() == 4 * (34 * 19 + 68 * 38 + 136 * 76) == 54264


# -- the published weights in the store (no torch) -----------------------------------------------

def test_the_store_entry_names_the_published_file_and_its_full_sha256():
    model_file = MODELS["jde"].files["jde.1088x608.uncertainty.pt"]
    assert model_file.checksum_kind == "sha256"
    assert "1nlnuYfGNuHWZztQHXwVZSL_FvfE551pA" in model_file.url  # JDE's README's Drive link


def test_a_file_that_is_not_the_published_one_is_refused(tmp_path):
    path = tmp_path / "mirror" / "models" / "jde" / "jde.1088x608.uncertainty.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the JDE checkpoint")
    store = ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True)
    with pytest.raises(VcmError, match=r"sha256 mismatch in the mirror .*expected "
                                       r"6b135b0affa38899b607010c86c2f8dbc1c06956bad9ca1edd45b01e626933f1"):
        store.fetch("jde", "jde.1088x608.uncertainty.pt")


# -- the network, random weights (torch) ---------------------------------------------------------

@pytest.fixture(scope="module")
def detector():
    from vcm.detectors import build_detector

    return build_detector("jde", weights="random", seed=0, device="cpu", min_score=0.0, **SMALL)


@pytest.mark.heavy
def test_the_state_dict_has_the_names_and_shapes_of_jdes_modules(detector):
    state = detector.network.state_dict()
    expected = {
        "module_list.0.conv_0.weight": (32, 3, 3, 3),
        "module_list.0.batch_norm_0.running_var": (32,),
        "module_list.73.conv_73.weight": (1024, 512, 3, 3),      # the backbone's last conv
        "module_list.81.conv_81.weight": (24, 1024, 1, 1),       # stride 32 detection
        "module_list.81.conv_81.bias": (24,),
        "module_list.83.conv_83.weight": (512, 512, 3, 3),       # stride 32 embedding
        "module_list.85.yolo_85.s_id": (1,),
        "module_list.90.conv_90.weight": (256, 768, 1, 1),       # 256 upsampled + layer 61's 512
        "module_list.98.conv_98.weight": (512, 256, 3, 3),
        "module_list.105.conv_105.weight": (128, 384, 1, 1),     # 128 upsampled + layer 36's 256
        "module_list.113.conv_113.bias": (512,),
        "module_list.115.yolo_115.s_c": (1,),
    }
    for name, shape in expected.items():
        assert tuple(state[name].shape) == shape, name
    assert "module_list.81.batch_norm_81.weight" not in state  # detection convs have no BN
    assert not any(name.startswith("module_list.74.") for name in state)  # a shortcut
    assert not any(name.startswith("classifier") for name in state)
    # ultralytics' YOLOv3 (80 classes) has 61,949,149 parameters; JDE swaps its three
    # 255-channel outputs (457,725) for 24-channel ones (43,080), adds three 3x3 512-channel
    # embedding convs (2,359,808 + 1,180,160 + 590,336) and 9 loss weights.
    count = sum(parameter.numel() for parameter in detector.network.parameters())
    assert count == 61_949_149 - 457_725 + 43_080 + 4_130_304 + 9


@pytest.mark.heavy
def test_random_weights_give_boxes_scores_and_unit_embeddings_in_frame_pixels(detector):
    boxes, scores, embeddings = detector.detect_embed(frame(200, 120))
    assert boxes.dtype == scores.dtype == np.float64 and embeddings.dtype == np.float32
    assert boxes.shape[1] == 4 and embeddings.shape == (len(boxes), 512)
    assert len(boxes) == len(scores) > 0
    assert ((scores > 0) & (scores < 1)).all() and (np.diff(scores) <= 0).all()
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
    plain_boxes, plain_scores = detector.detect(frame(200, 120), 1)
    np.testing.assert_array_equal(plain_boxes, boxes)
    np.testing.assert_array_equal(plain_scores, scores)


@pytest.mark.heavy
def test_a_batch_gives_what_single_frames_give(detector):
    frames = [frame(200, 120, seed) for seed in (1, 2)]
    for (boxes, scores), single in zip(detector.detect_batch(frames, [1, 2]), frames):
        expected_boxes, expected_scores = detector.detect(single, 1)
        np.testing.assert_allclose(boxes, expected_boxes, atol=1e-3)
        np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


@pytest.mark.heavy
def test_embed_gives_detected_boxes_the_embeddings_detection_gave(detector):
    image = frame(200, 120, 4)
    boxes, _, embeddings = detector.detect_embed(image)
    np.testing.assert_allclose(detector.embed(image, boxes[:20]), embeddings[:20], atol=1e-6)
    assert detector.embed(image, np.zeros((0, 4))).shape == (0, 512)


def save_checkpoint(network, path, classifier_rows=30):
    """``network``'s state as JDE's train.py saves it: under "model", with the identity
    classifier (here ``classifier_rows`` identities) and DataParallel's "module." prefix."""
    import torch

    state = {f"module.{name}": value for name, value in network.state_dict().items()}
    state["module.classifier.weight"] = torch.zeros(classifier_rows, 512)
    state["module.classifier.bias"] = torch.zeros(classifier_rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 29, "model": state}, path)


def store_knowing(path, tmp_path) -> ModelStore:
    """A store (mirror ``tmp_path/mirror``) whose jde entry is ``path``'s own sha256."""
    spec = ModelSpec("jde", (ModelFile(path.name, "http://127.0.0.1:9/jde", file_sha256(path)),))
    return ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror",
                      offline=True, models={"jde": spec})


@pytest.mark.heavy
def test_a_checkpoint_loads_strictly_through_the_store_by_sha256(tmp_path):
    from vcm.detectors import build_detector

    reference = build_detector("jde", weights="random", seed=5, device="cpu", min_score=0.0,
                               **SMALL)
    path = tmp_path / "mirror" / "models" / "jde" / "jde.1088x608.uncertainty.pt"
    save_checkpoint(reference.network, path)
    loaded = build_detector("jde", weights="mot", device="cpu", min_score=0.0,
                            store=store_knowing(path, tmp_path), **SMALL)
    image = frame(160, 96)
    for got, expected in zip(loaded.detect_embed(image), reference.detect_embed(image)):
        np.testing.assert_array_equal(got, expected)
    assert loaded.describe()["weights"]["sha256"] == file_sha256(path)
    # The same bytes under another digest are refused before anything is built.
    spec = ModelSpec("jde", (ModelFile(path.name, "http://127.0.0.1:9/jde", "0" * 64),))
    wrong = ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror",
                       offline=True, models={"jde": spec})
    with pytest.raises(VcmError, match="sha256 mismatch in the mirror"):
        build_detector("jde", weights="mot", device="cpu", store=wrong, **SMALL)


@pytest.mark.heavy
def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    import torch

    from vcm.detectors import build_detector

    path = tmp_path / "mirror" / "models" / "jde" / "jde.1088x608.uncertainty.pt"
    path.parent.mkdir(parents=True)
    torch.save({"model": {"module_list.0.conv_0.weight": torch.zeros(16, 3, 3, 3)}}, path)
    # 453 entries expected; all but conv_0.weight and the 72 num_batches_tracked (torch fills
    # those in) are missing: 380.
    with pytest.raises(VcmError, match=r"jde.1088x608.uncertainty.pt: does not fit JDE-1088x608 "
                                       r"\(1 of another shape: module_list.0.conv_0.weight "
                                       r"\(16, 3, 3, 3\) instead of \(32, 3, 3, 3\); 380 missing: "
                                       r"module_list.0.batch_norm_0.weight, "
                                       r"module_list.0.batch_norm_0.bias, "
                                       r"module_list.0.batch_norm_0.running_mean and 377 more\)$"):
        build_detector("jde", weights="mot", device="cpu", store=store_knowing(path, tmp_path))


@pytest.mark.heavy
def test_describe_names_weights_input_and_thresholds(detector):
    record = detector.describe()
    assert record["weights"] == "random (seed 0)"
    assert record["input"] == [320, 192] and record["embedding_dim"] == 512
    assert (record["min_score"], record["nms_iou"]) == (0.0, 0.4)


def test_options_are_checked():
    from vcm.detectors import DETECTORS

    with pytest.raises(VcmError, match="input_width must be a multiple of 32"):
        DETECTORS.build("jde", weights="random", input_width=100)
    with pytest.raises(VcmError, match="option weights must be one of mot, random; got 'coco'"):
        DETECTORS.build("jde", weights="coco")
