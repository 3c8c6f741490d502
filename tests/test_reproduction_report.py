"""reproduction/report.py: run folders to docs/REPRODUCTION.md's tables."""
import importlib.util
import json
import os
import shutil

import numpy as np
import pytest

from fercnn.cli.experiment import parse_args

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("report", os.path.join(ROOT, "reproduction", "report.py"))
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)

REFERENCE = {
    "shallow_sgdm_lr1e-3_reg1e-6": {"val": 0.561, "test": 0.570, "val_curve": [0.4, 0.5],
                                    "per_class_test": {}},
    "deep_sgdm_lr1e-2_reg1e-7": {"val": 0.643, "test": 0.650, "val_curve": [0.43, 0.49],
                                 "per_class_test": {n: 0.5 for n in report.CLASS_NAMES}},
}


def _history(epochs, resumes=()):
    return {"loss": [1.0] * 10, "train_acc": [0.5] * epochs, "val_acc": [0.4 + 0.01 * e for e in range(epochs)],
            "epoch_iterations": list(range(1, epochs + 1)), "best_val_acc": 0.4 + 0.01 * (epochs - 1),
            "best_epoch": epochs, "epochs_run": epochs, "stopped_early": False, "train_seconds": 7200.0,
            "resumes": [{"epoch": e, "iteration": 100 * e} for e in resumes]}


def _args(network, *argv):
    """results.json's "args" of a FER2013 run of network made with these options."""
    return vars(parse_args(network, False, ["--data", "/data", "--out", "/o", *argv]))


def _runs(tmp_path):
    """A finished deep run and a shallow one still going."""
    deep = tmp_path / "deep_fer2013"
    deep.mkdir()
    cm = np.diag([10, 2, 5, 20, 8, 9, 11]) + 1
    (deep / "results.json").write_text(json.dumps({
        "args": _args("deep", "--lr-decay", "0.9"), "epochs": 35, "epochs_run": 35, "best_epoch": 30, "val_accuracy": 0.641, "test_accuracy": 0.6523,
        "test_confusion": cm.tolist(), "resumes": [{}], "train_seconds": 1.0}))
    (deep / "history.json").write_text(json.dumps(_history(35, resumes=(3,))))
    (tmp_path / "shallow_fer2013" / "checkpoints").mkdir(parents=True)
    (tmp_path / "shallow_fer2013" / "checkpoints" / "history.json").write_text(json.dumps(_history(4)))
    return cm


def test_tables_from_finished_and_unfinished_runs(tmp_path):
    cm = _runs(tmp_path)
    runs = {n: r for n in report.RUNS if (r := report.read_run(str(tmp_path / f"{n}_fer2013")))}
    assert set(runs) == {"deep", "shallow"} and runs["deep"]["finished"] and not runs["shallow"]["finished"]
    table = report.results_table(runs, REFERENCE).splitlines()
    assert table[2].startswith("| shallow | 55.0 / 54.0 | 53.0 / 52.9 | 56.1 / 57.0 | 43.0 / – | unfinished: 4 of 35")
    assert table[3].startswith("| deep | 65.0 / 64.0 | 60.2 / 62.8 | 64.3 / 65.0 | **64.1 / 65.2** | 35 of 35")
    assert table[4].startswith("| hybrid |") and "not started" in table[4]
    per_class = report.per_class_table(runs["deep"], REFERENCE).splitlines()
    disgust = per_class[3].split(" | ")
    assert disgust[0] == "| disgust" and disgust[1] == "70" and disgust[3] == f"{100 * 3 / cm[1].sum():.1f}"
    assert report.runs_table(runs).splitlines()[2] == "| shallow | 4 (unfinished) | 2.0 h | 0 times | – |"


def _finished(folder, args, epochs=35):
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({
        "args": args, "epochs": epochs, "epochs_run": epochs, "best_epoch": 33, "val_accuracy": 0.555,
        "test_accuracy": 0.561, "test_confusion": np.eye(7).tolist(), "resumes": [], "train_seconds": 1.0}))
    (folder / "history.json").write_text(json.dumps(_history(epochs)))


