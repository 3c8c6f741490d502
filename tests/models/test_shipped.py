"""Shipped models (fercnn.models.pretrained): the float16 file, reading it back, the names,
`fercnn predict` without --model, and the file inside a non-editable install."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fercnn.cli import predict as predict_cli
from fercnn.data import CLASS_NAMES
from fercnn.fileio import read_arrays
from fercnn.models import ConvNet, load, pretrained, shipped

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _model(seed=0):
    model = ConvNet(conv=[{"filters": 3, "kernel": 3, "batchnorm": True, "pool": True}],
                    fc=[{"units": 8, "batchnorm": True}], input_shape=(1, 48, 48), num_classes=7, seed=seed)
    rng = np.random.default_rng(seed)
    for state in model.bn_state.values():  # statistics that are not the initial ones
        state["running_mean"] = rng.normal(size=state["running_mean"].shape).astype(np.float32)
        state["running_var"] = rng.uniform(0.5, 2, size=state["running_var"].shape).astype(np.float32)
    model.mean_image = rng.uniform(90, 140, size=(1, 48, 48)).astype(np.float32)
    model.class_names = list(CLASS_NAMES)
    return model


@pytest.fixture
def weights(tmp_path, monkeypatch):
    """An empty weights folder in place of the package's."""
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", str(tmp_path / "weights"))
    return tmp_path / "weights"


def test_file_holds_float16_parameters_and_reads_back_as_float32(tmp_path):
    model = _model()
    path = tmp_path / "deep.npz"
    shipped.write_shipped(model, path, {"run": "test", "test_accuracy": 0.5})
    stored = read_arrays(path)
    params = [k for k in stored if k.startswith("param/")]
    assert params and all(stored[k].dtype == np.float16 for k in params)
    assert all(stored[k].dtype == np.float32 for k in stored if k.startswith("bn/") or k == "mean_image")
    back = shipped.load_shipped(path)
    for k, w in model.params.items():
        assert back.params[k].dtype == np.float32
        np.testing.assert_array_equal(back.params[k], w.astype(np.float16).astype(np.float32))
        assert np.abs(back.params[k] - w).max() <= 2 ** -11 * np.abs(w).max()  # float16's rounding, no more
    for layer, state in model.bn_state.items():
        for stat, v in state.items():
            np.testing.assert_array_equal(back.bn_state[layer][stat], v)
    np.testing.assert_array_equal(back.mean_image, model.mean_image)
    assert back.class_names == list(CLASS_NAMES)
    assert back.provenance["run"] == "test" and back.provenance["test_accuracy"] == 0.5
    assert load(path).params.keys() == model.params.keys()  # models.load reads it too


