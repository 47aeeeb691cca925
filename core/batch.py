"""Cut out a list of files: one after another here, or on a pool of worker processes.

Why processes: onnxruntime's inference already keeps every core busy, but decoding, refining,
estimating colours and PNG encoding run on one core each (numpy and Pillow, mostly under the
GIL). Worker processes that each run whole files with a share of the inference threads keep
every core busy through every stage. Threads inside one process were measured and gave
nothing (docs/benchmarks/2026-12-01-speed-rembg.md); processes are what `multiprocessing` is for.

Results come back in input order whatever order the workers finish in, so messages and the
failure list read the same as a run on one core. The queue holds paths, not pixels: memory
grows with the number of workers, not with the number of files.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Iterable, Iterator, NoReturn, TypeVar

from . import cutout, imagewrite, pipeline
from .cutout import Job, Output
from .options import Options

# Each worker holds its own model session and one photo's working set (~0.6 GiB at 12 MP):
# beyond four, a batch gains little on the machines this runs on and memory grows.
MAX_DEFAULT_WORKERS = 4

T = TypeVar("T")


def default_workers(files: int, cores: int | None = None) -> int:
    """One worker per core, no more than there are files nor MAX_DEFAULT_WORKERS."""
    return max(1, min(cores or os.cpu_count() or 1, files, MAX_DEFAULT_WORKERS))


def worker_options(options: Options, workers: int, cores: int | None = None) -> Options:
    """Each worker's share of the cores for inference, unless the caller chose a thread count."""
    if workers <= 1 or options.threads is not None:
        return options
    return replace(options, threads=max(1, (cores or os.cpu_count() or 1) // workers))


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

# One worker process's state: its options, the file in progress and whether to stop.
_state: dict = {}


def _serve(connection: Connection, options: Options, output: Output, plan: pipeline.Plan) -> None:
    """A pool process: cut out each (index, job) it is sent and send back (index, failure),
    until the parent sends None, closes its end, or dies.

    Ctrl-C reaches the whole process group: the parent alone answers it, stopping the pool with
    SIGTERM. SIGTERM and the parent's death are awaited by threads rather than handlers,
    because Python runs handlers only between bytecodes, after a long onnxruntime call: the
    file in progress is cancelled at once (onnxruntime stops mid-run, the stages stop at their
    next check, a half-written output's temporary file is removed) or, between files, the
    process ends. Nothing is printed: the parent reports every file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # before any thread exists
    _state.update(cancel=None, stopping=None, lock=threading.Lock())
    threading.Thread(target=_await_signal, daemon=True).start()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_await_parent, args=(parent.sentinel,), daemon=True).start()
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            _stop(0)
        if task is None:
            _stop(0)
        index, job = task
        with _state["lock"]:
            if _state["stopping"] is not None:
                _stop(_state["stopping"])
            _state["cancel"] = pipeline.CancelToken()
        failure = cutout.process(job, options, output, plan, _state["cancel"])
        with _state["lock"]:
            _state["cancel"] = None
            if _state["stopping"] is not None:
                _stop(_state["stopping"])
        try:
            connection.send((index, failure))
        except OSError:  # the parent is gone: there is no one to tell
            _stop(0)


def _stop(code: int) -> NoReturn:
    os._exit(code)


def _await_signal() -> None:
    signal.sigwait({signal.SIGTERM})
    _cancel_and_stop(STOPPED_BY_SIGTERM)


def _await_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    _cancel_and_stop(0)


def _cancel_and_stop(code: int) -> None:
    with _state["lock"]:
        _state["stopping"] = code
        if _state["cancel"] is None:
            _stop(code)  # between files: nothing to clean up
        _state["cancel"].cancel()  # the file's own clean-up runs, then the loop stops


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: Connection
    task: tuple[int, Job] | None = None


class _Pool:
    """Worker processes fed one file at a time over a pipe each.

    One file at a time per worker means the parent always knows which file each worker holds:
    a worker that vanishes (kill -9, the out-of-memory killer) fails exactly that file, its
    temporary output is removed, and a fresh worker takes the remaining files. (A
    multiprocessing.Pool never learns that a task was lost and waits forever.)"""

    def __init__(self, workers: int, options: Options, output: Output, plan: pipeline.Plan) -> None:
        self.size = workers
        self.context = multiprocessing.get_context("spawn")  # onnxruntime's threads do not survive a fork
        self.args = (worker_options(options, workers), output, plan)
        self.workers: list[_Worker] = []

    def _start(self) -> _Worker:
        ours, theirs = self.context.Pipe(duplex=True)
        process = self.context.Process(target=_serve, args=(theirs,) + self.args, daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self.workers.append(worker)
        return worker

    def _give(self, worker: _Worker, task: tuple[int, Job]) -> None:
        try:
            worker.connection.send(task)
        except OSError:  # it died before it got the file: its death is seen by results()
            pass
        worker.task = task

    def results(self, jobs: list[Job]) -> Iterator[tuple[int, str | None]]:
        """(index, failure) for every job, in the order they finish."""
        waiting = list(enumerate(jobs))[::-1]
        for _ in range(min(self.size, len(jobs))):
            self._give(self._start(), waiting.pop())
        while any(worker.task for worker in self.workers):
            busy = [worker for worker in self.workers if worker.task]
            ready = multiprocessing.connection.wait(
                [w.connection for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                answer = self._answer(worker, ready)
                if answer is None:
                    continue
                yield answer
                if waiting:
                    if worker not in self.workers:
                        worker = self._start()
                    self._give(worker, waiting.pop())

    def _answer(self, worker: _Worker, ready: list) -> tuple[int, str | None] | None:
        """The worker's answer if it has one: its result, or its file's failure if it died."""
        assert worker.task is not None
        index, job = worker.task
        if worker.connection in ready or worker.process.sentinel in ready:
            try:
                if worker.connection.poll():
                    answer = worker.connection.recv()
                    worker.task = None
                    return answer
            except (EOFError, OSError):
                pass
            if worker.process.sentinel not in ready and worker.process.is_alive():
                return None
            worker.process.join()
            imagewrite.remove_temporaries(job.target, worker.process.pid)
            worker.task = None
            worker.connection.close()
            self.workers.remove(worker)
            return index, lost_worker_message(worker.process.exitcode)
        return None

    def stop(self) -> None:
        """Stop every worker: None to the idle ones, SIGTERM to the busy ones (they cancel their
        file and remove its temporary), SIGKILL to any still there after a while."""
        for worker in self.workers:
            try:
                if worker.task is None:
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
            if worker.task is not None:
                imagewrite.remove_temporaries(worker.task[1].target, worker.process.pid)
            worker.connection.close()
        self.workers.clear()


# How long a worker asked to stop may take to cancel its file (onnxruntime stops mid-run).
STOP_GRACE_SECONDS = 10.0


def run(jobs: list[Job], options: Options, output: Output, plan: pipeline.Plan,
        workers: int = 1) -> Iterator[tuple[Job, str | None]]:
    """Each job with its failure (or None), in input order; ``workers`` > 1 runs them on worker
    processes (never more than there are jobs).

    The workers are stopped before this returns, also when the caller stops early or is
    interrupted (Ctrl-C, SIGTERM turned into an exception by the CLI).
    """
    workers = min(workers, len(jobs))
    if workers <= 1:
        for job in jobs:
            yield job, cutout.process(job, options, output, plan)
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
