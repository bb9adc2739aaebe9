"""Anonymised foregrounds (the ``anonymise`` foreground option): privacy and cost per option.

For each option of :data:`OPTIONS` and each QP of :data:`QPS` the foreground is rendered with
`vcm.foreground.write_foreground_video` (the code `vcm foreground -p anonymise=...` runs),
coded with vvenc (preset faster, intra period 32) and decoded; then, on the decoded pixels:

* **privacy**: in how many person boxes a face detector still finds a face, against the
  plain foreground (``anonymise=none``) at the same QP: the share, target under 5 %. On
  the COCO images only the people whose nose is labelled count, and only a face whose box
  holds the labelled nose (a real face, not a false detection); on PETS09, whose people
  have no keypoints, any face found in a box counts. Two
  detectors look in each box: ``mediapipe``, the anonymiser's own search
  (:class:`vcm.anonymise.FaceFinder`), and ``haar``, an independent one: OpenCV's frontal
  face Haar cascade (in the opencv wheel) on the box's upper square
  (:func:`vcm.anonymise.upper_window`) resized to 256 px;
* **cost**: bits per pixel (the foreground's bitstream), and on the COCO images BlazePose's
  COCO keypoint AP over all 17 keypoints and over the 12 body keypoints
  (:func:`vcm.metrics.pose.evaluate_body_keypoints`); on PETS09 MOTA and IDF1 of the ``iou``
  tracker on yolo-fastest's boxes (body, 416, score 0.6) of the original frames, which is
  what the multitask pipeline tracks: it reads boxes, never the foreground's pixels, so it
  is the same for every option (printed once).

Footage: the mirror's COCO keypoint images (4 images, 14 people, 10 with nose and an eye
labelled; each image a one-frame video, ground-truth boxes as detections) and PETS09-S3MF1
(the first ``--frames`` frames, 768x576, ground-truth boxes as detections). Everything is
written under ``--work`` (default: a temporary folder). Prints markdown tables and, with
``--json``, every number. Prints numbers; it is not a test.

Measured 2026-12-06 (docs/anonymise.md has the tables; 2 shared cores, load 8-17, 17 min):
only ``fill`` hides every face MediaPipe finds on the plain COCO foreground (0 of 8-9 at QP
22, 32, 42); pixelate (8 blocks) leaves a detectable face-shaped blob in 44-62 % of them,
blur in 12-50 %. Any anonymisation costs BlazePose most of its people (3-6 poses against
8-10), since its person detector works from the face.

    nice -n 10 .venv/bin/python experiments/bench_anonymise.py
    .venv/bin/python experiments/bench_anonymise.py --frames 10 --qps 32 --options plain pixelate
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

OPTIONS: dict[str, dict[str, object]] = {
    "plain": {},
    "blur": {"anonymise": "blur"},
    "pixelate": {"anonymise": "pixelate"},
    "fill": {"anonymise": "fill"},
    "pixelate, no head fallback": {"anonymise": "pixelate", "anonymise_head": 0.0},
    "pixelate, 4 blocks": {"anonymise": "pixelate", "anonymise_blocks": 4},
    "blur, margin 0.5, 4 blocks": {"anonymise": "blur", "anonymise_margin": 0.5,
                                   "anonymise_blocks": 4},
    "fill, no head fallback": {"anonymise": "fill", "anonymise_head": 0.0},
}
QPS = (22, 32, 42)
CODEC_OPTIONS = {"preset": "faster", "intra_period": 32}
HAAR_SIDE = 256


class HaarFaces:
    """OpenCV's frontal face cascade on each box's upper square resized to HAAR_SIDE px."""

    def __init__(self) -> None:
        self.cascade = cv2.CascadeClassifier(
            os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))

    def faces(self, frame: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
        """The faces (K, 4) ``x1, y1, x2, y2`` frame pixels found in each box."""
        from vcm.anonymise import upper_window
        from vcm.pose.base import extract_crop

        found = []
        for box in boxes:
            window = upper_window(box)
            crop, origin = extract_crop(frame, window)
            scale = HAAR_SIDE / crop.shape[0]
            crop = cv2.resize(crop, (HAAR_SIDE, HAAR_SIDE), interpolation=cv2.INTER_LINEAR)
            faces = np.asarray(self.cascade.detectMultiScale(
                cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), scaleFactor=1.1, minNeighbors=5,
                minSize=(24, 24)), dtype=np.float64).reshape(-1, 4)
            faces[:, 2:] += faces[:, :2]  # x, y, w, h -> x1, y1, x2, y2
            found.append(faces / scale + np.tile(origin, 2))
        return found


def coco_clips(work: Path) -> tuple[list[dict], Path]:
    """Each COCO image as a one-frame lossless video with its ground-truth boxes."""
    from vcm.datasets.coco import read_coco_keypoints
    from vcm.detections import DetectionSequence, FrameDetections
    from vcm.detformats import write_detections
    from vcm.store import ModelStore
    from vcm.video import write_lossless_video

    folder = Path(os.environ.get("VCM_MIRROR", "")) / "datasets" / "coco-keypoints-mini"
    if not folder.is_dir():
        folder = ModelStore().dataset("coco-keypoints-mini")
    annotations = folder / "test_coco.json"
    dataset = json.loads(annotations.read_text())
    clips = []
    for image in dataset["images"]:
        pixels = cv2.imread(str(folder / image["file_name"]))
        height, width = pixels.shape[:2]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in
                          (entry["bbox"] for entry in dataset["annotations"]
                           if entry["image_id"] == image["id"])], dtype=np.float64)
        clip = work / "coco" / f"{image['id']}.mkv"
        detections = clip.with_suffix(".vcmd")
        if not clip.exists():
            clip.parent.mkdir(parents=True, exist_ok=True)
            write_lossless_video(iter([pixels]), clip, width=width, height=height, fps=1)
            write_detections(DetectionSequence(width, height, [FrameDetections(
                1, boxes, np.ones(len(boxes)))]), detections)
        noses = [tuple(entry["keypoints"][:2]) if entry["keypoints"][2] > 0 else None
                 for entry in dataset["annotations"] if entry["image_id"] == image["id"]]
        clips.append({"name": str(image["id"]), "clip": clip, "detections": detections,
                      "boxes": [boxes], "width": width, "height": height, "frames": 1,
                      "image_id": image["id"], "noses": noses})
    return clips, annotations


def pets_clip(work: Path, frames: int) -> dict:
    """The first ``frames`` frames of PETS09-S3MF1 with its ground-truth boxes."""
    from vcm.datasets.mot import read_mot_txt
    from vcm.detections import DetectionSequence, FrameDetections
    from vcm.detformats import write_detections
    from vcm.store import ModelStore
    from vcm.video import open_video, write_lossless_video

    sequence = ModelStore().dataset("PETS09-S3MF1")
    source = open_video(sequence)
    width, height = source.info.width, source.info.height
    gt = read_mot_txt(sequence / "gt" / "gt.txt")
    boxes = [gt.boxes[gt.frame == number] for number in range(1, frames + 1)]
    clip = work / "pets" / f"pets{frames}.mkv"
    detections = clip.with_suffix(".vcmd")
    if not clip.exists():
        clip.parent.mkdir(parents=True, exist_ok=True)
        images = (image for _, image in zip(range(frames), source))
        write_lossless_video(images, clip, width=width, height=height, fps=source.info.fps)
        write_detections(DetectionSequence(width, height, [
            FrameDetections(number, frame_boxes, np.ones(len(frame_boxes)))
            for number, frame_boxes in enumerate(boxes, start=1)]), detections)
    return {"name": "PETS09", "clip": clip, "detections": detections, "boxes": boxes,
            "width": width, "height": height, "frames": frames, "sequence": sequence,
            "fps": source.info.fps}


def render_and_code(clip: dict, name: str, options: dict, qps, work: Path) -> dict:
    """Render ``clip``'s foreground with ``options`` and code it at each QP: the foreground's
    result and, per QP, the bitstream's bytes and the decoded frames."""
    from vcm.codecs import decode_video, encode_video
    from vcm.foreground import write_foreground_video
    from vcm.masking import ForegroundOptions
    from vcm.video import open_video

    slug = name.replace(", ", "-").replace(" ", "-")
    folder = work / "out" / clip["name"] / slug
    folder.mkdir(parents=True, exist_ok=True)
    foreground = folder / "foreground.mkv"
    result = write_foreground_video(clip["clip"], clip["detections"], foreground,
                                    options=ForegroundOptions.from_options(options),
                                    progress=False)
    coded = {}
    for qp in qps:
        bitstream = folder / f"qp{qp}.266"
        encode_video(foreground, bitstream, codec="vvenc", qp=qp, progress=False,
                     **CODEC_OPTIONS)
        decoded = folder / f"qp{qp}.decoded.mkv"
        decode_video(bitstream, decoded, width=clip["width"], height=clip["height"],
                     fps=clip.get("fps", 1), codec="vvenc")
        coded[qp] = {"bytes": bitstream.stat().st_size, "frames": list(open_video(decoded))}
    return {"result": result, "coded": coded}


