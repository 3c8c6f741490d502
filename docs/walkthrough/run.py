"""Run the walkthrough's code: every ```python block of a chapter, in order, in a scratch folder.

    python docs/walkthrough/run.py                   # every chapter
    python docs/walkthrough/run.py 07                # one chapter (the start of its file name)
    python docs/walkthrough/run.py --out DIR 06 07   # into DIR/06_shallow_network/, DIR/07_what_it_learned/
    python docs/walkthrough/run.py --figures 07      # also replace the figures chapter 7 shows

The blocks of one chapter share one namespace, as if typed into one Python session. Each
chapter runs alone, in a folder of its own (under a new temporary folder unless --out says
where), and writes its figures into that folder's figures/; nothing in the repository
changes. --figures then copies the figures the chapter shows (its ![...](figures/NAME)
images) into docs/walkthrough/figures/, the committed ones: that is how they are made.

Every value a chapter prints goes through fercnn.walkthrough.expect, which says what it
should be and stops the chapter where it is not; the test suite runs every chapter
(tests/test_walkthrough.py), so the walkthrough cannot go stale.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time

import fercnn  # noqa: F401  before the chapters import numpy: idle BLAS threads then sleep (fercnn.runtime)

HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = os.path.join(HERE, "figures")
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SHOWN = re.compile(r"\]\(figures/([^)\s]+)\)")


def chapters():
    """The chapter files, in reading order."""
    return sorted(f for f in os.listdir(HERE) if re.match(r"\d\d_.*\.md$", f))


def _text(chapter):
    with open(os.path.join(HERE, chapter), encoding="utf-8") as f:
        return f.read()


def code_blocks(chapter):
    """The chapter's ```python blocks, in order."""
    return BLOCK.findall(_text(chapter))


def shown_figures(chapter):
    """Names of the figures the chapter shows (its ![...](figures/NAME) images)."""
    return SHOWN.findall(_text(chapter))


def run_chapter(chapter, workdir):
    """Execute one chapter's blocks with ``workdir`` as the current folder (its figures go
    to workdir/figures/); returns the chapter's namespace."""
    workdir = os.path.abspath(workdir)
    os.makedirs(os.path.join(workdir, "figures"), exist_ok=True)
    namespace = {"__name__": f"walkthrough_{chapter[:2]}"}
    old = os.getcwd()
    os.chdir(workdir)
    try:
        for k, block in enumerate(code_blocks(chapter), 1):
            exec(compile(block, f"{chapter} block {k}", "exec"), namespace)
    finally:
        os.chdir(old)
    return namespace


def publish_figures(chapter, workdir):
    """Copy the figures ``chapter`` shows from workdir/figures/ into docs/walkthrough/figures/."""
    copied = []
    for name in shown_figures(chapter):
        source = os.path.join(workdir, "figures", name)
        if not os.path.exists(source):
            raise SystemExit(f"run.py: {chapter} shows figures/{name} but did not write it")
        tmp = os.path.join(FIGURES, f".{name}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, os.path.join(FIGURES, name))
        copied.append(name)
    return copied


def select(wanted):
    """The chapters whose file names start with one of ``wanted`` (all when empty)."""
    every = chapters()
    unknown = [w for w in wanted if not any(c.startswith(w) for c in every)]
    if unknown:
        raise SystemExit(f"run.py: no chapter starts with {', '.join(map(repr, unknown))}; "
                         f"the chapters are {', '.join(every)}")
    return [c for c in every if not wanted or any(c.startswith(w) for w in wanted)]


def main(argv=None):
    p = argparse.ArgumentParser(description="Run the walkthrough's chapters, each in a scratch folder.")
    p.add_argument("chapters", nargs="*", metavar="CHAPTER", help="e.g. 03 or 03_convolution (default: all)")
    p.add_argument("--out", metavar="DIR", help="run chapter NN_name in DIR/NN_name/ (default: a new temporary folder)")
    p.add_argument("--figures", action="store_true",
                   help="then replace the committed figures the chapters show (docs/walkthrough/figures/)")
    args = p.parse_args(argv)
    todo = select(args.chapters)
    out = os.path.abspath(args.out) if args.out else tempfile.mkdtemp(prefix="fercnn-walkthrough-")
    for chapter in todo:
        workdir = os.path.join(out, chapter[:-3])
        print(f"== {chapter} (in {workdir})", flush=True)
        start = time.perf_counter()
        run_chapter(chapter, workdir)
        print(f"== {chapter}: done in {time.perf_counter() - start:.1f} s", flush=True)
        if args.figures:
            for name in publish_figures(chapter, workdir):
                print(f"   wrote {os.path.relpath(os.path.join(FIGURES, name))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
