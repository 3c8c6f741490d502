"""fercnn exercises start: the stubs are fercnn's signatures and docstrings with empty bodies,
import nothing but numpy, cover every op of fercnn.layers and every update rule, and the
README gives each one's walkthrough chapter."""
import ast
import inspect
import os

import fercnn.layers
from fercnn.exercises.catalog import EXERCISES, chapter_of
from fercnn.exercises.grader import _import
from fercnn.exercises.stubs import function_source, start
from fercnn.train.optim import RULES


def test_every_op_and_rule_is_an_exercise():
    names = {e.name for e in EXERCISES}
    assert set(fercnn.layers.__all__) <= names
    assert set(RULES) <= names
    assert {"conv_forward_naive", "conv_backward_naive", "im2col", "col2im"} <= names
    assert len(names) == len(EXERCISES)


def test_stubs_have_fercnns_signatures_and_docstrings_and_no_solution(tmp_path):
    folder = str(tmp_path / "ex")
    start(folder)
    for file in ("layers.py", "optim.py"):
        path = os.path.join(folder, file)
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert [a.name for n in imports for a in n.names] == ["numpy"], file
        module = _import(path)
        for e in (e for e in EXERCISES if e.file == file):
            mine, theirs = getattr(module, e.name), function_source(e.source)
            assert inspect.signature(mine) == inspect.signature(theirs), e.name
            assert inspect.getdoc(mine) == inspect.getdoc(theirs), e.name
            node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == e.name)
            assert [type(s).__name__ for s in node.body] == ["Expr", "Raise"], e.name


def test_readme_gives_the_order_and_each_chapter(tmp_path):
    folder = str(tmp_path / "ex")
    start(folder)
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    rows = [line for line in readme.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split("`")[1] for row in rows] == [e.name for e in EXERCISES]
    for row, e in zip(rows, EXERCISES):
        chapter = chapter_of(e)
        if chapter:
            link = row.split("](")[1].rstrip(" |)")
            assert os.path.exists(os.path.join(folder, link)), (e.name, link)
        else:
            assert f"chapter on {e.topic}" in row
    assert chapter_of(next(e for e in EXERCISES if e.name == "conv_forward_naive")) == "03_convolution.md"
    assert f"fercnn exercises check {folder}" in readme and f"fercnn train shallow --layers {folder}" in readme


def test_a_chapter_is_found_by_the_words_of_its_file_name(tmp_path):
    for name in ("01_affine_softmax.md", "03_convolution.md", "08_update_rules.md", "README.md"):
        (tmp_path / name).write_text("")
    by_name = {e.name: e for e in EXERCISES}
    assert chapter_of(by_name["adam"], str(tmp_path)) == "08_update_rules.md"
    assert chapter_of(by_name["col2im"], str(tmp_path)) == "03_convolution.md"
    assert chapter_of(by_name["svm_loss"], str(tmp_path)) == "01_affine_softmax.md"
    assert chapter_of(by_name["max_pool_forward"], str(tmp_path)) is None
