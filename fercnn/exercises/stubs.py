"""``fercnn exercises start DIR``: the folder a learner works in, written from fercnn's source.

Each stub is the signature and the docstring of fercnn's own function, read from its source
with ``ast`` (so that they cannot drift from it), a few lines of what the exercise adds, and
``raise NotImplementedError``. The files import numpy and nothing else: nothing in the
folder is solved, and nothing in it imports a solution.
"""
import ast
import importlib
import inspect
import os
import textwrap

from fercnn.exercises.catalog import EXERCISES, chapter_of, walkthrough_dir
from fercnn.fileio import write_text
from fercnn.train.optim import DEFAULTS, STATE

HEADERS = {
    "layers.py": '''"""Your layers: the ops of fercnn.layers (and the loop version of convolution), to write yourself.

Written by `fercnn exercises start` from fercnn's own source: the signatures and docstrings
are fercnn's, the bodies are yours. Replace each `raise NotImplementedError` with your code,
in the order README.md gives, and after each function run

    fercnn exercises check {folder}                  # every function
    fercnn exercises check {folder} affine_forward   # one (or a family: conv, batchnorm, ...)

Every forward returns (out, cache) and its backward takes (dout, cache); a loss returns
(loss, dscores). Plain NumPy: call your own functions, not fercnn's. (fercnn checks its
arguments and raises errors that name them; you need not.)
"""
import numpy as np
''',
    "optim.py": '''"""Your update rules: the rules of fercnn.train.optim, to write yourself.

Each is a pure function rule(w, dw, config) -> (next_w, next_config). Written by
`fercnn exercises start` from fercnn's own source; check them with

    fercnn exercises check {folder} optim
"""
import numpy as np
''',
}


def function_source(qualified):
    """(module, fercnn's function object) for "module:function"."""
    module_name, name = qualified.split(":")
    return getattr(importlib.import_module(module_name), name)


def stub(exercise):
    """The stub of one exercise: fercnn's signature and docstring, the hint, a raise."""
    source = textwrap.dedent(inspect.getsource(function_source(exercise.source)))
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.FunctionDef) or not node.body or not _is_docstring(node.body[0]):
        raise ValueError(f"exercises: {exercise.source} has no docstring to copy")
    lines = source.splitlines()
    header = lines[:node.body[0].lineno - 1]
    header[0] = header[0].replace(f"def {node.name}(", f"def {exercise.name}(", 1)
    doc = lines[node.body[0].lineno - 1:node.body[0].end_lineno]
    hint = exercise.hint
    if exercise.file == "optim.py":
        defaults = ", ".join(f"{k}={v!r}" for k, v in DEFAULTS[exercise.name].items())
        state = ", ".join(STATE[exercise.name]) or "none"
        hint = hint.format(defaults=defaults, state=state)
    comments = [f"    # {line}" for line in textwrap.wrap(" ".join(hint.split()), 88)]
    return "\n".join(header + doc + comments + ["    raise NotImplementedError"]) + "\n"


def _is_docstring(statement):
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
        and isinstance(statement.value.value, str)


def files(folder_label="DIR", folder=None):
    """{file name: text} of an exercise folder; folder_label is how the texts name the folder,
    folder (where it will be) makes README's links to the walkthrough relative to it."""
    texts = {}
    for name in ("layers.py", "optim.py"):
        parts = [HEADERS[name].format(folder=folder_label)]
        parts += [stub(e) for e in EXERCISES if e.file == name]
        texts[name] = "\n\n".join(parts)
    texts["README.md"] = readme(folder_label, folder)
    return texts


def readme(folder_label, folder=None):
    """README.md: the order, each function's chapter, how to check, what comes after."""
    chapters = walkthrough_dir()
    lines = [
        "# Exercises: write fercnn's layers yourself",
        "",
        "`layers.py` and `optim.py` hold every function of fercnn's readable layers and update rules,",
        "with fercnn's signatures and docstrings and an empty body. Write them in the order below;",
        "after each one, check it:",
        "",
        f"    fercnn exercises check {folder_label} NAME     # one function (or a family: conv, batchnorm, ...)",
        f"    fercnn exercises check {folder_label}          # all of them; exit status 0 when all pass",
        "",
        "The check runs what fercnn's own tests run on its ops: known answers, numerical gradients",
        "of every input and parameter, agreement with fercnn's readable op on random shapes (odd",
        "sizes, stride and padding, a batch of one), float32 and float64, batchnorm's running",
        "statistics, dropout in training and evaluation, and for update rules several steps",
        "against fercnn's. It prints one line per function: how many checks pass and, for one",
        "that fails, which output or gradient is off, by how much, and the mistake it looks like.",
        "",
        "| step | function | file | walkthrough chapter |",
        "|---|---|---|---|",
    ]
    for k, e in enumerate(EXERCISES, 1):
        chapter = chapter_of(e, chapters)
        if chapter is None:
            where = f"the walkthrough's chapter on {e.topic} (docs/walkthrough/README.md lists them)"
        else:
            path = f"docs/walkthrough/{chapter}"
            target = os.path.relpath(os.path.join(chapters, chapter), folder) if folder else path
            where = f"[{path}]({target})"
        lines.append(f"| {k} | `{e.name}` | {e.file} | {where} |")
    lines += [
        "",
        "The loop version of convolution (`conv_forward_naive`, `conv_backward_naive`) comes",
        "first: it is the definition. Then `im2col` and `col2im`, and `conv_forward` and",
        "`conv_backward` as one matrix product on top of them: the version a network can train with.",
        "",
        "When the functions of the shallow network pass (affine, ReLU, convolution, max-pooling,",
        "spatial batchnorm, dropout, softmax), train the paper's shallow network with them:",
        "",
        f"    fercnn train shallow --layers {folder_label}",
        "",
        "It trains on drawn faces with your layers in place of fercnn's, then with fercnn's own,",
        "same seed, same settings, and prints both accuracies and loss curves side by side.",
        "",
        "docs/exercises.md in the fercnn repository lists the mistakes the check recognises.",
    ]
    return "\n".join(lines) + "\n"


def start(folder):
    """Write the exercise folder; refuses a folder that exists and is not empty. Returns the
    paths written."""
    if os.path.exists(folder):
        if not os.path.isdir(folder):
            raise ValueError(f"exercises start: {folder} exists and is not a folder")
        if os.listdir(folder):
            raise ValueError(f"exercises start: {folder} is not empty; give a new folder (nothing was written)")
    os.makedirs(folder, exist_ok=True)
    written = []
    for name, text in files(folder, folder).items():
        path = os.path.join(folder, name)
        write_text(path, text)
        written.append(path)
    return written
