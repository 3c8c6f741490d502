"""Memory is part of the contract: under an address-space limit (RLIMIT_AS, set in the child
process), a file that claims more than the limit allows is one error line, not a MemoryError
traceback, and the good inputs beside it are still answered.

The oversized inputs are the ones the issue found: a model file whose spec asks for an FC
layer of a million units (2.3 G parameters, 9.2 GB of float32), .npz entries that inflate to
4 GiB (an extra entry and a mean image), and a 13000x13000 photo (169 M pixels, 507 MB
decoded) in a file of two megabytes. Each child's peak resident memory is printed (pytest -s).
"""
import json
import os
import resource
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from fercnn.models import ConvNet

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status")
LIMIT = 3 << 30  # bytes of address space; a normal `fercnn predict` peaks near 0.8 GiB of it (2 threads)
THREADS = {"NUMBA_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MALLOC_ARENA_MAX": "2"}


def _limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


# The child reports its own peak resident memory (VmHWM) as it exits. Its ru_maxrss would not
# do: Linux carries ru_maxrss across exec, so a child forked from a large pytest process
# reports the parent's size.
PEAK = """
import atexit, os, runpy, sys
def peak():
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    with open(os.environ["FERCNN_TEST_PEAK"], "w") as f:
        f.write(str(kib))
atexit.register(peak)
target, sys.argv = sys.argv[1], sys.argv[1:]
if target.endswith(".py"):
    runpy.run_path(target, run_name="__main__")
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def _run_limited(target, args, cwd, timeout=300):
    """(exit status, stdout, stderr, peak resident MiB) of ``python target args`` (a module
    or a script) run under LIMIT."""
    out, err, peak = cwd / ".stdout", cwd / ".stderr", cwd / ".peak"
    env = {**os.environ, **THREADS, "FERCNN_TEST_PEAK": str(peak)}
    with open(out, "w") as o, open(err, "w") as e:
        done = subprocess.run([sys.executable, "-c", PEAK, target, *args], stdout=o, stderr=e, cwd=cwd, env=env,
                              preexec_fn=_limit_address_space, timeout=timeout)
    mib = int(peak.read_text()) / 1024
    print(f"\n{target} {' '.join(args)}: exit {done.returncode}, peak RSS {mib:.0f} MiB")
    return done.returncode, out.read_text(), err.read_text(), mib


def _model(input_side=48, units=4):
    model = ConvNet(conv=[{"filters": 2, "kernel": 3, "batchnorm": True, "pool": True}], fc=[{"units": units}],
                    input_shape=(1, input_side, input_side), num_classes=7, seed=0)
    model.mean_image = np.full((1, input_side, input_side), 100, np.float32)
    return model


def _stored(name, payload):
    """A zip entry (name, method 0, crc, compressed chunks, size) holding ``payload`` as is."""
    return name, 0, zlib.crc32(payload), [payload], len(payload)


def _inflating(name, header, zeros):
    """A deflated zip entry of ``header`` and then ``zeros`` zero bytes: a few MB that inflate
    to ``zeros`` bytes. Built from one compressed block of 64 MiB of zeros repeated (each
    block ends in a full flush, so the copies stand alone), so it takes seconds, not the
    minute zlib would spend compressing 4 GiB."""
    chunk = 64 << 20
    assert zeros % chunk == 0
    def raw():
        return zlib.compressobj(9, zlib.DEFLATED, -15)
    c = raw()
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    c = raw()
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    crc, zero_chunk = zlib.crc32(header), bytes(chunk)
    for _ in range(zeros // chunk):
        crc = zlib.crc32(zero_chunk, crc)
    return name, 8, crc, [head] + [block] * (zeros // chunk) + [raw().flush()], len(header) + zeros


def _write_zip64(path, entries):
    """A zip file of ``entries`` (name, method, crc, chunks, size), every size in zip64 fields."""
    with open(path, "wb") as f:
        central = []
        for name, method, crc, chunks, size in entries:
            offset, packed = f.tell(), sum(len(c) for c in chunks)
            extra = struct.pack("<HHQQ", 1, 16, size, packed)
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                len(name), len(extra)) + name.encode() + extra)
            for c in chunks:
                f.write(c)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0x21, crc,
                                       0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, offset)
                           + name.encode() + extra)
        start = f.tell()
        f.write(b"".join(central))
        end = f.tell()
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), end - start,
                            start))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), end - start, start, 0))


def _npy(array):
    """The bytes of ``array`` as a .npy file."""
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npy_header(shape, dtype):
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                  "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _model_entries(model, **replace):
    meta, arrays = model.state_dict()
    meta.pop("rng")
    entries = {"meta": _npy(np.array(json.dumps(meta))), **{k: _npy(v) for k, v in arrays.items()}}
    entries.update(replace)
    return entries


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("oversized")
    model = _model()
    model.save(d / "good.npz")
    Image.fromarray(skdata.astronaut()).save(d / "astronaut.jpg", quality=95)
    # a spec that claims an FC layer of a million units: 2.3 G parameters, 9.2 GB of float32
    huge = ConvNet(conv=[], fc=[{"units": 4}], input_shape=(1, 48, 48), num_classes=7)
    huge.mean_image = np.zeros((1, 48, 48), np.float32)
    meta, arrays = huge.state_dict()
    meta.pop("rng")
    meta["spec"] = dict(meta["spec"], fc=[dict(meta["spec"]["fc"][0], units=1_000_000)])
    np.savez(d / "huge_spec.npz", meta=np.array(json.dumps(meta)), **arrays)
    # entries that inflate to 4 GiB: the same stream under two names, an extra entry and the mean image
    header = _npy_header((1, 32768, 32768), np.float32)
    stream = _inflating("x", header, 4 << 30)
    for name, entry in (("inflating_extra.npz", "extra.npy"), ("inflating_mean.npz", "mean_image.npy")):
        small = [_stored(f"{k}.npy", v) for k, v in _model_entries(model).items() if f"{k}.npy" != entry]
        _write_zip64(d / name, small + [(entry, *stream[1:])])
    # a 13000x13000 photo: 169 M pixels (507 MB decoded, 4 GB as float64 grey) in a small PNG
    Image.new("RGB", (13000, 13000), (120, 90, 60)).save(d / "huge.png", compress_level=1)
    return d


def test_the_inflating_files_are_what_they_claim(inputs):
    """The hand-made zip64 files are real: Python's zipfile inflates the entry to 4 GiB."""
    import zipfile
    with zipfile.ZipFile(inputs / "inflating_extra.npz") as z:
        info = z.getinfo("extra.npy")
        assert info.file_size == len(_npy_header((1, 32768, 32768), np.float32)) + (4 << 30)
        assert os.path.getsize(inputs / "inflating_extra.npz") < 10 << 20
        with z.open(info) as f:
            f.read(1 << 20)  # inflates; the whole of it is checked by its CRC in the loader test on main


