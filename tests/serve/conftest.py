import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def artifacts():
    """Where the server tests keep what a person may want to look at (a screenshot, the load
    test's figures): $FERCNN_ARTIFACTS, else artifacts/ in the checkout (not committed)."""
    folder = pathlib.Path(os.environ.get("FERCNN_ARTIFACTS") or ROOT / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
