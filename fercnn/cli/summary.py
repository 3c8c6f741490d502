"""fercnn summary {shallow,deep,vgg,linear,MODEL.npz}: layers, output shapes, parameter counts."""
import os

from fercnn import models
from fercnn.cli.options import OneLineParser, describe

PRESETS = ("shallow", "deep", "vgg", "linear")  # fercnn.models' networks


def main(argv, prog="fercnn summary"):
    p = OneLineParser(prog=prog, description=describe(__doc__))
    p.add_argument("network", help=f"{', '.join(PRESETS)}, or a saved model / checkpoint (.npz)")
    p.add_argument("--hog", action="store_true", help="the hybrid: HOG features join the conv output (with a "
                                                      "preset; a saved model is what it was trained as)")
    args = p.parse_args(argv)
    if args.hog and args.network not in PRESETS:
        p.error(f"--hog builds a preset's hybrid ({', '.join(PRESETS)}); {args.network} is a saved model, whose "
                "summary shows whether it is one")
    if args.network in PRESETS:
        model = getattr(models, args.network)(hog=args.hog)
        print(f"{args.network}{' + HOG (hybrid)' if args.hog else ''}")
    elif args.network.endswith(".npz") or os.path.exists(args.network):
        model = models.load(args.network)
        names = ", ".join(model.class_names) if model.class_names else "not stored"
        print(f"{args.network}: classes {names}")
    else:
        raise ValueError(f"{prog}: expected {', '.join(PRESETS)} or a model file, got {args.network!r} "
                         "(no such file)")
    print(model.summary())
    return 0