LOADER = """
import sys
from fercnn.models import load
for path in sys.argv[1:]:
    try:
        load(path)
        print("loaded", path)
    except ValueError as e:
        print("refused", e)
from fercnn import detect_emotions
from fercnn.data import read_image
faces = detect_emotions(read_image("astronaut.jpg"), model=load("good.npz"))
print("good", len(faces), faces[0]["top"])
"""


def test_the_loader_refuses_every_oversized_file_within_the_limit(inputs):
    files = ["huge_spec.npz", "inflating_extra.npz", "inflating_mean.npz"]
    (inputs / "loader.py").write_text(LOADER)
    status, out, err, peak = _run_limited("loader.py", files, inputs)
    assert status == 0 and "Traceback" not in err, err[-3000:]
    lines = out.splitlines()
    assert lines[0] == ("refused load: huge_spec.npz: the spec makes 2,312,000,007 parameters (fc1: "
                        "2,305,000,000); the limit is 100,000,000 (raise it with FERCNN_MAX_PARAMS)")
    assert lines[1].startswith("refused load: inflating_extra.npz: entries no spec sizes hold 4,294,9")
    assert "(the largest, extra: (1, 32768, 32768) float32); the limit is 1,073,741,824" in lines[1]
    assert lines[2] == ("refused load: inflating_mean.npz: mean_image is (1, 32768, 32768) float32, the spec wants "
                        "(1, 48, 48)")
    assert lines[3].startswith("good 1 ")  # and the process is still fit to work
    assert peak < 1024


@pytest.mark.parametrize("model,message", [
    ("huge_spec.npz", "the spec makes 2,312,000,007 parameters (fc1: 2,305,000,000); the limit is 100,000,000"),
    ("inflating_extra.npz", "entries no spec sizes hold 4,294,9"),
    ("inflating_mean.npz", "mean_image is (1, 32768, 32768) float32, the spec wants (1, 48, 48)"),
])
def test_predict_refuses_an_oversized_model_in_one_line(inputs, model, message):
    status, out, err, peak = _run_limited("fercnn.cli", ["predict", "astronaut.jpg", "--model", model], inputs)
    assert status == 2 and out == "", err[-3000:]
    assert len(err.splitlines()) == 1 and err.startswith(f"error: load: {model}: ") and message in err
    assert peak < 1024


def test_predict_refuses_an_oversized_photo_and_answers_the_others(inputs):
    status, out, err, peak = _run_limited("fercnn.cli", ["predict", "huge.png", "astronaut.jpg", "--model", "good.npz",
                                                         "--json"], inputs)
    assert status == 1, err[-3000:]
    assert err.splitlines() == ["error: huge.png: the image is 13000x13000 = 169,000,000 pixels; the limit is "
                                "50,000,000 (raise it with --max-pixels or FERCNN_MAX_PIXELS)"]
    huge, astronaut = json.loads(out)
    assert huge["faces"] == [] and huge["error"].startswith("huge.png: the image is 13000x13000")
    assert astronaut["image"] == "astronaut.jpg" and len(astronaut["faces"]) == 1
    assert peak < 1024
