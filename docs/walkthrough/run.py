"""Run the walkthrough's code: every ```python block of every chapter, in order.

    python docs/walkthrough/run.py                 # all chapters, figures into docs/walkthrough/figures/
    python docs/walkthrough/run.py 03_convolution  # one chapter

The blocks of one chapter share one namespace, as if typed into one Python session;
chapters run in the folder given (default: this one), so figures land in its figures/.
The test suite runs them all in a temporary folder (tests/test_walkthrough.py), so the
walkthrough cannot go stale.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def chapters():
    """The chapter files, in reading order."""
    return sorted(f for f in os.listdir(HERE) if re.match(r"\d\d_.*\.md$", f))


def code_blocks(chapter):
    with open(os.path.join(HERE, chapter), encoding="utf-8") as f:
        return BLOCK.findall(f.read())


def run_chapter(chapter, workdir=HERE):
    """Execute one chapter's blocks in ``workdir``; returns the namespace."""
    namespace = {"__name__": f"walkthrough_{chapter[:2]}"}
    old = os.getcwd()
    os.makedirs(os.path.join(workdir, "figures"), exist_ok=True)
    os.chdir(workdir)
    try:
        for k, block in enumerate(code_blocks(chapter), 1):
            exec(compile(block, f"{chapter} block {k}", "exec"), namespace)
    finally:
        os.chdir(old)
    return namespace


if __name__ == "__main__":
    wanted = sys.argv[1:]
    for chapter in chapters():
        if not wanted or any(chapter.startswith(w) for w in wanted):
            print(f"== {chapter}")
            run_chapter(chapter)
