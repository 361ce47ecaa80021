"""The yardstick of `crosscam process`: the pipeline a site integrator would bolt on as a
Python sidecar, with the same two models, run by OpenCV's DNN module (Debian python3-opencv).

Decode (cv2.VideoCapture), YOLOX-Nano letterbox + grid decode + NMS, a greedy IoU tracker,
and OSNet on each tracked person's crop at most once per second of media time (crosscam's
embed.min_interval_s default), one crop per forward: OpenCV 4.6's DNN module fails on this
export's dynamic batch above 1 (a shape assertion in its Reshape). Prints one JSON object:
frames, seconds (the frame loop, models loaded before), crops, tracks.

usage: opencv-pipeline.py VIDEO DETECTOR.onnx REID.onnx [--frames N] [--fps F]
"""
import argparse
import json
import time

import cv2
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument('video')
parser.add_argument('detector')
parser.add_argument('reid')
parser.add_argument('--frames', type=int, default=0, help='stop after this many frames (0: all)')
parser.add_argument('--fps', type=float, default=10.0, help="the video's frame rate (media time per frame)")
args = parser.parse_args()

INPUT = 416
STRIDES = (8, 16, 32)
PERSON = 0
MIN_SCORE, NMS_IOU, MATCH_IOU, MAX_LOST, EMBED_INTERVAL_S = 0.3, 0.45, 0.3, 30, 1.0
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

detector = cv2.dnn.readNetFromONNX(args.detector)
reid = cv2.dnn.readNetFromONNX(args.reid)

grids, strides = [], []
for stride in STRIDES:
    side = INPUT // stride
    ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing='ij')
    grids.append(np.stack((xs, ys), 2).reshape(-1, 2))
    strides.append(np.full((side * side, 1), stride))
GRID = np.concatenate(grids).astype(np.float32)
STRIDE = np.concatenate(strides).astype(np.float32)


def detect(frame):
    """Person boxes (x1, y1, x2, y2) in frame pixels."""
    h, w = frame.shape[:2]
    ratio = min(INPUT / h, INPUT / w)
    resized = cv2.resize(frame, (int(w * ratio), int(h * ratio)), interpolation=cv2.INTER_LINEAR)
    padded = np.full((INPUT, INPUT, 3), 114, dtype=np.uint8)
    padded[: resized.shape[0], : resized.shape[1]] = resized
    detector.setInput(cv2.dnn.blobFromImage(padded))  # BGR, 0..255, NCHW
    out = detector.forward()[0]
    xy = (out[:, :2] + GRID) * STRIDE
    wh = np.exp(out[:, 2:4]) * STRIDE
    scores = out[:, 4] * out[:, 5 + PERSON]
    keep = scores >= MIN_SCORE
    xy, wh, scores = xy[keep], wh[keep], scores[keep]
    boxes = np.concatenate((xy - wh / 2, wh), 1) / ratio
    chosen = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), MIN_SCORE, NMS_IOU)
    return [(b[0], b[1], b[0] + b[2], b[1] + b[3]) for b in boxes[np.array(chosen, dtype=int).reshape(-1)]]


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def embed(frame, boxes):
    """Unit 512-d embeddings of the crops."""
    h, w = frame.shape[:2]
    vectors = []
    for x1, y1, x2, y2 in boxes:
        x1, y1 = max(0, int(x1)), max(0, int(y1))
        x2, y2 = min(w, max(x1 + 1, int(x2))), min(h, max(y1 + 1, int(y2)))
        crop = cv2.cvtColor(cv2.resize(frame[y1:y2, x1:x2], (128, 256)), cv2.COLOR_BGR2RGB)
        reid.setInput(np.ascontiguousarray(((crop.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None]))
        out = reid.forward()[0]
        vectors.append(out / np.linalg.norm(out))
    return vectors


capture = cv2.VideoCapture(args.video)
tracks = {}  # id -> {box, lost, last_embed_s, embeddings}
ended, next_id, frames, crops = 0, 1, 0, 0
started = time.perf_counter()
while True:
    ok, frame = capture.read()
    if not ok or (args.frames and frames >= args.frames):
        break
    now_s = frames / args.fps
    boxes = detect(frame)
    # Greedy IoU association, best pairs first.
    pairs = sorted(((iou(t['box'], b), tid, j) for tid, t in tracks.items() for j, b in enumerate(boxes)), reverse=True)
    used_tracks, used_boxes = set(), set()
    for overlap, tid, j in pairs:
        if overlap < MATCH_IOU or tid in used_tracks or j in used_boxes:
            continue
        used_tracks.add(tid)
        used_boxes.add(j)
        tracks[tid].update(box=boxes[j], lost=0)
    for tid in list(tracks):
        if tid not in used_tracks:
            tracks[tid]['lost'] += 1
            if tracks[tid]['lost'] > MAX_LOST:
                del tracks[tid]
                ended += 1
    for j, box in enumerate(boxes):
        if j not in used_boxes:
            tracks[next_id] = {'box': box, 'lost': 0, 'last_embed_s': -1e9, 'embeddings': []}
            next_id += 1
    due = [tid for tid in used_tracks if now_s - tracks[tid]['last_embed_s'] >= EMBED_INTERVAL_S]
    if due:
        for tid, vector in zip(due, embed(frame, [tracks[tid]['box'] for tid in due])):
            tracks[tid]['embeddings'].append(vector)
            tracks[tid]['last_embed_s'] = now_s
        crops += len(due)
    frames += 1
seconds = time.perf_counter() - started
print(json.dumps({'frames': frames, 'seconds': seconds, 'crops': crops, 'tracks': ended + len(tracks)}))
