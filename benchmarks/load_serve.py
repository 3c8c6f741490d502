"""`fercnn serve` under load: concurrent clients on 127.0.0.1, valid and bad uploads mixed.

    python benchmarks/load_serve.py                      # 520 requests, 8 clients; prints the figures
    python benchmarks/load_serve.py --json benchmarks/results/serve.json

Starts `fercnn serve --port 0` in a process of its own, sends REQUESTS requests from
CLIENTS threads (one keep-alive connection each), mixing photos with a face, photos
without one, a truncated JPEG, a text sent as an image, a wrong content type, an empty
body and a decompression bomb (a 0.4 MB PNG of 20,000 x 20,000 pixels), and checks each
answer: every valid photo gets what `fercnn predict --json` prints for the same file
(the same boxes and top emotions, probabilities within 1e-4: ``same_faces``), every bad
one its 4xx, nothing a 5xx. It reports the latency percentiles, requests per
second, and the server's resident memory (VmRSS) after the first 50 requests and at the
end. tests/serve/test_load.py runs the same, bounded, and asserts it.
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.serve.helpers import bomb, sample_files  # noqa: E402

REQUESTS = 520
CLIENTS = 8


def kinds():
    """[(kind, body, headers, expected status)]: the mix, in the order it cycles."""
    files = sample_files()
    image = lambda name, t: (name, files[name], {"Content-Type": t}, 200)  # noqa: E731
    boundary = "fercnnload"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"astronaut_256.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + files["astronaut_256.png"] + f"\r\n--{boundary}--\r\n".encode()
    return [image("astronaut.jpg", "image/jpeg"), image("astronaut_256.png", "image/png"),
            image("coffee.jpg", "image/jpeg"), image("blank.png", "image/png"),
            ("multipart astronaut_256.png", form, {"Content-Type": f"multipart/form-data; boundary={boundary}"}, 200),
            ("truncated jpeg", files["astronaut.jpg"][:6000], {"Content-Type": "image/jpeg"}, 422),
            ("text as image/jpeg", b"just some text, not an image\n" * 20, {"Content-Type": "image/jpeg"}, 422),
            ("text/plain", b"hello", {"Content-Type": "text/plain"}, 415),
            ("empty body", b"", {"Content-Type": "image/jpeg"}, 400),
            ("decompression bomb", bomb(), {"Content-Type": "image/png"}, 413)]


def expected_faces(files):
    """{name: faces} as `fercnn predict --json FILE` prints them, one process per file."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            done = subprocess.run([sys.executable, "-m", "fercnn.cli", "predict", "--json", path],
                                  capture_output=True, text=True, cwd=ROOT, check=True)
            out[name] = json.loads(done.stdout)[0]["faces"]
    return out


