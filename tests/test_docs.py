"""The user docs: every generated table is what its script writes today, the pages a
newcomer reads carry no commit hash, date or issue number, and no file holds a merge
conflict's markers."""
import glob
import importlib.util
import os
import re

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_md_and_the_performance_tables_are_what_write_docs_writes():
    write_docs = _script("tools/write_docs.py")
    for path, text in write_docs.documents().items():
        with open(path, encoding="utf-8") as f:
            assert f.read() == text, f"{os.path.relpath(path, ROOT)} is stale: run python tools/write_docs.py"


def test_write_docs_check_names_a_stale_table(tmp_path, monkeypatch):
    write_docs = _script("tools/write_docs.py")
    real = write_docs.documents
    monkeypatch.setattr(write_docs, "documents", lambda: {**real(), os.path.join(ROOT, "README.md"): "changed\n"})
    with pytest.raises(SystemExit, match=r"write_docs: stale: README.md; run python tools/write_docs.py"):
        write_docs.main(["--check"])


def test_every_cli_command_and_option_is_in_cli_md():
    with open(os.path.join(ROOT, "docs", "cli.md"), encoding="utf-8") as f:
        doc = f.read()
    for heading in ("## fercnn train deep", "## fercnn predict", "## fercnn evaluate", "## fercnn gradcheck",
                    "## fercnn exercises start", "## fercnn exercises check"):
        assert heading in doc
    assert "--bn-recalibration" in doc and "--min-face" in doc and "--layers DIR" in doc


def test_the_reproduction_tables_are_what_report_writes():
    report = _script("reproduction/report.py")
    report.main(["--check"])  # SystemExit naming the stale table otherwise


@pytest.mark.parametrize("path", ["README.md", "docs/usage.md", "docs/cli.md"]
                         + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "walkthrough", "*.md"))))
def test_no_commit_hash_date_or_issue_number(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read()
    for what, pattern in (("commit hash", r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b"),
                          ("date", r"\b20\d\d-\d\d-\d\d\b"), ("issue number", r"(?<![\w&])#\d+\b")):
        found = re.findall(pattern, text)
        assert not found, f"{path}: {what} {found[:3]}"


def test_readme_is_short():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        assert len(f.read().splitlines()) <= 200


def test_a_model_card_shows_the_figures_of_the_file_it_describes(tmp_path, monkeypatch):
    from fercnn.models import ConvNet, shipped
    write_docs = _script("tools/write_docs.py")
    model = ConvNet(conv=[{"filters": 2, "kernel": 3, "pool": True}], fc=[], input_shape=(1, 8, 8),
                    num_classes=2, seed=0)
    model.mean_image = np.zeros((1, 8, 8), dtype=np.float32)
    model.class_names = ["calm", "cross"]
    prov = {"run": "toy_run", "epochs": 4, "best_epoch": 3, "resumes": 1, "train_seconds": 5400.0,
            "run_val_accuracy": 0.5, "run_test_accuracy": 0.625, "val_accuracy": 0.5, "test_accuracy": 0.6,
            "val_accuracy_tta": 0.55, "test_accuracy_tta": 0.65,
            "test_confusion": [[3, 1], [3, 3]], "test_confusion_tta": [[4, 0], [3, 3]]}
    path = tmp_path / "toy.npz"
    shipped.write_shipped(model, path, prov)
    monkeypatch.setattr(shipped, "path_of", lambda name: str(path))
    block = write_docs.model_card_block("toy")
    assert "Run `toy_run`: 4 epochs, best validation epoch 3, 1.5 h of training, resumed 1 time." in block
    assert f"{sum(p.size for p in model.params.values()):,} parameters" in block
    assert "| the run's best epoch (3), float32 | 50.00% | 62.50% |" in block
    assert "average of the checkpoints" not in block
    assert "one view | **50.00%** | **60.00%** |" in block
    assert "(`--tta`) | **55.00%** | **65.00%** |" in block
    assert "| calm | **3** | 1 | 4 | 75.0% |" in block      # one view
    assert "| calm | **4** | 0 | 4 | 100.0% |" in block     # averaged
    assert "| cross | 3 | **3** | 6 | 50.0% |" in block
    assert block.endswith("confusions on the test set, one view: cross taken for calm (3 of 6 cross faces); "
                          "calm taken for cross (1 of 4 calm faces).")
    # a file without figures averaged at test time (shipped before it existed): no such row or table
    plain = {k: v for k, v in prov.items() if "tta" not in k}
    shipped.write_shipped(model, path, dict(plain, resumes=0))
    block = write_docs.model_card_block("toy")
    assert "averaged" not in block and "resumed 0 times" in block and block.count("| calm | **3** |") == 1
    shipped.write_shipped(model, path, dict(prov, averaged_epochs=[2, 3, 4]))
    assert "The shipped weights are the average of the checkpoints epochs 2 to 4 ended with" in \
        write_docs.model_card_block("toy")


def test_the_deep_cards_hand_written_tta_figures_are_for_a_file_without_them():
    """usage.md gives the deep card's averaged figures in prose, measured by hand, because the
    shipped file's provenance predates averaging at test time; once a file with them ships,
    its generated block shows them and that prose must go."""
    from fercnn.models import shipped

    with open(os.path.join(ROOT, "docs", "usage.md"), encoding="utf-8") as f:
        doc = f.read()
    if "deep" not in shipped.available():
        pytest.skip("this checkout ships no deep model")
    from fercnn.models import pretrained

    says_predates = "not in this file's provenance, which predates it" in doc
    assert says_predates == ("test_accuracy_tta" not in pretrained("deep").provenance), (
        "docs/usage.md's deep card: the prose about averaged figures no longer matches the shipped file")


CONFLICT_MARKER = re.compile(r"^(<{7} |={7}$|>{7} )", re.MULTILINE)
TEXT_FILES = (".md", ".py", ".sh", ".toml", ".ini", ".cfg", ".txt", ".html", ".js", ".css", ".json")


def test_no_file_holds_merge_conflict_markers():
    """A merge left both sides of a table and its <<<<<<< / ======= / >>>>>>> lines in
    docs/usage.md once, where nothing else noticed them."""
    found, read = [], 0
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("artifacts", "build", "dist", "node_modules")
                   and not d.endswith(".egg-info") and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))]
        for name in files:
            if name.endswith(TEXT_FILES) or name == "run":
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                read += 1
                found += [f"{os.path.relpath(path, ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
                          for m in CONFLICT_MARKER.finditer(text)]
    assert read > 100, f"only {read} files read: the walk missed the project"
    assert not found, "merge conflict markers at " + ", ".join(found)
