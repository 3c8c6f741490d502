"""The suite's own scheduling (tests/conftest.py): on two pytest-xdist workers the sweep tests
all run in one worker, the others in both."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_sweep_tests_run_in_one_worker_the_others_in_both():
    # the spec tests start no Ray (a few seconds); test_run_all's and test_fileio's are quick too
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-v", "-p", "no:cacheprovider",
                           "tests/sweep/test_sweep_spec.py", "tests/test_run_all.py", "tests/test_fileio.py"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    workers = {"sweep": [], "other": []}
    for line in done.stdout.splitlines():
        found = re.match(r"\[(gw\d+)\] \[\s*\d+%\] PASSED (\S+)", line)
        if found:
            workers["sweep" if found.group(2).startswith("tests/sweep/") else "other"].append(found.group(1))
    assert len(workers["sweep"]) >= 20, done.stdout[-3000:]
    assert len(set(workers["sweep"])) == 1, f"the sweep tests ran in workers {sorted(set(workers['sweep']))}"
    assert set(workers["other"]) == {"gw0", "gw1"}, f"the other tests ran in workers {sorted(set(workers['other']))}"
