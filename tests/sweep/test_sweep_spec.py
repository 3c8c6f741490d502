"""A sweep's spec is checked whole before anything starts: each bad input gets one 'error:'
line naming the problem and exit status 2, and no folder, Ray or trial is started. These
tests need no Ray (the unreachable address is refused before Ray is imported)."""
import os
import re
import socket
import subprocess
import sys

import pytest
from sweep_helpers import TINY_TOML, tiny_spec

from fercnn.cli import main
from fercnn.models import deep_spec, shallow_spec, vgg_spec
from fercnn.models.convnet import WEIGHT_INITS
from fercnn.sweep import read_spec
from fercnn.sweep import spec as spec_module
from fercnn.sweep.network import PRESETS, blocks, describe
from fercnn.train.optim import RULES


class _Done:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _sweep(capsys, *argv):
    """`fercnn sweep ARGV` in this process: its exit status and what it printed."""
    with pytest.raises(SystemExit) as e:
        main(["sweep", *argv])
    captured = capsys.readouterr()
    return _Done(e.value.code, captured.out, captured.err)


def _cli(tmp_path, capsys, toml, *args):
    path = tmp_path / "spec.toml"
    path.write_text(toml)
    out = tmp_path / "out"
    done = _sweep(capsys, str(path), "--out", str(out), *args)
    assert not _ray_started(), "a bad input started Ray"
    return done, out


def _ray_started():
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("[recipe]", "[recipe]\nlearning_rate = 0.1"),
     r"spec.toml: \[recipe\]: unknown key learning_rate; valid keys are augment_erase, augment_flip, "),
    (lambda t: t + "\n[optimizer]\nlr = 1\n",
     r"spec.toml: unknown key optimizer; valid keys are data, early_stopping, name, network, recipe, search"),
    (lambda t: t.replace("epochs = 3", "epochs = \"three\""),
     r"spec.toml: recipe.epochs: expected an integer >= 1, got 'three'"),
    (lambda t: t.replace("conv_filters = 4", "conv_filters = 4.5"),
     r"spec.toml: network.conv_filters: expected an integer >= 1, or a list of them \(one per block\), got 4.5"),
    (lambda t: t.replace("lr = {grid = [0.003, 0.01]}", "lr = {grid = [0.003, \"fast\"]}"),
     r"spec.toml: recipe.lr.grid\[1\]: expected a number > 0, got 'fast'"),
    (lambda t: t.replace("lr = {grid = [0.003, 0.01]}", "lr = {grid = []}"),
     r"spec.toml: recipe.lr: the grid is empty; give at least one value"),
    (lambda t: t.replace("conv_blocks = {grid = [1, 2]}", "conv_blocks = 1").replace(
        "lr = {grid = [0.003, 0.01]}", "lr = 0.01"),
     r"spec.toml: the search space is empty: nothing in \[network\] or \[recipe\] is swept"),
    (lambda t: t.replace("lr = {grid = [0.003, 0.01]}", "lr = {uniform = [0.01, 0.001]}").replace(
        "[search]", "[search]\nalgorithm = \"random\""),
     r"spec.toml: recipe.lr: the uniform range \[0.01, 0.001\] is empty; low must be below high"),
    (lambda t: t.replace("conv_blocks = {grid = [1, 2]}", "conv_blocks = {grid = [1, 6]}"),
     r"spec.toml: \[network\]: conv block 5: 2x2 pooling needs even height and width, got 3x3 "
     r"\(with conv_blocks = 6\)"),
    (lambda t: t.replace("lr = {grid = [0.003, 0.01]}", "lr = {loguniform = [0.001, 0.01]}").replace(
        "[search]", "[search]\nalgorithm = \"grid\""),
     r"spec.toml: search.algorithm \"grid\" takes grid values only, but recipe.lr \(loguniform\) is drawn"),
    (lambda t: t.replace("epochs = 3", "epochs = 3\nnesterov = true"),
     r"spec.toml: recipe.nesterov: Nesterov momentum needs update_rule \"sgd_momentum\", and the search can take "
     r"'adam'"),
    (lambda t: t.replace("epochs = 3", "epochs = 3\nlr_schedule = {grid = [\"decay\", \"cosine\"]}\nlr_decay = 0.9"),
     r"spec.toml: recipe.lr_decay: 0.9 and lr_schedule 'cosine' would both change the learning rate"),
    (lambda t: t.replace("epochs = 3", "epochs = 3\naugment_shift = 30"),
     r"spec.toml: recipe.augment_shift: expected an integer in \[0, 24\], got 30"),
    (lambda t: t.replace("source = \"synthetic\"", "source = \"fer2013\""),
     r"spec.toml: data.path: source = \"fer2013\" needs the path of the faces"),
    (lambda t: t.replace("source = \"synthetic\"", "source = \"fer2013\"\npath = \"$FERCNN_TEST_UNSET_PATH\""),
     r"spec.toml: data.path: \$FERCNN_TEST_UNSET_PATH names the environment variable FERCNN_TEST_UNSET_PATH, "
     r"which is not set"),
])
def test_a_bad_spec_is_one_error_line_exit_2_and_starts_nothing(tmp_path, capsys, edit, message):
    proc, out = _cli(tmp_path, capsys, edit(TINY_TOML))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert re.search(message, lines[0]), lines[0]
    assert proc.stdout == "" and not out.exists()


