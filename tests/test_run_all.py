"""reproduction/run_all.sh: the three runs in turn, finished ones skipped, stopped ones resumed.

The training command is replaced by a stand-in `python` first on PATH that records its
arguments and acts as a run would (writes results.json, or fails when told to).
"""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE_PYTHON = """#!/bin/bash
echo "$@" >> "$CALLS"
printf '[%s]' "$@" >> "$CALLS.words" && echo >> "$CALLS.words"
echo "threads ${NUMBA_NUM_THREADS:-unset} ${OPENBLAS_NUM_THREADS:-unset}" >> "$CALLS.env"
out=$(echo "$@" | sed 's/.*--out \\([^ ]*\\).*/\\1/')
case "$1" in *train_$FAIL.py) exit 3;; esac
mkdir -p "$out" && echo '{}' > "$out/results.json"
"""


def _run(tmp_path, fail="none", *extra, env_extra=None, script=os.path.join(ROOT, "reproduction", "run_all.sh")):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "python").write_text(FAKE_PYTHON)
    (bin_dir / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls"), "FAIL": fail, **(env_extra or {})}
    return subprocess.run(["bash", script, "/data/fer", str(tmp_path / "runs"), *extra], capture_output=True, text=True,
                          env=env)


def _calls(tmp_path):
    return (tmp_path / "calls").read_text().splitlines()


def test_finished_skipped_stopped_resumed_new_started(tmp_path):
    runs = tmp_path / "runs"
    (runs / "deep_fer2013").mkdir(parents=True)
    (runs / "deep_fer2013" / "results.json").write_text("{}")
    (runs / "shallow_fer2013" / "checkpoints").mkdir(parents=True)
    (runs / "shallow_fer2013" / "checkpoints" / "epoch003_iter0000900.npz").write_bytes(b"")
    done = _run(tmp_path, "none", "--quiet")
    assert done.returncode == 0, done.stderr
    calls = _calls(tmp_path)
    assert len(calls) == 2
    assert calls[0] == (f"{ROOT}/examples/train_shallow.py --data /data/fer --out {runs}/shallow_fer2013 "
                        "--checkpoint-every 100 --resume --quiet")
    assert calls[1] == (f"{ROOT}/examples/train_hybrid.py --data /data/fer --out {runs}/hybrid_fer2013 "
                        "--checkpoint-every 100 --quiet")
    assert "deep_fer2013: finished, skipped" in done.stdout
    assert "shallow_fer2013: resume" in (runs / "shallow_fer2013.notes").read_text()
    assert "hybrid_fer2013: start" in (runs / "hybrid_fer2013.notes").read_text()
    assert (runs / "hybrid_fer2013.commit").read_text().strip()


def test_a_failed_run_stops_the_chain(tmp_path):
    done = _run(tmp_path, "deep")
    assert done.returncode == 1
    assert len(_calls(tmp_path)) == 1 and "deep_fer2013: failed" in done.stdout


def test_usage(tmp_path):
    done = subprocess.run(["bash", os.path.join(ROOT, "reproduction", "run_all.sh")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("usage: bash reproduction/run_all.sh FER2013_PATH")


def test_nets_and_threads(tmp_path):
    done = _run(tmp_path, env_extra={"NETS": "shallow", "THREADS": "1"})
    assert done.returncode == 0, done.stderr
    calls = _calls(tmp_path)
    assert len(calls) == 1 and "train_shallow.py" in calls[0]
    assert (tmp_path / "calls.env").read_text().split() == ["threads", "1", "1"]
    assert "1 threads" in (tmp_path / "runs" / "shallow_fer2013.notes").read_text()
    done = _run(tmp_path, env_extra={"NETS": "deep medium"})
    assert done.returncode == 2 and "NETS: unknown run 'medium'" in done.stderr
    assert len(_calls(tmp_path)) == 1, "a run started before the bad name was found"


def test_a_run_still_going_is_waited_for_not_started_twice(tmp_path):
    import time

    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "shallow_fer2013"
    # a stand-in for the run's own training process, still going for 2 s
    going = subprocess.Popen(["bash", "-c", "sleep 2; true", "examples/train_shallow.py", "--out", str(out), "x"])
    (runs / "shallow_fer2013.pid").write_text(str(going.pid))
    t = time.monotonic()
    # a narrow terminal: ps must not cut the command line before --out (the runs folder of
    # a real run may be longer than the 80 columns ps assumes without a terminal)
    done = _run(tmp_path, env_extra={"NETS": "shallow", "RUN_ALL_POLL": "0.2", "COLUMNS": "40"})
    waited = time.monotonic() - t
    going.wait()
    assert done.returncode == 0, done.stderr
    assert waited >= 1.5, f"did not wait for the running process ({waited:.1f} s)"
    assert len(_calls(tmp_path)) == 1  # then started once, as its folder has no results yet


def test_the_runs_past_the_paper(tmp_path):
    """deep_hybrid, vgg and its ablation without augmentation: each its script and recipe, as
    separate arguments; a stopped vgg run is resumed with the same recipe."""
    runs = tmp_path / "runs"
    (runs / "vgg_fer2013" / "checkpoints").mkdir(parents=True)
    (runs / "vgg_fer2013" / "checkpoints" / "epoch020_iter0004500.npz").write_bytes(b"")
    done = _run(tmp_path, "none", "--quiet", env_extra={"NETS": "deep_hybrid vgg vgg_noaug"})
    assert done.returncode == 0, done.stderr
    recipe = ["--no-flip-double", "--augment-flip", "--lr-schedule", "plateau", "--plateau-patience", "3",
              "--nesterov", "--epochs", "60"]
    augment = ["--augment-shift", "4", "--augment-rotate", "10", "--augment-scale", "0.2", "--augment-erase", "0.5"]
    common = lambda name: ["--data", "/data/fer", "--out", f"{runs}/{name}", "--checkpoint-every", "100"]  # noqa: E731
    want = [[f"{ROOT}/examples/train_hybrid.py", *common("deep_hybrid_fer2013"), "--preset", "deep", "--lr", "0.01",
             "--reg", "1e-7", "--quiet"],
            [f"{ROOT}/examples/train_vgg.py", *common("vgg_fer2013"), *recipe, *augment, "--resume", "--quiet"],
            [f"{ROOT}/examples/train_vgg.py", *common("vgg_noaug_fer2013"), *recipe, "--early-stop", "10", "--quiet"]]
    assert (tmp_path / "calls.words").read_text().splitlines() == ["".join(f"[{w}]" for w in c) for c in want]


def test_a_copy_outside_git_says_its_code_is_unknown(tmp_path):
    """A snapshot of the code (git archive into a folder) has no git: the notes and the .commit
    file say so, where git describe printed nothing but an error."""
    copy = tmp_path / "code-snapshot" / "reproduction"
    copy.mkdir(parents=True)
    (copy / "run_all.sh").write_text(open(os.path.join(ROOT, "reproduction", "run_all.sh")).read())
    done = _run(tmp_path, env_extra={"NETS": "shallow", "GIT_CEILING_DIRECTORIES": str(tmp_path)},
                script=str(copy / "run_all.sh"))
    assert done.returncode == 0, done.stderr
    assert "fatal" not in done.stderr, done.stderr
    expected = f"unknown (not a git checkout: {tmp_path / 'code-snapshot'})"
    assert (tmp_path / "runs" / "shallow_fer2013.commit").read_text().strip() == expected
    assert f"start (code {expected}, all threads)" in (tmp_path / "runs" / "shallow_fer2013.notes").read_text()
