"""fercnn gradcheck: every op's backward pass against centred differences, as a table.

The readable ops of fercnn.layers are checked, and the two fused ops that exist only in
fercnn.fast (the other fast ops are held equal to the readable ones by the tests).

Each case runs the op's forward on small float64 inputs, its backward with a random
upstream gradient, and compares each returned gradient with the numerical gradient of
sum(forward(inputs) * dout). Inputs stay away from kinks (ReLU at 0) and ties (equal
pool maxima), where a numerical gradient is not the derivative.
"""
import numpy as np

from fercnn.cli.options import OneLineParser, number
from fercnn.fast import (
    batchnorm_relu_dropout_backward,
    batchnorm_relu_dropout_forward,
    relu_dropout_backward,
    relu_dropout_forward,
)
from fercnn.gradient_check import FLOOR, eval_numerical_gradient, eval_numerical_gradient_array, scaled_rel_error
from fercnn.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    conv_backward,
    conv_forward,
    dropout_backward,
    dropout_forward,
    max_pool_backward,
    max_pool_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    svm_loss,
)

TOLERANCE = 1e-7


def _away_from_zero(rng, shape):
    x = rng.standard_normal(shape)
    x[np.abs(x) < 0.05] = 0.5
    return x


def _distinct(rng, shape, gap=0.01):
    n = int(np.prod(shape))
    return rng.permutation((np.arange(n) - n / 2 + 0.5) * gap).reshape(shape)


def _bn_relu_inputs(rng, shape):
    """x, gamma, beta whose batch-normalised gamma * x_hat + beta is nowhere near ReLU's kink."""
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    while True:
        x, gamma, beta = 2 * rng.standard_normal(shape), rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
        x_hat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
        c = (slice(None),) + (None,) * (len(shape) - 2)
        if np.min(np.abs(gamma[c] * x_hat + beta[c])) > 0.02:
            return [x, gamma, beta]


def _bn_state(rng, n):
    return {"running_mean": rng.standard_normal(n), "running_var": rng.random(n) + 0.5}


def cases(rng):
    """[(op name, gradient names, inputs, forward(*inputs) -> out, backward(dout, cache) -> grads)]."""
    state4 = _bn_state(rng, 4)

    def fresh(state):
        return {k: v.copy() for k, v in state.items()}

    def dropout_rng():
        return np.random.default_rng(7)  # the same seed redraws the same mask: forward is a function of x
    return [
        ("affine", ("dx", "dw", "db"), [rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)),
                                        rng.standard_normal(5)], affine_forward, affine_backward),
        ("relu", ("dx",), [_away_from_zero(rng, (5, 7))], relu_forward, relu_backward),
        ("conv 3x3 pad 1", ("dx", "dw", "db"), [rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((3, 3, 3, 3)),
                                                rng.standard_normal(3)],
         lambda x, w, b: conv_forward(x, w, b, pad=1), conv_backward),
        ("conv 5x5 stride 2 pad 2", ("dx", "dw", "db"), [rng.standard_normal((2, 2, 7, 9)),
                                                         rng.standard_normal((3, 2, 5, 5)), rng.standard_normal(3)],
         lambda x, w, b: conv_forward(x, w, b, stride=2, pad=2), conv_backward),
        ("max-pool 2x2", ("dx",), [_distinct(rng, (2, 3, 6, 8))], max_pool_forward, max_pool_backward),
        ("batchnorm", ("dx", "dgamma", "dbeta"), [3 * rng.standard_normal((8, 4)) + 2, rng.standard_normal(4),
                                                  rng.standard_normal(4)],
         lambda x, g, b: batchnorm_forward(x, g, b, fresh(state4), training=True), batchnorm_backward),
        ("spatial batchnorm", ("dx", "dgamma", "dbeta"), [2 * rng.standard_normal((3, 4, 3, 5)) - 1,
                                                          rng.standard_normal(4), rng.standard_normal(4)],
         lambda x, g, b: spatial_batchnorm_forward(x, g, b, fresh(state4), training=True),
         spatial_batchnorm_backward),
        ("dropout p=0.4", ("dx",), [rng.standard_normal((6, 10))],
         lambda x: dropout_forward(x, 0.4, training=True, rng=dropout_rng()), dropout_backward),
        ("relu+dropout p=0.3", ("dx",), [_away_from_zero(rng, (6, 10))],
         lambda x: relu_dropout_forward(x, 0.3, training=True, rng=dropout_rng()), relu_dropout_backward),
        ("batchnorm+relu+dropout", ("dx", "dgamma", "dbeta"), _bn_relu_inputs(rng, (3, 4, 3, 5)),
         lambda x, g, b: batchnorm_relu_dropout_forward(x, g, b, fresh(state4), 0.3, training=True,
                                                        rng=dropout_rng()),
         batchnorm_relu_dropout_backward),
    ]


def check_all(rng=None):
    """Rows (op, gradient, relative error, passed) for every case and both losses."""
    rng = np.random.default_rng(0) if rng is None else rng
    rows = []
    for name, grad_names, inputs, forward, backward in cases(rng):
        out, cache = forward(*inputs)
        dout = rng.standard_normal(out.shape)
        got = backward(dout, cache)
        got = got if isinstance(got, tuple) else (got,)
        for k, (gname, g) in enumerate(zip(grad_names, got)):
            def f(_, k=k):
                return forward(*inputs)[0]
            err = scaled_rel_error(g, eval_numerical_gradient_array(f, inputs[k], dout))
            rows.append((name, gname, err, err < TOLERANCE))
    for loss in (softmax_loss, svm_loss):
        scores, y = rng.standard_normal((9, 7)), rng.integers(0, 7, size=9)
        err = scaled_rel_error(loss(scores, y)[1], eval_numerical_gradient(lambda s: loss(s, y)[0], scores))
        rows.append((loss.__name__.replace("_", " "), "dscores", err, err < TOLERANCE))
    return rows


def format_table(rows):
    lines = [f"{'op':<26}{'gradient':<10}{'relative error':>16}  result", "-" * 62]
    for op, grad, err, ok in rows:
        lines.append(f"{op:<26}{grad:<10}{err:>16.2e}  {'ok' if ok else 'FAIL'}")
    failed = sum(not ok for *_, ok in rows)
    lines.append(f"{len(rows) - failed} of {len(rows)} gradients within {TOLERANCE:g} (relative error per entry, "
                 f"entries below {FLOOR:g} of the largest measured against {FLOOR:g} of it)")
    return "\n".join(lines)


def main(argv, prog="fercnn gradcheck"):
    p = OneLineParser(prog=prog, description="Check every op's backward pass (float64) against centred "
                                             "differences; exit status 1 if one is off.")
    p.add_argument("--seed", type=number(int, 0), default=0, help="seed of the random inputs")
    args = p.parse_args(argv)
    rows = check_all(np.random.default_rng(args.seed))
    print(format_table(rows))
    return 0 if all(ok for *_, ok in rows) else 1
