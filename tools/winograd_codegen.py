"""Write fercnn/fast/_winograd_kernels.py: the Winograd data transforms as explicit sums.

    python tools/winograd_codegen.py

``kernel_source()`` writes BT @ d @ BT.T and AT @ M @ AT.T (and their adjoints) for each
F(m x m, r x r) variant out as sums (no loop over matrix entries, no multiplications by 0 or
1); tests/fast/test_winograd.py checks the kernels file is what it writes. The matrices come
from fercnn/fast/winograd_transforms.py, loaded as a file so that a broken kernels file
(which the fercnn.fast package imports) cannot stop its own regeneration.
"""
import importlib.util
import os
import re
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "winograd_transforms", os.path.join(ROOT, "fercnn", "fast", "winograd_transforms.py"))
_transforms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_transforms)
VARIANTS, coefficients, exact_matrices = _transforms.VARIANTS, _transforms.coefficients, _transforms.exact_matrices


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


def _pass(indent, loads, targets, matrix_rows, length, op="=", suffix=""):
    """One step of a transform: each target row (= or +=) a combination of the load rows,
    written as one ``for p`` loop per target, p in range(length).

    loads, targets: (name, expression) pairs. Each expression is bound to its name as a 1-D
    view before the loops, so that inside them every array is indexed by p alone, which
    the compiler can see is never negative. Numba wraps negative indices; with an index
    such as q0 + p that check stays in the loop, and a loop of eight loads measured 2.8x
    slower than the same loop over views. Each loop stores to one array and
    loads from one, so the compiler's check that they do not overlap stays small enough
    for it to vectorise (with every target in one loop it gives up: too many pairs of
    addresses to check). With op "+=" the target is read as well; the loads are never a
    target of the same loop."""
    lines = [f"{indent}{name} = {expr}" for name, expr in (*loads, *targets)]
    names = [name for name, _ in loads]
    for (target, _), row in zip(targets, matrix_rows):
        lines.append(f"{indent}for p in range({length}):")
        lines.append(f"{indent}    {target}[p] {op} {_sum(row, [n + '[p]' for n in names])}{suffix}")
    return lines


# The kernels keep one band of tiles (a row of tiles, all images of the block) in small
# buffers laid out so that every transform loop runs over the whole band with unit stride:
# columns are stored by phase, column col = t * m + j at [j, t * G + g] ("phase-major"), so
# the j-th column of every tile in the band is one contiguous run of tw * G values. Tile
# tx's window column j (j < alpha, which can pass the tile's m columns) is phase j % m of
# column group tx + j // m.
def _window_column(array, row, m, j):
    group = j // m
    start = "" if group == 0 else ("G" if group == 1 else f"{group} * G")
    return f"{array}[{row}, {j % m}, {start}:]"


