"""`fercnn serve`: a local web page for the webcam and dropped photos, and a JSON API.

    pip install -e ".[serve]"         # in the fercnn checkout
    fercnn serve                      # http://127.0.0.1:8000/
    curl --data-binary @photo.jpg -H "Content-Type: image/jpeg" http://127.0.0.1:8000/api/predict

The API (fercnn/serve/app.py):

- ``POST /api/predict``: one image, as the request's body (Content-Type image/* or
  application/octet-stream) or as the file of a multipart/form-data form (field ``image``).
  Query: ``model=NAME`` (one of GET /api/models; default the first), ``saliency=1`` (each
  face also gets ``"saliency"``, a PNG data: URL of the saliency map of its top emotion),
  ``min_face=PIXELS``, ``name=`` (echoed as ``"image"``), ``near=x,y,w,h;...`` (search for
  faces only around these boxes, e.g. the previous webcam frame's, and the whole image
  when none is found there: fercnn.data.faces.detect_faces_near). Answer: the entry
  ``fercnn predict --json`` prints for the photo, ``{"image": name, "faces": [{"box",
  "emotions", "top"}, ...]}``, plus ``"model"``.
- ``GET /api/models``: the models, their class names, the default, the limits.
- ``GET /healthz``: ``{"status": "ok", ...}``.

Refused requests get a 4xx and ``{"error": "..."}`` naming what is wrong: 400 an empty body,
an unknown model or a bad parameter; 413 an upload over the byte limit (10 MiB) or an
image whose header announces more pixels than the limit (40 M, checked before decoding);
415 a content type that is not an image; 422 bytes that are not a readable image (a
truncated file, a text). The page is static files (fercnn/serve/static/), nothing from
a CDN: it works offline.

The server needs Starlette, uvicorn and python-multipart, the ``serve`` extra; the rest of
fercnn does not import them.
"""
from fercnn.serve.app import create_app

__all__ = ["create_app"]
