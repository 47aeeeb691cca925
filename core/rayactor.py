"""One Ray actor of `cleancut remove --ray`: what a node does with the files it is given.

A plain class: ``ray.remote`` is applied when a batch starts (cluster.py), so this module imports
without Ray; the nodes import it by name, so they need the same cleancut installed. The actor
keeps its model sessions loaded, checks before any work that its node may and can run the batch
(same cleancut version, the driver's models by sha256, its own licence gate and model cache),
and turns each task's input bytes into its outputs' bytes with the one cut-out sequence
(cutout.py; clips.py for a video), exactly as the local command writes them.

A video is one task, whole: its bytes come as a photo's do, are cut out on the node through
files in a private folder (PyAV reads and writes files) and its outputs go back as bytes. One
task per file keeps a clip's recurrent state and smoothing unbroken, and needs no joining of
encoded pieces; the price is a clip's compressed bytes held in memory on the way.
"""

from __future__ import annotations

import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, clips, cutout, pipeline, prompts, videoio
from .cutout import Output
from .errors import CleancutError
from .options import Options


@dataclass(frozen=True)
class Task:
    """One input file and the files made from it: (where the driver writes it, what it holds).
    The CLI's tasks have one output; the pyblish extractor's two (mask and cut-out)."""

    source: str
    outputs: tuple[tuple[str, Output], ...]
    prompt: prompts.Prompt | None = None  # a box (a hint file is refused with --ray)


@dataclass
class Outcome:
    """What an actor gives back for a task: the encoded outputs, or the failure's message."""

    files: list[bytes] | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    node: str = ""
    peak_rss: int | None = None  # bytes, the actor process's high-water mark (Linux)


class Remover:
    """One Ray actor: keeps its model sessions loaded and turns input bytes into output bytes."""

    def __init__(self, options: Options, models: dict[str, str], version: str, max_pixels: int,
                 debug: bool = False) -> None:
        self.options = options
        self.max_pixels = max_pixels
        self.debug = debug
        self.plan: pipeline.Plan | None = None
        self.refusal = self._check(models, version)

    def _check(self, models: dict[str, str], version: str) -> str | None:
        """Why this node must not run the batch, or None: its cleancut version, its catalog's
        models (the driver's sha256), its licence gate (its own settings file) and its model
        cache (verified; fetched if missing and allowed)."""
        if version != __version__:
            return f"it runs cleancut {__version__}, the driver {version}; install the same version on every node"
        try:
            plan = pipeline.prepare(self.options, bar=False)
        except CleancutError as err:
            return str(err)
        mine = {entry.id: entry.sha256 for entry in plan.entries}
        if mine != models:
            return f"its catalog gives models {mine}, the driver's {models}; give every node the same catalog files"
        self.plan = plan
        return None

    def ready(self) -> dict[str, Any]:
        """Where this actor runs, and why it refuses to work (None when it does not)."""
        return {"node": node_label(), "refusal": self.refusal}

    def remove(self, task: Task, data: bytes) -> Outcome:
        """The task's outputs encoded, exactly as the local command writes them; a failure of
        this file is returned as its message, never raised (the actor stays up)."""
        try:
            if self.plan is None:
                raise CleancutError(self.refusal or "this actor refused the batch")
            if videoio.is_video(task.source):
                files = _video_outputs(task, data, self.options, self.plan, self.max_pixels)
                return Outcome(files=files, node=node_label(), peak_rss=peak_rss())
            picture, result = cutout.cut_out(task.source, self.options, self.plan, prompt=task.prompt,
                                             max_pixels=self.max_pixels, data=data)
            files = [cutout.encode(picture, result, target, output) for target, output in task.outputs]
            return Outcome(files=files, timings=result.timings, node=node_label(), peak_rss=peak_rss())
        except Exception as err:
            message = cutout.failure(err)
            if self.debug and not isinstance(err, (CleancutError, MemoryError)):
                message += "\n" + traceback.format_exc()
            return Outcome(error=message, node=node_label(), peak_rss=peak_rss())


def _video_outputs(task: Task, data: bytes, options: Options, plan: pipeline.Plan, max_pixels: int) -> list[bytes]:
    """A video's outputs made on this node: its bytes into a private folder, each output cut out
    there (clips.py) and read back; the folder goes, whatever happens."""
    with tempfile.TemporaryDirectory(prefix="cleancut-ray-") as scratch:
        source = Path(scratch) / f"input{Path(task.source).suffix}"
        source.write_bytes(data)
        files = []
        for index, (target, output) in enumerate(task.outputs):
            made = Path(scratch) / f"output{index}{Path(target).suffix}"
            if made.suffix.lower() not in videoio.KINDS:
                raise CleancutError(f"{target}: image sequences are not made on Ray; choose a video format")
            clips.cut_out_clip(source, made, options, plan, mask=output.mask, bg=output.bg,
                               max_pixels=max_pixels, name=task.source)
            files.append(made.read_bytes())
        return files


def node_label() -> str:
    """This node's address and id, for the report's files-per-node line (runs inside Ray)."""
    import ray  # noqa: PLC0415 - only ever called inside a Ray actor: Ray is an optional extra

    return f"{ray.util.get_node_ip_address()} ({ray.get_runtime_context().get_node_id()[:8]})"


def peak_rss() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
