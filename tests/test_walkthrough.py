"""Every code block of docs/walkthrough/ runs, chapter by chapter, in a temporary folder."""
import importlib.util
import os
import re

import pytest

RUNNER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "walkthrough", "run.py")
spec = importlib.util.spec_from_file_location("walkthrough_run", RUNNER)
walkthrough = importlib.util.module_from_spec(spec)
spec.loader.exec_module(walkthrough)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("walkthrough")  # shared: chapter 7 opens chapter 6's model


def test_seven_chapters_with_code():
    chapters = walkthrough.chapters()
    assert len(chapters) == 7
    assert all(walkthrough.code_blocks(c) for c in chapters)


@pytest.mark.parametrize("chapter", walkthrough.chapters())
def test_chapter_runs(chapter, workdir):
    walkthrough.run_chapter(chapter, workdir)
    for name in re.findall(r'"figures/([^"]+)"', "\n".join(walkthrough.code_blocks(chapter))):
        assert (workdir / "figures" / name).exists(), f"{chapter} did not write figures/{name}"


def test_every_figure_a_chapter_shows_is_committed():
    """The images the chapters embed exist in the repository (made by docs/walkthrough/run.py)."""
    here = os.path.dirname(RUNNER)
    for chapter in walkthrough.chapters():
        with open(os.path.join(here, chapter), encoding="utf-8") as f:
            text = f.read()
        for part in text.split("](figures/")[1:]:
            name = part.split(")")[0]
            assert os.path.exists(os.path.join(here, "figures", name)), f"{chapter}: figures/{name} is missing"
