"""fercnn summary: each preset network and a saved model, parameter counts that are the model's."""
import subprocess
import sys

import numpy as np
import pytest
from shared_helpers import one_error_line

from fercnn import models


def _summary(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fercnn.cli", "summary", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("network", ["shallow", "deep", "vgg", "linear"])
def test_each_preset_with_its_parameter_count(tmp_path, network):
    done = _summary(network, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    total = sum(v.size for v in getattr(models, network)().params.values())
    assert done.stdout.splitlines()[0] == network
    assert f"{total:,}" in done.stdout


def test_a_saved_model_and_a_name_that_is_neither(tmp_path):
    model = models.shallow(num_classes=3)
    model.mean_image, model.class_names = np.zeros((1, 48, 48), np.float32), ["a", "b", "c"]
    model.save(tmp_path / "m.npz")
    done = _summary("m.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "m.npz: classes a, b, c"
    one_error_line(_summary("resnet", cwd=tmp_path), 2,
                   "fercnn summary: expected shallow, deep, vgg, linear or a model file, got 'resnet' (no such file)")