def test_predictions_reproduce_the_fingerprint_and_are_deterministic(tmp_path):
    model = _model(seed=3)
    shipped.write_shipped(model, tmp_path / "deep.npz", {})
    a, b = shipped.load_shipped(tmp_path / "deep.npz"), shipped.load_shipped(tmp_path / "deep.npz")
    x = shipped.fingerprint_input(a)
    assert x.shape == (8, 1, 48, 48) and x.dtype == np.float32
    pa, pb = a.predict_proba(x), b.predict_proba(x)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_allclose(pa, np.array(a.provenance["fingerprint"]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(pa, shipped.rounded(model).predict_proba(x), rtol=0, atol=1e-6)
    assert np.abs(pa - model.predict_proba(x)).max() > 0  # the rounding is real, and the fingerprint holds it


def test_rounding_leaves_the_model_alone():
    model = _model()
    before = {k: v.copy() for k, v in model.params.items()}
    copy = shipped.rounded(model)
    for state in copy.bn_state.values():
        state["running_mean"] += 1
    for k, v in before.items():
        np.testing.assert_array_equal(model.params[k], v)
    assert not any(np.shares_memory(model.bn_state[l][s], copy.bn_state[l][s])
                   for l in model.bn_state for s in model.bn_state[l])


def test_a_parameter_beyond_float16_is_refused(tmp_path):
    model = _model()
    key = next(iter(model.params))
    model.params[key] = model.params[key].copy()
    model.params[key].flat[0] = 1e5
    with pytest.raises(ValueError, match=f"parameter {key} is not finite in float16: expected values within "
                                         f"\\+-65504, got largest \\|value\\| 1e\\+05"):
        shipped.write_shipped(model, tmp_path / "x.npz", {})
    assert not (tmp_path / "x.npz").exists()


def test_unknown_storage_is_refused(tmp_path):
    from fercnn.models.io import write_npz

    meta, arrays = shipped.half_entries(_model())
    meta["param_storage"] = "int8"
    write_npz(tmp_path / "odd.npz", meta, arrays)
    with pytest.raises(ValueError, match="stores its parameters as 'int8'; expected float16"):
        shipped.load_shipped(tmp_path / "odd.npz")


def test_names(weights):
    with pytest.raises(ValueError, match=r"pretrained: unknown model 'huge'; expected one of \['vgg', 'deep'\]"):
        pretrained("huge")
    with pytest.raises(ValueError, match="this install of fercnn has no 'deep' model .* it has none"):
        pretrained("deep")
    assert shipped.available() == []
    shipped.write_shipped(_model(), weights / "deep.npz", {"run": "tiny"})
    assert shipped.available() == ["deep"]
    assert pretrained("deep").provenance["run"] == "tiny"
    assert shipped.default_model("op", "x").provenance["run"] == "tiny"  # the first this install has
    with pytest.raises(ValueError, match="this install of fercnn has no 'vgg' model"):
        pretrained()  # the default name is vgg
    shipped.write_shipped(_model(seed=2), weights / "vgg.npz", {"run": "tiny vgg"})
    assert shipped.available() == ["vgg", "deep"]
    assert pretrained().provenance["run"] == shipped.default_model("op", "x").provenance["run"] == "tiny vgg"


def test_predict_uses_the_shipped_model_by_default(weights, tmp_path, monkeypatch, capsys):
    import json

    from PIL import Image

    from fercnn.predict import detect_emotions

    noise = np.random.default_rng(4).normal(0, 2, size=(48, 48))  # near the mean image: probabilities not saturated
    face = np.clip(np.round(_model(seed=5).mean_image[0] + noise), 0, 255).astype(np.uint8)
    Image.fromarray(face).save(tmp_path / "face.png")
    with pytest.raises(ValueError, match="this install ships no trained model; give --model PATH"):
        predict_cli.main([str(tmp_path / "face.png"), "--no-detect"])
    with pytest.raises(ValueError, match="detect_emotions: this install ships no trained model; pass model="):
        detect_emotions(face, detect=False)
    shipped.write_shipped(_model(seed=5), weights / "deep.npz", {})
    model = shipped.rounded(_model(seed=5))
    expected = model.predict_proba(face.reshape(1, 1, 48, 48).astype(np.float32) - model.mean_image)[0]
    assert np.abs(expected - _model(seed=6).predict_proba(
        face.reshape(1, 1, 48, 48).astype(np.float32) - model.mean_image)[0]).max() > 1e-3  # models tell apart
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep").write_text("a file called deep: the name still means the shipped model")
    for argv in ([], ["--model", "deep"]):
        assert predict_cli.main(["face.png", "--no-detect", "--json", *argv]) == 0
        got = json.loads(capsys.readouterr().out)[0]["faces"][0]
        np.testing.assert_allclose([got["emotions"][n] for n in CLASS_NAMES], expected, atol=1e-6)
        assert got["top"] == CLASS_NAMES[int(np.argmax(expected))]
    got = detect_emotions(face, detect=False)[0]
    np.testing.assert_allclose([got["emotions"][n] for n in CLASS_NAMES], expected, atol=1e-6)


def test_the_weights_are_package_data_of_a_non_editable_install(tmp_path):
    """`pip install .` (not -e) copies fercnn/models/weights/*.npz into site-packages."""
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "fercnn"), src / "fercnn",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "weights"))
    for name in ("setup.py", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    shipped.write_shipped(_model(seed=7), src / "fercnn" / "models" / "weights" / "deep.npz", {"run": "packaged"})
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    code = ("import fercnn.models as m, os\n"
            "model = m.pretrained('deep')\n"
            "print(os.path.dirname(m.shipped.__file__), model.provenance['run'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(target)})
    assert done.returncode == 0, done.stderr
    folder, run = done.stdout.split()
    assert folder == str(target / "fercnn" / "models") and run == "packaged"


@pytest.mark.parametrize("name", shipped.NAMES)
def test_each_shipped_model_reproduces_its_fingerprint(name):
    if name not in shipped.available():
        pytest.skip(f"this checkout ships no {name} model yet")
    model = pretrained(name)
    assert model.dtype == np.float32 and model.class_names == list(CLASS_NAMES)
    probs = model.predict_proba(shipped.fingerprint_input(model))
    np.testing.assert_allclose(probs, np.array(model.provenance["fingerprint"]), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(probs, pretrained(name).predict_proba(shipped.fingerprint_input(model)))
