"""Videos: a clip made here with PyAV (a face moving across the frame), sampled, followed, written."""
import csv
import json
from fractions import Fraction

import numpy as np
import pytest

from fercnn.video import FaceTracker, iou, parse_every, track_faces

av = pytest.importorskip("av", reason="the video extra is not installed: pip install -e '.[video]'")


def _clip(path, frames=20, rate=10):
    """The astronaut's face sliding 3 pixels a frame to the left, 320x320 frames, H.264."""
    from skimage import data

    image = data.astronaut()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(rate))
        stream.width, stream.height, stream.pix_fmt = 320, 320, "yuv420p"
        for k in range(frames):
            frame = np.ascontiguousarray(image[20:340, 60 + 3 * k:380 + 3 * k])
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_predict_a_clip_into_a_folder(tmp_path, capsys):
    from fercnn.cli.predict import main

    clip = _clip(tmp_path / "clip.mp4")
    assert main([str(clip), "--every", "2", "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    rows = json.loads((out / "clip.json").read_text())
    assert len(rows) == 10  # frames 0, 2, ..., 18: one face each
    assert [r["frame"] for r in rows] == list(range(0, 20, 2))
    assert {r["face"] for r in rows} == {1}  # one face, followed across the clip
    assert rows[3]["time"] == pytest.approx(0.6) and rows[0]["top"] == "happy"
    assert rows[-1]["box"][0] < rows[0]["box"][0]  # it moved left
    with open(out / "clip.csv") as f:
        table = list(csv.reader(f))
    assert table[0][:7] == ["frame", "time", "face", "x", "y", "width", "height"] and len(table) == 11
    assert (out / "clip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with av.open(str(out / "clip_annotated.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10
    assert "clip.mp4: 10 rows (10 frames with faces, 1 face followed)" in capsys.readouterr().out


def test_a_videos_files_never_replace_an_input_nor_another_inputs_files(tmp_path, capsys):
    """In --out beside its inputs: a photo named as the video's plot (clip.png) is an input and
    is not written over, and two videos called clip.mp4 in two folders keep both sets of files."""
    from PIL import Image

    from fercnn.cli.predict import main

    out = tmp_path / "out"
    (tmp_path / "a").mkdir()
    out.mkdir()
    clip = _clip(out / "clip.mp4", frames=4)
    other = _clip(tmp_path / "a" / "clip.mp4", frames=2)
    Image.fromarray(np.full((48, 48), 90, np.uint8)).save(out / "clip.png")
    photo = (out / "clip.png").read_bytes()
    capsys.readouterr()
    assert main([str(clip), str(other), str(out / "clip.png"), "--json", "--out", str(out)]) == 0
    assert (out / "clip.png").read_bytes() == photo  # the input photo, untouched
    entries = json.loads(capsys.readouterr().out)
    assert entries[2] == {"image": str(out / "clip.png"), "faces": []}  # the photo itself (a grey square: no face)
    # the first video's files moved to clip_2.*, the second's to clip_3.*, the photo's drawing to clip_4.png
    sampled = {base: {r["frame"] for r in json.loads((out / f"{base}.json").read_text())} for base in ("clip_2", "clip_3")}
    assert sampled["clip_2"] <= {0, 1, 2, 3} and max(sampled["clip_2"]) >= 2, sampled  # the 4-frame clip's rows
    assert sampled["clip_3"] and sampled["clip_3"] <= {0, 1}, sampled  # the 2-frame clip's
    for base in ("clip_2", "clip_3"):
        assert (out / f"{base}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{base}.csv").exists() and (out / f"{base}_annotated.mp4").exists()
    with Image.open(out / "clip_4.png") as im:
        assert im.size == (48, 48)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["clip.mp4", "clip.png", "clip_4.png"] + [f"clip_{n}{s}" for n in (2, 3) for s in (".csv", ".json", ".png",
                                                                                          "_annotated.mp4")])


def test_every_seconds_and_the_rows_printed(tmp_path, capsys):
    from fercnn.cli.predict import main

    clip = _clip(tmp_path / "clip.mp4")
    assert main([str(clip), "--every", "0.5s", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)[0]
    assert entry["video"] == str(clip) and [r["time"] for r in entry["rows"]] == [0.0, 0.5, 1.0, 1.5]


def test_detect_emotions_over_frames_is_one_list_per_frame(tmp_path):
    from fercnn import detect_emotions
    from fercnn.video import read_frames

    frames = [f for _, _, f in read_frames(_clip(tmp_path / "clip.mp4", frames=6), every=1)]
    per_frame = detect_emotions(frames)
    assert len(per_frame) == 6 and all(len(faces) == 1 for faces in per_frame)
    alone = detect_emotions(frames[0])[0]  # a batch of 6 may run other conv methods than a batch of 1
    assert per_frame[0][0]["box"] == alone["box"] and per_frame[0][0]["top"] == alone["top"]
    np.testing.assert_allclose(list(per_frame[0][0]["emotions"].values()), list(alone["emotions"].values()), atol=1e-5)
    assert detect_emotions([]) == []


def test_a_bad_video_is_one_error(tmp_path, capsys):
    from fercnn.cli.predict import main

    (tmp_path / "notes.mp4").write_text("not a video")
    assert main([str(tmp_path / "notes.mp4"), "--json"]) == 1
    assert "notes.mp4: cannot read it as a video" in capsys.readouterr().err


def test_faces_keep_their_numbers_by_overlap():
    a, b = [0, 0, 50, 50], [200, 0, 50, 50]
    step = lambda box, dx: [box[0] + dx, *box[1:]]  # noqa: E731
    frames = [[a, b], [step(b, 5), step(a, 5)], [step(a, 10)], [], [step(b, 15), step(a, 15)], [[400, 400, 50, 50]]]
    assert track_faces(frames) == [[1, 2], [2, 1], [1], [], [2, 1], [3]]
    assert iou(a, a) == 1.0 and iou(a, b) == 0.0 and iou(a, [25, 0, 50, 50]) == pytest.approx(1 / 3)
    tracker = FaceTracker(max_gap=1)
    assert [tracker.update(f) for f in ([a], [], [], [a])] == [[1], [], [], [2]]  # unseen too long: a new face


@pytest.mark.parametrize("text,want", [("5", (5, "frames")), ("0.5s", (0.5, "seconds")), ("2 seconds", (2.0, "seconds"))])
def test_parse_every(text, want):
    assert parse_every(text) == want


@pytest.mark.parametrize("text", ["0", "1.5", "-2", "5m", "0s", ""])
def test_parse_every_refuses(text):
    with pytest.raises(ValueError, match="--every must be"):
        parse_every(text)