def test_an_unreachable_address_is_one_error_line_and_starts_nothing(tmp_path, capsys):
    port = _free_port()  # nothing listens there
    proc, out = _cli(tmp_path, capsys, TINY_TOML, "--address", f"127.0.0.1:{port}")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: sweep: --address 127.0.0.1:{port}: no Ray cluster answers there (")
    assert proc.stderr.count("\n") == 1 and f"ray start --head --port {port}" in proc.stderr
    assert proc.stdout == "" and not out.exists()
    proc, out = _cli(tmp_path, capsys, TINY_TOML, "--address", "headnode")
    assert proc.returncode == 2 and "--address must be HOST:PORT" in proc.stderr and not out.exists()


def test_a_spec_file_that_is_not_toml_or_not_there(tmp_path, capsys):
    proc, out = _cli(tmp_path, capsys, "name = [unclosed\n")
    assert proc.returncode == 2 and "not valid TOML" in proc.stderr and proc.stderr.count("\n") == 1
    proc = _sweep(capsys, str(tmp_path / "none.toml"))
    assert proc.returncode == 2 and proc.stderr == f"error: {tmp_path / 'none.toml'}: no such file\n"


def test_an_out_folder_with_a_sweep_needs_resume_and_resume_needs_the_same_spec(tmp_path):
    from fercnn.sweep.runner import _check_out

    spec = read_spec(tiny_spec())
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="holds no sweep to continue"):
        _check_out(str(out), spec, resume=True)
    out.mkdir()
    (out / "spec.json").write_text(__import__("json").dumps(spec))
    with pytest.raises(ValueError, match="already holds a sweep; continue it with --resume"):
        _check_out(str(out), spec, resume=False)
    _check_out(str(out), spec, resume=True)
    other = tiny_spec()
    other["recipe"]["epochs"] = 4
    with pytest.raises(ValueError, match=r"the spec differs .*: recipe.epochs was 3, is now 4"):
        _check_out(str(out), read_spec(other), resume=True)


def test_a_data_path_takes_the_home_folder_and_environment_variables(monkeypatch):
    monkeypatch.setenv("FERCNN_TEST_FACES", "/somewhere/fer2013")
    given = tiny_spec()
    given["data"].update(source="fer2013", path="$FERCNN_TEST_FACES", cache_dir="~/cache")
    data = read_spec(given)["data"]
    assert data["path"] == "/somewhere/fer2013"
    assert data["cache_dir"] == os.path.join(os.path.expanduser("~"), "cache")
    monkeypatch.setenv("FERCNN_TEST_FACES", "/odd/$dir")  # a value is used as it is, "$" and all
    given["data"].update(path="${FERCNN_TEST_FACES}/fer2013", cache_dir="/cost$5")
    data = read_spec(given)["data"]
    assert data["path"] == "/odd/$dir/fer2013" and data["cache_dir"] == "/cost$5"  # "$5" names no variable