def test_improvements_get_their_own_rows_labelled_by_what_they_change(tmp_path):
    _runs(tmp_path)
    # started with --epochs 50, resumed without it (args keep the last command: epochs None);
    # --min-face acts only on photo folders, --resume and --checkpoint-every only on keeping
    _finished(tmp_path / "shallow_nodecay_fer2013", _args(
        "shallow", "--resume", "--checkpoint-every", "100", "--lr-decay", "1", "--conv-dropout", "0.25",
        "--augment-flip", "--min-face", "64", "--weight-init", "uniform"), epochs=50)
    # against the finished deep recipe run's own options (its --lr-decay 0.9), not today's defaults
    _finished(tmp_path / "deep_fc4_fer2013", _args("deep", "--lr-decay", "0.9", "--fc-dropout", "0.4"))
    (tmp_path / "deep_wider_fer2013" / "checkpoints").mkdir(parents=True)  # unfinished
    (tmp_path / "deep_wider_fer2013" / "checkpoints" / "history.json").write_text(json.dumps(_history(2)))
    (tmp_path / "hybrid_x_fer2013" / "checkpoints").mkdir(parents=True)  # started, no epoch done
    (tmp_path / "hybrid_x_fer2013" / "checkpoints" / "history.json").write_text(json.dumps(
        {**_history(0), "best_val_acc": -1.0, "best_epoch": 0}))
    (tmp_path / "hybrid_shallow_fer2013" / "checkpoints").mkdir(parents=True)  # the hybrid's default folder name
    (tmp_path / "hybrid_shallow_fer2013" / "checkpoints" / "history.json").write_text(json.dumps(_history(3)))
    (tmp_path / "shallow_fer2013.log").write_text("")  # not a run folder
    (tmp_path / "linear_x_fer2013").mkdir()  # not one of the paper's networks

    runs, extras = report.read_runs(str(tmp_path))
    assert set(runs) == {"deep", "shallow", "hybrid"} and runs["hybrid"]["history"]["epochs_run"] == 3
    assert [(network, tag) for network, tag, _ in extras] == [
        ("deep", "fc4"), ("deep", "wider"), ("hybrid", "x"), ("shallow", "nodecay")]
    table = report.results_table(runs, REFERENCE, extras).splitlines()
    assert len(table) == 2 + 5 + 4  # the five recipe rows stay, in their places
    assert table[4].startswith("| hybrid | – / – | – / – | – | 42.0 / – | unfinished: 3 of 35 epochs done")
    assert table[5].startswith("| deep_hybrid | – / – | – / – | – | – | not started")
    assert table[6].startswith("| vgg | – / – | – / – | – | – | not started")
    table = table[:6] + table[7:]
    assert table[6].startswith("| deep: --fc-dropout 0.4 (improvement, chosen on validation) | | | | **55.5 / 56.1** |")
    assert table[7] == ("| deep: 'wider', unfinished (improvement, chosen on validation) | | | | 41.0 / – | "
                        "unfinished: 2 epochs done (validation so far, best epoch 2) |")
    assert table[8] == "| hybrid: 'x', unfinished (improvement, chosen on validation) | | | | – | unfinished: no epoch done yet |"
    assert table[9] == ("| shallow: --augment-flip, --conv-dropout 0.25, --epochs 50, --lr-decay 1, --weight-init uniform "
                        "(improvement, chosen on validation) | | | | **55.5 / 56.1** | 50 of 50 epochs, best epoch 33 |")
    assert report.runs_table(runs, extras).splitlines()[-1] == "| shallow_nodecay | 50 | 2.0 h | 0 times | – |"
    same = report.run_options(json.loads((tmp_path / "deep_fer2013" / "results.json").read_text()))
    assert report.recipe_changes(same, report.recipe_options("deep", runs["deep"])) == "the recipe's options"
    # where a run was kept, or whether its folder could be replaced, is not a change of recipe
    results = json.loads((tmp_path / "deep_fer2013" / "results.json").read_text())
    results["args"] = {**results["args"], "overwrite": not results["args"].get("overwrite"), "out": "elsewhere"}
    assert report.recipe_changes(report.run_options(results), report.recipe_options("deep", runs["deep"])) == \
        "the recipe's options"


