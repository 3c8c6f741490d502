"""The ``fercnn`` command: train, evaluate, average, predict, serve, summary, gradcheck, visualize, sweep, exercises.

    fercnn train shallow --data path/to/fer2013
    fercnn predict photo.jpg --model runs/deep_fer2013/model.npz
    fercnn COMMAND --help

Every command ends bad input (options, files) in one 'error:' line and exit status 2.
"""
import importlib
import sys
import warnings

from fercnn import __version__
from fercnn.runtime import check_thread_settings

# command -> (module in fercnn.cli, one-line description)
COMMANDS = {
    "train": ("train", "train a network: shallow, deep, hybrid, vgg or linear (FER2013, your faces, or synthetic)"),
    "evaluate": ("evaluate", "score saved models on FER2013: the best on validation, then its test accuracy"),
    "average": ("average", "average the weights of checkpoints of one run into one network (FER2013)"),
    "predict": ("predict", "find the faces in photos and videos and print their expression probabilities"),
    "serve": ("serve", "a local web page (webcam, dropped photos) and a JSON API that predict expressions"),
    "summary": ("summary", "a network's layers, output shapes and parameter counts"),
    "gradcheck": ("gradcheck", "check every op's backward pass against numerical gradients"),
    "visualize": ("visualize", "a model's filters, and activations and saliency for faces, as PNGs"),
    "sweep": ("sweep", "search networks and recipes with Ray Tune, on this machine or a Ray cluster"),
    "exercises": ("exercises", "write fercnn's layers yourself (start DIR), and check them (check DIR)"),
}


def usage():
    lines = ["usage: fercnn COMMAND [options]   (fercnn COMMAND --help for each)", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    """Run one command; returns nothing, exits with the command's status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if argv else 2)
    if argv[0] == "--version":
        print(f"fercnn {__version__}")
        return
    if argv[0] not in COMMANDS:
        print(f"error: fercnn: unknown command {argv[0]!r}; commands are {', '.join(COMMANDS)} (see --help)",
              file=sys.stderr)
        sys.exit(2)

    def command():
        check_thread_settings()  # before the command's module imports Numba
        module = importlib.import_module(f"fercnn.cli.{COMMANDS[argv[0]][0]}")
        return module.main(argv[1:], prog=f"fercnn {argv[0]}")
    run(command)


def train_script(preset, *, hog=False):
    """The example scripts' entry point (python examples/train_deep.py ...): the training
    run of fercnn.cli.experiment, with the fercnn command's checks and error handling."""
    def command():
        check_thread_settings()
        from fercnn.cli.experiment import main as train

        train(preset, sys.argv[1:], hog=hog)
        return 0
    run(command)


def run(command):
    """Call command() and exit with its status: a ValueError (bad input) becomes one 'error:'
    line and status 2, a FloatingPointError (a diverging run) one 'error:' line and status 1."""
    warnings.formatwarning = lambda message, *args, **kw: f"warning: {message}\n"
    try:
        status = command()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except FloatingPointError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:  # a file that cannot be written or read: name it, no traceback
        print(f"error: {e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)
