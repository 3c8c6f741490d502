"""fercnn serve: a local web page (webcam, dropped photos) and a JSON API that predict expressions.

The page shows the faces the webcam sees, or those in photos dropped on it, each boxed with
its top emotion and the seven probabilities as bars, the frame rate, and on request the
saliency map of the top emotion. The API: POST /api/predict (an image as the body or as a
multipart form's file) answers what `fercnn predict --json` prints for it; GET /api/models;
GET /healthz. The server binds 127.0.0.1 (this machine only) unless --host says otherwise.
Needs the serve extra: pip install -e ".[serve]" in the fercnn checkout.
"""
import os
import socket
import sys

from fercnn.cli.options import OneLineParser, describe, number
from fercnn.models import load, shipped
from fercnn.runtime import reuse_freed_memory


def build_parser(prog):
    p = OneLineParser(prog=prog, description=describe(__doc__))
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default %(default)s: this machine only; 0.0.0.0: every network)")
    p.add_argument("--port", type=number(int, 0, 65535), default=8000,
                   help="port (default %(default)s; 0: any free one, printed)")
    p.add_argument("--model", action="append", default=[], metavar="PATH",
                   help="also offer this model file (a training run's model.npz, or a checkpoint), named after "
                        "the file; repeatable. The shipped models are always offered, the first of all the default")
    p.add_argument("--max-upload-mb", type=number(float, 0, low_open=True), default=10.0, metavar="MB",
                   help="largest upload accepted, in MiB (default %(default)s)")
    p.add_argument("--max-megapixels", type=number(float, 0, low_open=True), default=40.0, metavar="M",
                   help="largest image accepted, in millions of pixels, checked before decoding (default %(default)s)")
    p.add_argument("--min-face", type=number(int, 24), default=48, metavar="PIXELS",
                   help="smallest face searched, unless a request says (default %(default)s)")
    return p


def served_models(paths):
    """{name: (model, where it came from)}: the shipped models, then each file under its stem."""
    named = {name: (shipped.pretrained(name), "shipped") for name in shipped.available()}
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0] or "model"
        name, n = stem, 1
        while name in named:
            n += 1
            name = f"{stem}_{n}"
        named[name] = (load(path), os.path.abspath(path))
    return named


def main(argv, prog="fercnn serve"):
    args = build_parser(prog).parse_args(argv)
    # before any worker thread allocates: one malloc arena, freed blocks kept for reuse, so the
    # server's memory settles at its first requests' high-water mark instead of creeping with
    # each worker thread's arena (fercnn/runtime.py)
    reuse_freed_memory()
    try:
        import uvicorn

        from fercnn.serve import create_app
    except ImportError as e:
        raise ValueError(f"{prog} needs the serve extra ({e.name} is missing): pip install -e \".[serve]\" "
                         "in the fercnn checkout") from None
    app = create_app(served_models(args.model), max_upload_bytes=int(args.max_upload_mb * 2 ** 20),
                     max_pixels=int(args.max_megapixels * 1e6), min_face=args.min_face)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        raise ValueError(f"{prog}: cannot listen on {args.host}:{args.port} ({e.strerror or e})") from None
    # a webcam frame is a face or two: its conv layers run faster in compiled kernels (seconds
    # to compile on the first start, then read from Numba's cache; fercnn/inference/kernel.py);
    # after the bind, so that a port in use is said at once
    from fercnn.inference import kernel

    print(f"{prog}: preparing the prediction kernels (compiled on the first start, 10-15 s; later read "
          "from Numba's cache)", file=sys.stderr, flush=True)
    try:
        kernel.enable()
    except RuntimeError as e:
        print(f"warning: {e}; predicting with the NumPy layers", file=sys.stderr)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"{prog}: http://{shown}:{port}/  (Ctrl-C stops it)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: other machines can reach this server", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    server.run(sockets=[sock])
    return 0
