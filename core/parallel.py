"""Work on threads, results in order: the one way the engine splits one picture's work.

numpy, OpenCV, Pillow's resampling and zlib-ng release the GIL in their loops, so a photo's
independent parts (deflate bands, the guided upsample's tiles, the colours' tiles, the closed-form
Laplacian's chunks) run side by side on threads. The results come back in the parts' order and
the caller combines them on its own thread, so the answer is the same bytes whatever the number
of threads and whichever finishes first.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_THREADS = 8
_pictures = {"at_once": 1}


def share(pictures: int) -> None:
    """Say that this process works on ``pictures`` pictures at once (a batch's worker process):
    each picture's parts then get its share of the cores. Files on the threads of a worker
    already keep the cores busy, and parts on more threads only contend with them."""
    _pictures["at_once"] = max(1, pictures)


def threads() -> int:
    """Threads for one picture's parts: its share of the cores this process may use, at most
    MAX_THREADS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores // _pictures["at_once"], MAX_THREADS))


def ordered_map(work: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> Iterator[R]:
    """``work(item)`` for each item, yielded in the items' order. Several run at once on
    ``workers`` threads (default: threads()) when there are several items; at most one more
    result than there are threads waits to be taken, so memory stays bounded by the threads,
    not by the items. An exception in a part is raised here, in order, after the parts already
    running have finished."""
    count = threads() if workers is None else max(1, workers)
    if count == 1 or len(items) <= 1:
        for item in items:
            yield work(item)
        return
    with ThreadPoolExecutor(count) as pool:
        pending: collections.deque[Future[R]] = collections.deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > count:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the caller stopped early (an error, Ctrl-C): parts not started never start
            for future in pending:
                future.cancel()
