"""fercnn exercises: write fercnn's layers yourself (start), and check them (check).

    fercnn exercises start DIR             # DIR/layers.py, optim.py, README.md
    fercnn exercises check DIR [NAME...]   # every function, or the ones named

check prints one row per function (checks passed, and for a failure what is off) and exits
with status 0 only when every function asked for passes, 1 otherwise.
"""
from fercnn.cli.options import OneLineParser


def main(argv, prog="fercnn exercises"):
    p = OneLineParser(prog=prog, description="Write fercnn's layers and update rules yourself: 'start DIR' writes "
                                             "the files to fill in, 'check DIR [NAME...]' checks them as fercnn's "
                                             "tests check fercnn's own (exit status 0 when all pass).")
    sub = p.add_subparsers(dest="action", required=True, metavar="{start,check}")
    start = sub.add_parser("start", help="write DIR/layers.py, optim.py and README.md (DIR must be new or empty)",
                           description="Write layers.py and optim.py (every function of fercnn's readable layers "
                                       "and update rules, with fercnn's signatures and docstrings and an empty "
                                       "body) and README.md (the order, and each function's walkthrough chapter).")
    start.add_argument("dir", metavar="DIR")
    check = sub.add_parser("check", help="check DIR's functions: one row each, what is off where one fails",
                           description="Check the functions of DIR/layers.py and DIR/optim.py as fercnn's tests "
                                       "check fercnn's ops: known answers, numerical gradients, agreement with "
                                       "fercnn's readable op on random shapes (float32 and float64), running "
                                       "statistics, dropout's behaviour, update rules step by step. Exit status "
                                       "0 when every function asked for passes.")
    check.add_argument("dir", metavar="DIR")
    check.add_argument("names", nargs="*", metavar="NAME",
                       help="functions to check (default all): a name (conv_forward), a family (conv, batchnorm) or "
                            "a file (layers, optim)")
    for parser in (start, check):
        parser.error = p.error  # one 'error:' line, as every fercnn command
    args = p.parse_args(argv)
    if args.action == "start":
        from fercnn.exercises.stubs import start as write
        written = write(args.dir)
        print(f"wrote {', '.join(written)}")
        print(f"next: read {args.dir}/README.md, write affine_forward in {args.dir}/layers.py, then run "
              f"fercnn exercises check {args.dir} affine_forward")
        return 0
    from fercnn.exercises.grader import format_table, grade
    rows = grade(args.dir, args.names)
    print(format_table(rows, args.dir))
    return 0 if all(r.status == "ok" for r in rows) else 1
