"""Cut out a list of files: one after another here, or several at once on worker processes.

Several at once: each worker process runs up to SLOTS_PER_PROCESS files at the same time on
threads that share one model session (segment.py runs it one call at a time), so a batch on
two cores holds one set of imports and one model arena, not two: its peak memory is about
rembg's. Threads keep both cores busy through every stage: numpy, scipy, Pillow and
onnxruntime release the GIL in their loops (two threads cut out 12 varied 1280×720 photos in
0.52× the time of one, docs/benchmarks/2026-12-07-speed-varied.md), and while one thread runs
the model the others refine, estimate colours and encode.

Why a process at all, not threads in the command itself: a worker that vanishes (kill -9, the
out-of-memory killer) fails exactly the files it held, their temporary outputs are removed,
and a fresh worker takes the remaining files; the command reports and survives.

Results come back in input order whatever order the files finish in, so messages and the
failure list read the same as a run on one core. The pipes carry paths, not pixels.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import traceback
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Iterable, Iterator, NoReturn, TypeVar

from . import clips, cutout, parallel, pipeline, segment, temporaries
from .cutout import Job, Output
from .options import Options

# Files cut out at once by default: one per core, at most this many (each holds one photo's
# working set, ~0.1 GiB at 1280×720 and ~0.6 GiB at 12 MP).
MAX_DEFAULT_WORKERS = 4
# Files one worker process runs at once; more workers than this start more processes (threads
# of one process share the GIL between their Python steps).
SLOTS_PER_PROCESS = 4

T = TypeVar("T")


def default_workers(files: int, cores: int | None = None) -> int:
    """Files at once: one per core, no more than there are files nor MAX_DEFAULT_WORKERS."""
    return max(1, min(cores or os.cpu_count() or 1, files, MAX_DEFAULT_WORKERS))


def slots(workers: int) -> list[int]:
    """How ``workers`` files at once are spread over processes: the files each process runs
    at once (at most SLOTS_PER_PROCESS, as even as can be)."""
    processes = -(-workers // SLOTS_PER_PROCESS)
    return [workers // processes + (1 if index < workers % processes else 0) for index in range(processes)]


def worker_options(options: Options, workers: int, cores: int | None = None) -> Options:
    """The inference threads of each worker process, unless the caller chose a thread count:
    its share of the cores. Its model runs one file at a time on all of them, with threads that
    sleep rather than spin when idle (segment.set_spinning), so the other files' stages get the
    cores back whenever the model waits (u2netp, 12 varied 1280×720 photos, 2 cores: refine off
    and no colours 0.50 s a photo against 0.74 s with the model on one thread; the default
    0.82 s either way)."""
    if workers <= 1 or options.threads is not None:
        return options
    share = (cores or os.cpu_count() or 1) * max(slots(workers)) // workers
    return replace(options, threads=max(1, share))


def lost_worker_message(exitcode: int | None) -> str:
    """Why a file failed when the worker process cutting it out vanished (kill, OOM killer)."""
    if exitcode == STOPPED_BY_SIGTERM:
        exitcode = -signal.SIGTERM
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        cause = f"was killed ({name}{', often the out-of-memory killer' if name == 'SIGKILL' else ''})"
    else:
        cause = f"ended unexpectedly (exit code {exitcode})"
    return (f"the worker process cutting it out {cause}; nothing was written for it "
            "(try --workers 1 or a smaller --max-megapixels if memory is short)")


# A worker's exit code when SIGTERM stopped it, as a shell reports a process it killed.
STOPPED_BY_SIGTERM = 128 + signal.SIGTERM

# One worker process's state: its files in progress (index -> cancel token), whether to stop
# (the exit code), the lock over both and the lock over sending on the pipe.
_state: dict = {}


def _serve(connection: Connection, capacity: int, options: Options, output: Output, plan: pipeline.Plan) -> None:
    """A pool process: cut out each (index, job) it is sent, on a thread of its own, and send
    back (index, failure), until the parent sends None, closes its end, or dies. The parent
    never sends more files than the process's ``capacity`` (its slots), and the files share
    the process's cores (parallel.share): each file's parts run on its share of them.

    Ctrl-C reaches the whole process group: the parent alone answers it, stopping the pool with
    SIGTERM. SIGTERM and the parent's death are awaited by threads rather than handlers,
    because Python runs handlers only between bytecodes, after a long onnxruntime call: the
    files in progress are cancelled at once (onnxruntime stops mid-run, the stages stop at their
    next check, a half-written output's temporary file is removed) and the process ends when the
    last one has cleaned up, or at once between files. Nothing is printed: the parent reports
    every file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # before any thread exists
    segment.set_spinning(False)  # see worker_options
    parallel.share(capacity)
    _state.update(running={}, stopping=None, lock=threading.Lock(), sending=threading.Lock())
    threading.Thread(target=_await_signal, daemon=True).start()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_await_parent, args=(parent.sentinel,), daemon=True).start()
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            task = None
        if task is None:
            _cancel_and_stop(0)
            break
        index, job = task
        with _state["lock"]:
            if _state["stopping"] is not None:
                break
            cancel = _state["running"][index] = pipeline.CancelToken()
        threading.Thread(target=_cut_out, args=(connection, index, job, options, output, plan, cancel),
                         daemon=True).start()
    threading.Event().wait()  # the last file to clean up ends the process (returning would cut it short)