def test_main_prints_writes_only_when_asked_and_fills_both_documents_or_neither(tmp_path, capsys):
    _runs(tmp_path)
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps(REFERENCE))
    doc, readme, summary = tmp_path / "docs" / "REPRODUCTION.md", tmp_path / "README.md", tmp_path / "runs.json"
    doc.parent.mkdir()
    blocks = "".join(f"<!-- begin:{n} -->\nold\n<!-- end:{n} -->\n"
                     for n in ("results", "per-class", "runs", "past-the-paper", "sweep-fer2013", "ablation"))
    doc.write_text("# report\n" + blocks)
    readme.write_text("# readme\n")  # no results block
    argv = ["--runs", str(tmp_path), "--reference", str(reference), "--doc", str(doc), "--readme", str(readme),
            "--summary", str(summary)]
    with pytest.raises(ValueError, match="README.md has no <!-- begin:results -->"):
        report.main(argv + ["--write"])
    assert "old" in doc.read_text()  # neither file written, and no figure drawn
    assert not (doc.parent / "reproduction").exists() and not summary.exists()
    readme.write_text("# readme\n<!-- begin:results -->\n<!-- end:results -->\n")
    report.main(argv)  # without --write: printed only
    results = report.results_table(*report.read_runs(str(tmp_path))[:1], REFERENCE)
    assert results in capsys.readouterr().out
    assert "old" in doc.read_text() and not summary.exists()
    report.main(argv + ["--write"])
    assert readme.read_text() == f"# readme\n<!-- begin:results -->\n{results}\n<!-- end:results -->\n"
    assert "old" not in doc.read_text() and results in doc.read_text()
    assert (doc.parent / "reproduction" / "curves.png").stat().st_size > 0
    assert (doc.parent / "reproduction" / "past_the_paper.png").stat().st_size > 0
    assert (doc.parent / "reproduction" / "confusion_deep.png").stat().st_size > 0
    # the summary alone, with the run folders gone, gives the same tables
    for entry in ("deep_fer2013", "shallow_fer2013"):
        shutil.rmtree(tmp_path / entry)
    report.main(["--check", "--reference", str(reference), "--doc", str(doc), "--readme", str(readme),
                 "--summary", str(summary)])
    kept = json.loads(summary.read_text())["runs"]["deep"]
    assert kept["results"]["test_per_class"]["disgust"] == [3, int(np.sum(np.diag([10, 2, 5, 20, 8, 9, 11])[1] + 1))]
    readme.write_text(readme.read_text().replace("**64.1 / 65.2**", "**64.2 / 65.2**"))
    with pytest.raises(SystemExit, match=r"tables differ from what reproduction/runs.json and sweep_fer2013.json make .*README.md: results"):
        report.main(["--check", "--reference", str(reference), "--doc", str(doc), "--readme", str(readme),
                     "--summary", str(summary)])
    with pytest.raises(SystemExit, match="no run folders"):
        report.main(["--runs", str(tmp_path / "empty"), "--reference", str(reference), "--doc", str(doc),
                     "--readme", str(readme), "--summary", str(summary)])


def test_the_committed_reference_is_the_one_compared_against():
    # the PyTorch column of the committed tables comes from the committed reference runs
    with open(report.REFERENCE) as f:
        reference = json.load(f)
    runs, _ = report.read_summary(report.SUMMARY)
    deep = reference["deep_sgdm_lr1e-2_reg1e-7"]
    cell = f"| {100 * deep['val']:.1f} / {100 * deep['test']:.1f} |"
    row = next(r for r in report.results_table(runs, reference).splitlines() if r.startswith("| deep |"))
    assert cell in row, (cell, row)
    with open(os.path.join(ROOT, "docs", "REPRODUCTION.md")) as f:
        assert row in f.read()


def test_fill_replaces_only_the_marked_blocks():
    doc = "intro\n<!-- begin:a -->\nold\n<!-- end:a -->\nmiddle\n<!-- begin:b -->\n<!-- end:b -->\nend\n"
    assert report.fill(doc, {"a": "new", "b": "x\ny"}) == (
        "intro\n<!-- begin:a -->\nnew\n<!-- end:a -->\nmiddle\n<!-- begin:b -->\nx\ny\n<!-- end:b -->\nend\n")
    with pytest.raises(ValueError, match="has no <!-- begin:c --> ... <!-- end:c --> block"):
        report.fill(doc, {"c": "z"})


def test_the_document_has_every_block(tmp_path):
    with open(os.path.join(ROOT, "docs", "REPRODUCTION.md")) as f:
        doc = f.read()
    filled = report.fill(doc, {"results": "R", "per-class": "P", "runs": "U", "past-the-paper": "T", "ablation": "A"})
    assert (filled.count("\nR\n") == filled.count("\nP\n") == filled.count("\nU\n") == filled.count("\nT\n")
            == filled.count("\nA\n") == 1)
    with open(os.path.join(ROOT, "README.md")) as f:
        assert report.fill(f.read(), {"results": "R"}, "README.md").count("\nR\n") == 1


