"""Winograd minimal filtering F(m x m, r x r): the transform matrices, and the source of the
kernels that apply them.

Lavin & Gray (2016). A 1-D correlation of m outputs with an r-tap filter,
y_i = sum_j d[i + j] g[j], can be computed with alpha = m + r - 1 multiplications instead
of m * r:

    y = AT @ ((G @ g) * (BT @ d))        d: (alpha,), g: (r,), y: (m,)

Nesting it gives the 2-D tile rule, alpha^2 multiplications for m^2 outputs of an r x r
filter (direct: m^2 r^2):

    Y = AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T   d: (alpha, alpha), Y: (m, m)

The matrices come from Toom-Cook: evaluate the two polynomials at alpha points (here 0, 1,
-1, 2, -2, ... and "infinity", which picks the leading coefficient), multiply pointwise,
interpolate back. Correlation is the transpose of polynomial multiplication, so
AT = (evaluation of the m-tap side)^T, G = evaluation of the filter, BT = interpolation^T.
Each row of BT and each column of AT is scaled to whole numbers and the matching row of G
divided by the same factors (the pointwise product is linear in each), so the transforms
applied to the data (BT and AT) need only additions and integer multiples; G, applied once
per step to the filters, carries the fractions.

``kernel_source()`` writes those data transforms out as explicit sums (no loop over matrix
entries, no multiplications by 0 or 1): that is what ``_winograd_kernels.py`` holds, and
tests/fast/test_winograd.py checks the file is what this function writes. Regenerate it
with ``python fercnn/fast/winograd_transforms.py``.
"""
import functools
import os
import re
import tempfile
from fractions import Fraction
from math import lcm

import numpy as np

# The shapes the kernels are written for: name -> (m, r).
VARIANTS = {"f2x3": (2, 3), "f3x3": (3, 3), "f4x3": (4, 3), "f2x5": (2, 5), "f4x5": (4, 5)}

_POINTS = (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2))


