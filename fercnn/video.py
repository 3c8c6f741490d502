"""Expressions over a video: sampled frames, faces followed from frame to frame, what to write.

    from fercnn.video import analyze_video
    rows = analyze_video("clip.mp4", every=5)            # every 5th frame; every="0.5s": twice a second
    # [{"frame": 0, "time": 0.0, "face": 1, "box": [x, y, w, h], "emotions": {...}, "top": "happy"}, ...]

Frames are decoded with PyAV (the ``video`` extra: pip install -e ".[video]" in the fercnn
checkout; its wheel carries FFmpeg's decoders and encoders), sampled, and handed to
detect_emotions in groups of FRAMES_PER_PASS, one network pass per group.

Following faces (``track_faces``): a face keeps its number while its box overlaps a box of
the previous sampled frames. Each new box is matched to a face seen in the last MAX_GAP
sampled frames by intersection over union (IoU: the area two boxes share over the area
they cover together), highest IoU first, each face at most once, and only at IoU >= MIN_IOU;
a box left over starts a new face. So "face 1" is the same person across the clip as long
as the person does not jump across the picture between two sampled frames or stay unseen
for more than MAX_GAP of them.
"""
import os
import re
from fractions import Fraction

import numpy as np

from fercnn.predict import detect_emotions

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".y4m")
MIN_IOU = 0.3
MAX_GAP = 5  # sampled frames a face may go unseen and keep its number
FRAMES_PER_PASS = 8


def is_video(path):
    """Whether ``path`` names a video by its extension (VIDEO_EXTENSIONS)."""
    return os.fspath(path).lower().endswith(VIDEO_EXTENSIONS)


def parse_every(text):
    """'5' -> (5, 'frames'); '0.5s' -> (0.5, 'seconds'); anything else: ValueError."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|seconds?)?\s*", str(text))
    if not m:
        raise ValueError(f"--every must be a number of frames (5) or of seconds (0.5s), got {text!r}")
    value = float(m.group(1))
    if m.group(2):
        if value <= 0:
            raise ValueError(f"--every must be more than 0 seconds, got {text!r}")
        return value, "seconds"
    if value != int(value) or value < 1:
        raise ValueError(f"--every must be a whole number of frames >= 1 (or seconds: 0.5s), got {text!r}")
    return int(value), "frames"


def _av():
    try:
        import av
    except ImportError:
        raise ValueError('videos need the video extra (PyAV): pip install -e ".[video]" in the fercnn '
                         'checkout') from None
    return av


def read_frames(path, *, every=1):
    """Yield (frame index, time in seconds, RGB uint8 (H, W, 3) frame) for the sampled frames
    of the video at ``path``. every: N (every Nth frame, from the first) or "Ns" / "N.Ns"
    (the first frame at or after 0, N, 2N, ... seconds)."""
    value, unit = parse_every(every)
    av = _av()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file" if not os.path.exists(path) else f"{path}: not a file")
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read it as a video ({e})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        next_time = 0.0
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else index / rate
                if unit == "frames":
                    take = index % value == 0
                else:
                    take = t >= next_time - 1e-9
                    if take:
                        next_time = (np.floor(t / value + 1e-9) + 1) * value
                if take:
                    yield index, round(t, 6), frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as e:
            raise ValueError(f"{path}: cannot decode it past frame {index} ({e})") from None


def iou(a, b):
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Numbers faces across sampled frames by box overlap (see the module docstring)."""

    def __init__(self, *, min_iou=MIN_IOU, max_gap=MAX_GAP):
        self.min_iou, self.max_gap = min_iou, max_gap
        self.tracks = []  # [number, last box, last frame]
        self.frame = -1

    def update(self, boxes):
        """The numbers (1, 2, ...) of the next sampled frame's boxes, in their order."""
        self.frame += 1
        alive = [t for t in self.tracks if self.frame - t[2] <= self.max_gap]
        pairs = sorted(((iou(b, t[1]), i, j) for i, b in enumerate(boxes) for j, t in enumerate(alive)),
                       key=lambda p: (-p[0], p[1], p[2]))
        got, used = [None] * len(boxes), set()
        for overlap, i, j in pairs:
            if overlap < self.min_iou:
                break
            if got[i] is None and j not in used:
                got[i] = alive[j][0]
                used.add(j)
                alive[j][1], alive[j][2] = boxes[i], self.frame
        for i, b in enumerate(boxes):
            if got[i] is None:
                got[i] = len(self.tracks) + 1
                self.tracks.append([got[i], b, self.frame])
        return got