def _cut_out(connection: Connection, index: int, job: Job, options: Options, output: Output,
             plan: pipeline.Plan, cancel: pipeline.CancelToken) -> None:
    """One file on its own thread of a worker process; the last file of a stopping process ends it."""
    try:
        failure = cutout.process(job, options, output, plan, cancel)
    except BaseException:  # --debug lets a bug through: its traceback ends the worker, whose files fail
        traceback.print_exc()
        _stop(1)
    with _state["lock"]:
        del _state["running"][index]
        if _state["stopping"] is not None:
            if not _state["running"]:
                _stop(_state["stopping"])
            return
    try:
        with _state["sending"]:
            connection.send((index, failure))
    except OSError:  # the parent is gone: there is no one to tell
        _cancel_and_stop(0)


def _stop(code: int) -> NoReturn:
    os._exit(code)


def _await_signal() -> None:
    signal.sigwait({signal.SIGTERM})
    _cancel_and_stop(STOPPED_BY_SIGTERM)


def _await_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    _cancel_and_stop(0)


def _cancel_and_stop(code: int) -> None:
    """Stop the process: at once between files, else once its files have cleaned up."""
    with _state["lock"]:
        if _state["stopping"] is None:
            _state["stopping"] = code
        if not _state["running"]:
            _stop(_state["stopping"])  # between files: nothing to clean up
        for cancel in _state["running"].values():
            cancel.cancel()  # each file's own clean-up runs, then the last one stops the process


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: Connection
    slots: int
    tasks: dict[int, Job] = field(default_factory=dict)