def test_defaults_and_the_algorithm_the_values_imply():
    spec = read_spec(tiny_spec())
    assert spec["search"]["algorithm"] == "grid" and spec["search"]["threads_per_trial"] == 1
    assert spec["recipe"]["momentum"] == 0.9 and spec["data"]["seed"] == 0
    assert spec_module.grid_size(spec) == 4 and spec_module.max_epochs(spec) == 3
    drawn = tiny_spec()
    drawn["recipe"]["lr"] = {"loguniform": [1e-3, 1e-2]}
    drawn["recipe"]["epochs"] = {"randint": [2, 5]}
    drawn["search"]["samples"] = 3
    spec = read_spec(drawn)
    assert spec["search"]["algorithm"] == "random" and spec_module.grid_size(spec) == 6
    assert spec_module.max_epochs(spec) == 5
    assert [(s, k, f) for s, k, f in spec_module.swept(spec)] == [
        ("network", "conv_blocks", "grid"), ("recipe", "lr", "loguniform"), ("recipe", "epochs", "randint")]


def test_the_lists_of_names_match_the_library():
    assert spec_module.UPDATE_RULES == tuple(sorted(RULES))
    assert spec_module.WEIGHT_INITS == WEIGHT_INITS


def test_the_presets_are_the_papers_networks():
    for name, spec in (("shallow", shallow_spec()), ("deep", deep_spec()), ("vgg", vgg_spec())):
        assert blocks({"preset": name}) == {"conv": spec["conv"], "fc": spec["fc"]}
    assert blocks({"preset": "linear"}) == {"conv": [], "fc": []}
    assert all(set(p) == set(spec_module.NETWORK) - {"preset"} for p in PRESETS.values())
    assert describe(blocks({"preset": "vgg"})) == ("conv 64-64p-128-128p-256-256p-512-512p 3x3 BN drop 0,0.2,0,0.2,0,0.2,"
                                                  "0,0.2 | fc 512-512 BN drop 0.5")


def test_blocks_from_a_few_numbers():
    b = blocks({"conv_blocks": 3, "conv_filters": 8, "conv_kernel": [3, 5, 3], "conv_pool": "each", "fc_blocks": 2,
                "fc_units": [64, 32], "fc_dropout": 0.3})
    assert [c["filters"] for c in b["conv"]] == [8, 16, 32] and [c["kernel"] for c in b["conv"]] == [3, 5, 3]
    assert all(c["pool"] for c in b["conv"]) and [f["units"] for f in b["fc"]] == [64, 32]
    assert describe(b) == "conv 8p-16p-32p 3x3,5x5,3x3 BN drop 0.2 | fc 64-32 drop 0.3"
    deeper = blocks({"preset": "deep", "conv_blocks": 2, "fc_blocks": 1})  # the first of each list
    assert [c["filters"] for c in deeper["conv"]] == [64, 128] and [f["units"] for f in deeper["fc"]] == [256]
    with pytest.raises(ValueError, match=r"network.conv_kernel: 4 blocks need 4 values, the list has 2"):
        blocks({"conv_blocks": 4, "conv_filters": 8, "conv_kernel": [3, 5]})
    assert describe(blocks({"preset": "linear"})) == "linear (softmax on pixels)"


def test_importing_the_sweep_package_imports_no_ray():
    code = "import sys, fercnn.sweep, fercnn.cli.sweep; print('ray' in sys.modules, 'numba' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert proc.stdout.split() == ["False", "False"], proc.stderr


def test_the_fer2013_example_spec_is_valid_and_reads_its_path_from_the_environment(monkeypatch):
    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "sweep_fer2013.toml")
    monkeypatch.setenv("FER2013_PATH", "/data/fer2013")
    spec = read_spec(path)
    assert spec["data"]["path"] == "/data/fer2013" and spec["data"]["train"] == 6000
    assert spec_module.grid_size(spec) == 12 and spec_module.max_epochs(spec) == 6
    monkeypatch.delenv("FER2013_PATH")
    with pytest.raises(ValueError, match="names the environment variable FER2013_PATH, which is not set"):
        read_spec(path)
