"""`cleancut remove --ray`: the local command's batch, run by a pool of Ray actors.

Everything that decides *what* to do stays on the driver (the `cleancut remove` process) and is
the local command's own code (cli.py, batch.py): inputs, output names, the output checks, --skip-existing,
the licence gate and model verification, the failure list and the exit code. Ray only decides
*where* each file runs. Then:

* Each actor is one process on some node that keeps its model sessions loaded (onnxruntime with
  the CPUs it reserved, or one GPU). When it starts it runs the licence gate against its own
  node's settings file, verifies (or fetches) the model in its own node's cache, and checks that
  its node has the same cleancut version and the same model sha256 as the driver; an actor that
  refuses says why, is let go, and the batch runs on the others (or stops, if none is left).
* The driver reads each input and sends its bytes; the actor decodes, runs ``pipeline.remove``,
  renders and encodes exactly as the local command does, and returns the encoded bytes; the
  driver writes them through a temporary file and a rename (``imagewrite.write_bytes``). So nodes
  need no shared storage, every output is written by one process, once, whole, and a file is
  counted done only when it is on disk.
* Faults: when an actor or its node dies (Ray reports RayActorError or a lost object), its
  unfinished files go back to the queue and a replacement actor is asked for, which Ray places
  wherever there is room. A file whose actor died MAX_ATTEMPTS times fails alone (it is taking
  actors down with it: too large for their memory, or a crash). A file that fails inside the
  actor (unreadable, unwritable) fails at once, as locally.

Ray Data's ``map_batches`` was the other way to hold the actors; this module uses Ray core
actors and a small queue over ``ray.wait`` instead, because the driver must know each file's
fate (written, failed and why, still to do) to write every output once and list the failures in
input order, and because it needs only ``ray[default]``, not Ray Data's pyarrow and pandas.
docs/cluster.md has the measurements and the notes for a real cluster.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from tqdm import tqdm

from . import __version__, batch, imageread, imagewrite, pipeline, rayactor
from .cutout import Job, Output
from .rayactor import Outcome, Task
from .errors import CleancutError, UsageError
from .options import Options

#: Files in flight per actor: while one runs, the next one's bytes are already on its node.
DEPTH = 2
#: An actor dying under a file this many times fails that file (instead of every actor).
MAX_ATTEMPTS = 3
#: How long the batch waits for an actor while none is running (models may be downloading).
START_TIMEOUT_S = 300.0
EXTRA = "pip install 'cleancut[ray]'"


@dataclass
class Report:
    """The batch as the driver saw it: each task's outcome (None: not processed) and the pool."""

    outcomes: list[Outcome | None] = field(default_factory=list)
    by_node: Counter = field(default_factory=Counter)
    refusals: list[str] = field(default_factory=list)
    actors: int = 0
    peak_rss: list[int] = field(default_factory=list)
    connect_s: float = 0.0
    first_ready_s: float | None = None


# --------------------------------------------------------------------------------------------
# the command line


def parse_address(text: str) -> str:
    """``local``, ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``; ValueError for anything else
    (most often an input path put right after a bare --ray)."""
    if text in ("local", "auto"):
        return text
    rest = text[len("ray://"):] if text.startswith("ray://") else text
    host, _, port = rest.rpartition(":")
    if host and "/" not in host and port.isdigit() and 0 < int(port) < 65536:
        return text
    raise ValueError(f"--ray takes auto, HOST:PORT or ray://HOST:PORT, not {text!r} "
                     "(put the inputs before a bare --ray)")


def require_ray(args: Any) -> None:
    """Check the --ray options and that Ray can be imported: a UsageError (exit code 2) naming
    the extra to install, before any model is fetched or file read."""
    if args.ray is None:
        raise UsageError("--ray-actors needs --ray")
    if args.workers is not None:
        raise UsageError("--workers sets the local command's processes; with --ray, use --ray-actors")
    _import_ray(args.ray)


