"""Command-line option types and the parser every fercnn command uses."""
import argparse

import numpy as np


def number(kind, low=None, high=None, *, low_open=False, high_open=False):
    """An argparse type: a number of ``kind`` in the interval the bounds give."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not np.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if (low is not None and (value <= low if low_open else value < low)) or \
                (high is not None and (value >= high if high_open else value > high)):
            if low is not None and high is not None:
                want = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            elif low is not None:
                want = f"{'>' if low_open else '>='} {low:g}"
            else:
                want = f"{'<' if high_open else '<='} {high:g}"
            raise argparse.ArgumentTypeError(f"must be {want}, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def folder_path(text):
    """An argparse type: a folder to write into; the empty string (which would mean the
    current folder, or a default one) is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a folder, got {text!r}")
    return text


class OneLineParser(argparse.ArgumentParser):
    """Bad options end in one 'error:' line (and exit status 2), not a usage block."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def describe(docstring):
    """A command's --help description from its module docstring "fercnn X: does this.": "Does this."."""
    text = docstring.split("\n\n")[0].split(": ", 1)[1].strip()
    return text[0].upper() + text[1:]
