"""fercnn predict PHOTO...: find the faces in photos and videos and print their expression probabilities.

Faces are found with scikit-image's LBP frontal-face cascade, cropped with a small
margin, made grayscale, resized to 48x48 and given to the model. The default output is
a table per photo; --json prints one entry per photo, in input order:

    [{"image": "photo.jpg", "faces": [{"box": [x, y, width, height],
      "emotions": {"angry": p, ..., "neutral": p}, "top": "happy"}]}]

Boxes are in pixels of the original photo. A photo that cannot be read, or is larger than
--max-pixels, gets an 'error:' line on stderr (and, with --json, an "error" field beside an
empty face list); the other photos are still predicted, and the exit status is 1. A model
whose outputs are not finite numbers is an error (exit status 2), never printed as
probabilities. --out never writes over a file given as input, nor over what it wrote for
another input of the same name: the files then get another name (<name>_2, ...), and a
note says which when an input was in the way.

A video (.mp4, .mov, .avi, .mkv, .webm, ...; needs the video extra, PyAV) is sampled
(--every) and gives one row per face per sampled frame: {"frame", "time", "face", "box",
"emotions", "top"}, its entry {"video": "clip.mp4", "rows": [...]}. "face" numbers the
faces followed from frame to frame by box overlap (fercnn/video.py). With --out DIR it
writes DIR/clip.csv, DIR/clip.json, DIR/clip.png (the emotions over time) and
DIR/clip_annotated.mp4 (the sampled frames, boxed).
"""
import os
import sys

import numpy as np
from tqdm.auto import tqdm

from fercnn import limits, models
from fercnn.cli.options import OneLineParser, describe, folder_path, number
from fercnn.cli.outputs import check_writable, file_ids, is_one_of
from fercnn.data.faces import find_faces, read_image, to_gray
from fercnn.fileio import atomic_write
from fercnn.models import shipped
from fercnn.predict import FACE_INPUT, class_names_of, face_record, predict_faces
from fercnn.video import is_video, parse_every

PROGRESS_FROM = 20  # photos: a progress bar on stderr from this many


def build_parser(prog):
    p = OneLineParser(prog=prog, description=describe(__doc__))
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="image files (JPEG, PNG, ...) or videos (MP4, ...)")
    p.add_argument("--model", help="a model trained on 48x48 faces (model.npz of a training run, or a checkpoint), "
                                   "or the name of a shipped one: vgg (the default) or deep (a file called deep is ./deep)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--out", metavar="DIR", type=folder_path,
                   help="write each photo with its boxes and labels drawn, as DIR/<name>.png, and each video's "
                        "rows, plot and boxed frames (see above); <name>_2, ... where a file of that name is one "
                        "of the inputs or was written for another input")
    p.add_argument("--every", type=every_option, default="1", metavar="N|Ns",
                   help="videos: sample every Nth frame (5), or a frame every N seconds (0.5s) (default: every frame)")
    p.add_argument("--no-detect", action="store_true", help="take each image as one face crop (e.g. FER2013's own)")
    p.add_argument("--min-face", type=number(int, 24), default=48, metavar="PIXELS",
                   help="smallest face searched (default %(default)s)")
    p.add_argument("--batch-size", type=number(int, 1), default=256, help="faces per model call")
    p.add_argument("--tta", action="store_true", help="average each face's probabilities over its mirror image "
                                                      "(and shifted copies for a model trained on shifts)")
    p.add_argument("--max-pixels", type=number(int, 1), metavar="N",
                   help=f"refuse a photo of more than N pixels, before it is decoded (default "
                        f"{limits.DEFAULTS['pixels']:,}, or ${limits.ENV['pixels']})")
    return p


def every_option(text):
    import argparse

    try:
        parse_every(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).replace("--every must be", "must be")) from None
    return text


def model_named(name, prog):
    """The model --model names: a shipped one by its name ("vgg", "deep"; a file of that name
    is ./deep), else a model file; without --model the first shipped network this install
    has (vgg, else deep)."""
    if name is None:
        return shipped.default_model(prog, "give --model PATH (e.g. runs/deep_fer2013/model.npz from "
                                           "'fercnn train deep --data path/to/fer2013')")
    if name in shipped.NAMES:
        return shipped.pretrained(name)
    if not os.path.exists(name) and os.sep not in name and not name.endswith(".npz"):
        raise ValueError(f"{prog}: --model {name}: no such file, and not a shipped model's name "
                         f"(expected one of {', '.join(shipped.NAMES)}, or a model file)")
    model = models.load(name)
    shape = tuple(model.spec["input_shape"])
    if shape != FACE_INPUT:  # refused even where no face would reach it
        raise ValueError(f"{prog}: --model {name} takes images of shape {shape}; faces are given to it as 48x48 "
                         f"grayscale crops {FACE_INPUT}")
    return model