def count_faces(frames, boxes_per_frame, finder, haar, noses=None) -> dict:
    """Boxes in which each detector finds a face, over all frames; with ``noses`` (one
    labelled nose ``(x, y)`` or ``None`` per box of a one-frame clip) only boxes with a
    labelled nose count, and only a face whose box holds it: a real face, not a false
    detection (the COCO images)."""
    counts = {"mediapipe": 0, "haar": 0, "boxes": 0}
    for frame, boxes in zip(frames, boxes_per_frame, strict=True):
        found = {"mediapipe": finder.faces(frame, boxes), "haar": haar.faces(frame, boxes)}
        for index in range(len(boxes)):
            if noses is not None and noses[index] is None:
                continue
            counts["boxes"] += 1
            for name, faces in found.items():
                counts[name] += holds(faces[index], None if noses is None else noses[index])
    return counts


def holds(faces: np.ndarray, nose) -> bool:
    """Whether any of ``faces`` (K, 4) holds ``nose`` (any face where ``nose`` is None)."""
    faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
    if nose is None:
        return len(faces) > 0
    x, y = nose
    return bool(((faces[:, 0] <= x) & (x <= faces[:, 2])
                 & (faces[:, 1] <= y) & (y <= faces[:, 3])).any())


def coco_poses(estimator, clips, frames_per_clip) -> list:
    """BlazePose on each decoded COCO image with its ground-truth boxes (image ids as COCO's)."""
    from vcm.pipeline import Frame, PoseStage

    stage = PoseStage(estimator)
    poses = []
    for clip, frames in zip(clips, frames_per_clip, strict=True):
        frame = Frame(clip["image_id"], frames[0], boxes=clip["boxes"][0],
                      scores=np.ones(len(clip["boxes"][0])))
        (finished,) = stage.process_batch([frame])
        poses += finished.records["pose"]
    return poses


