"""A run or a prediction that failed never looks like a success: a training run whose model
went NaN or infinite ends with the divergence error and exit status 1 however short it was;
a model whose outputs are not finite is an error naming it, never printed as probabilities,
and --json output is always JSON."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from shared_helpers import one_error_line
from PIL import Image

from fercnn.models import ConvNet, load


def _fercnn(*args, cwd, timeout=300, env=None):
    return subprocess.run([sys.executable, "-m", "fercnn.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)




@pytest.mark.parametrize("network,args,where", [
    # one iteration: the update makes the weights infinite, and no loss is computed after it
    ("linear", ["--synthetic-train", "7", "--lr", "1e38"], "param/out.w holds NaN or infinite values at iteration 1"),
    # the case: two iterations of the shallow network at lr 1e10
    ("shallow", ["--synthetic-train", "70", "--lr", "1e10"],
     "bn/conv1/running_var holds NaN or infinite values at iteration 2"),
])
def test_a_short_run_that_diverged_ends_in_the_divergence_error(tmp_path, network, args, where):
    done = _fercnn("train", network, "--out", "out", "--epochs", "1", "--quiet", *args, cwd=tmp_path, timeout=600)
    line = one_error_line(done, 1, f"error: Solver: {where}")
    assert line.endswith("training stopped. Lower the learning rate or check the data.")
    assert not (tmp_path / "out" / "model.npz").exists() and not (tmp_path / "out" / "results.json").exists()


def test_no_checkpoint_holds_nan(tmp_path):
    """The check comes before every checkpoint, so the newest one is the last good one."""
    done = _fercnn("train", "linear", "--out", "out", "--quiet", "--synthetic-train", "140", "--lr", "1e30",
                   "--checkpoint-every", "1", "--epochs", "1", cwd=tmp_path)
    one_error_line(done, 1, "Solver: loss became nan at iteration 2")
    folder = tmp_path / "out" / "checkpoints"
    # iteration 1's checkpoint (its update made the weights huge, not yet NaN), none after it
    assert sorted(n for n in os.listdir(folder) if n.endswith(".npz")) == ["epoch001_iter0000001.npz"]
    load(folder / "epoch001_iter0000001.npz")  # refuses NaN or infinite parameters and statistics
    with np.load(folder / "epoch001_iter0000001.npz") as z:  # and the rest: the optimiser's state, the best
        numbers = [k for k in z.files if z[k].dtype.kind == "f"]
        assert len(numbers) > 2 and all(np.isfinite(z[k]).all() for k in numbers), numbers


def _photo(path):
    Image.fromarray(np.full((48, 48), 90, np.uint8)).save(path)
    return path


def test_a_model_whose_outputs_are_not_finite_is_an_error_naming_it(tmp_path):
    model = ConvNet(conv=[], fc=[], input_shape=(1, 48, 48), num_classes=7)
    model.mean_image = np.zeros((1, 48, 48), np.float32)
    model.params["out.w"][:] = 3e38  # finite, but the scores overflow to inf, and softmax makes NaN
    model.params["out.w"][:, 3] = -3e38
    model.save(tmp_path / "huge.npz")
    _photo(tmp_path / "face.png")
    for json_flag in ([], ["--json"]):
        done = _fercnn("predict", "face.png", "--model", "huge.npz", "--no-detect", *json_flag, cwd=tmp_path)
        one_error_line(done, 2, "error: predict: model huge.npz: its outputs are not finite numbers (NaN or "
                                 "infinite) for 1 of 1 faces, so they are no probabilities")
        assert done.stdout == "" and "nan" not in done.stdout.lower()


def test_a_model_with_nan_parameters_is_refused_before_any_photo(tmp_path):
    model = ConvNet(conv=[], fc=[], input_shape=(1, 48, 48), num_classes=7)
    model.mean_image = np.zeros((1, 48, 48), np.float32)
    model.params["out.w"][0, 0] = np.nan
    model.save(tmp_path / "nan.npz")
    _photo(tmp_path / "face.png")
    done = _fercnn("predict", "face.png", "--model", "nan.npz", "--no-detect", "--json", cwd=tmp_path)
    one_error_line(done, 2, "error: load: nan.npz holds NaN or infinite values (param/out.w: 1)")
    assert done.stdout == ""


def test_json_is_always_json(tmp_path):
    model = ConvNet(conv=[], fc=[], input_shape=(1, 48, 48), num_classes=7)
    model.mean_image = np.zeros((1, 48, 48), np.float32)
    model.save(tmp_path / "m.npz")
    _photo(tmp_path / "face.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    done = _fercnn("predict", "face.png", "broken.png", "--model", "m.npz", "--no-detect", "--json", cwd=tmp_path)
    assert done.returncode == 1
    entries = json.loads(done.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert [len(e["faces"]) for e in entries] == [1, 0] and "error" in entries[1]
