"""`fercnn evaluate` scores FER2013 models only: other classes are refused in one line, exit 2."""
import re
import subprocess
import sys

import numpy as np
import pytest

from fercnn.cli.evaluate import main
from fercnn.data import CLASS_NAMES
from fercnn.models import ConvNet


def _model(path, names, num_classes=7):
    model = ConvNet(conv=[{"filters": 2, "kernel": 3, "pool": True}], fc=[], input_shape=(1, 48, 48),
                    num_classes=num_classes if names is None else len(names), seed=0)
    model.mean_image = np.full((1, 48, 48), 100, np.float32)
    model.class_names = None if names is None else list(names)
    model.save(path)
    return path


@pytest.fixture(scope="module")
def fer_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for usage in ("Training", "PublicTest", "PrivateTest"):
        lines += [f"{i % 7},{' '.join(map(str, rng.integers(0, 256, 2304)))},{usage}" for i in range(14)]
    path = tmp_path_factory.mktemp("fer") / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_model_of_other_classes_is_refused_in_one_line(fer_csv, tmp_path):
    fer = _model(tmp_path / "fer.npz", CLASS_NAMES)
    mine = _model(tmp_path / "mine.npz", ["grin", "frown", "calm"])
    cmd = [sys.executable, "-m", "fercnn.cli", "evaluate", "--data", str(fer_csv), "--cache-dir", str(tmp_path),
           str(fer), str(mine)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""  # refused before the first model is scored
    assert done.stderr.splitlines() == [
        f"error: evaluate: {mine} is not a FER2013 model: expected 7 classes {list(CLASS_NAMES)}, "
        "got 3 classes ['grin', 'frown', 'calm']"]


@pytest.mark.parametrize("names", [
    list(reversed(CLASS_NAMES)),             # FER2013's names in another order
    [n.upper() for n in CLASS_NAMES[:6]],    # six classes
    ["a", "b", "c", "d", "e", "f", "g", "h"],
])
def test_other_names_or_another_number_of_classes_is_refused(fer_csv, tmp_path, names):
    path = _model(tmp_path / "model.npz", names)
    message = (f"evaluate: {path} is not a FER2013 model: expected 7 classes {list(CLASS_NAMES)}, "
               f"got {len(names)} classes {names}")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        main(["--data", str(fer_csv), "--cache-dir", str(tmp_path), str(path)])


def test_a_model_without_names_is_taken_by_its_number_of_classes(fer_csv, tmp_path, capsys):
    path = _model(tmp_path / "unnamed3.npz", None, num_classes=3)
    with pytest.raises(ValueError, match=r"expected 7 classes .*, got 3 classes \['class0', 'class1', 'class2'\]"):
        main(["--data", str(fer_csv), "--cache-dir", str(tmp_path), str(path)])
    for name, names in (("named.npz", CLASS_NAMES), ("unnamed.npz", None)):  # 7 without names: FER2013's
        path = _model(tmp_path / name, names)
        assert main(["--data", str(fer_csv), "--cache-dir", str(tmp_path), "--bn-recalibration", "0", str(path)]) == 0
        assert "best on validation" in capsys.readouterr().out


@pytest.mark.parametrize("command,prog", [("evaluate", "evaluate"), ("average", "fercnn average")])
def test_a_model_of_other_images_is_refused_before_the_data_is_read(tmp_path, command, prog):
    fer = _model(tmp_path / "fer.npz", CLASS_NAMES)
    small = ConvNet(conv=[{"filters": 2, "kernel": 3, "pool": True}], fc=[], input_shape=(1, 32, 32), num_classes=7)
    small.mean_image = np.full((1, 32, 32), 100, np.float32)
    small.save(tmp_path / "small.npz")
    out = ["--out", str(tmp_path / "avg.npz")] if command == "average" else []
    cmd = [sys.executable, "-m", "fercnn.cli", command, "--data", str(tmp_path / "nowhere"), *out,
           str(fer), str(tmp_path / "small.npz")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    # the data folder does not exist: the model is refused first, naming it
    assert done.returncode == 2 and done.stderr.splitlines() == [
        f"error: {prog}: {tmp_path / 'small.npz'} is not a FER2013 model: expected 48x48 grayscale input "
        "(1, 48, 48), got (1, 32, 32)"], done.stderr
