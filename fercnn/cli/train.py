"""fercnn train {shallow,deep,hybrid,linear} [options]: the example scripts' training run."""
from fercnn.cli.experiment import main as run
from fercnn.cli.options import OneLineParser

PRESETS = {"shallow": ("shallow", False), "deep": ("deep", False), "hybrid": ("shallow", True),
           "vgg": ("vgg", False), "linear": ("linear", False)}


def main(argv, prog="fercnn train"):
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in PRESETS:
        p = OneLineParser(prog=prog, description="Train one of the paper's networks; "
                                                 f"'{prog} NETWORK --help' lists its options.")
        p.add_argument("network", choices=sorted(PRESETS))
        p.parse_args(argv[:1])  # prints help, or the error for a missing or unknown network
    preset, hog = PRESETS[argv[0]]
    run(preset, argv[1:], hog=hog, prog=f"{prog} {argv[0]}")
    return 0