class _Pool:
    """Worker processes fed over a pipe each, never more files at once than their slots.

    The parent always knows which files each worker holds: a worker that vanishes (kill -9,
    the out-of-memory killer) fails exactly those files, their temporary outputs are removed,
    and a fresh worker takes the remaining files. (A multiprocessing.Pool never learns that a
    task was lost and waits forever.)"""

    def __init__(self, workers: int, options: Options, output: Output, plan: pipeline.Plan) -> None:
        self.layout = slots(workers)
        self.context = multiprocessing.get_context("spawn")  # onnxruntime's threads do not survive a fork
        self.args = (worker_options(options, workers), output, plan)
        self.workers: list[_Worker] = []

    def _start(self, capacity: int) -> _Worker:
        ours, theirs = self.context.Pipe(duplex=True)
        process = self.context.Process(target=_serve, args=(theirs, capacity) + self.args, daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, ours, capacity)
        self.workers.append(worker)
        return worker

    def _fill(self, worker: _Worker, waiting: list[tuple[int, Job]]) -> None:
        """Give ``worker`` files from the end of ``waiting`` until its slots are full."""
        while waiting and len(worker.tasks) < worker.slots:
            index, job = waiting.pop()
            worker.tasks[index] = job
            try:
                worker.connection.send((index, job))
            except OSError:  # it died before it got the file: its death is seen by results()
                return

    def results(self, jobs: list[Job]) -> Iterator[tuple[int, str | None]]:
        """(index, failure) for every job, in the order they finish."""
        waiting = list(enumerate(jobs))[::-1]
        for capacity in self.layout:
            if waiting:
                self._fill(self._start(capacity), waiting)
        while any(worker.tasks for worker in self.workers):
            busy = [worker for worker in self.workers if worker.tasks]
            ready = multiprocessing.connection.wait(
                [w.connection for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.connection not in ready and worker.process.sentinel not in ready:
                    continue
                yield from self._answers(worker)
                if waiting:
                    if worker not in self.workers:
                        worker = self._start(worker.slots)
                    self._fill(worker, waiting)

    def _answers(self, worker: _Worker) -> Iterator[tuple[int, str | None]]:
        """The worker's answers so far; if it died, a failure for each file it still held."""
        try:
            while worker.connection.poll():
                index, failure = worker.connection.recv()
                worker.tasks.pop(index)
                yield index, failure
        except (EOFError, OSError):
            pass
        if worker.process.is_alive():
            return
        worker.process.join()
        message = lost_worker_message(worker.process.exitcode)
        for index, job in sorted(worker.tasks.items()):
            temporaries.remove(job.target, worker.process.pid)
            yield index, message
        worker.tasks.clear()
        worker.connection.close()
        self.workers.remove(worker)

    def stop(self) -> None:
        """Stop every worker: None to the idle ones, SIGTERM to the busy ones (they cancel their
        files and remove their temporaries), SIGKILL to any still there after a while."""
        for worker in self.workers:
            try:
                if not worker.tasks:
                    worker.connection.send(None)
                else:
                    worker.process.terminate()
            except OSError:
                pass
        for worker in self.workers:
            worker.process.join(STOP_GRACE_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            for job in worker.tasks.values():
                temporaries.remove(job.target, worker.process.pid)
            worker.connection.close()
        self.workers.clear()


# How long a worker asked to stop may take to cancel its file (onnxruntime stops mid-run).
STOP_GRACE_SECONDS = 10.0


def run(jobs: list[Job], options: Options, output: Output, plan: pipeline.Plan,
        workers: int = 1, progress: clips.FrameProgress | None = None) -> Iterator[tuple[Job, str | None]]:
    """Each job with its failure (or None), in input order; ``workers`` > 1 cuts that many out
    at once on worker processes (never more than there are jobs). ``progress`` hears of a
    video's frames when the files are cut out here, one after another.

    The workers are stopped before this returns, also when the caller stops early or is
    interrupted (Ctrl-C, SIGTERM turned into an exception by the CLI).
    """
    workers = min(workers, len(jobs))
    if workers <= 1:
        for job in jobs:
            yield job, cutout.process(job, options, output, plan, progress=progress)
        return
    pool = _Pool(workers, options, output, plan)
    try:
        for index, failure in in_order(pool.results(jobs), len(jobs)):
            yield jobs[index], failure
    finally:
        pool.stop()


def in_order(results: Iterable[tuple[int, T]], count: int, *, hold_last: bool = False) -> Iterator[tuple[int, T]]:
    """``(index, value)`` pairs, which arrive as their files finish, given back in index order
    0 … count-1, so messages and the failure list read the same as a run on one core.

    ``hold_last``: the last one waits until ``results`` ends (its summary line, its clean-up), for
    callers that stop asking once they have every one (the CLI over Ray).
    """
    finished: dict[int, T] = {}
    following = 0
    for index, value in results:
        finished[index] = value
        while following in finished and not (hold_last and following == count - 1):
            yield following, finished.pop(following)
            following += 1
    while following in finished:
        yield following, finished.pop(following)
        following += 1