def _import_ray(address: str) -> Any:
    # Nothing leaves the machine unless the user points us at a cluster: no usage statistics
    # (cleancut's promise), and a Ray started here listens on the loopback address only.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address == "local" and "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise UsageError(f"--ray needs Ray, which is not installed here: {EXTRA}") from None
    return ray


def run_jobs(jobs: list[Job], options: Options, output: Output, plan: pipeline.Plan,
             args: Any) -> Iterator[tuple[Job, str | None]]:
    """What ``batch.run`` gives the local command, from Ray: each job with its failure (or
    None, its output written), in input order, so the CLI counts and reports them alike."""
    tasks = [Task(str(job.source), ((str(job.target), output),), job.prompt) for job in jobs]
    outcomes = stream(tasks, options, address=args.ray, actors=args.ray_actors, threads=args.threads,
                      max_pixels=output.max_pixels, debug=output.debug, quiet=args.quiet, plan=plan)
    # The last job waits for the stream's end (its summary line, Ray let go).
    for index, outcome in batch.in_order(outcomes, len(jobs), hold_last=True):
        yield jobs[index], outcome.error


def describe(report: Report) -> str:
    """One line on where the batch ran: nodes, files per node, start-up, memory per actor."""
    nodes = ", ".join(f"{node}: {count}" for node, count in sorted(report.by_node.items()))
    line = f"ray: {report.actors} actor(s); files per node: {nodes or 'none'}; connected in {report.connect_s:.1f} s"
    if report.first_ready_s is not None:
        line += f", first actor ready after {report.first_ready_s:.1f} s"
    if report.peak_rss:
        low, high = min(report.peak_rss) >> 20, max(report.peak_rss) >> 20
        line += f"; peak memory per actor {low}–{high} MiB" if low != high else f"; peak memory per actor {low} MiB"
    return line


# --------------------------------------------------------------------------------------------
# the driver


def run(tasks: list[Task], options: Options, **settings: Any) -> Report:
    """Run ``tasks`` on Ray and write their outputs; each task's Outcome in the Report (the
    pyblish extractor's way in). ``settings`` are :func:`stream`'s."""
    report = Report(outcomes=[None] * len(tasks))
    for index, outcome in stream(tasks, options, report=report, **settings):
        report.outcomes[index] = outcome
    return report


def stream(tasks: list[Task], options: Options, *, address: str = "local", actors: int | None = None,
           threads: int | None = None, max_pixels: int = imageread.DEFAULT_MAX_PIXELS, debug: bool = False,
           quiet: bool = True, report: Report | None = None,
           plan: pipeline.Plan | None = None) -> Iterator[tuple[int, Outcome]]:
    """Run ``tasks`` on Ray, writing their outputs; (task index, Outcome) as each one ends.

    ``plan`` is the caller's ``pipeline.prepare`` (the CLI's, made once per command); without
    one the licence gate runs here first. ``address`` is "local" (start Ray on this machine, stopped at the end), "auto" or a
    cluster's address. ``actors`` None: one per GPU, else one per ``threads`` CPUs of the
    cluster (``threads`` None: 1), never more than there are tasks. A CleancutError when the
    cluster cannot be joined, or when no actor would run (nothing is written then).
    """
    if not tasks:  # e.g. every output already there (--skip-existing): no cluster needed
        return
    report = report if report is not None else Report()
    entries = plan.entries if plan is not None else pipeline.resolve_models(options)[0]
    models = {entry.id: entry.sha256 for entry in entries}
    ray = _import_ray(address)
    started = time.perf_counter()
    owned = _connect(ray, address)
    report.connect_s = time.perf_counter() - started
    try:
        count, resources = _pool_size(ray, options, actors, threads, len(tasks))
        if not quiet:
            where = "started Ray on this machine" if address == "local" else f"joined {address}"
            _say(f"ray: {where} in {report.connect_s:.1f} s; starting {count} actor(s)")
        node_options = replace(options, threads=threads or 1)
        remote = ray.remote(rayactor.Remover).options(scheduling_strategy="SPREAD", max_restarts=0, **resources)
        yield from _Batch(ray, tasks, report, lambda: remote.remote(node_options, models, __version__,
                                                                      max_pixels, debug), count, quiet)
        if not quiet:
            _say(describe(report))
    finally:
        if owned:
            ray.shutdown()