def main(argv, prog="fercnn predict"):
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    first_video = next((path for path in args.photos if is_video(path)), None)
    if args.no_detect and first_video:
        parser.error(f"--no-detect takes each photo as one face crop, and videos are always searched for faces: "
                     f"{first_video} is a video (predict it without --no-detect)")
    max_pixels = args.max_pixels or limits.limit("pixels")  # a bad FERCNN_MAX_PIXELS is refused here, once
    if args.out is not None:
        check_writable(args.out, prog)  # before the model and the photos are read
    model = model_named(args.model, prog)
    model_name = args.model or f"{shipped.available()[0]} (shipped)"
    inputs = file_ids(args.photos + ([args.model] if args.model else []))
    names = class_names_of(model)
    entries, pending, failed, used = [], [], 0, set()
    photos = tqdm(args.photos, desc="faces", unit="photo", file=sys.stderr, leave=False,
                  disable=len(args.photos) < PROGRESS_FROM)
    for path in photos:
        if is_video(path):
            failed += not video(path, model, names, args, entries, used, inputs)
            continue
        try:
            image = read_image(path, max_pixels=max_pixels)
            b, c = find_faces(image, detect=not args.no_detect, min_face=args.min_face)
        except (ValueError, MemoryError) as e:  # this photo only: the others are still predicted
            failed += 1
            reason = str(e) if isinstance(e, ValueError) else "not enough memory to read it and search it for faces"
            message = reason if reason.startswith(path) else f"{path}: {reason}"
            tqdm.write(f"error: {message}", file=sys.stderr)
            entries.append({"image": path, "faces": [], "error": message})
            continue
        if not b:
            tqdm.write(f"note: no face found in {path}", file=sys.stderr)
        entries.append({"image": path, "faces": []})
        pending.append((entries[-1], b, c))
        if args.out:  # drawn on the image just read: one decode, and the boxes' own (upright) pixels
            label_faces(model, pending, names, args.batch_size, args.tta, model_name)
            pending = []
            used.add(draw(entries[-1], image, args.out, used, inputs))
    photos.close()
    label_faces(model, pending, names, args.batch_size, args.tta, model_name)
    if args.json:
        import json
        print(json.dumps(entries, indent=1, allow_nan=False))  # always JSON: no NaN ever reaches it
    else:
        print("\n\n".join((video_table if "video" in entry else table)(entry, names)
                          for entry in entries if "error" not in entry))
    return 1 if failed else 0


VIDEO_FILES = ("_annotated.mp4", ".csv", ".json", ".png")  # what --out gets of a video: <name> + each


def video(path, model, names, args, entries, used, inputs):
    """Predict the video at ``path`` into a new entry of ``entries`` (and its files under --out,
    named as output_base says; their paths are added to ``used``); False (and an 'error:' line)
    when it cannot be read."""
    from fercnn import video as v
    from fercnn.plots import plot_emotions_over_time

    entry = {"video": path, "every": args.every, "rows": []}
    entries.append(entry)
    try:
        if args.out:
            base, clash = output_base(args.out, path, VIDEO_FILES, used, inputs)
            if clash:
                tqdm.write(f"note: {clash} is one of the inputs, so {path}'s files are {base}"
                           f"{', '.join(VIDEO_FILES[:-1])} and {VIDEO_FILES[-1]}", file=sys.stderr)
            used.update(base + suffix for suffix in VIDEO_FILES)
            with v.AnnotatedVideo(f"{base}_annotated.mp4", v.sampled_rate(path, args.every)) as out:
                entry["rows"] = v.analyze_video(path, model, every=args.every, min_face=args.min_face, on_frame=out.add)
            v.write_rows(entry["rows"], names, f"{base}.csv", f"{base}.json")
            plot_emotions_over_time(entry["rows"], names, f"{base}.png", title=os.path.basename(path))
        else:
            entry["rows"] = v.analyze_video(path, model, every=args.every, min_face=args.min_face)
    except ValueError as e:
        message = str(e) if str(e).startswith(path) else f"{path}: {e}"
        tqdm.write(f"error: {message}", file=sys.stderr)
        entry["error"] = message
        return False
    if not entry["rows"]:
        tqdm.write(f"note: no face found in {path}", file=sys.stderr)
    return True


