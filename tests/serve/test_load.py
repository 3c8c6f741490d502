"""`fercnn serve` under load (benchmarks/load_serve.py, bounded): 520 requests from 8 clients on
127.0.0.1, valid photos and bad uploads mixed; no 5xx, every answer as expected, memory flat."""
import json
import os
import sys

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install -e '.[serve]'")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import load_serve  # noqa: E402

from .helpers import sample_files  # noqa: E402


def test_the_server_holds_under_load(artifacts):
    expected = load_serve.expected_faces(sample_files())
    assert len(expected["astronaut.jpg"]) == 1 and expected["coffee.jpg"] == [] and expected["blank.png"] == []
    proc, url = load_serve.start_server()
    try:
        figures, problems = load_serve.run_load(url, proc.pid, expected=expected)
        assert proc.poll() is None, "the server died"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    (artifacts / "serve_load.json").write_text(json.dumps(figures, indent=1))
    print(f"\n{figures['requests']} requests, {figures['requests_per_s']:.1f}/s, p50 {figures['p50_ms']:.0f} ms, "
          f"p99 {figures['p99_ms']:.0f} ms, RSS {figures['rss_mb_after_first']:.0f} -> {figures['rss_mb_after_all']:.0f} MB")
    assert problems == []
    assert figures["requests"] >= 500 and figures["server_errors"] == 0
    assert figures["statuses"]["decompression bomb"] == {"413": 52}
    assert figures["rss_mb_after_all"] <= 1.10 * figures["rss_mb_after_first"], figures


def test_same_faces_allows_only_the_last_digits_to_differ():
    face = {"box": [10, 20, 50, 50], "emotions": {"happy": 0.9, "sad": 0.1}, "top": "happy"}
    near = {**face, "emotions": {"happy": 0.9 + 4e-6, "sad": 0.1 - 4e-6}}
    assert load_serve.same_faces([near], [face]) and load_serve.same_faces([], [])
    for other in ({**face, "emotions": {"happy": 0.9 + 2e-4, "sad": 0.1 - 2e-4}},
                  {**face, "box": [11, 20, 50, 50]}, {**face, "top": "sad"},
                  {**face, "emotions": {"happy": 0.9, "angry": 0.1}}):
        assert not load_serve.same_faces([other], [face]), other
    assert not load_serve.same_faces([face, face], [face]) and not load_serve.same_faces(None, [face])
