"""The JSON API of `fercnn serve`, in process: what it answers, and every refusal's 4xx and message."""
import base64
import importlib.util
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install -e '.[serve]'")
if importlib.util.find_spec("httpx2") is None:  # Starlette 1.x's TestClient takes httpx2, older ones httpx
    pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx2 (or httpx)")

from starlette.testclient import TestClient  # noqa: E402

from fercnn.cli.serve import served_models  # noqa: E402
from fercnn.inference import kernel  # noqa: E402
from fercnn.serve import create_app  # noqa: E402

from .helpers import bomb, sample_files  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(served_models([]), max_upload_bytes=2 * 2 ** 20)) as c:
        yield c


@pytest.fixture(scope="module")
def files():
    return sample_files()


def test_health_models_and_the_page(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["kernel"] == kernel.status()["status"]
    models = client.get("/api/models").json()
    assert models["default"] == "vgg" and [m["name"] for m in models["models"]] == ["vgg", "deep"] and models["models"][0]["classes"][3] == "happy"
    page = client.get("/")
    assert page.status_code == 200 and 'src="/static/app.js"' in page.text
    assert "http" not in client.get("/static/app.js").text.replace("HTTP ", "")  # nothing from elsewhere
    assert client.get("/static/style.css").status_code == 200


def test_predict_answers_what_fercnn_predict_json_prints(client, files, tmp_path):
    path = tmp_path / "astronaut.jpg"
    path.write_bytes(files["astronaut.jpg"])
    done = subprocess.run([sys.executable, "-m", "fercnn.cli", "predict", "--json", str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    want = json.loads(done.stdout)[0]
    raw = client.post("/api/predict", content=files["astronaut.jpg"], headers={"Content-Type": "image/jpeg"})
    assert raw.status_code == 200
    assert raw.json()["faces"] == want["faces"] and len(want["faces"]) == 1
    form = client.post("/api/predict?model=vgg", files={"image": ("astronaut.jpg", files["astronaut.jpg"], "image/jpeg")})
    assert form.json() == {"image": "astronaut.jpg", "faces": want["faces"], "model": "vgg"}
    bare = client.post("/api/predict", content=files["astronaut.jpg"])  # no content type: taken as the bytes
    assert bare.json()["faces"] == want["faces"]
    assert client.post("/api/predict", content=files["blank.png"],
                       headers={"Content-Type": "image/png"}).json()["faces"] == []


def test_saliency_rides_along_as_a_png(client, files):
    face = client.post("/api/predict?saliency=1", content=files["astronaut_256.png"],
                       headers={"Content-Type": "image/png"}).json()["faces"][0]
    assert face["saliency"].startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(face["saliency"].split(",", 1)[1]))) as im:
        assert im.format == "PNG" and im.size == (48, 48) and im.mode == "RGBA"
        pixels = np.asarray(im)
    assert pixels.std() > 0  # a map, not a blank square


@pytest.mark.parametrize("send,status,message", [
    (dict(content=b""), 400, "empty body"),
    (dict(content=b"hello", headers={"Content-Type": "text/plain"}), 415, "content type 'text/plain' is not an image"),
    (dict(content=b'{"a": 1}', headers={"Content-Type": "application/json"}), 415, "is not an image"),
    (dict(content=b"hello", headers={"Content-Type": "image/jpeg"}), 422, "cannot read it as an image"),
    (dict(content=sample_files()["astronaut.jpg"][:5000], headers={"Content-Type": "image/jpeg"}), 422,
     "image file is truncated"),
    (dict(content=bomb(), headers={"Content-Type": "image/png"}), 413,
     "= 400,000,000 pixels; the limit is 40,000,000"),
    (dict(content=b"\0" * (2 * 2 ** 20 + 1), headers={"Content-Type": "image/png"}), 413,
     "the upload is 2,097,153 bytes; the limit is 2,097,152"),
    (dict(files={"note": ("a.txt", b"", "text/plain")}), 400, "the form's file 'a.txt' is empty"),
    (dict(content=b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--xyz--\r\n',
          headers={"Content-Type": "multipart/form-data; boundary=xyz"}), 400, "the multipart form has no file"),
    (dict(content=b"not a form", headers={"Content-Type": "multipart/form-data; boundary=xyz"}), 400,
     "cannot read the multipart form"),
])
def test_refusals_name_what_is_wrong(client, send, status, message):
    got = client.post("/api/predict", **send)
    assert got.status_code == status, got.text
    assert message in got.json()["error"]


def test_bad_parameters_and_routes(client, files):
    post = lambda q: client.post(f"/api/predict?{q}", content=files["blank.png"], headers={"Content-Type": "image/png"})  # noqa: E731
    assert post("model=../../etc/passwd").json() == {
        "error": "unknown model '../../etc/passwd'; the models are vgg, deep (GET /api/models)"}
    assert post("saliency=maybe").status_code == 400
    assert "min_face must be an integer >= 24, got '3'" in post("min_face=3").json()["error"]
    assert client.get("/api/predict").json() == {"error": "GET is not allowed on /api/predict"}
    assert client.get("/etc/passwd").status_code == 404
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/healthz").status_code == 200  # and it goes on


def test_near_searches_around_the_last_boxes(client, files):
    post = lambda q: client.post(f"/api/predict?{q}", content=files["astronaut.jpg"],  # noqa: E731
                                 headers={"Content-Type": "image/jpeg"})
    whole = post("").json()["faces"]
    box = whole[0]["box"]
    near = post("near=" + ",".join(str(v + 3) for v in box)).json()["faces"]
    assert len(near) == 1 and max(abs(a - b) for a, b in zip(near[0]["box"], box)) <= 10
    assert post("near=5,5,30,30").json()["faces"][0]["box"] == box  # nothing there: the whole image
    assert "near must be up to 20 boxes" in post("near=1,2,3").json()["error"]
