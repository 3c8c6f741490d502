"""fercnn gradcheck: every op's backward pass against numerical gradients, as a table."""
import numpy as np

from fercnn.cli.options import OneLineParser, number
from fercnn.gradcheck import check_all, format_table


def main(argv, prog="fercnn gradcheck"):
    p = OneLineParser(prog=prog, description="Check every op's backward pass (float64) against centred "
                                             "differences; exit status 1 if one is off.")
    p.add_argument("--seed", type=number(int, 0), default=0, help="seed of the random inputs")
    args = p.parse_args(argv)
    rows = check_all(np.random.default_rng(args.seed))
    print(format_table(rows))
    return 0 if all(ok for *_, ok in rows) else 1
