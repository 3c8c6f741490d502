"""Atomic writes, and model files that are cut short or are something else entirely."""
import os

import numpy as np
import pytest

from fercnn.fileio import atomic_write, remove_stale_temporaries, write_json
from fercnn.models import ConvNet, load
from shared_helpers import one_error_line


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "results.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(path, "w") as f:
            f.write('{"a": 2, "b"')  # half written, then the writer dies
            raise RuntimeError("disk full")
    assert path.read_text() == '{"a": 1}'
    assert os.listdir(tmp_path) == ["results.json"]


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / ".model.npz.tmp-abc123").write_bytes(b"torn")
    (tmp_path / "model.npz").write_bytes(b"kept")
    (tmp_path / ".hidden").write_bytes(b"kept too")
    assert remove_stale_temporaries(tmp_path) == [".model.npz.tmp-abc123"]
    assert sorted(os.listdir(tmp_path)) == [".hidden", "model.npz"]


def _model():
    return ConvNet(conv=[{"filters": 2, "kernel": 3, "batchnorm": True, "pool": True}], fc=[{"units": 4}],
                   input_shape=(1, 8, 8), num_classes=3, seed=0)


def test_load_rejects_truncated_and_foreign_files(tmp_path):
    _model().save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.npz").write_text("this is not a model\n")
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    (tmp_path / "folder.npz").mkdir()
    cases = {
        "cut.npz": r"cut.npz is not a complete fercnn file \(BadZipFile",
        "text.npz": r"text.npz is not a complete fercnn file \(not an .npz archive of plain arrays\)",
        "array.npy": r"array.npy is not a complete fercnn file \(a single .npy array",
        "other.npz": r"other.npz is not a fercnn file \(no 'meta' entry\)",
        "folder.npz": r"folder.npz is a folder",
        "missing.npz": r"load: no such file: .*missing.npz",
    }
    for name, message in cases.items():
        with pytest.raises(ValueError, match=message) as e:
            load(tmp_path / name)
        assert "allow_pickle" not in str(e.value)


def test_load_rejects_another_format_and_a_spec_mismatch(tmp_path):
    import json
    model = _model()
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        entries = {k: f[k] for k in f.files}
    meta = json.loads(str(entries["meta"]))
    np.savez(tmp_path / "v9.npz", **dict(entries, meta=np.array(json.dumps(dict(meta, format=9)))))
    with pytest.raises(ValueError, match=r"v9.npz has fercnn file format 9; this fercnn reads format 1"):
        load(tmp_path / "v9.npz")
    np.savez(tmp_path / "bad.npz", **dict(entries, **{"param/conv1.w": np.zeros((3, 1, 3, 3), np.float32)}))
    with pytest.raises(ValueError, match=r"bad.npz: conv1.w is \(3, 1, 3, 3\) float32, the spec wants \(2, 1, 3, 3\)"):
        load(tmp_path / "bad.npz")


def test_written_files_get_the_usual_mode_and_utf8(tmp_path):
    from fercnn.fileio import write_text
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "r.json", {"a": 1})
        write_text(tmp_path / "classes.txt", "生气\n")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "r.json").st_mode & 0o777 == 0o644  # not mkstemp's 0600
    assert (tmp_path / "classes.txt").read_bytes() == "生气\n".encode("utf-8")


def test_command_reports_an_unwritable_output_in_one_line(tmp_path):
    import subprocess
    import sys
    model = _model()
    model.mean_image = np.zeros((1, 8, 8), np.float32)
    (tmp_path / "afile").write_text("x")
    from PIL import Image
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "face.png")
    big = ConvNet(conv=[{"filters": 2, "kernel": 3, "pool": True}], fc=[], input_shape=(1, 48, 48), num_classes=7)
    big.mean_image = np.zeros((1, 48, 48), np.float32)
    big.save(tmp_path / "m.npz")
    done = subprocess.run([sys.executable, "-m", "fercnn.cli", "predict", "face.png", "--model", "m.npz", "--no-detect",
                           "--out", "afile"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    one_error_line(done, 2, "afile")  # exactly one line, the error naming the file


def test_models_checkpoints_and_the_fer2013_cache_share_one_writer_and_one_reader(tmp_path):
    from fercnn.data.fer2013 import _read_cache
    from fercnn.fileio import read_arrays
    from fercnn.models.io import read_npz, write_npz
    write_npz(tmp_path / "m.npz", {"format": 1, "note": "hi"}, {"a/b": np.arange(3)})
    meta, entries = read_npz(tmp_path / "m.npz", "test")
    assert meta == {"format": 1, "note": "hi"} and list(entries) == ["a/b"]
    np.testing.assert_array_equal(read_arrays(tmp_path / "m.npz")["a/b"], np.arange(3))
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"^BadZipFile: "):
        read_arrays(tmp_path / "cut.npz")
    with pytest.raises(ValueError, match=r"cut.npz is not a complete fercnn file \(BadZipFile: "):
        load(tmp_path / "cut.npz")
    with pytest.warns(RuntimeWarning, match=r"FER2013 cache .*cut.npz is corrupt \(BadZipFile: .*\); rebuilding"):
        assert _read_cache(str(tmp_path / "cut.npz")) is None
    assert not (tmp_path / "cut.npz").exists()