def _copy_columns(indent, m, width, pad, body):
    """Lines that run ``body`` for each column w < width of image g's row, where ``{buf}``
    in body stands for that column's place in ``buf``, a row of a phase-major buffer
    (2-D: [j, t * G + g], buffer column w + pad = t * m + j).

    With m a power of two, % m and // m are a mask and a shift, and the copy is one loop
    over w. Otherwise they are divisions, so the loop runs over the phase j, then over the
    columns t of that phase, through a 1-D view of phase j (measured at m = 6, a tile tried
    and not generated: 0.7 ns a value, against 1.4-2.0 ns with the division; at m = 3 the
    band kernels as a whole were timed, not this choice alone)."""
    if m & (m - 1) == 0:
        col = "w" if pad == "0" else f"(w + {pad})"
        place = f"buf[{col} % {m}, {col} // {m} * G + g]"
        return [f"{indent}for w in range({width}):", *(f"{indent}    {line.format(buf=place)}" for line in body)]
    if pad == "0":
        columns, w = f"({width} - j + {m - 1}) // {m}", f"t * {m} + j"
    else:
        columns = f"({pad} - j + {m - 1}) // {m}, ({width} + {pad} - j + {m - 1}) // {m}"
        w = f"t * {m} + j - {pad}"
    return [f"{indent}for j in range({m}):",
            f"{indent}    phase = buf[j]",
            f"{indent}    for t in range({columns}):",
            f"{indent}        w = {w}",
            *(f"{indent}        {line.format(buf='phase[t * G + g]')}" for line in body)]


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
        f"    groups = tw + {(A - 1) // m}  # column groups of {m}: the last tile's window passes tw * {m}",
        "    # the padded image, phase-major: column col of image g at [row, col % m, (col // m) * G + g]",
        f"    xp = np.zeros((th * {m} + {r - 1}, {m}, groups * G), dtype=x.dtype)  # the border stays 0",
        f"    R = np.empty(({A}, {m}, groups * G), dtype=x.dtype)",
        f"    xf = xp.reshape(th * {m} + {r - 1}, {m} * groups * G)",
        f"    Rf = R.reshape({A}, {m} * groups * G)",
        "    for c in range(C):",
        "        for h in range(H):  # h outermost: one row of xp is written at a time, in L1",
        "            buf = xp[h + pad]",
        "            for g in range(G):",
        "                row = x[n0 + g, c, h]",
        *_copy_columns("                ", m, "W", "pad", ["{buf} = row[w]"]),
        "        for ty in range(th):",
        "            q0 = ty * tw * G",
        "            # BT down the rows of the band, every column at once",
        *_pass("            ", [(f"d{k}", f"xf[ty * {m} + {k}]") for k in range(A)],
               [(f"r{a}", f"Rf[{a}]") for a in range(A)], _rows(BT), f"{m} * groups * G"),
        f"            for a in range({A}):  # then BT along the rows: column j of every tile at once",
        *_pass("                ", [(f"s{j}", _window_column("R", "a", m, j)) for j in range(A)],
               [(f"v{b}", f"V[a * {A} + {b}, c, q0:]") for b in range(A)], _rows(BT), "tw * G"),
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
        f"    S = np.empty(({m}, {A}, tw * G), dtype=out.dtype)",
        "    # the output images, phase-major: column w of image g at [h, w % m, (w // m) * G + g]",
        f"    Y = np.empty((th * {m}, {m}, tw * G), dtype=out.dtype)",
        "    for f in range(F):",
        "        bf = bias[f]",
        "        for ty in range(th):",
        "            q0 = ty * tw * G",
        f"            for b in range({A}):  # AT down each column of the band's tiles",
        *_pass("                ", [(f"u{a}", f"M[{a * A} + b, f, q0:]") for a in range(A)],
               [(f"s{i}", f"S[{i}, b]") for i in range(m)], _rows(AT), "tw * G"),
        f"            for i in range({m}):  # then AT along each row",
        *_pass("                ", [(f"t{b}", f"S[i, {b}]") for b in range(A)],
               [(f"y{j}", f"Y[ty * {m} + i, {j}]") for j in range(m)], _rows(AT), "tw * G", suffix=" + bf"),
        "        for h in range(H_out):  # h outermost: one row of Y is read at a time, in L1",
        "            buf = Y[h]",
        "            for g in range(G):",
        "                row = out[n0 + g, f, h]",
        *_copy_columns("                ", m, "W_out", "0", ["row[w] = {buf}"]),
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
        "    # dout phase-major (column w of image g at [h, w % m, (w // m) * G + g]); the part",
        "    # past the edge stays 0",
        f"    dyp = np.zeros((th * {m}, {m}, tw * G), dtype=dout.dtype)",
        f"    S = np.empty(({m}, {A}, tw * G), dtype=dout.dtype)",
        "    column_sums = np.empty(W_out, dtype=np.float64)  # filter f's sum of dout, by column",
        "    for f in range(F):",
        "        column_sums[:] = 0",
        "        for h in range(H_out):  # h outermost: one row of dyp is written at a time, in L1",
        "            buf = dyp[h]",
        "            for g in range(G):",
        "                row = dout[n0 + g, f, h]",
        *_copy_columns("                ", m, "W_out", "0", ["{buf} = row[w]", "column_sums[w] += row[w]"]),
        "        db[f] += column_sums.sum()",
        "        for ty in range(th):",
        "            q0 = ty * tw * G",
        f"            for i in range({m}):  # AT.T along each row of the band's tiles",
        *_pass("                ", [(f"d{j}", f"dyp[ty * {m} + i, {j}]") for j in range(m)],
               [(f"s{b}", f"S[i, {b}]") for b in range(A)], _cols(AT), "tw * G"),
        f"            for b in range({A}):  # then down each column",
        *_pass("                ", [(f"t{i}", f"S[{i}, b]") for i in range(m)],
               [(f"e{a}", f"D[{a * A} + b, f, q0:]") for a in range(A)], _cols(AT), "tw * G"),
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
        f"    groups = tw + {(A - 1) // m}",
        "    # phase-major, as input_* lays out the padded image",
        f"    dxp = np.empty((th * {m} + {r - 1}, {m}, groups * G), dtype=dx.dtype)",
        f"    R = np.empty(({A}, {m}, groups * G), dtype=dx.dtype)",
        f"    dxf = dxp.reshape(th * {m} + {r - 1}, {m} * groups * G)",
        f"    Rf = R.reshape({A}, {m} * groups * G)",
        "    for c in range(C):",
        "        dxp[:] = 0",
        "        for ty in range(th):",
        "            q0 = ty * tw * G",
        "            R[:] = 0",
        f"            for a in range({A}):  # BT.T along the rows: column j of every tile at once, added",
        "                # into the columns the windows share",
        *_pass("                ", [(f"e{b}", f"dV[a * {A} + {b}, c, q0:]") for b in range(A)],
               [(f"r{j}", _window_column("R", "a", m, j)) for j in range(A)], _cols(BT), "tw * G", op="+="),
        "            # then BT.T down the rows of the band, every column at once",
        *_pass("            ", [(f"s{a}", f"Rf[{a}]") for a in range(A)],
               [(f"x{k}", f"dxf[ty * {m} + {k}]") for k in range(A)], _cols(BT), f"{m} * groups * G", op="+="),
        "        for h in range(H):  # h outermost: one row of dxp is read at a time, in L1",
        "            buf = dxp[h + pad]",
        "            for g in range(G):",
        "                row = dx[n0 + g, c, h]",
        *_copy_columns("                ", m, "W", "pad", ["row[w] = {buf}"]),
    ]


