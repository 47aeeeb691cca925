"""Chaos for the batch pool (issue 21): worker processes killed at random moments of real
batches, many times over, with SIGKILL (what the out-of-memory killer sends) and SIGTERM.

Whatever the moment (a worker starting, loading its model, cutting out, encoding, between
files), the batch ends; every input has either a complete, readable output or a line in the
failure list; the exit code is 1 exactly when something failed; no worker process and no
temporary file is left. A seeded loop, so a failing round can be replayed by its seed.
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest
from PIL import Image

from test_reliability2 import alive, batch_of, leftovers, spawned, start_cli, wait_for

# Ten rounds in the test command (about a minute and a half on 2 cores); CLEANCUT_CHAOS_ROUNDS
# runs more, e.g. 200 for a soak.
ROUNDS = int(os.environ.get("CLEANCUT_CHAOS_ROUNDS", "10"))


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_a_batch_ends_whole_whatever_workers_are_killed_when(engine_models, tmp_path, seed):
    rng = random.Random(seed)
    inputs = batch_of(tmp_path / "in", 4, width=900, height=600)
    out = tmp_path / "out"
    run = start_cli("remove", str(inputs), "-o", str(out), "--model", rng.choice(["red", "red", "slow"]),
                    "--workers", "2", "-q")
    seen: set[int] = set()
    for _ in range(rng.randint(1, 3)):
        deadline = time.monotonic() + rng.uniform(0.0, 3.0)
        while time.monotonic() < deadline and run.poll() is None:
            seen.update(spawned(run.pid))
            time.sleep(0.01)
        workers = spawned(run.pid)
        if run.poll() is not None or not workers:
            break
        os.kill(rng.choice(workers), rng.choice([signal.SIGKILL, signal.SIGTERM]))
    _, err = run.communicate(timeout=300)
    failed = {line.split(": ")[2] for line in err.splitlines() if line.startswith("cleancut: failed: ")}
    for photo in sorted(inputs.iterdir()):
        result = out / f"{photo.stem}-cutout.png"
        if str(photo) in failed:
            assert not result.exists()
        else:
            with Image.open(result) as image:
                image.load()
                assert image.size == (900, 600) and image.mode == "RGBA"
    assert run.returncode == (1 if failed else 0), err
    assert "Traceback" not in err
    assert leftovers(out if out.exists() else tmp_path) == []
    wait_for(lambda: not any(alive(pid) for pid in seen), timeout=15)
