"""fercnn visualize: a model's first-layer filters, and activations and saliency for faces, as PNGs."""
import os

import numpy as np

from fercnn import visualize
from fercnn.cli.options import OneLineParser, number
from fercnn.cli.predict import model_named
from fercnn.data.faces import find_faces, read_image


def main(argv, prog="fercnn visualize"):
    p = OneLineParser(prog=prog, description="Write filters.png (the first conv layer), and for the faces in "
                      "the given photos activations.png (every conv layer, first face) and saliency.png "
                      "(|d score / d pixel| for each face's predicted class); with --smoothgrad N also "
                      "smoothgrad.png (the saliency averaged over N noisy copies of each face).")
    p.add_argument("photos", nargs="*", metavar="PHOTO", help="photos or face crops (the first face of each is used)")
    p.add_argument("--model", required=True,
                   help="a model trained on 48x48 faces (model.npz, a checkpoint, or a shipped model's name: deep)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the PNGs")
    p.add_argument("--no-detect", action="store_true", help="take each image as one face crop")
    p.add_argument("--min-face", type=number(int, 24), default=48, metavar="PIXELS")
    p.add_argument("--smoothgrad", type=number(int, 1), default=None, metavar="N",
                   help="also write smoothgrad.png, SmoothGrad over N noisy copies of each face (50 is typical)")
    p.add_argument("--noise", type=number(float, 0), default=0.1, metavar="LEVEL",
                   help="SmoothGrad's noise: its standard deviation as a fraction of each face's range (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of SmoothGrad's noise (default 0)")
    args = p.parse_args(argv)
    model = model_named(args.model, prog)
    visualize.filters(model, os.path.join(args.out, "filters.png"))
    written = ["filters.png"]
    crops = []
    for path in args.photos:
        _, faces = find_faces(read_image(path), detect=not args.no_detect, min_face=args.min_face)
        if len(faces) == 0:
            raise ValueError(f"{path}: no face found (use --no-detect for a face crop)")
        crops.append(faces[0])
    if crops:
        X = model.prepare(np.stack(crops))
        visualize.activations(model, X[:1], os.path.join(args.out, "activations.png"))
        predicted = model.predict(X)
        visualize.saliency(model, X, predicted, os.path.join(args.out, "saliency.png"))
        written += ["activations.png", "saliency.png"]
        if args.smoothgrad:
            visualize.smoothgrad(model, X, predicted, os.path.join(args.out, "smoothgrad.png"), n=args.smoothgrad,
                                 sigma=args.noise, rng=np.random.default_rng(args.seed))
            written.append("smoothgrad.png")
    print(f"wrote {', '.join(os.path.join(args.out, w) for w in written)}")
    return 0