def test_an_unfinished_run_is_out_of_the_epochs_its_checkpoint_plans(tmp_path):
    """A run set to 60 epochs (the vgg run) reads 'of 60', from its newest checkpoint's meta."""
    checkpoints = tmp_path / "vgg_fer2013" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "history.json").write_text(json.dumps(_history(5, resumes=[4])))
    for name, planned in (("epoch001_iter0000200.npz", 40), ("epoch005_iter0001100.npz", 60)):
        np.savez(checkpoints / name, meta=np.array(json.dumps({"checkpoint": {"num_epochs": planned}})))
    run = report.read_run(str(tmp_path / "vgg_fer2013"))
    assert run["planned_epochs"] == 60
    summary = report.summarize(run)
    assert summary["planned_epochs"] == 60  # kept in runs.json, so the table holds without the folder
    table = report.results_table({"vgg": summary}, REFERENCE).splitlines()
    assert "| vgg |" in table[-1] and "unfinished: 5 of 60 epochs done" in table[-1]
    assert report.runs_table({"vgg": summary}).splitlines()[2].endswith("| 1 time | (4, 400) |")
    # the "Past the paper" figure: vgg so far, its train curve, an ablation run and the deep recipe
    _runs(tmp_path)
    deep = report.summarize(report.read_run(str(tmp_path / "deep_fer2013")))
    noaug = {**report.summarize(report.read_run(str(tmp_path / "vgg_fer2013"))), "planned_epochs": 30}
    fig = report.plot_past_the_paper({"vgg": summary, "deep": deep, "deep_hybrid": deep}, REFERENCE,
                                     str(tmp_path / "p.png"), [("vgg", "noaug", noaug), ("deep", "other", deep)])
    lines, labels = fig.axes[0].get_legend_handles_labels()
    assert labels == ["fercnn vgg: validation, 5 of 60 epochs", "fercnn vgg: train (1,000 drawn)",
                      "fercnn deep recipe: validation", "fercnn deep hybrid (HOG), deep recipe: validation",
                      "fercnn vgg, noaug: validation, 5 of 30 epochs", "PyTorch deep recipe: validation"]
    assert list(lines[0].get_ydata()) == [100 * v for v in _history(5)["val_acc"]]
    assert fig.axes[0].get_xlim() == (0, 61) and (tmp_path / "p.png").stat().st_size > 0


def _vgg_run(folder, args, raw, seed, **results):
    """A finished 'vgg' run in folder: a tiny network's model.npz and the results.json that
    reports its one-view predictions on raw."""
    from fercnn.metrics import confusion_matrix
    from fercnn.models import ConvNet

    model = ConvNet(conv=[{"filters": 2, "kernel": 3, "pool": True}], fc=[], input_shape=(1, 48, 48), num_classes=7,
                    seed=seed)
    model.mean_image = np.full((1, 48, 48), 120, dtype=np.float32)
    model.augmentation = {"shift": args.get("augment_shift", 0)}
    folder.mkdir(exist_ok=True)
    model.save(str(folder / "model.npz"))
    out = {"args": args, "epochs": 60, "epochs_run": 21, "best_epoch": 11, "resumes": [], "train_seconds": 1.0,
           "stopped_early": False}
    for s in ("val", "test"):
        labels = model.predict(model.prepare(raw[f"X_{s}"]))
        out[f"{s}_accuracy"] = float(np.mean(labels == raw[f"y_{s}"]))
        out[f"{s}_confusion"] = confusion_matrix(raw[f"y_{s}"], labels, 7).tolist()
    (folder / "results.json").write_text(json.dumps({**out, **results}))
    (folder / "history.json").write_text(json.dumps(_history(21)))
    return model


