"""The walkthrough (docs/walkthrough/): every chapter runs alone, in a folder of its own, prints
only values it checks, leaves the committed figures as they are, and ends with its exercise."""
import hashlib
import importlib.util
import os
import re
import subprocess
import sys

import pytest

from fercnn.walkthrough import ExpectationError, expect

RUNNER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "walkthrough", "run.py")
spec = importlib.util.spec_from_file_location("walkthrough_run", RUNNER)
walkthrough = importlib.util.module_from_spec(spec)
spec.loader.exec_module(walkthrough)
CHAPTERS = walkthrough.chapters()


def _committed_figures():
    folder = walkthrough.FIGURES
    digests = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            digests[name] = hashlib.sha256(f.read()).hexdigest()
    return digests




def test_ten_chapters_with_code_in_the_readme():
    assert len(CHAPTERS) == 10
    with open(os.path.join(os.path.dirname(RUNNER), "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for chapter in CHAPTERS:
        assert walkthrough.code_blocks(chapter), f"{chapter} has no code"
        assert f"({chapter})" in readme, f"README.md does not link {chapter}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_alone_in_its_own_folder(chapter, tmp_path):
    """As `python docs/walkthrough/run.py --out DIR NN` runs it: in a process and a folder of its
    own, leaving the committed figures as they were."""
    before = _committed_figures()
    done = subprocess.run([sys.executable, RUNNER, "--out", str(tmp_path), chapter[:2]], capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, f"{chapter} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert os.listdir(tmp_path) == [chapter[:-3]]
    for name in walkthrough.shown_figures(chapter):
        written = tmp_path / chapter[:-3] / "figures" / name
        assert written.exists(), f"{chapter} shows figures/{name} but did not write it"
    assert "(expected " in done.stdout, f"{chapter} checks nothing it prints"
    assert _committed_figures() == before, f"{chapter} changed a committed figure"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_print_says_what_it_prints(chapter):
    """Values go through expect(), which prints what they should be; a bare print() is for
    a table the prose shows, or a time that depends on the machine, and says so in a comment."""
    for block in walkthrough.code_blocks(chapter):
        for line in block.splitlines():
            if re.search(r"(?<![\w.])print\(", line):
                assert re.search(r"\)\s*#\s*\S", line), f"{chapter}: print without a comment: {line.strip()}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_ends_with_its_exercise(chapter):
    with open(os.path.join(os.path.dirname(RUNNER), chapter), encoding="utf-8") as f:
        text = f.read()
    last = text.split("\n## ")[-1]
    assert last.startswith("Exercise"), f"{chapter}: the last section is not its exercise"
    assert re.search(r"fercnn (exercises check|train shallow --layers) ", last), \
        f"{chapter}: the exercise does not say the command that checks it"


def test_run_py_without_out_uses_a_temporary_folder():
    here = sorted(os.listdir(os.path.dirname(RUNNER)))
    done = subprocess.run([sys.executable, RUNNER, "04"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("== 04_max_pooling.md (in ") and "fercnn-walkthrough-" in first
    assert "dx relative error" in done.stdout and "(expected at most 1.0e-07)" in done.stdout
    assert sorted(os.listdir(os.path.dirname(RUNNER))) == here
    done = subprocess.run([sys.executable, RUNNER, "99"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "run.py: no chapter starts with '99'; the chapters are 01_" in done.stderr


def test_expect_prints_and_checks(capsys):
    assert expect("shape", (4, 5), (4, 5)) == (4, 5)
    expect("loss", 2.3176, 2.318, tol=0.001, fmt=".3f")
    expect("error", 3e-9, below=1e-7, fmt=".1e")
    expect("accuracy", 0.4, above=0.3, below=0.6)
    assert capsys.readouterr().out.splitlines() == [
        "shape: (4, 5) (expected (4, 5))",
        "loss: 2.318 (expected 2.318 +- 0.001)",
        "error: 3.0e-09 (expected at most 1.0e-07)",
        "accuracy: 0.4 (expected between 0.3 and 0.6)",
    ]
    with pytest.raises(ExpectationError, match=r"loss: got 2.320, expected 2.318 \+- 0.001"):
        expect("loss", 2.3201, 2.318, tol=0.001, fmt=".3f")
    with pytest.raises(ExpectationError, match=r"accuracy: got 0.25, expected at least 0.3"):
        expect("accuracy", 0.25, above=0.3)
    with pytest.raises(ExpectationError, match=r"out: got \[\[1, 2\]\], expected \[\[1, 3\]\]"):
        import numpy as np
        expect("out", np.array([[1, 2]]), [[1, 3]])
    with pytest.raises(ValueError, match="give either want"):
        expect("x", 1.0, 1.0, below=2.0)
