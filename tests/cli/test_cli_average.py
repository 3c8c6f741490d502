"""`fercnn average`: the averaged network is written with its batchnorm statistics recomputed
and its validation accuracy printed; the test split is not read; bad input is refused
before anything is written."""
import os

import numpy as np
import pytest

from fercnn.cli.average import main
from fercnn.cli.evaluate import recalibrate
from fercnn.data import CLASS_NAMES, load_fer2013
from fercnn.models import ConvNet, load
from fercnn.models.average import average_models


@pytest.fixture(scope="module")
def fer_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = [(i % 7, "Training") for i in range(40)] + [(i % 7, "PublicTest") for i in range(14)]
    lines = ["emotion,pixels,Usage"] + [f"{e},{' '.join(map(str, rng.integers(0, 256, 2304)))},{u}" for e, u in rows]
    path = tmp_path_factory.mktemp("fer") / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")  # no PrivateTest rows: averaging never reads test
    return path


def _saved(seed, path, *, init_seed=1, **changes):
    """A model as one run's checkpoint would hold it: the run's initialisation seed, and
    weights that differ from checkpoint to checkpoint (drawn with ``seed``)."""
    spec = dict(conv=[{"filters": 2, "kernel": 3, "batchnorm": True, "pool": True}], fc=[], input_shape=(1, 48, 48),
                num_classes=7)
    model = ConvNet(**{**spec, **changes}, seed=init_seed)
    rng = np.random.default_rng(seed)
    for w in model.params.values():
        w += rng.normal(0, 0.05, w.shape).astype(w.dtype)
    model.mean_image, model.class_names = np.full((1, 48, 48), 120, np.float32), list(CLASS_NAMES)
    model.save(path)
    return str(path)


def test_writes_the_average_with_statistics_from_training_images(fer_csv, tmp_path, capsys):
    paths = [_saved(seed, tmp_path / f"epoch{seed}.npz") for seed in (1, 2, 3)]
    out = str(tmp_path / "avg.npz")
    cache = str(tmp_path / "cache")
    assert main(["--data", str(fer_csv), "--cache-dir", cache, "--out", out, "--bn-recalibration", "30",
                 *paths]) == 0
    got = load(out)
    want = average_models([load(p) for p in paths])
    raw = load_fer2013(str(fer_csv), cache_dir=cache)
    recalibrate(want, raw["X_train"], 30, 0)
    inputs = [load(p) for p in paths]
    for model in inputs:  # each input is scored with statistics from the same images
        recalibrate(model, raw["X_train"], 30, 0)
    for k in want.params:
        np.testing.assert_array_equal(got.params[k], want.params[k])
    for layer, state in want.bn_state.items():
        for stat, v in state.items():
            np.testing.assert_array_equal(got.bn_state[layer][stat], v)
            assert not np.array_equal(v, load(paths[0]).bn_state[layer][stat])  # recomputed, not copied
    lines = capsys.readouterr().out.splitlines()
    X_val = got.prepare(raw["X_val"])
    assert lines[:3] == [f"{p}: validation accuracy {np.mean(m.predict(X_val) == raw['y_val']):.4f} (batchnorm "
                         "statistics from 30 training images)" for p, m in zip(paths, inputs)]
    acc = np.mean(got.predict(X_val) == raw["y_val"])
    assert lines[3] == (f"average of 3: validation accuracy {acc:.4f} (batchnorm statistics from 30 training images); "
                        f"wrote {out}")


def test_bad_input_is_refused_before_anything_is_written(fer_csv, tmp_path):
    a, b = _saved(1, tmp_path / "a.npz"), _saved(2, tmp_path / "b.npz")
    other = _saved(3, tmp_path / "other.npz", num_classes=7, fc=[{"units": 4}])
    base = ["--data", str(fer_csv), "--cache-dir", str(tmp_path / "cache")]
    out = tmp_path / "avg.npz"
    for argv, message in (
            ([a], "expected two or more models to average, got 1"),
            ([a, str(tmp_path / "." / "a.npz")], "a model is given twice"),
            ([a, other], r"other.npz is not the network of .*a.npz: expected spec"),
            ([a, _saved(4, tmp_path / "seed4.npz", init_seed=4)], r"seed4.npz is not the network of .*: "
                                                                  r"expected seed 1, got 4"),
            ([a, str(tmp_path / "nothing.npz")], r"no such model file: .*nothing.npz"),
            (["--out", str(tmp_path), a, b], r"--out .* is a folder; expected a .npz file"),
            (["--out", str(tmp_path / "new" / "avg.npz"), a, other], "is not the network of"),
            (["--out", a, a, b], r"--out .*a.npz is one of the models to average")):
        argv = argv if "--out" in argv else ["--out", str(out), *argv]
        with pytest.raises(ValueError, match=message):
            main(base + argv)
        assert not out.exists()
    assert not (tmp_path / "new").exists()  # refused before any folder was made
    os.link(a, tmp_path / "same_as_a.npz")
    with pytest.raises(ValueError, match="a model is given twice"):
        main(base + ["--out", str(out), a, str(tmp_path / "same_as_a.npz")])
    with pytest.raises(ValueError, match="same_as_a.npz is one of the models to average"):
        main(base + ["--out", str(tmp_path / "same_as_a.npz"), a, b])
    out.write_text("the user's file")
    with pytest.raises(ValueError, match=r"avg.npz exists; expected a new file \(or --overwrite to replace it\)"):
        main(base + ["--out", str(out), a, b])
    assert out.read_text() == "the user's file"
    assert main(base + ["--out", str(out), "--overwrite", "--bn-recalibration", "10", a, b]) == 0
    assert load(str(out)).spec == load(a).spec


def test_last_epochs_of_a_run_folder_are_the_checkpoints_its_epochs_ended_with(fer_csv, tmp_path, capsys):
    import json

    from fercnn.train.checkpoint import checkpoint_name

    ck = tmp_path / "run" / "checkpoints"
    ck.mkdir(parents=True)
    ends = [5, 10, 15, 20]
    (ck / "history.json").write_text(json.dumps({"epoch_iterations": ends}))
    names = [checkpoint_name(e, it) for e, it in enumerate(ends, 1)]
    for seed, name in enumerate(names[1:], 2):  # epoch 1's was pruned
        _saved(seed, ck / name)
    _saved(9, ck / checkpoint_name(4, 17))  # a mid-epoch checkpoint: not an epoch end
    base = ["--data", str(fer_csv), "--cache-dir", str(tmp_path / "cache"), "--bn-recalibration", "10"]
    assert main(base + ["--out", str(tmp_path / "a.npz"), "--last-epochs", "3", str(tmp_path / "run")]) == 0
    printed = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()[:3]]
    assert printed == [str(ck / n) for n in names[1:]]
    for argv, message in ((["--last-epochs", "4", str(tmp_path / "run")], f"{ck} lacks {names[0]} .*--keep-epochs"),
                          (["--last-epochs", "5", str(ck)], "--last-epochs 5: expected a run of 5 or more epochs, .* has run 4"),
                          (["--last-epochs", "2", str(tmp_path)], "is not a training run's folder"),
                          (["--last-epochs", "2", str(ck / names[1]), str(ck / names[2])], "takes one run folder")):
        with pytest.raises(ValueError, match=message):
            main(base + ["--out", str(tmp_path / "b.npz"), *argv])
