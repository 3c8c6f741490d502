"""Where the commands write, checked before any work: never over an input, never into a
folder another run is writing, never found unwritable only after an epoch of training.

    check_writable(folder, prog)          the folder exists (made if need be) and takes a file
    file_ids(paths), is_one_of(path, ids) the files given as input, by device and inode
    RunFolder(out, prog, ...)             a training run's --out: the checks, and a lock held
                                          until the process ends
"""
import contextlib
import os
import tempfile

try:
    import fcntl
except ImportError:  # not POSIX: runs on one --out are not kept apart
    fcntl = None

LOCK_NAME = ".fercnn.lock"
# what a training run writes into --out (results.json last: its presence marks a finished run), and
# tta.json, reproduction/report.py's figures of the run's model.npz: --overwrite removes them all
RUN_FILES = ("results.json", "model.npz", "history.json", "per_class_accuracy.txt", "accuracy.png", "confusion.png",
             "tta.json")


def check_writable(folder, prog):
    """Make ``folder`` if need be and write (and remove) a file in it; one ValueError
    naming it if that fails."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{prog}: --out {folder} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".fercnn-probe-")
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"{prog}: cannot write to {folder} ({e.strerror or e})") from None


def file_ids(paths):
    """{(device, inode)} of the files among ``paths`` that exist: the same file under any
    name (a symbolic or hard link) has the same id."""
    ids = set()
    for p in paths:
        with contextlib.suppress(OSError):
            st = os.stat(p)
            ids.add((st.st_dev, st.st_ino))
    return ids


def is_one_of(path, ids):
    """Whether ``path`` is one of the files whose ids file_ids gave."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) in ids


def inside(path, folder):
    """Whether ``path`` is ``folder`` or lies anywhere inside it (links resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class RunFolder:
    """A training run's --out, checked before the data is loaded and locked while the run
    writes to it (see open)."""

    def __init__(self, out, prog, *, data=None, resume=False, overwrite=False):
        self.out, self.prog, self.data, self.resume, self.overwrite = out, prog, data, resume, overwrite
        self.checkpoints = os.path.join(out, "checkpoints")
        self._lock_fd, self._made = None, False

    def open(self):
        """Check the folder and take its lock, all before the data is loaded. Refuses, in one
        ValueError each: --out inside --data (its files would become the data's), --out a
        file, a folder that cannot be written, one that another run is writing to, one that
        holds a finished run (unless --overwrite or --resume) or another run's checkpoints
        (unless --resume or --overwrite)."""
        self._check_paths()
        self.lock()
        try:
            self._check_contents()
        except ValueError:
            self.release()
            raise
        return self

    def _check_paths(self):
        out, prog = self.out, self.prog
        if self.resume and self.overwrite:
            raise ValueError(f"{prog}: --resume continues the run in --out and --overwrite replaces it; give one")
        if self.data and os.path.isdir(self.data) and inside(out, self.data):
            raise ValueError(f"{prog}: --out {out} lies inside --data {self.data}; the run's files would become "
                             "part of the data. Give an --out outside it")
        if os.path.exists(out) and not os.path.isdir(out):
            raise ValueError(f"{prog}: --out {out} is a file, not a folder")

    def _check_contents(self):
        out, prog = self.out, self.prog
        if self.resume or self.overwrite:
            return
        finished = [f for f in ("results.json", "model.npz") if os.path.exists(os.path.join(out, f))]
        if finished:
            raise ValueError(f"{prog}: {out} holds a finished run ({', '.join(finished)}); give --overwrite to "
                             "replace it, --resume to continue it (with --epochs to train longer), or another --out")
        from fercnn.train.checkpoint import list_checkpoints

        if list_checkpoints(self.checkpoints):
            raise ValueError(f"{prog}: {self.checkpoints} already holds checkpoints of a run; continue it with "
                             "--resume, replace it with --overwrite, or give another --out")

    def lock(self):
        """Make the folder and hold its lock file until the process ends (or release()):
        a second run on the same --out is refused while this one lives, and a folder that
        cannot be written is found now, not after an epoch."""
        out, prog = self.out, self.prog
        self._made = not os.path.exists(out)
        path = os.path.join(out, LOCK_NAME)
        try:
            os.makedirs(out, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ValueError(f"{prog}: cannot write to {out} ({e.strerror or e})") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise ValueError(f"{prog}: another run (process {holder}) is writing to {out}; wait for it to end "
                                 "or give another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd
        if os.path.isdir(self.checkpoints):
            check_writable(self.checkpoints, prog)

    def clear(self):
        """--overwrite: remove what an earlier run wrote (results.json first, so that a kill
        meanwhile leaves no finished run behind); returns the names removed."""
        from fercnn.train.checkpoint import list_checkpoints

        removed = []
        for name in RUN_FILES:
            path = os.path.join(self.out, name)
            if os.path.isfile(path):
                os.remove(path)
                removed.append(name)
        for path in list_checkpoints(self.checkpoints) + [os.path.join(self.checkpoints, "history.json")]:
            if os.path.isfile(path):
                os.remove(path)
                removed.append(os.path.relpath(path, self.out))
        return removed

    def release(self, *, failed=False):
        """Let the lock go; after a run that failed before writing anything, remove the
        folder it made (so a mistyped option leaves no empty run folder behind)."""
        if self._lock_fd is None:
            return
        os.close(self._lock_fd)
        self._lock_fd = None
        if failed and self._made and os.listdir(self.out) == [LOCK_NAME]:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(self.out, LOCK_NAME))
                os.rmdir(self.out)
