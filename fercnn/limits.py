"""The sizes fercnn believes: every size read from a file is checked against a limit
before anything is allocated for it.

A model file's spec says how many parameters the network has and how many values one
image makes on its way through; an .npz entry's header says its shape; an image's header
says its width and height. A damaged or hostile file can claim any of them, so each is
held to a limit first, and a claim over it is one ValueError naming the file, the field,
the claimed size and the limit:

    limit     default               what                                          raise it with
    params    100,000,000           parameters a model's spec makes               FERCNN_MAX_PARAMS
    values    50,000,000            values one image makes through a spec's       FERCNN_MAX_VALUES
                                    layers (its input and every layer's output)
    pixels    50,000,000            pixels of one image (width x height)          --max-pixels, FERCNN_MAX_PIXELS
    bytes     1 GiB                 the arrays of one .npz that no spec sizes,    FERCNN_MAX_ARRAY_BYTES
                                    in all (a model's meta, a checkpoint's
                                    order, the FER2013 cache)

The shipped deep network has 4.5 M parameters and makes 0.7 M values per image, a phone's
48 MP photo is under the pixel limit, and FER2013's cache is 0.1 GiB. An environment
variable, where set, replaces the default (a positive whole number; 1_000 and 1e9 are not
taken); an option of a command replaces both for that command.
"""
import os

DEFAULTS = {"params": 100_000_000, "values": 50_000_000, "pixels": 50_000_000, "bytes": 1 << 30}
ENV = {"params": "FERCNN_MAX_PARAMS", "values": "FERCNN_MAX_VALUES", "pixels": "FERCNN_MAX_PIXELS",
       "bytes": "FERCNN_MAX_ARRAY_BYTES"}
OPTIONS = {"pixels": "--max-pixels"}


def limit(name):
    """The limit ``name`` in force: its environment variable where set, else the default."""
    variable = ENV[name]
    text = os.environ.get(variable, "").strip()
    if not text:
        return DEFAULTS[name]
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{variable} must be a positive whole number, got {text!r}")
    return int(text)


def how_to_raise(name):
    """The options and environment variable that raise limit ``name``, as words."""
    return " or ".join(([OPTIONS[name]] if name in OPTIONS else []) + [ENV[name]])


def check(name, claimed, said, unit="", *, value=None):
    """Raise one ValueError when ``claimed`` is over limit ``name``: "<said> <claimed><unit>;
    the limit is <limit> (raise it with ...)". ``said`` names the file and the field
    ("load: big.npz: the spec makes"); ``unit`` follows the number (" parameters (fc1:
    2,764,800,000)"); ``value``, where given, is the limit instead of limit(name) (a
    command's option). Returns ``claimed``."""
    most = limit(name) if value is None else value
    if claimed > most:
        raise ValueError(f"{said} {claimed:,}{unit}; the limit is {most:,} (raise it with {how_to_raise(name)})")
    return claimed
