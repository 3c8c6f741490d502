"""`fercnn evaluate` (and examples/evaluate.py, which runs it) picks the model with the best
validation accuracy and reports the test split for that one: models here always answer one
class, so their accuracies are known, different, and the best is neither the first nor the last."""
import numpy as np
import pytest

from fercnn.cli.evaluate import main
from fercnn.data import CLASS_NAMES
from fercnn.models import ConvNet

ANGRY, HAPPY, NEUTRAL = 0, 3, 6
VAL = [HAPPY] * 5 + [NEUTRAL] * 3 + [ANGRY]    # always-angry 1/9, always-happy 5/9, always-neutral 3/9
TEST = [HAPPY] * 2 + [NEUTRAL] * 4 + [ANGRY]   # the best on validation (happy) gets 2/7 here


@pytest.fixture(scope="module")
def fer_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = [(i % 7, "Training") for i in range(14)] + [(e, "PublicTest") for e in VAL] + \
        [(e, "PrivateTest") for e in TEST]
    lines = ["emotion,pixels,Usage"] + [f"{e},{' '.join(map(str, rng.integers(0, 256, 2304)))},{u}" for e, u in rows]
    path = tmp_path_factory.mktemp("fer") / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _always(label, path):
    """A model whose scores ignore the image: it predicts ``label`` for every face."""
    model = ConvNet(conv=[], fc=[], input_shape=(1, 48, 48), num_classes=7, seed=0)
    model.params["out.w"][:] = 0
    model.params["out.b"][:] = 0
    model.params["out.b"][label] = 10
    model.mean_image, model.class_names = np.zeros((1, 48, 48), np.float32), list(CLASS_NAMES)
    model.save(path)
    return str(path)


def test_picks_the_best_validation_model_and_reports_its_test_accuracy(fer_csv, tmp_path, capsys):
    paths = [_always(label, tmp_path / f"{CLASS_NAMES[label]}.npz") for label in (ANGRY, HAPPY, NEUTRAL)]
    assert main(["--data", str(fer_csv), "--cache-dir", str(tmp_path / "cache"), *paths]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [f"{paths[0]}: validation accuracy {1 / 9:.4f}", f"{paths[1]}: validation accuracy {5 / 9:.4f}",
                         f"{paths[2]}: validation accuracy {3 / 9:.4f}"]
    assert lines[3] == f"best on validation: {paths[1]} (validation {5 / 9:.4f}); test accuracy {2 / 7:.4f}"
    table = {line.split()[0]: line.split()[1:] for line in lines[5:]}
    assert table["happy"] == ["100.0%", "2", "2"]      # rows of the table are the true classes
    assert table["neutral"] == ["0.0%", "0", "4"]
    assert table["angry"] == ["0.0%", "0", "1"]
    assert table["overall"] == [f"{100 * 2 / 7:.1f}%", "2", "7"]


def test_with_tta_each_figure_says_which_it_is(fer_csv, tmp_path, capsys):
    paths = [_always(label, tmp_path / f"{CLASS_NAMES[label]}.npz") for label in (ANGRY, HAPPY)]
    assert main(["--data", str(fer_csv), "--cache-dir", str(tmp_path / "cache"), "--tta", *paths]) == 0
    lines = capsys.readouterr().out.splitlines()
    # a model that ignores the image answers every view alike: the averaged figures are the plain ones
    assert lines[:5] == [f"{paths[0]}: validation accuracy {1 / 9:.4f}, averaged at test time {1 / 9:.4f}",
                         f"{paths[1]}: validation accuracy {5 / 9:.4f}, averaged at test time {5 / 9:.4f}",
                         f"best on validation: {paths[1]} (validation {5 / 9:.4f}, averaged at test time {5 / 9:.4f}); "
                         f"test accuracy {2 / 7:.4f}",
                         f"test accuracy averaged at test time: {2 / 7:.4f}",
                         "per-class test accuracy, averaged at test time:"]


def test_batchnorm_is_recalibrated_on_prepared_images_and_their_mirrors(fer_csv, tmp_path, monkeypatch):
    model = ConvNet(conv=[{"filters": 2, "kernel": 3, "batchnorm": True, "pool": True}], fc=[], input_shape=(1, 48, 48),
                    num_classes=7, seed=0)
    rng = np.random.default_rng(1)
    model.mean_image = rng.uniform(0, 255, (1, 48, 48)).astype(np.float32)  # not left-right symmetric
    model.class_names = list(CLASS_NAMES)
    model.save(tmp_path / "bn.npz")
    seen = []
    monkeypatch.setattr(ConvNet, "recalibrate_batchnorm", lambda self, X, **kw: seen.append(X.copy()))
    main(["--data", str(fer_csv), "--cache-dir", str(tmp_path / "cache"), "--bn-recalibration", "20",
          str(tmp_path / "bn.npz")])
    from fercnn.data import load_fer2013
    X = model.prepare(load_fer2013(str(fer_csv), cache_dir=tmp_path / "cache")["X_train"])  # 14 images
    pool, = seen
    assert pool.shape == (20, 1, 48, 48)
    plain = [any(np.array_equal(p, x) for x in X) for p in pool]
    mirrored = [any(np.array_equal(p, x[..., ::-1]) for x in X) for p in pool]
    assert all(a != b for a, b in zip(plain, mirrored)) and 6 <= sum(mirrored) <= 14  # each one or the other
