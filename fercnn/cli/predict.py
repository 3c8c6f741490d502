"""fercnn predict PHOTO...: find the faces in photos and print their expression probabilities.

Faces are found with scikit-image's LBP frontal-face cascade, cropped with a small
margin, made grayscale, resized to 48x48 and given to the model. The default output is
a table per photo; --json prints one entry per photo, in input order:

    [{"image": "photo.jpg", "faces": [{"box": [x, y, width, height],
      "emotions": {"angry": p, ..., "neutral": p}, "top": "happy"}]}]

Boxes are in pixels of the original photo. A photo that cannot be read, or is larger than
--max-pixels, gets an 'error:' line on stderr (and, with --json, an "error" field beside an
empty face list); the other photos are still predicted, and the exit status is 1. A model
whose outputs are not finite numbers is an error (exit status 2), never printed as
probabilities. --out never writes over a file given as input: the drawn copy then gets
another name, and a note says which.
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
from fercnn.predict import class_names_of, face_record, predict_faces

PROGRESS_FROM = 20  # photos: a progress bar on stderr from this many


def build_parser(prog):
    p = OneLineParser(prog=prog, description=describe(__doc__))
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="image files (JPEG, PNG, ...)")
    p.add_argument("--model", help="a model trained on 48x48 faces (model.npz of a training run, or a checkpoint), "
                                   "or the name of a shipped one: deep (the default; a file called deep is ./deep)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--out", metavar="DIR", type=folder_path,
                   help="write each photo with its boxes and labels drawn, as DIR/<name>.png (<name>_2.png, ... "
                        "where that name is taken by another photo or is one of the inputs)")
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


def model_named(name, prog):
    """The model --model names: a shipped one by its name ("deep"; a file of that name is
    ./deep), else a model file; without --model the shipped deep network, where this
    install has it."""
    if name is None:
        return shipped.default_model(prog, "give --model PATH (e.g. runs/deep_fer2013/model.npz from "
                                           "'fercnn train deep --data path/to/fer2013')")
    if name in shipped.NAMES:
        return shipped.pretrained(name)
    return models.load(name)


def main(argv, prog="fercnn predict"):
    args = build_parser(prog).parse_args(argv)
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
        print("\n\n".join(table(entry, names) for entry in entries if "error" not in entry))
    return 1 if failed else 0


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
    from PIL import Image, ImageDraw

    a = np.asarray(image)
    if a.dtype != np.uint8:  # 16-bit, 32-bit or float grayscale: as to_gray takes its values
        a = np.clip(np.rint(to_gray(a)), 0, 255).astype(np.uint8)
    im = Image.fromarray(a).convert("RGB")
    pen = ImageDraw.Draw(im)
    thick = max(2, round(min(im.size) / 200))
    for face in entry["faces"]:
        x, y, w, h = face["box"]
        label = f"{face['top']} {face['emotions'][face['top']]:.2f}"
        pen.rectangle([x, y, x + w - 1, y + h - 1], outline=(255, 40, 40), width=thick)
        tx, ty = x, max(0, y - 12 - thick)
        pen.rectangle(pen.textbbox((tx, ty), label), fill=(255, 40, 40))
        pen.text((tx, ty), label, fill=(255, 255, 255))
    stem = os.path.splitext(os.path.basename(entry["image"]))[0]
    first = path = os.path.join(out_dir, f"{stem}.png")
    n = 1
    while path in used or is_one_of(path, inputs):
        n += 1
        path = os.path.join(out_dir, f"{stem}_{n}.png")
    if path != first and is_one_of(first, inputs):
        tqdm.write(f"note: {first} is one of the inputs, so {entry['image']} drawn is {path}", file=sys.stderr)
    with atomic_write(path) as f:
        im.save(f, format="PNG")
    return path