def video_table(entry, names):
    """One video's rows as text: time, face number, box, top emotion, every probability."""
    rows = entry["rows"]
    faces = len({r["face"] for r in rows})
    lines = [f"{entry['video']}: {len(rows)} row{'' if len(rows) == 1 else 's'} "
             f"({len({r['frame'] for r in rows})} frames with faces, {faces} face{'' if faces == 1 else 's'} followed)"]
    if rows:
        width = max(8, *(len(name) for name in names))
        lines.append(f"  {'time':>8} {'face':>4}  {'box (x, y, w, h)':<22}{'top':<{width + 2}}"
                     + "".join(f"{name:>{width + 1}}" for name in names))
        for r in rows:
            box = ", ".join(map(str, r["box"]))
            lines.append(f"  {r['time']:>8.3f} {r['face']:>4}  {box:<22}{r['top']:<{width + 2}}"
                         + "".join(f"{r['emotions'][name]:>{width + 1}.3f}" for name in names))
    return "\n".join(lines)


def label_faces(model, pending, names, batch_size, tta=False, model_name="the model"):
    """Fill in the faces of each (entry, boxes, crops) in ``pending``, all crops in one model call."""
    crops = [c for _, _, c in pending]
    try:
        probs = predict_faces(model, np.concatenate(crops) if crops else np.zeros((0, 48, 48), np.uint8),
                              batch_size=batch_size, tta=tta)
    except ValueError as e:
        raise ValueError(f"predict: model {model_name}: {e}") from None
    k = 0
    for entry, boxes, _ in pending:
        entry["faces"] = [face_record(box, p, names) for box, p in zip(boxes, probs[k:k + len(boxes)])]
        k += len(boxes)


def table(entry, names):
    """One photo's faces as text: box, top emotion, every probability."""
    n = len(entry["faces"])
    lines = [f"{entry['image']}: {n} face{'' if n == 1 else 's'}"]
    if n:
        width = max(8, *(len(name) for name in names))
        lines.append(f"  {'box (x, y, w, h)':<22}{'top':<{width + 2}}" + "".join(f"{name:>{width + 1}}" for name in names))
        for face in entry["faces"]:
            box = ", ".join(map(str, face["box"]))
            lines.append(f"  {box:<22}{face['top']:<{width + 2}}" +
                         "".join(f"{face['emotions'][name]:>{width + 1}.3f}" for name in names))
    return "\n".join(lines)


def draw(entry, image, out_dir, used=(), inputs=()):
    """``image`` (the photo as read_image returned it) with each face's box and top emotion
    drawn, written to out_dir/<name>.png (<name>_2.png, ... when a path in ``used`` has that
    name already, or it is one of the files ``inputs`` (file_ids) names: an input is never
    written over, and a note says which name was taken instead). Returns the path."""
    from fercnn.plots import draw_faces

    a = np.asarray(image)
    if a.dtype != np.uint8:  # 16-bit, 32-bit or float grayscale: as to_gray takes its values
        a = np.clip(np.rint(to_gray(a)), 0, 255).astype(np.uint8)
    im = draw_faces(a, entry["faces"])
    base, clash = output_base(out_dir, entry["image"], (".png",), used, inputs)
    path = base + ".png"
    if clash:
        tqdm.write(f"note: {clash} is one of the inputs, so {entry['image']} drawn is {path}", file=sys.stderr)
    with atomic_write(path) as f:
        im.save(f, format="PNG")
    return path


def output_base(out_dir, source, suffixes, used, inputs):
    """The name under out_dir for what is written of input ``source``: out_dir/<its name
    without extension>, or <name>_2, <name>_3, ... where a file base + suffix (for each of
    ``suffixes``) is in ``used`` (written in this run for another input) or is one of the
    files ``inputs`` (file_ids) names. Returns (base, clash): clash is the first name's file
    that is an input (for the note that says so), else None."""
    stem = os.path.splitext(os.path.basename(source))[0]
    first = base = os.path.join(out_dir, stem)
    n = 1
    while any(base + sfx in used or is_one_of(base + sfx, inputs) for sfx in suffixes):
        n += 1
        base = os.path.join(out_dir, f"{stem}_{n}")
    clash = None if base == first else next((first + sfx for sfx in suffixes if is_one_of(first + sfx, inputs)), None)
    return base, clash