def pets_tracking(clip: dict) -> dict:
    """MOTA and IDF1 of the iou tracker on yolo-fastest's boxes of the original frames."""
    from vcm.datasets.mot import MotRows, read_mot_txt
    from vcm.detectors import build_detector
    from vcm.detectors.base import detect_video
    from vcm.metrics.tracking import evaluate_tracking
    from vcm.trackers import TRACKERS, track_sequence
    from vcm.video import open_video

    detector = build_detector("yolo-fastest")
    detections = detect_video(open_video(clip["clip"]), detector, score_threshold=0.6,
                              progress=False)
    tracks = track_sequence(detections, TRACKERS.build("iou"), fps=clip["fps"])
    gt = read_mot_txt(clip["sequence"] / "gt" / "gt.txt")
    keep = gt.frame <= clip["frames"]
    gt = MotRows(gt.frame[keep], gt.ids[keep], gt.boxes[keep], gt.confidence[keep],
                 gt.classes[keep])
    metrics = evaluate_tracking(gt, tracks)
    return {"mota": metrics["mota"], "idf1": metrics["idf1"]}


def share(found: int, plain: int) -> str:
    return f"{found}/{plain} ({100 * found / plain:.0f}%)" if plain else f"{found}/0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--frames", type=int, default=30, help="PETS09 frames (from the first)")
    parser.add_argument("--qps", type=int, nargs="+", default=list(QPS))
    parser.add_argument("--options", nargs="+", default=list(OPTIONS), choices=list(OPTIONS))
    parser.add_argument("--no-pets", action="store_true", help="the COCO images only")
    parser.add_argument("--json", type=Path, help="write every number here")
    arguments = parser.parse_args(argv)
    from vcm.anonymise import FaceFinder
    from vcm.metrics.pose import evaluate_body_keypoints, evaluate_keypoints
    from vcm.pose import build_pose_estimator

    names = ["plain", *[name for name in arguments.options if name != "plain"]]
    work = arguments.work or Path(tempfile.mkdtemp(prefix="vcm-anonymise-"))
    work.mkdir(parents=True, exist_ok=True)
    finder, haar = FaceFinder(), HaarFaces()
    estimator = build_pose_estimator("blazepose")
    clips, annotations = coco_clips(work)
    footage = {"COCO (4 images, 14 people)": clips}
    if not arguments.no_pets:
        footage[f"PETS09-S3MF1 ({arguments.frames} frames, 768x576)"] = [
            pets_clip(work, arguments.frames)]
    record = {"load_before": os.getloadavg(), "qps": arguments.qps, "footage": {}}
    start = time.perf_counter()
    for title, clip_list in footage.items():
        rows = {}
        for name in names:
            runs = [render_and_code(clip, name, OPTIONS[name], arguments.qps, work)
                    for clip in clip_list]
            anonymiser = [run["result"].anonymiser for run in runs]
            searched = sum(counts["boxes"] for counts in anonymiser if counts)
            seconds = sum(run["result"].anonymise_seconds for run in runs)
            for qp in arguments.qps:
                faces = {"mediapipe": 0, "haar": 0, "boxes": 0}
                bits = pixels = 0
                for clip, run in zip(clip_list, runs, strict=True):
                    coded = run["coded"][qp]
                    counted = count_faces(coded["frames"], clip["boxes"], finder, haar,
                                          clip.get("noses"))
                    faces = {key: faces[key] + counted[key] for key in faces}
                    bits += 8 * coded["bytes"]
                    pixels += clip["width"] * clip["height"] * clip["frames"]
                row = {"bpp": bits / pixels, "faces": faces}
                if anonymiser[0]:
                    row["boxes_with_face"] = sum(counts["boxes_with_face"] for counts in anonymiser)
                    row["boxes_searched"] = searched
                    row["anonymise_ms_per_box"] = 1000 * seconds / max(searched, 1)
                if "PETS" not in title:
                    poses = coco_poses(estimator, clip_list,
                                       [run["coded"][qp]["frames"] for run in runs])
                    row["poses"] = len(poses)
                    row["pose_ap"] = evaluate_keypoints(annotations, poses)["AP"]
                    row["pose_ap_body"] = evaluate_body_keypoints(annotations, poses)["AP"]
                rows[(name, qp)] = row
            print(f"{title}: {name} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
        extra = {}
        if "PETS" in title:
            extra = pets_tracking(clip_list[0])
        record["footage"][title] = {"rows": {f"{name} qp{qp}": row for (name, qp), row in rows.items()},
                                    **extra}
        print(f"\n### {title}\n")
        header = "| option | QP | BPP | people | faces found, mediapipe | faces found, haar |"
        rule = "|---|--:|--:|--:|--:|--:|"
        if "PETS" not in title:
            header += " poses | pose AP | pose AP, body |"
            rule += "--:|--:|--:|"
        header += " boxes with a face (anonymiser) | anonymise ms/box |"
        rule += "--:|--:|"
        print(header)
        print(rule)
        for (name, qp), row in rows.items():
            plain = rows[("plain", qp)]["faces"]
            line = (f"| {name} | {qp} | {row['bpp']:.4f} | {row['faces']['boxes']} | "
                    f"{share(row['faces']['mediapipe'], plain['mediapipe'])} | "
                    f"{share(row['faces']['haar'], plain['haar'])} |")
            if "PETS" not in title:
                line += f" {row['poses']} | {row['pose_ap']:.3f} | {row['pose_ap_body']:.3f} |"
            if "boxes_with_face" in row:
                line += (f" {row['boxes_with_face']}/{row['boxes_searched']} | "
                         f"{row['anonymise_ms_per_box']:.1f} |")
            else:
                line += " | |"
            print(line)
        if extra:
            print(f"\nMOTA {extra['mota']:.3f}, IDF1 {extra['idf1']:.3f} for every option "
                  "(iou tracker on yolo-fastest's boxes of the original frames).")
    record["seconds"] = time.perf_counter() - start
    record["load_after"] = os.getloadavg()
    print(f"\n{record['seconds']:.0f} s; load average before {record['load_before'][0]:.1f}, "
          f"after {record['load_after'][0]:.1f} (1 min)")
    finder.close()
    if arguments.json:
        arguments.json.write_text(json.dumps(record, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
