"""What the sweep tests share: the tiny search (four trials on synthetic faces), and what
finds and stops the Ray processes a test started (by their process ids, found through /proc)."""
import os
import signal
import time

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# Four trials (conv_blocks x lr), three epochs of 420 flip-doubled faces each, a checkpoint
# every two iterations (so that a kill finds one mid-epoch), no early stopping (so that which
# trials run to the end does not depend on which finishes first).
TINY_TOML = """\
name = "tiny"

[data]
source = "synthetic"
train = 210
val = 70
test = 70

[network]
conv_blocks = {grid = [1, 2]}
conv_filters = 4
conv_pool = "each"
conv_dropout = 0.1
fc_blocks = 0

[recipe]
update_rule = "adam"
lr = {grid = [0.003, 0.01]}
batch_size = 32
epochs = 3
bn_recalibration = 200

[search]
checkpoint_every = 2

[early_stopping]
scheduler = "none"
"""


def tiny_spec():
    return tomllib.loads(TINY_TOML)


def _stat(pid):
    """(ppid, session id, command line) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    if rest[0] == "Z":  # a zombie has ended; only its parent's wait is missing
        return None
    return int(rest[1]), int(rest[3]), cmd


def _all():
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _stat(int(name))
            if s:
                out[int(name)] = s
    return out


def session_pids(sid):
    """The live processes of session ``sid`` (a process started with start_new_session=True
    and everything it started, Ray's daemons included: they do not leave the session)."""
    return sorted(pid for pid, (_, s, _) in _all().items() if s == sid)


def ray_descendants(root=None):
    """Live descendants of this process (or of root) whose command line mentions ray."""
    procs, root = _all(), root or os.getpid()
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, cmd) in procs.items():
            if ppid == parent:
                frontier.append(pid)
                if "ray" in cmd:
                    found.append(pid)
    return sorted(found)


def stop_sessions(sids, *, grace=10.0):
    """SIGTERM every process of the sessions, SIGKILL what is left after ``grace`` seconds;
    returns the pids that had to be killed."""
    def alive():
        return [p for sid in sids for p in session_pids(sid)]
    for pid in alive():
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    killed = alive()
    for pid in killed:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    return killed


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
