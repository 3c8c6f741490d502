"""fercnn visualize: a model's first-layer filters, and activations and saliency for faces, as PNGs."""
import os

import numpy as np

from fercnn import limits, visualize
from fercnn.cli.options import OneLineParser, folder_path, number
from fercnn.cli.outputs import check_writable, file_ids, is_one_of
from fercnn.cli.predict import model_named
from fercnn.data.faces import find_faces, read_image

NOISE = 0.1  # SmoothGrad's noise without --noise
OUTPUTS = ("filters.png", "activations.png", "saliency.png", "smoothgrad.png")


def main(argv, prog="fercnn visualize"):
    p = OneLineParser(prog=prog, description="Write filters.png (the first conv layer), and for the faces in "
                      "the given photos activations.png (every conv layer, first face) and saliency.png "
                      "(|d score / d pixel| for each face's predicted class); with --smoothgrad N also "
                      "smoothgrad.png (the saliency averaged over N noisy copies of each face).")
    p.add_argument("photos", nargs="*", metavar="PHOTO", help="photos or face crops (the first face of each is used)")
    p.add_argument("--model", required=True,
                   help="a model trained on 48x48 faces (model.npz, a checkpoint, or a shipped model's name: vgg or "
                        "deep)")
    p.add_argument("--out", required=True, metavar="DIR", type=folder_path,
                   help="folder for the PNGs (never one of the inputs' names)")
    p.add_argument("--no-detect", action="store_true", help="take each image as one face crop")
    p.add_argument("--min-face", type=number(int, 24), default=48, metavar="PIXELS")
    p.add_argument("--max-pixels", type=number(int, 1), metavar="N",
                   help=f"refuse a photo of more than N pixels (default {limits.DEFAULTS['pixels']:,}, "
                        f"or ${limits.ENV['pixels']})")
    p.add_argument("--smoothgrad", type=number(int, 1), default=None, metavar="N",
                   help="also write smoothgrad.png, SmoothGrad over N noisy copies of each face (50 is typical)")
    p.add_argument("--noise", type=number(float, 0), default=None, metavar="LEVEL",
                   help=f"SmoothGrad's noise: its standard deviation as a fraction of each face's range (default "
                        f"{NOISE})")
    p.add_argument("--seed", type=int, default=0, help="seed of SmoothGrad's noise (default 0)")
    args = p.parse_args(argv)
    if args.noise is not None and not args.smoothgrad:
        p.error("--noise sets SmoothGrad's noise: give --smoothgrad N with it")
    check_writable(args.out, prog)
    inputs = file_ids([args.model, *args.photos])
    for name in OUTPUTS:
        if is_one_of(os.path.join(args.out, name), inputs):
            raise ValueError(f"{prog}: {os.path.join(args.out, name)} is one of the inputs, and --out would write "
                             "over it; give another --out")
    model = model_named(args.model, prog)
    crops = []  # every photo read, and its face found, before anything is written
    for path in args.photos:
        _, faces = find_faces(read_image(path, max_pixels=args.max_pixels), detect=not args.no_detect,
                              min_face=args.min_face)
        if len(faces) == 0:
            raise ValueError(f"{path}: no face found (use --no-detect for a face crop)")
        crops.append(faces[0])
    X = model.prepare(np.stack(crops)) if crops else None  # the faces as the model takes them, or its error
    visualize.filters(model, os.path.join(args.out, "filters.png"))
    written = ["filters.png"]
    if crops:
        visualize.activations(model, X[:1], os.path.join(args.out, "activations.png"))
        predicted = model.predict(X)
        visualize.saliency(model, X, predicted, os.path.join(args.out, "saliency.png"))
        written += ["activations.png", "saliency.png"]
        if args.smoothgrad:
            visualize.smoothgrad(model, X, predicted, os.path.join(args.out, "smoothgrad.png"), n=args.smoothgrad,
                                 sigma=NOISE if args.noise is None else args.noise,
                                 rng=np.random.default_rng(args.seed))
            written.append("smoothgrad.png")
    print(f"wrote {', '.join(os.path.join(args.out, w) for w in written)}")
    return 0
