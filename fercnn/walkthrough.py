"""expect: print a value beside what it should be, and stop where it is not.

The walkthrough (docs/walkthrough/) prints its values through ``expect``, so that every line
it prints says what it should print, and the test suite, which runs every chapter
(tests/test_walkthrough.py), holds the chapters to it:

    from fercnn.walkthrough import expect
    expect("out.shape", out.shape, (4, 5))                     # exactly
    expect("loss", loss, 1.946, tol=0.001)                     # within +-0.001
    expect("dx relative error", err, below=1e-7, fmt=".1e")    # a bound
    expect("validation accuracy", acc, above=0.3, below=0.6)   # a range

Each call prints one line, ``name: value (expected ...)``, returns the value, and raises
ExpectationError, naming the value and what was expected, when the value is not that.
"""
import numpy as np


class ExpectationError(AssertionError):
    """A value the walkthrough printed is not what its prose says it should be."""


def _show(value, fmt):
    """value as one line: numbers in ``fmt`` (default .4g), arrays and lists of numbers alike."""
    if isinstance(value, list) and value and all(isinstance(v, (int, float, np.number)) for v in value):
        value = np.asarray(value)
    elif isinstance(value, (str, tuple, list, dict, bool, np.bool_)):
        return str(value)
    arr = np.asarray(value)
    spec = fmt or ".4g"
    if arr.ndim == 0:
        return str(int(arr)) if arr.dtype.kind in "iu" and fmt is None else format(float(arr), spec)
    text = np.array2string(arr, formatter={"float_kind": lambda v: format(v, spec)}, separator=", ",
                           max_line_width=10_000, threshold=10_000)
    return " ".join(line.strip() for line in text.splitlines())


def expect(name, value, want=None, *, tol=0.0, below=None, above=None, fmt=None):
    """Print ``name: value (expected ...)`` and return ``value``; raise ExpectationError unless

    - ``want`` given: value == want (arrays: every entry), or within ``tol`` of it
      (absolute, entry by entry) when tol > 0;
    - ``below`` / ``above`` given (one or both, without ``want``): above <= value <= below
      (arrays: every entry).

    ``fmt`` formats numbers (a format spec such as ".3f", ".1e", ".1%"); default ".4g".
    """
    if (want is None) == (below is None and above is None):
        raise ValueError(f"expect {name!r}: give either want (and tol) or below/above, not both or neither")
    if tol < 0:
        raise ValueError(f"expect {name!r}: tol must be >= 0, got {tol!r}")
    if want is not None:
        if tol:
            got, wanted = np.asarray(value, dtype=float), np.asarray(want, dtype=float)
            ok = got.shape == wanted.shape and bool(np.all(np.abs(got - wanted) <= tol))
            what = f"{_show(wanted if wanted.ndim else want, fmt)} +- {_show(tol, None)}"
        elif isinstance(value, np.ndarray) or isinstance(want, np.ndarray):
            ok = bool(np.array_equal(value, want))
            what = _show(np.asarray(want), fmt)
        else:
            ok = bool(value == want)
            what = _show(want, fmt)
    else:
        v = np.asarray(value, dtype=float)
        ok = bool(np.all((below is None or v <= below) & (above is None or v >= above)))
        what = (f"between {_show(above, fmt)} and {_show(below, fmt)}" if below is not None and above is not None
                else f"at most {_show(below, fmt)}" if below is not None else f"at least {_show(above, fmt)}")
    shown = _show(value, fmt)
    print(f"{name}: {shown} (expected {what})")
    if not ok:
        raise ExpectationError(f"{name}: got {shown}, expected {what}")
    return value