def tiles(size_out, m):
    """How many m-wide tiles cover size_out outputs."""
    return -(-size_out // m)


def _evaluation(points, n):
    """Rows [p^0 .. p^(n-1)] for each finite point, then e_(n-1) for the point at infinity."""
    rows = [[Fraction(p) ** i for i in range(n)] for p in points]
    rows.append([Fraction(int(i == n - 1)) for i in range(n)])
    return rows


def _inverse(matrix):
    """Exact inverse of a square matrix of Fractions (Gauss-Jordan)."""
    n = len(matrix)
    rows = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next(i for i in range(col, n) if rows[i][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        rows[col] = [v / rows[col][col] for v in rows[col]]
        for i in range(n):
            if i != col and rows[i][col] != 0:
                f = rows[i][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[col])]
    return [row[n:] for row in rows]


@functools.lru_cache(maxsize=None)
def exact_matrices(m, r):
    """BT (alpha, alpha), G (alpha, r), AT (m, alpha) as lists of Fractions."""
    alpha = m + r - 1
    if not (m >= 1 and r >= 1 and alpha - 1 <= len(_POINTS)):
        raise ValueError(f"winograd: F({m}, {r}) needs {alpha - 1} finite points, have {len(_POINTS)}")
    points = _POINTS[: alpha - 1]
    interpolation = _inverse(_evaluation(points, alpha))
    BT = [list(col) for col in zip(*interpolation)]
    G = _evaluation(points, r)
    AT = [list(col) for col in zip(*_evaluation(points, m))]
    for k in range(alpha):  # whole numbers in BT's row k and AT's column k, the factors moved into G's row k
        scale = lcm(*(v.denominator for v in BT[k]))
        BT[k] = [v * scale for v in BT[k]]
        out_scale = lcm(*(row[k].denominator for row in AT))  # the point 1/2 gives AT entries 1/2^i
        for row in AT:
            row[k] *= out_scale
        G[k] = [v / (scale * out_scale) for v in G[k]]
    return BT, G, AT


@functools.lru_cache(maxsize=None)
def matrices(m, r):
    """BT, G, AT as float64 arrays (read-only: they are shared)."""
    arrays = tuple(np.array(M, dtype=np.float64) for M in exact_matrices(m, r))
    for a in arrays:
        a.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=None)
def coefficients(m, r):
    """The multipliers other than 0 and +-1 that BT and AT use, sorted: the kernels take
    them as an array of the data's dtype (so float32 data stays float32)."""
    BT, _, AT = exact_matrices(m, r)
    values = {abs(v) for M in (BT, AT) for row in M for v in row}
    if any(v.denominator != 1 for v in values):
        raise ValueError(f"winograd: F({m}, {r}) has fractions in BT or AT")
    return sorted(int(v) for v in values if v not in (0, 1))


# ---- code generation -------------------------------------------------------------------


def _sum(coeffs, names):
    """'k4*d0 - k5*d2 + d4' for coefficients (4, 0, -5, 0, 1) and names d0..d4."""
    terms = []
    for c, name in zip(coeffs, names):
        if c == 0:
            continue
        mag = name if abs(c) == 1 else f"k{abs(int(c))}*{name}"
        terms.append(("-" if c < 0 else "+", mag))
    if not terms:
        raise ValueError("winograd: a transform row of zeros")
    first_sign, first = terms[0]
    text = ("-" if first_sign == "-" else "") + first
    for sign, mag in terms[1:]:
        text += f" {sign} {mag}"
    return text


def _rows(M):
    return [[int(v) for v in row] for row in M]


def _cols(M):
    return [[int(row[j]) for row in M] for j in range(len(M[0]))]


def _header(name, m, r):
    return ["    #COEF"]  # replaced by the coefficients the kernel's body uses (_with_coefficients)


def _with_coefficients(lines, m, r):
    used = set(re.findall(r"\bk(\d+)\*", "\n".join(lines)))
    header = [f"    k{k} = coef[{i}]" for i, k in enumerate(coefficients(m, r)) if str(k) in used]
    at = lines.index("    #COEF")
    return lines[:at] + header + lines[at + 1:]


def _per_output(indent, loads, targets, matrix_rows, suffix=""):
    """One ``for g`` loop per output: target_i (= or +=) the row's sum of the loads.

    Each loop stores to one array and loads from one, so the compiler's check that they
    do not overlap stays small enough for it to vectorise the loop (with every output in
    one loop it gives up: too many pairs of addresses to check)."""
    lines = []
    for (target, op), row in zip(targets, matrix_rows):
        lines.append(f"{indent}for g in range(G):")
        lines.append(f"{indent}    {target} {op} {_sum(row, loads)}{suffix}")
    return lines


def _input_kernel(name, m, r):
    """V[a * alpha + b, c, q] = (BT @ tile @ BT.T)[a, b] for every tile q of images n0..n1-1."""
    BT, _, _ = exact_matrices(m, r)
    A = m + r - 1
    return [
        "@njit(nogil=True, cache=True)",
        f"def input_{name}(x, n0, n1, pad, th, tw, coef, V):",
        f'    """x: (N, C, H, W) -> V: ({A * A}, C, >= G * th * tw), the tiles of images n0..n1-1',
        f"    transformed: V[a * {A} + b, c, (ty * tw + tx) * G + g] = (BT @ d @ BT.T)[a, b], d the",
        f"    {A}x{A} window of image n0 + g, zero-padded, at row ty * {m}, column tx * {m}.\"\"\"",
        *_header(name, m, r),
        "    _, C, H, W = x.shape",
        "    G = n1 - n0",
        f"    Wp = tw * {m} + {r - 1}",
        f"    xp = np.zeros((th * {m} + {r - 1}, Wp, G), dtype=x.dtype)  # the border stays 0",
        f"    R = np.empty(({A}, Wp, G), dtype=x.dtype)",
        "    for c in range(C):",
        "        for h in range(H):  # h outermost: one row of xp is written at a time, in L1",
        "            for g in range(G):",
        "                for w in range(W):",
        "                    xp[h + pad, w + pad, g] = x[n0 + g, c, h, w]",
        "        for ty in range(th):",
        "            for col in range(Wp):  # BT down the tile's rows",
        *_per_output("                ", [f"xp[ty * {m} + {k}, col, g]" for k in range(A)],
                     [(f"R[{a}, col, g]", "=") for a in range(A)], _rows(BT)),
        "            for tx in range(tw):  # then BT along each row",
        "                q0 = (ty * tw + tx) * G",
        f"                for a in range({A}):",
        *_per_output("                    ", [f"R[a, tx * {m} + {j}, g]" for j in range(A)],
                     [(f"V[a * {A} + {b}, c, q0 + g]", "=") for b in range(A)], _rows(BT)),
    ]


def _output_kernel(name, m, r):
    """out[n, f, tile] = AT @ M_tile @ AT.T + bias, clipped to the output's edge."""
    _, _, AT = exact_matrices(m, r)
    A = m + r - 1
    return [
        "@njit(nogil=True, cache=True)",
        f"def output_{name}(M, bias, n0, n1, th, tw, coef, out):",
        f'    """M: ({A * A}, F, >= G * th * tw) products in the transformed domain, tiles ordered as',
        f"    input_{name} orders them -> out[n0:n1] of out: (N, F, H_out, W_out): each tile",
        f"    (AT @ M_tile @ AT.T) + bias[f], {m}x{m} outputs, the last row and column of tiles",
        "    clipped to the output's edge.\"\"\"",
        *_header(name, m, r),
        "    _, F, H_out, W_out = out.shape",
        "    G = n1 - n0",
        f"    S = np.empty(({m}, {A}, G), dtype=out.dtype)",
        f"    Y = np.empty((th * {m}, tw * {m}, G), dtype=out.dtype)",
        "    for f in range(F):",
        "        bf = bias[f]",
        "        for ty in range(th):",
        "            for tx in range(tw):",
        "                q0 = (ty * tw + tx) * G",
        f"                for b in range({A}):  # AT down each column of the tile",
        *_per_output("                    ", [f"M[{a * A} + b, f, q0 + g]" for a in range(A)],
                     [(f"S[{i}, b, g]", "=") for i in range(m)], _rows(AT)),
        f"                for i in range({m}):  # then AT along each row",
        *_per_output("                    ", [f"S[i, {b}, g]" for b in range(A)],
                     [(f"Y[ty * {m} + i, tx * {m} + {j}, g]", "=") for j in range(m)], _rows(AT), " + bf"),
        "        for h in range(H_out):  # h outermost: one row of Y is read at a time, in L1",
        "            for g in range(G):",
        "                for w in range(W_out):",
        "                    out[n0 + g, f, h, w] = Y[h, w, g]",
    ]


def _dout_kernel(name, m, r):
    """The adjoint of the output transform: D[a * alpha + b] = (AT.T @ dy_tile @ AT)[a, b]."""
    _, _, AT = exact_matrices(m, r)
    A = m + r - 1
    return [
        "@njit(nogil=True, cache=True)",
        f"def dout_{name}(dout, n0, n1, th, tw, coef, D, db):",
        f'    """dout[n0:n1] of dout: (N, F, H_out, W_out) -> D: ({A * A}, F, >= G * th * tw), each',
        f"    {m}x{m} tile of dout (zero past the edge) taken back through the output transform,",
        f"    D_tile = AT.T @ dy @ AT, tiles ordered as input_{name} orders them. Adds each",
        "    filter's sum of dout to db: (F,) (float64).\"\"\"",
        *_header(name, m, r),
        "    _, F, H_out, W_out = dout.shape",
        "    G = n1 - n0",
        f"    dyp = np.zeros((th * {m}, tw * {m}, G), dtype=dout.dtype)  # the part past the edge stays 0",
        f"    S = np.empty(({m}, {A}, G), dtype=dout.dtype)",
        "    column_sums = np.empty(W_out, dtype=np.float64)  # filter f's sum of dout, by column",
        "    for f in range(F):",
        "        column_sums[:] = 0",
        "        for h in range(H_out):  # h outermost: one row of dyp is written at a time, in L1",
        "            for g in range(G):",
        "                for w in range(W_out):",
        "                    val = dout[n0 + g, f, h, w]",
        "                    dyp[h, w, g] = val",
        "                    column_sums[w] += val",
        "        db[f] += column_sums.sum()",
        "        for ty in range(th):",
        "            for tx in range(tw):",
        "                q0 = (ty * tw + tx) * G",
        f"                for i in range({m}):  # AT.T along each row of the tile",
        *_per_output("                    ", [f"dyp[ty * {m} + i, tx * {m} + {j}, g]" for j in range(m)],
                     [(f"S[i, {b}, g]", "=") for b in range(A)], _cols(AT)),
        f"                for b in range({A}):  # then down each column",
        *_per_output("                    ", [f"S[{i}, b, g]" for i in range(m)],
                     [(f"D[{a * A} + b, f, q0 + g]", "=") for a in range(A)], _cols(AT)),
    ]


def _dinput_kernel(name, m, r):
    """The adjoint of the input transform: every tile's BT.T @ dV @ BT added where it came from."""
    BT, _, _ = exact_matrices(m, r)
    A = m + r - 1
    return [
        "@njit(nogil=True, cache=True)",
        f"def dinput_{name}(dV, n0, n1, pad, th, tw, coef, dx):",
        f'    """dV: ({A * A}, C, >= G * th * tw) gradients of the transformed tiles -> dx[n0:n1] of',
        "    dx: (N, C, H, W), overwritten: each tile's BT.T @ dV_tile @ BT is added back to the",
        "    window it came from (windows overlap, so a pixel collects several), then the padding",
        "    is dropped.\"\"\"",
        *_header(name, m, r),
        "    _, C, H, W = dx.shape",
        "    G = n1 - n0",
        f"    Wp = tw * {m} + {r - 1}",
        f"    dxp = np.empty((th * {m} + {r - 1}, Wp, G), dtype=dx.dtype)",
        f"    R = np.empty(({A}, Wp, G), dtype=dx.dtype)",
        "    for c in range(C):",
        "        dxp[:] = 0",
        "        for ty in range(th):",
        "            R[:] = 0",
        "            for tx in range(tw):  # BT.T along each row, added into overlapping columns",
        "                q0 = (ty * tw + tx) * G",
        f"                for a in range({A}):",
        *_per_output("                    ", [f"dV[a * {A} + {b}, c, q0 + g]" for b in range(A)],
                     [(f"R[a, tx * {m} + {j}, g]", "+=") for j in range(A)], _cols(BT)),
        "            for col in range(Wp):  # then BT.T down the rows",
        *_per_output("                ", [f"R[{a}, col, g]" for a in range(A)],
                     [(f"dxp[ty * {m} + {k}, col, g]", "+=") for k in range(A)], _cols(BT)),
        "        for h in range(H):  # h outermost: one row of dxp is read at a time, in L1",
        "            for g in range(G):",
        "                for w in range(W):",
        "                    dx[n0 + g, c, h, w] = dxp[h + pad, w + pad, g]",
    ]


def kernel_source():
    """The text of fercnn/fast/_winograd_kernels.py."""
    lines = [
        '"""Winograd tile transforms written out as sums: GENERATED by',
        "``python fercnn/fast/winograd_transforms.py``; do not edit by hand",
        "(tests/fast/test_winograd.py checks this file is what the generator writes).",
        "",
        "For each F(m x m, r x r) variant, four serial nogil kernels working on one block of",
        "images n0..n1-1 (see fercnn/fast/winograd.py): input_* (BT @ d @ BT.T per tile),",
        "output_* (AT @ M @ AT.T per tile, plus bias), and their adjoints for backward, dout_*",
        "and dinput_*. ``coef`` holds the integer multipliers (k2, k4, ...) in the data's dtype.",
        "Each transform runs in two passes through a small buffer. Tiles are numbered",
        "q = (ty * tw + tx) * G + g, image g of the block innermost, and every inner loop runs",
        "over g with unit stride, so the compiler vectorises it however small the image is.",
        '"""',
        "import numpy as np",
        "from numba import njit",
    ]
    for name, (m, r) in VARIANTS.items():
        for make in (_input_kernel, _output_kernel, _dout_kernel, _dinput_kernel):
            lines += ["", ""] + _with_coefficients(make(name, m, r), m, r)
    return "\n".join(lines) + "\n"


KERNELS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_winograd_kernels.py")


def write_kernels(path=KERNELS_PATH):
    """Write kernel_source() to path atomically (a temporary file, then os.replace)."""
    text = kernel_source()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".winograd-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


if __name__ == "__main__":
    # Run as a file (python fercnn/fast/winograd_transforms.py), so that a broken kernels
    # file cannot stop it: this module imports nothing from fercnn.
    write_kernels()
    print(f"wrote {KERNELS_PATH}")
