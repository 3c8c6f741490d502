"""Sizes a model file claims are checked before anything is allocated (fercnn.limits):
the spec's parameters and values per image, every .npz entry's header, the entries no spec
sizes. Each refusal is one ValueError naming the file, the field, the claim and the limit."""
import json
import os
import re
import threading
import time
import zipfile

import numpy as np
import pytest

from fercnn import limits
from fercnn.fileio import ArrayArchive, read_arrays
from fercnn.models import ConvNet, load
from fercnn.models.budget import array_shapes, spec_cost
from fercnn.models.io import read_npz, write_npz


def _model(**kw):
    spec = dict(conv=[{"filters": 2, "kernel": 3, "batchnorm": True, "pool": True}], fc=[{"units": 4}],
                input_shape=(1, 8, 8), num_classes=3, seed=0)
    spec.update(kw)
    model = ConvNet(**spec)
    model.mean_image = np.zeros((1, 8, 8), np.float32)
    return model


def _entries(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _rewrite(src, dst, *, meta=None, **arrays):
    """The model file ``src`` written again as ``dst`` with its meta edited and entries replaced."""
    entries = _entries(src)
    m = json.loads(str(entries.pop("meta")))
    m.update(meta or {})
    entries.update(arrays)
    np.savez(dst, meta=np.array(json.dumps(m)), **entries)
    return dst


def test_spec_cost_is_the_summary_without_allocating():
    model = _model()
    params, values, (layer, n), _ = spec_cost(model.spec)
    assert params == sum(v.size for v in model.params.values())
    assert array_shapes(model.spec) == {**{f"param/{k}": v.shape for k, v in model.params.items()},
                                        **{f"bn/{layer}/{s}": v.shape for layer, st in model.bn_state.items()
                                           for s, v in st.items()},
                                        "mean_image": (1, 8, 8)}
    # the paper's deep network is far under the limits
    from fercnn.models import deep_spec
    from fercnn.models.spec import normalize_spec
    params, values, _, _ = spec_cost(normalize_spec(**deep_spec(), input_shape=(1, 48, 48), num_classes=7))
    assert params == 4_472_775 and values < limits.DEFAULTS["values"] // 50


def test_a_spec_that_claims_a_huge_layer_is_refused_at_once(tmp_path):
    # an 8 MB-sized claim: an FC layer of 300,000 units after a 48x48 input; it used to
    # allocate 16 GB for a minute before any error
    small = ConvNet(conv=[], fc=[{"units": 4}], input_shape=(1, 48, 48), num_classes=7)
    small.mean_image = np.zeros((1, 48, 48), np.float32)
    small.save(tmp_path / "small.npz")
    spec = dict(small.spec, fc=[{"units": 300_000, "batchnorm": False, "dropout": 0.0}])
    _rewrite(tmp_path / "small.npz", tmp_path / "huge.npz", meta={"spec": spec})
    start = time.perf_counter()
    message = (f"load: {tmp_path / 'huge.npz'}: the spec makes 693,600,007 parameters (fc1: 691,500,000); "
               "the limit is 100,000,000 (raise it with FERCNN_MAX_PARAMS)")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load(tmp_path / "huge.npz")
    assert time.perf_counter() - start < 5
    with pytest.raises(ValueError, match=r"^ConvNet: the spec makes 693,600,007 parameters"):
        ConvNet(conv=[], fc=[{"units": 300_000}], input_shape=(1, 48, 48), num_classes=7)


def test_the_limits_can_be_raised_and_lowered_by_their_variables(tmp_path, monkeypatch):
    _model().save(tmp_path / "m.npz")
    monkeypatch.setenv("FERCNN_MAX_PARAMS", "100")
    with pytest.raises(ValueError, match=r"the spec makes 169 parameters \(fc1: 132\); the limit is 100 "):
        load(tmp_path / "m.npz")
    monkeypatch.setenv("FERCNN_MAX_PARAMS", "169")
    load(tmp_path / "m.npz")
    monkeypatch.setenv("FERCNN_MAX_VALUES", "100")
    with pytest.raises(ValueError, match=r"the spec makes [\d,]+ values per image \(input 1x8x8; conv1: 128\); "
                                         r"the limit is 100 \(raise it with FERCNN_MAX_VALUES\)"):
        load(tmp_path / "m.npz")
    for bad in ("0", "-5", "lots", "1e9", "1_000"):
        monkeypatch.setenv("FERCNN_MAX_VALUES", bad)
        with pytest.raises(ValueError, match=rf"^FERCNN_MAX_VALUES must be a positive whole number, got '{bad}'$"):
            load(tmp_path / "m.npz")


def test_a_spec_that_claims_huge_images_or_endless_blocks_is_refused(tmp_path):
    model = _model()
    model.save(tmp_path / "m.npz")
    spec = dict(model.spec, input_shape=[1, 65536, 65536], conv=[dict(model.spec["conv"][0], pool=True)] * 16)
    _rewrite(tmp_path / "m.npz", tmp_path / "wide.npz", meta={"spec": spec})
    with pytest.raises(ValueError, match=r"wide.npz: the spec makes [\d,]+ values per image \(input 1x65536x65536; "
                                         r"conv1: 8,589,934,592\); the limit is 50,000,000"):
        load(tmp_path / "wide.npz")
    spec = dict(model.spec, fc=[{"units": 1}] * 5000)
    _rewrite(tmp_path / "m.npz", tmp_path / "long.npz", meta={"spec": spec})
    with pytest.raises(ValueError, match=r"long.npz: its spec is not valid \(the spec has 1 conv and 5000 fc blocks; "
                                         r"the limit is 1000 in all\)"):
        load(tmp_path / "long.npz")
    spec = dict(model.spec, hog={"orientations": "nine"})
    _rewrite(tmp_path / "m.npz", tmp_path / "hog.npz", meta={"spec": spec})
    with pytest.raises(ValueError, match=r"hog.npz: its spec is not valid \(hog: orientations must be an integer"):
        load(tmp_path / "hog.npz")


def test_entries_are_checked_against_the_spec_before_they_are_read(tmp_path, monkeypatch):
    model = _model()
    model.save(tmp_path / "m.npz")
    _rewrite(tmp_path / "m.npz", tmp_path / "big.npz", **{"param/fc1.w": np.zeros((32, 4000), np.float32)})
    _rewrite(tmp_path / "m.npz", tmp_path / "mean.npz", mean_image=np.zeros((1, 80, 80), np.float32))
    read = []
    real_read = ArrayArchive.read
    monkeypatch.setattr(ArrayArchive, "read", lambda self, name: read.append(name) or real_read(self, name))
    with pytest.raises(ValueError, match=r"big.npz: fc1.w is \(32, 4000\) float32, the spec wants \(32, 4\)$"):
        load(tmp_path / "big.npz")
    with pytest.raises(ValueError, match=r"mean.npz: mean_image is \(1, 80, 80\) float32, the spec wants \(1, 8, 8\)"):
        load(tmp_path / "mean.npz")
    assert set(read) == {"meta"}  # no array was read: only the small meta


def test_entries_no_spec_sizes_are_held_to_the_bytes_limit(tmp_path, monkeypatch):
    model = _model()
    model.save(tmp_path / "m.npz")
    _rewrite(tmp_path / "m.npz", tmp_path / "extra.npz", blob=np.zeros(5000, np.uint8))
    load(tmp_path / "extra.npz")
    monkeypatch.setenv("FERCNN_MAX_ARRAY_BYTES", "4000")
    with pytest.raises(ValueError, match=r"extra.npz: entries no spec sizes hold [\d,]+ bytes in all \(the largest, "
                                         r"blob: \(5000,\) uint8\); the limit is 4,000 \(raise it with "
                                         r"FERCNN_MAX_ARRAY_BYTES\)"):
        load(tmp_path / "extra.npz")
    write_npz(tmp_path / "plain.npz", {"format": 1}, {"a": np.zeros(5000, np.uint8)})
    with pytest.raises(ValueError, match=r"^its arrays hold [\d,]+ bytes in all \(the largest, a: \(5000,\) uint8\); "
                                         r"the limit is 4,000"):
        read_arrays(tmp_path / "plain.npz")
    with pytest.raises(ValueError, match=r"plain.npz: entries no spec sizes hold [\d,]+ bytes"):
        read_npz(tmp_path / "plain.npz", "test")


def test_an_entry_whose_header_and_archive_disagree_is_corrupt(tmp_path):
    """An entry cannot claim a small shape and inflate to more: its header must agree with
    the size the archive's directory gives it, which bounds what inflating it produces."""
    _model().save(tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as src, zipfile.ZipFile(tmp_path / "lie.npz", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "mean_image.npy":
                data = data + b"\0" * 1000  # more data than the header's (1, 8, 8) float32
            dst.writestr(info.filename, data)
    with pytest.raises(ValueError, match=r"lie.npz is not a complete fercnn file \(entry mean_image: its header says "
                                         r"\(1, 8, 8\) float32 \(256 bytes\), but the archive holds 1,256 bytes"):
        load(tmp_path / "lie.npz")


def test_class_names_must_match_the_outputs(tmp_path):
    model = _model()
    model.class_names = ["a", "b", "c"]
    model.save(tmp_path / "m.npz")
    cases = {"two.npz": (["a", "b"], r"two.npz has 2 class names \['a', 'b'\] for its 3 outputs; a model needs one "
                                     r"name per output"),
             "twice.npz": (["a", "b", "a"], r"twice.npz names classes \['a'\] more than once"),
             "text.npz": ("abc", r"text.npz: class_names must be a list of strings, got 'abc'")}
    for name, (names, message) in cases.items():
        _rewrite(tmp_path / "m.npz", tmp_path / name, meta={"class_names": names})
        with pytest.raises(ValueError, match=message):
            load(tmp_path / name)


def test_a_model_with_nan_or_infinite_values_is_refused_by_name(tmp_path):
    model = _model()
    model.save(tmp_path / "m.npz")
    w = model.params["fc1.w"].copy()
    w[0, :3] = np.nan
    w[1, 0] = np.inf
    _rewrite(tmp_path / "m.npz", tmp_path / "nan.npz", **{"param/fc1.w": w})
    with pytest.raises(ValueError, match=r"nan.npz holds NaN or infinite values \(param/fc1.w: 4\); a model with "
                                         r"them cannot predict"):
        load(tmp_path / "nan.npz")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    errors = []
    reader = threading.Thread(target=lambda: errors.append(pytest.raises(ValueError, load, tmp_path / "pipe.npz")))
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "load() blocked on a FIFO"
    assert re.search(r"pipe.npz is not a regular file \(a FIFO, device or socket\)", str(errors[0].value))