def test_tta_scores_each_finished_vgg_run_once_and_fills_the_ablation_table(tmp_path, monkeypatch):
    from fercnn.models.tta import predict_proba_tta

    rng = np.random.default_rng(1)
    raw = {f"{k}_{s}": v for s in ("val", "test") for k, v in
           (("X", rng.integers(0, 256, (30, 48, 48)).astype(np.uint8)), ("y", rng.integers(0, 7, 30)))}
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    full = vars(parse_args("vgg", False, ["--data", "/d", "--out", "/o", "--no-flip-double", "--augment-flip",
                                          "--augment-shift", "4", "--augment-erase", "0.5"]))
    models = {"vgg": _vgg_run(runs_dir / "vgg_fer2013", full, raw, 0),
              "vgg_noaug": _vgg_run(runs_dir / "vgg_noaug_fer2013", dict(full, augment_shift=0, augment_erase=0),
                                    raw, 1, stopped_early=True)}
    loads = []
    monkeypatch.setattr("fercnn.data.load_fer2013", lambda path, cache_dir=None: loads.append(path) or raw)
    found, extras = report.read_runs(str(runs_dir))
    report.tta_runs(str(runs_dir), found, extras, "/fer2013")
    assert loads == ["/fer2013"]
    for name, model in models.items():
        kept = json.loads((runs_dir / f"{name}_fer2013" / "tta.json").read_text())
        assert kept["views"] == (10 if name == "vgg" else 2)
        for s in ("val", "test"):
            want = np.mean(predict_proba_tta(model, model.prepare(raw[f"X_{s}"])).argmax(axis=1) == raw[f"y_{s}"])
            assert kept[f"{s}_accuracy_tta"] == want
    found, extras = report.read_runs(str(runs_dir))  # read back from tta.json; nothing scored again
    report.tta_runs(str(runs_dir), found, extras, "/fer2013")
    assert loads == ["/fer2013"]
    rows = [line for line in report.results_table(found, REFERENCE, extras).splitlines() if line.startswith("| vgg: ")]
    assert len(rows) == 1 and rows[0].startswith("| vgg: --augment-erase 0, --augment-shift 0 (ablation) |")
    summary = report.summarize(found["vgg"])
    table = report.ablation_table({"vgg": summary}, [(n, t, report.summarize(r)) for n, t, r in extras]).splitlines()
    tta, r = summary["results"]["tta"], summary["results"]
    assert table[2] == (f"| vgg | mirror, shift 4, erase 0.5 | 21 (11) | {report.pct(r['val_accuracy'])} "
                        f"| {report.pct(r['test_accuracy'])} | {report.pct(tta['val_accuracy_tta'])} (10 views) | "
                        f"{report.pct(tta['test_accuracy_tta'])} (10 views) |")
    assert table[3].startswith("| vgg_noaug | mirror | 21 of 60, stopped early (11) |") and "(2 views)" in table[3]
    # a new model.npz (--resume --epochs N, --overwrite): its old tta.json no longer counts
    _vgg_run(runs_dir / "vgg_fer2013", full, raw, 5)
    found, extras = report.read_runs(str(runs_dir))
    assert "tta" not in found["vgg"]["results"] and "tta" in extras[0][2]["results"]
    report.tta_runs(str(runs_dir), found, extras, "/fer2013")
    assert loads == ["/fer2013"] * 2 and "tta" in report.read_runs(str(runs_dir))[0]["vgg"]["results"]
    # a model.npz that does not predict what the run reported is refused, and nothing is kept
    other = runs_dir / "vgg_other_fer2013"
    _vgg_run(other, full, raw, 2)
    results = json.loads((other / "results.json").read_text())
    results["val_confusion"][0][0] += 1
    (other / "results.json").write_text(json.dumps(results))
    with pytest.raises(SystemExit, match="does not predict on val what its results.json says .* the run trained on "
                                         "/d, --tta gave /elsewhere"):
        report.score_tta(str(other), raw, "/elsewhere")
    assert not (other / "tta.json").exists()


def test_tta_needs_run_folders(capsys):
    for argv in (["--tta", "/fer2013"], ["--cache-dir", "/c"]):
        with pytest.raises(SystemExit):
            report.main(argv)
        assert "--tta and --cache-dir score run folders: they need --runs" in capsys.readouterr().err


def test_the_shipped_accuracy_network_gets_its_rows_from_its_provenance():
    prov = {"best_epoch": 52, "val_accuracy": 0.671, "test_accuracy": 0.6843, "val_accuracy_tta": 0.68,
            "test_accuracy_tta": 0.6951}
    rows = report.past_the_paper_table({}, prov).splitlines()
    mine = [r for r in rows if "as shipped" in r]
    assert mine == [
        "| fercnn, the accuracy network as shipped (`pretrained(\"vgg\")`: epoch 52, float16), one view | **68.4** | "
        "67.1 | the file's provenance (fercnn/models/weights/vgg.npz) |",
        "| fercnn, the accuracy network as shipped (`pretrained(\"vgg\")`: epoch 52, float16), averaged at test time "
        "(`--tta`) | **69.5** | 68.0 | the file's provenance (fercnn/models/weights/vgg.npz) |"]
    averaged = report.past_the_paper_table({}, dict(prov, averaged_epochs=[56, 57, 58, 59, 60]))
    assert "weights of epochs 56-60 averaged, float16" in averaged
    assert "as shipped" not in report.past_the_paper_table({}, None)
