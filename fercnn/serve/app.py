"""The web app of `fercnn serve`: the page's static files and the JSON API, on Starlette.

Every answer of the API is JSON; every refused request a 4xx whose body is
{"error": "what is wrong, and what to send instead"}. Nothing a client sends becomes a file
path: a model is chosen by a name from a fixed list, an upload's name is only echoed back.
"""
import base64
import io
import os
import threading

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fercnn import __version__
from fercnn.data.faces import PixelLimit, decode_image, find_faces
from fercnn.inference import kernel, predictor_for
from fercnn.predict import class_names_of, face_record, predict_faces

MAX_UPLOAD_BYTES = 10 * 2 ** 20
MAX_PIXELS = 40_000_000  # 40 M: a 7,300 x 5,500 photo; Pillow's own guard stops at 179 M
RAW_TYPES = ("image/", "application/octet-stream")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


class Problem(Exception):
    """A refused request: its status and the message of its JSON body."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class Models:
    """The models the server offers, by name: {name: (model, class names, description)}."""

    def __init__(self, named):
        if not named:
            raise ValueError("serve: no model to serve; give --model PATH (this install ships none)")
        self.by_name = {}
        for name, (model, source) in named.items():
            if model.hog_dim:
                raise ValueError(f"serve: model {name} ({source}) is a hybrid (HOG) model; the page takes image-only models")
            self.by_name[name] = (model, class_names_of(model), source)
        self.default = next(iter(self.by_name))

    def get(self, name):
        if name is None:
            name = self.default
        if name not in self.by_name:
            raise Problem(400, f"unknown model {name!r}; the models are {', '.join(self.by_name)} (GET /api/models)")
        return name, self.by_name[name]

    def describe(self):
        return [{"name": n, "classes": names, "source": source, "default": n == self.default}
                for n, (_, names, source) in self.by_name.items()]


def create_app(models, *, max_upload_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_PIXELS, min_face=48):
    """The Starlette app: ``models`` is {name: (ConvNet, where it came from)}, the first the
    default. Predictions (decoding included) run one at a time (a lock), on Starlette's
    worker threads, so memory stays bounded whatever the number of clients."""
    models = Models(models)
    compute = threading.Lock()
    for model, _, _ in models.by_name.values():
        predictor_for(model)  # frozen now, not in the first request

    async def index(request):
        return FileResponse(f"{STATIC}/index.html", media_type="text/html")

    async def healthz(request):
        # "kernel": whether predictions run the compiled kernels (fercnn/inference/kernel.py)
        return JSONResponse({"status": "ok", "version": __version__, "models": list(models.by_name),
                             "kernel": kernel.status()["status"]})

    async def list_models(request):
        return JSONResponse({"models": models.describe(), "default": models.default,
                             "limits": {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels}})

    async def predict(request):
        q = request.query_params
        name, (model, names, _) = models.get(q.get("model"))
        want_saliency = _flag(q, "saliency")
        face_min = _int(q, "min_face", min_face, low=24)
        near = _boxes(q, "near")
        data, image_name = await _upload(request, max_upload_bytes)
        image_name = q.get("name", image_name)[:200]

        def work():
            with compute:  # one decoded image in memory at a time, however many clients
                image = _decode(data, max_pixels)
                boxes, crops = find_faces(image, min_face=face_min, near=near)
                probs = predict_faces(model, crops)
                faces = [face_record(b, p, names) for b, p in zip(boxes, probs)]
                if want_saliency and faces:
                    maps = predictor_for(model).saliency(model.prepare(crops), probs.argmax(axis=1))
                    for face, m in zip(faces, maps):
                        face["saliency"] = heat_png(m)
            return faces

        faces = await run_in_threadpool(work)
        return JSONResponse({"image": image_name, "faces": faces, "model": name})

    async def problem(request, exc):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    async def http_error(request, exc):
        text = {404: f"no such page: {request.url.path} (the API: POST /api/predict, GET /api/models, GET /healthz)",
                405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, exc.detail)
        return JSONResponse({"error": text}, status_code=exc.status_code)

    routes = [Route("/", index), Route("/healthz", healthz), Route("/api/models", list_models),
              Route("/api/predict", predict, methods=["POST"]), Mount("/static", StaticFiles(directory=STATIC))]
    return Starlette(routes=routes, exception_handlers={Problem: problem, HTTPException: http_error})


async def _upload(request, limit):
    """(the image's bytes, its name) from a raw body or a multipart form's file field."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    multipart = kind == "multipart/form-data"
    if kind and not multipart and not kind.startswith(RAW_TYPES):
        raise Problem(415, f"content type {kind!r} is not an image: send the image's bytes as image/* or "
                           "application/octet-stream (curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg'), "
                           "or a multipart/form-data form with the file (curl -F image=@photo.jpg)")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise Problem(413, f"the upload is {int(length):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"the upload is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body:
        raise Problem(400, "empty body: send the image's bytes, or a multipart form with a file field 'image'")
    if not multipart:
        return body, "upload"
    return await _form_file(request, body)


async def _form_file(request, body):
    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=20)
    except Exception as e:  # python-multipart's and Starlette's parse errors alike
        raise Problem(400, f"cannot read the multipart form ({getattr(e, 'detail', e)})") from None
    try:
        files = [v for _, v in form.multi_items() if hasattr(v, "read")]
        upload = form.get("image") if hasattr(form.get("image"), "read") else (files[0] if files else None)
        if upload is None:
            raise Problem(400, "the multipart form has no file: send the image as a file field named 'image' "
                               "(curl -F image=@photo.jpg)")
        data = await upload.read()
        if not data:
            raise Problem(400, f"the form's file {upload.filename or 'image'!r} is empty")
        return data, upload.filename or "upload"
    finally:
        await form.close()


def _decode(data, max_pixels):
    try:
        return decode_image(data, name="upload", max_pixels=max_pixels)
    except PixelLimit as e:
        raise Problem(413, str(e)) from None
    except ValueError as e:
        raise Problem(422, str(e)) from None


def _flag(q, key):
    value = q.get(key, "0").lower()
    if value not in ("0", "1", "true", "false", ""):
        raise Problem(400, f"{key} must be 1 or 0, got {value!r}")
    return value in ("1", "true")


def _int(q, key, default, *, low):
    text = q.get(key)
    if text is None:
        return default
    if not text.isdigit() or int(text) < low:
        raise Problem(400, f"{key} must be an integer >= {low}, got {text!r}")
    return int(text)


def _boxes(q, key, most=20):
    """near=x,y,w,h;x,y,w,h (the previous frame's boxes) -> [(x, y, w, h), ...] or None."""
    text = q.get(key)
    if not text:
        return None
    try:
        boxes = [tuple(int(v) for v in part.split(",")) for part in text.split(";") if part]
    except ValueError:
        boxes = None
    if not boxes or len(boxes) > most or any(len(b) != 4 or min(b) < 0 or min(b[2:]) < 1 for b in boxes):
        raise Problem(400, f"{key} must be up to {most} boxes x,y,width,height separated by ';', got {text[:100]!r}")
    return boxes


def heat_png(saliency_map):
    """A (H, W) saliency map as a data: URL of an RGBA PNG: red to yellow as it grows,
    transparent where it is small (for laying over the face)."""
    from PIL import Image

    from skimage.filters import gaussian

    v = gaussian(np.asarray(saliency_map, dtype=np.float64), sigma=1.0)  # the raw map is speckled pixel by pixel
    top = np.percentile(v, 99)
    v = np.clip(v / top, 0, 1) if top > 0 else v
    rgba = np.stack([np.full_like(v, 255), 255 * v, 40 * v, 215 * v ** 0.8], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.rint(rgba), 0, 255).astype(np.uint8), "RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
