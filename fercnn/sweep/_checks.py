"""The tests a sweep's spec puts its values to: each ``check(where, value)`` returns the value
(ints as int, numbers as float) or raises one ValueError naming ``where``, what it takes and
what it got."""
import numbers

from fercnn.sweep.network import POOL_WORDS


class Check:
    """A key's test: ``check(where, value)`` returns the value (ints as int, numbers as
    float) or raises; ``draws`` says which ranges may draw it: "int", "float" or None."""

    def __init__(self, want, test, convert=None, draws=None):
        self.want, self.test, self.convert, self.draws = want, test, convert, draws

    def __call__(self, where, value):
        if not self.test(value):
            raise ValueError(f"{where}: expected {self.want}, got {value!r}")
        return self.convert(value) if self.convert else value


def number(low=None, high=None, *, integer=False, low_open=False, high_open=False):
    kind = numbers.Integral if integer else numbers.Real

    def test(v):
        if isinstance(v, bool) or not isinstance(v, kind) or v != v:
            return False
        return not ((low is not None and (v <= low if low_open else v < low))
                    or (high is not None and (v >= high if high_open else v > high)))
    if low is not None and high is not None:
        bounds = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        bounds = f" {'>' if low_open else '>='} {low:g}"
    else:
        bounds = ""
    return Check(("an integer" if integer else "a number") + bounds, test, int if integer else float,
                  "int" if integer else "float")


def one_of(*names):
    return Check("one of " + ", ".join(repr(n) for n in names), lambda v: isinstance(v, str) and v in names)


BOOL = Check("true or false", lambda v: isinstance(v, bool))
TEXT = Check("a string", lambda v: isinstance(v, str) and v != "")
KERNEL = Check("an odd integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1 and v % 2,
                 int, "int")


def per_block(single):
    """One value for every block, or a non-empty list of them (one per block)."""
    def test(v):
        items = v if isinstance(v, list) else [v]
        try:
            return bool(items) and all(single("", x) is not None for x in items)
        except ValueError:
            return False

    def convert(v):
        return [single("", x) for x in v] if isinstance(v, list) else single("", v)
    return Check(f"{single.want}, or a list of them (one per block)", test, convert, single.draws)


POOL = Check(f"one of {', '.join(repr(w) for w in POOL_WORDS)}, or a list of true/false (one per block)",
               lambda v: v in POOL_WORDS if isinstance(v, str) else
               isinstance(v, list) and bool(v) and all(isinstance(x, bool) for x in v))
