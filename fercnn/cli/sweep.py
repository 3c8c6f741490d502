"""fercnn sweep: search the paper's family of networks and their recipe with Ray Tune, on this machine or a Ray cluster.

    fercnn sweep examples/sweep_synthetic.toml                 # Ray on this machine, all its cores
    fercnn sweep spec.toml --address 10.0.0.1:6379 --out /shared/runs/sweep_fer
    fercnn sweep spec.toml --resume                            # continue a stopped sweep

SPEC.toml describes the data, the networks ([network]: conv and FC blocks, kernels, pooling,
batchnorm, dropout), the recipe (lr, reg, decay, update rule, batch size, epochs), the
search (grid, random or optuna; CPUs and threads per trial) and early stopping (ASHA or
median stopping on the validation accuracy of every epoch); docs/sweeps.md has the format.
Every trial is an ordinary run folder in OUT/trials/; OUT gets the table, the best trial's
model and the figures. The whole spec is checked before anything starts.
"""
from fercnn.cli.options import OneLineParser, describe, number


def main(argv=None, prog="fercnn sweep"):
    p = OneLineParser(prog=prog, description=describe(__doc__))
    p.add_argument("spec", metavar="SPEC.toml", help="the search (see docs/sweeps.md)")
    p.add_argument("--out", help="the sweep's folder (default: runs/sweep_<name>); on a cluster, storage every "
                                 "node reaches at the same path")
    p.add_argument("--address", metavar="HOST:PORT",
                   help="run on the Ray cluster whose head listens there (`ray start --head --port PORT`); "
                        "default: start Ray on this machine")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out: finished trials are kept, interrupted ones continue "
                        "from their checkpoints (the same SPEC)")
    p.add_argument("--cpus", type=number(int, 1), help="CPUs Ray may use on this machine (default: all)")
    p.add_argument("--quiet", action="store_true", help="no line per trial epoch")
    args = p.parse_args(argv)
    from fercnn.sweep import run

    sweep = run(args.spec, out=args.out, address=args.address, resume=args.resume, cpus=args.cpus, quiet=args.quiet)
    return 0 if sweep.complete and not any(r["status"] == "error" for r in sweep.rows) else 1