def kernel_source():
    """The text of fercnn/fast/_winograd_kernels.py."""
    lines = [
        '"""Winograd tile transforms written out as sums: GENERATED by',
        "``python tools/winograd_codegen.py``; do not edit by hand",
        "(tests/fast/test_winograd.py checks this file is what the generator writes).",
        "",
        "For each F(m x m, r x r) variant, four serial nogil kernels working on one block of",
        "images n0..n1-1 (see fercnn/fast/winograd.py): input_* (BT @ d @ BT.T per tile),",
        "output_* (AT @ M @ AT.T per tile, plus bias), and their adjoints for backward, dout_*",
        "and dinput_*. ``coef`` holds the integer multipliers (k2, k4, ...) in the data's dtype.",
        "Each transform runs in two passes through small buffers that hold one band of tiles",
        "(a row of tiles, every image of the block). Tiles are numbered q = (ty * tw + tx) * G",
        "+ g, image g of the block innermost, and the buffers store columns by phase, so every",
        "transform loop runs over a whole band (or a band's rows) with unit stride, indexed by",
        "the loop variable alone, and the compiler vectorises it however small the image is.",
        "The copies between image rows and the buffers are strided, scalar loops.",
        '"""',
        "import numpy as np",
        "from numba import njit",
    ]
    for name, (m, r) in VARIANTS.items():
        for make in (_input_kernel, _output_kernel, _dout_kernel, _dinput_kernel):
            lines += ["", ""] + _with_coefficients(make(name, m, r), m, r)
    return "\n".join(lines) + "\n"


KERNELS_PATH = os.path.join(ROOT, "fercnn", "fast", "_winograd_kernels.py")


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
    write_kernels()
    print(f"wrote {KERNELS_PATH}")
