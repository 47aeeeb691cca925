"""Cut out a list of files: one after another here, or on a pool of worker processes.

Why processes: onnxruntime's inference already keeps every core busy, but decoding, refining,
estimating colours and PNG encoding run on one core each (numpy and Pillow, mostly under the
GIL). Worker processes that each run whole files with a share of the inference threads keep
every core busy through every stage. Threads inside one process were measured and gave
nothing (README, "Speed"); processes are what `multiprocessing` is for.

Results come back in input order whatever order the workers finish in, so messages and the
failure list read the same as a run on one core. The queue holds paths, not pixels: memory
grows with the number of workers, not with the number of files.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from . import compose, images, pipeline, prompts
from .errors import CleancutError
from .options import Options

# Each worker holds its own model session and one photo's working set (~0.6 GiB at 12 MP):
# beyond four, a batch gains little on the machines this runs on and memory grows.
MAX_DEFAULT_WORKERS = 4


@dataclass(frozen=True)
class Job:
    """One input file, where its result goes, and where its subject is (a box or hint file)."""

    source: Path
    target: Path
    prompt: prompts.Prompt | None = None


@dataclass(frozen=True)
class Output:
    """What to write for each file, as the command line asked."""

    mask: bool = False
    bg: str | None = None
    format: str | None = None
    max_pixels: int = images.DEFAULT_MAX_PIXELS
    debug: bool = False


def render(picture: images.Picture, result: pipeline.Result, output: Output):
    """The pixels of one photo's mask, cut-out or composite, at its full depth."""
    alpha = compose.combine_alpha(result.alpha, picture.alpha)
    depth = picture.bit_depth
    if output.mask:
        return compose.quantise(alpha, depth)
    colours = result.foreground if result.foreground is not None else picture.rgb
    if output.bg:
        return compose.over_colour(colours, alpha, compose.parse_colour(output.bg), depth)
    return compose.cutout(colours, alpha, depth)


def write_result(picture: images.Picture, result: pipeline.Result, target: Path, output: Output) -> None:
    """The mask, cut-out or composite of one photo, written atomically at its full depth."""
    images.write_image(target, render(picture, result, output), format=output.format,
                       icc_profile=picture.icc_profile, exif=picture.exif)


def process(job: Job, options: Options, output: Output, plan: pipeline.Plan,
            cancel: pipeline.CancelToken | None = None) -> str | None:
    """Read, cut out and write one file: why it failed, or None. One bad file never stops a
    batch, so every error becomes its message (``--debug`` lets a bug's traceback through)."""
    try:
        picture = images.read_image(job.source, max_pixels=output.max_pixels)
        rgb = images.to_rgb8(picture)
        hint = prompts.hint_for(job.prompt, rgb.shape, output.max_pixels)
        result = pipeline.remove(rgb, options, hint=hint, plan=plan, cancel=cancel)
        write_result(picture, result, job.target, output)
        return None
    except Exception as err:
        return failure(err, output.debug)


def failure(err: Exception, debug: bool = False) -> str:
    """A failed file's line in the failure list; a bug's too (the batch goes on), unless
    ``debug`` wants its traceback (then it is raised again)."""
    if isinstance(err, CleancutError):
        return str(err)
    if isinstance(err, MemoryError):
        return "out of memory; try a smaller image or fewer threads"
    if debug:
        raise err
    return f"internal error ({type(err).__name__}: {err}); rerun with --debug"


def default_workers(files: int, cores: int | None = None) -> int:
    """One worker per core, no more than there are files nor MAX_DEFAULT_WORKERS."""
    return max(1, min(cores or os.cpu_count() or 1, files, MAX_DEFAULT_WORKERS))


def worker_options(options: Options, workers: int, cores: int | None = None) -> Options:
    """Each worker's share of the cores for inference, unless the caller chose a thread count."""
    if workers <= 1 or options.threads is not None:
        return options
    return replace(options, threads=max(1, (cores or os.cpu_count() or 1) // workers))


_state: dict = {}


def _start_worker(options: Options, output: Output, plan: pipeline.Plan) -> None:
    """Set up a pool process. Ctrl-C reaches the whole process group: the parent alone answers
    it, stopping the pool with SIGTERM. SIGTERM is taken by a thread rather than a handler,
    because Python runs handlers only between bytecodes, after a long onnxruntime call: the
    thread cancels the file in progress at once (onnxruntime stops mid-run, the stages stop at
    their next check, a half-written output's temporary file is removed) or, between files,
    ends the process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # before any thread exists
    _state.update(options=options, output=output, plan=plan, cancel=None, lock=threading.Lock())
    threading.Thread(target=_await_stop, daemon=True).start()


def _await_stop() -> None:
    signal.sigwait({signal.SIGTERM})
    with _state["lock"]:
        _state["stopping"] = True
        if _state["cancel"] is None:
            os._exit(128 + signal.SIGTERM)  # between files: nothing to clean up
        _state["cancel"].cancel()


def _process_in_worker(job: Job) -> str | None:
    with _state["lock"]:
        if _state.get("stopping"):
            os._exit(128 + signal.SIGTERM)
        _state["cancel"] = pipeline.CancelToken()
    try:
        return process(job, _state["options"], _state["output"], _state["plan"], _state["cancel"])
    finally:
        with _state["lock"]:
            _state["cancel"] = None
            if _state.get("stopping"):
                os._exit(128 + signal.SIGTERM)


def run(jobs: list[Job], options: Options, output: Output, plan: pipeline.Plan,
        workers: int = 1) -> Iterator[tuple[Job, str | None]]:
    """Each job with its failure (or None), in input order; ``workers`` > 1 runs them on a pool.

    The pool's processes are spawned (never forked: onnxruntime's threads do not survive a
    fork) and stopped before this returns, also when the caller stops early or is interrupted.
    """
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            yield job, process(job, options, output, plan)
        return
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(workers, initializer=_start_worker,
                        initargs=(worker_options(options, workers), output, plan))
    try:
        for job, failure in zip(jobs, pool.imap(_process_in_worker, jobs)):
            yield job, failure
    except BaseException:  # interrupted, or the caller stopped early: stop the workers now
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()
