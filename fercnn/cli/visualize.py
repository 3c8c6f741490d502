"""fercnn visualize: a model's first-layer filters, and activations and saliency for faces, as PNGs."""
import os

import numpy as np

from fercnn import models, visualize
from fercnn.cli.options import OneLineParser, number
from fercnn.data.faces import find_faces, read_image


def main(argv, prog="fercnn visualize"):
    p = OneLineParser(prog=prog, description="Write filters.png (the first conv layer), and for the faces in "
                      "the given photos activations.png (every conv layer, first face) and saliency.png "
                      "(|d score / d pixel| for each face's predicted class).")
    p.add_argument("photos", nargs="*", metavar="PHOTO", help="photos or face crops (the first face of each is used)")
    p.add_argument("--model", required=True, help="a model trained on 48x48 faces (model.npz or a checkpoint)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the PNGs")
    p.add_argument("--no-detect", action="store_true", help="take each image as one face crop")
    p.add_argument("--min-face", type=number(int, 24), default=48, metavar="PIXELS")
    args = p.parse_args(argv)
    model = models.load(args.model)
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
        visualize.saliency(model, X, model.predict(X), os.path.join(args.out, "saliency.png"))
        written += ["activations.png", "saliency.png"]
    print(f"wrote {', '.join(os.path.join(args.out, w) for w in written)}")
    return 0