def start_server(extra=()):
    """(process, base URL) of a new `fercnn serve --port 0`."""
    proc = subprocess.Popen([sys.executable, "-m", "fercnn.cli", "serve", "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise RuntimeError(f"fercnn serve did not start: {line}{proc.stderr.read()[-2000:]}")
    return proc, line.split()[2].rstrip("/")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def run_load(url, pid, *, requests=REQUESTS, clients=CLIENTS, expected=None, memory_after=50):
    """Send the mix; returns the figures and every problem found (a list of strings)."""
    mix = kinds()
    expected = expected or {}
    host = urlsplit(url)
    lock = threading.Lock()
    next_index = [0]
    results = []  # (index, kind, status, seconds)
    problems = []
    memory = {}

    def client():
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
        while True:
            with lock:
                i = next_index[0]
                if i >= requests:
                    break
                next_index[0] += 1
            name, body, headers, want = mix[i % len(mix)]
            t = time.perf_counter()
            try:
                conn.request("POST", "/api/predict", body=body, headers=headers)
                response = conn.getresponse()
                status, text = response.status, response.read()
            except (http.client.HTTPException, OSError) as e:
                conn.close()
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
                status, text = None, str(e).encode()
            dt = time.perf_counter() - t
            problem = check(name, want, status, text, expected)
            with lock:
                results.append((i, name, status, dt))
                if problem:
                    problems.append(f"request {i} ({name}): {problem}")
                if len(results) == memory_after:
                    memory["after_first"] = rss_mb(pid)
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - start
    memory["after_all"] = rss_mb(pid)
    latencies = sorted(r[3] for r in results)
    statuses = {}
    for _, name, status, _ in results:
        statuses.setdefault(name, {}).setdefault(str(status), 0)
        statuses[name][str(status)] += 1
    return {"requests": len(results), "clients": clients, "wall_s": wall, "requests_per_s": len(results) / wall,
            "p50_ms": 1e3 * _percentile(latencies, 50), "p99_ms": 1e3 * _percentile(latencies, 99),
            "rss_mb_after_first": memory.get("after_first"), "rss_mb_after_all": memory["after_all"],
            "memory_after_first": memory_after, "statuses": statuses,
            "server_errors": sum(1 for r in results if r[2] is None or r[2] >= 500)}, problems


def check(name, want, status, text, expected):
    if status != want:
        return f"status {status}, expected {want}: {text[:200]!r}"
    try:
        answer = json.loads(text)
    except ValueError:
        return f"not JSON: {text[:200]!r}"
    if want != 200:
        return None if isinstance(answer.get("error"), str) and answer["error"] else f"no error message: {answer}"
    key = name.split()[-1]
    if key in expected and not same_faces(answer.get("faces"), expected[key]):
        return f"faces differ from fercnn predict --json: {answer.get('faces')} != {expected[key]}"
    return None


PROBABILITY_TOLERANCE = 1e-4  # measured: at most 8e-6 on 315 FER2013 test faces


def same_faces(got, want):
    """Whether two lists of faces (JSON, as /api/predict and `fercnn predict --json` give them)
    have the same boxes, top emotions and emotion names, each probability within
    PROBABILITY_TOLERANCE: the server runs compiled kernels (fercnn/inference/kernel.py),
    `fercnn predict` the NumPy layers, so they differ in the last digits."""
    if not isinstance(got, list) or len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if not isinstance(g, dict) or g.keys() != w.keys() or g["box"] != w["box"] or g["top"] != w["top"]:
            return False
        if g["emotions"].keys() != w["emotions"].keys():
            return False
        if any(abs(g["emotions"][k] - w["emotions"][k]) > PROBABILITY_TOLERANCE for k in w["emotions"]):
            return False
    return True


def _percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def machine():
    sys.path.insert(0, HERE)
    from bench_train import machine as m

    return m()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=REQUESTS)
    p.add_argument("--clients", type=int, default=CLIENTS)
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args()
    print(f"machine: {machine()}")
    expected = expected_faces(sample_files())
    proc, url = start_server()
    try:
        figures, problems = run_load(url, proc.pid, requests=args.requests, clients=args.clients, expected=expected)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    figures["machine"] = machine()
    print(f"{figures['requests']} requests from {figures['clients']} clients in {figures['wall_s']:.1f} s: "
          f"{figures['requests_per_s']:.1f} requests/s, latency p50 {figures['p50_ms']:.0f} ms, "
          f"p99 {figures['p99_ms']:.0f} ms")
    print(f"server memory (RSS): {figures['rss_mb_after_first']:.0f} MB after the first {figures['memory_after_first']} "
          f"requests, {figures['rss_mb_after_all']:.0f} MB after all")
    print(f"5xx or no answer: {figures['server_errors']}")
    for name, counts in figures["statuses"].items():
        print(f"  {name:<30} {', '.join(f'{k}: {v}' for k, v in counts.items())}")
    for problem in problems[:20]:
        print(f"PROBLEM {problem}")
    if args.json:
        from fercnn.fileio import write_json

        write_json(args.json, figures, indent=1)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