def track_faces(boxes_per_frame, *, min_iou=MIN_IOU, max_gap=MAX_GAP):
    """Face numbers (1, 2, ...) for each box of each sampled frame: a list of lists shaped
    like ``boxes_per_frame``."""
    tracker = FaceTracker(min_iou=min_iou, max_gap=max_gap)
    return [tracker.update(boxes) for boxes in boxes_per_frame]


def analyze_video(path, model=None, *, every=1, min_face=48, on_frame=None):
    """Rows, one per face per sampled frame, in time order: {"frame", "time", "face", "box",
    "emotions", "top"}. on_frame(index, time, RGB frame, that frame's rows), when given, is
    called for each sampled frame in order (AnnotatedVideo.add draws them)."""
    rows, batch, tracker = [], [], FaceTracker()

    def flush():
        found = detect_emotions([f for _, _, f in batch], model, min_face=min_face)
        for (index, t, frame), faces in zip(batch, found):
            numbers = tracker.update([f["box"] for f in faces])
            mine = [{"frame": index, "time": t, "face": n, **face} for n, face in zip(numbers, faces)]
            rows.extend(mine)
            if on_frame is not None:
                on_frame(index, t, frame, mine)
        batch.clear()

    for sample in read_frames(path, every=every):
        batch.append(sample)
        if len(batch) == FRAMES_PER_PASS:
            flush()
    if batch:
        flush()
    return rows


def sampled_rate(path, every):
    """Sampled frames per second of the video at ``path`` under ``every``."""
    value, unit = parse_every(every)
    if unit == "seconds":
        return 1.0 / value
    with _av().open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        return float(stream.average_rate or stream.guessed_rate or 25) / value


def write_rows(rows, names, csv_path, json_path):
    """The rows as CSV (frame, time, face, x, y, width, height, one column per class, top) and
    as JSON (the rows as analyze_video returns them), each written atomically."""
    import csv
    import io
    import json

    from fercnn.fileio import write_text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["frame", "time", "face", "x", "y", "width", "height", *names, "top"])
    for r in rows:
        writer.writerow([r["frame"], f"{r['time']:.3f}", r["face"], *r["box"],
                         *(f"{r['emotions'][n]:.6f}" for n in names), r["top"]])
    write_text(csv_path, out.getvalue())
    write_text(json_path, json.dumps(rows, indent=1) + "\n")


class AnnotatedVideo:
    """An H.264 MP4 of sampled frames, each face boxed with its number and top emotion,
    written to a temporary file beside ``path`` and moved into place by close().

        with AnnotatedVideo("out/clip_annotated.mp4", rate) as video:
            analyze_video("clip.mp4", on_frame=video.add)
    """

    def __init__(self, path, rate):
        self.av = _av()
        self.path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self.tmp = os.path.join(folder, f".{os.path.basename(self.path)}.tmp{os.getpid()}.mp4")
        self.container = self.av.open(self.tmp, "w")
        self.rate = Fraction(rate).limit_denominator(1001)
        self.stream = None

    def add(self, index, t, frame, rows):
        from fercnn.plots import draw_faces

        im = draw_faces(frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2], rows,
                        [f"{r['face']} {r['top']} {r['emotions'][r['top']]:.2f}" for r in rows])
        if self.stream is None:
            self.stream = self.container.add_stream("libx264", rate=self.rate)
            self.stream.width, self.stream.height, self.stream.pix_fmt = im.size[0], im.size[1], "yuv420p"
        for packet in self.stream.encode(self.av.VideoFrame.from_ndarray(np.asarray(im), format="rgb24")):
            self.container.mux(packet)

    def close(self, *, keep=True):
        if self.stream is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()
        if keep and self.stream is not None:
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.tmp):
            os.remove(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        self.close(keep=kind is None)