def _connect(ray: Any, address: str) -> bool:
    """Join (or start) Ray; True when this call did, so the batch disconnects (and stops a Ray
    it started) at the end. A cluster that cannot be reached is one line, not a traceback."""
    if ray.is_initialized():
        return False
    if address not in ("local", "auto") and not address.startswith("ray://"):
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except OSError as err:
            raise CleancutError(f"cannot reach a Ray cluster at {address} ({err.strerror or err}); "
                                "start one with `ray start --head` or check the address") from None
    # Ray's own notes stay out of the command's output (its errors still arrive, as exceptions).
    kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address == "local":
        kwargs["include_dashboard"] = False
        os.environ.pop("RAY_ADDRESS", None)  # a bare --ray means this machine, whatever is set
    try:
        ray.init(address=address, **kwargs)
    except Exception as err:  # ConnectionError, version mismatch (RuntimeError), ...
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CleancutError(f"cannot join the Ray cluster at {address}: {reason}") from err
    return True


def _pool_size(ray: Any, options: Options, wanted: int | None, threads: int | None,
               tasks: int) -> tuple[int, dict[str, float]]:
    """How many actors, and what each reserves: a GPU each where the cluster has GPUs (unless
    the provider is CPU), else ``threads`` CPUs each."""
    total = ray.cluster_resources()
    cpus = threads or 1
    gpus = int(total.get("GPU", 0)) if options.provider in (None, "cuda") else 0
    if gpus:
        return max(1, min(wanted or gpus, tasks)), {"num_cpus": cpus, "num_gpus": 1}
    slots = max(1, int(total.get("CPU", 1)) // cpus)
    return max(1, min(wanted or slots, tasks)), {"num_cpus": cpus}


class _Batch:
    """The queue: hands each ready actor up to DEPTH files, writes what comes back, puts the
    files of a lost actor back in the queue and asks for a replacement. Iterating it runs the
    batch, giving (task index, Outcome) as each task ends."""

    def __init__(self, ray: Any, tasks: list[Task], report: Report, make: Callable[[], Any],
                 count: int, quiet: bool) -> None:
        self.ray, self.tasks, self.report, self.make, self.count = ray, tasks, report, make, count
        self.queue: deque[int] = deque(range(len(tasks)))
        self.attempts: Counter = Counter()
        self.made: list[Any] = []  # every actor asked for: all are killed at the end
        self.starting: dict[Any, Any] = {}  # ready() reference -> actor
        self.live: dict[Any, int] = {}  # actor -> files in flight
        self.labels: dict[Any, str] = {}
        self.running: dict[Any, tuple[Any, int]] = {}  # remove() reference -> (actor, task index)
        self.ended: list[tuple[int, Outcome]] = []  # outcomes not yet given to the caller
        self.quiet = quiet
        self.started = self.idle_since = time.perf_counter()

    def __iter__(self) -> Iterator[tuple[int, Outcome]]:
        try:
            for _ in range(self.count):
                self._start_actor()
            while self.queue or self.running:
                self._hand_out()
                yield from self._drain()
                waiting = list(self.running) + list(self.starting)
                if not waiting:
                    if not self.report.actors and self.report.refusals:  # nothing was written
                        raise CleancutError("no Ray actor would run this batch, nothing was written:\n  - "
                                            + "\n  - ".join(self.report.refusals))
                    self._give_up("not processed: every Ray actor refused or was lost (see the warnings)")
                    break
                try:
                    done, _ = self.ray.wait(waiting, num_returns=1, timeout=1.0)
                except self.ray.exceptions.RayError as err:
                    self._give_up(f"not processed: lost the Ray cluster ({_first_line(err)})")
                    break
                for ref in done:
                    if ref in self.starting:
                        self._started(ref)
                    else:
                        self._finished(ref)
                if not self.live and self.queue and time.perf_counter() - self.idle_since > START_TIMEOUT_S:
                    self._give_up(f"not processed: no Ray actor could start within {START_TIMEOUT_S:g} s "
                                  "(the cluster has no free CPU or GPU for one)")
                    break
            yield from self._drain()
        finally:
            # "Lost" may mean unreachable rather than dead (ActorUnavailableError): kill them all.
            for actor in self.made:
                self.ray.kill(actor)

    def _drain(self) -> Iterator[tuple[int, Outcome]]:
        while self.ended:
            yield self.ended.pop(0)

    def _say(self, message: str) -> None:
        if not self.quiet:
            _say(message)

    def _start_actor(self) -> None:
        actor = self.make()
        self.made.append(actor)
        self.starting[actor.ready.remote()] = actor

    def _hand_out(self) -> None:
        for actor in list(self.live):
            while self.live.get(actor, DEPTH) < DEPTH and self.queue:
                index = self.queue.popleft()
                source = self.tasks[index].source
                try:  # the driver reads, so nodes need not see the file
                    data = Path(source).read_bytes()
                except OSError as err:
                    self.ended.append((index, Outcome(error=f"cannot read {source}: {err.strerror or err}")))
                    continue
                self.running[actor.remove.remote(self.tasks[index], data)] = (actor, index)
                self.live[actor] += 1

    def _started(self, ref: Any) -> None:
        actor = self.starting.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.RayError as err:
            info = {"node": "a node", "refusal": f"the actor could not start ({_first_line(err)})"}
        if info["refusal"]:
            self.report.refusals.append(f"{info['node']}: {info['refusal']}")
            self._say(f"cleancut: warning: a Ray actor on {info['node']} refuses: {info['refusal']}")
            self.ray.kill(actor)  # its CPU or GPU is free again at once
            return
        self.live[actor] = 0
        self.labels[actor] = info["node"]
        self.report.actors += 1
        if self.report.first_ready_s is None:
            self.report.first_ready_s = time.perf_counter() - self.started

    def _finished(self, ref: Any) -> None:
        actor, index = self.running.pop(ref)
        try:
            outcome = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as err:  # escaped the actor's own handling: a bug
            outcome = Outcome(error=f"internal error ({_first_line(err)}); rerun with --debug")
        except self.ray.exceptions.RayError as err:  # the actor or its node died, or its result is lost
            self._lost(actor, index, err)
            return
        if actor in self.live:
            self.live[actor] -= 1
        if outcome.files is not None:
            try:
                for (target, _), data in zip(self.tasks[index].outputs, outcome.files):
                    imagewrite.write_bytes(target, data)
            except CleancutError as err:
                outcome = replace(outcome, error=str(err))
            outcome.files = None  # written (or not): let the bytes go
        if outcome.peak_rss:
            self.report.peak_rss.append(outcome.peak_rss)
        if outcome.error is None:
            self.report.by_node[outcome.node] += 1
        self.ended.append((index, outcome))

    def _lost(self, actor: Any, index: int, err: Exception) -> None:
        self.attempts[index] += 1
        if actor in self.live:  # the first of its files to come back lost: replace the actor
            del self.live[actor]
            self.idle_since = time.perf_counter()
            self._say(f"cleancut: warning: a Ray actor on {self.labels.get(actor, 'a node')} was lost "
                      f"({_first_line(err)}); its unfinished files are retried")
            self._start_actor()
        if self.attempts[index] >= MAX_ATTEMPTS:
            self.ended.append((index, Outcome(error=f"its Ray actor died {MAX_ATTEMPTS} times while processing it "
                                                    "(out of memory on the node, or a crash); try it alone or "
                                                    "with more memory")))
        else:
            self.queue.appendleft(index)

    def _give_up(self, why: str) -> None:
        for index in list(self.queue) + [index for _, index in self.running.values()]:
            self.ended.append((index, Outcome(error=why)))
        self.queue.clear()
        self.running.clear()


def _say(message: str) -> None:
    """A line on stderr that does not tear the CLI's progress bar."""
    tqdm.write(message, file=sys.stderr)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]
