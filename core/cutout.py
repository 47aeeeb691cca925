"""The one cut-out sequence: read → RGB → hint → remove → render → write (or encode); a video's
frames go the same way in clips.py.

The local batch (batch.py), the Ray actors (cluster.py) and the pyblish extractor all cut a file
out with these functions, so a file gives the same output bytes whichever of them ran it: 16-bit
sources stay 16-bit, an alpha the source already had limits the new one, the ICC profile and
EXIF are kept, and a failure becomes one line (``failure``) instead of stopping a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import backgrounds, clips, compose, imageread, imagewrite, pipeline, prompts, stopping, videoio
from .errors import CleancutError
from .options import Options


@dataclass(frozen=True)
class Job:
    """One input file, where its result goes, and where its subject is (a box or hint file, clicks)."""

    source: Path
    target: Path
    prompt: prompts.Prompt | None = None

    def inputs(self) -> list[Path]:
        """Every file this job reads (the image, a --hint file): none may be an output."""
        hint = self.prompt.hint if self.prompt is not None else None
        return [self.source] + ([hint] if hint is not None else [])


@dataclass(frozen=True)
class Output:
    """What to write for each file, as the command line asked."""

    mask: bool = False
    bg: str | None = None
    format: str | None = None
    max_pixels: int = imageread.DEFAULT_MAX_PIXELS
    debug: bool = False


def cut_out(source: str | Path, options: Options, plan: pipeline.Plan | None = None, *,
            prompt: prompts.Prompt | None = None, max_pixels: int = imageread.DEFAULT_MAX_PIXELS,
            data: bytes | None = None, cancel: pipeline.CancelToken | None = None,
            ) -> tuple[imageread.Picture, pipeline.Result]:
    """One file read (from ``data`` when its bytes came over the network) and cut out: the
    decoded picture, for its depth, alpha and metadata, and the engine's result."""
    picture = imageread.read_image(source, max_pixels, data=data)
    rgb = imageread.to_rgb8(picture)
    hint = prompts.hint_for(prompt, rgb.shape, max_pixels)
    clicks = prompts.clicks_for(prompt, rgb.shape)
    return picture, pipeline.remove(rgb, options, hint=hint, plan=plan, cancel=cancel, clicks=clicks)


def render(picture: imageread.Picture, result: pipeline.Result, output: Output) -> np.ndarray:
    """The pixels of one photo's mask, cut-out or composite, at its full depth."""
    height, width = result.alpha.shape
    background = backgrounds.pixels(output.bg, height, width, output.max_pixels) if output.bg else None
    colours = result.foreground if result.foreground is not None else picture.rgb
    return compose.finish(result.alpha, picture.alpha, colours, picture.bit_depth, mask=output.mask,
                          background=background)


def write(picture: imageread.Picture, result: pipeline.Result, target: str | Path, output: Output) -> None:
    """The mask, cut-out or composite of one photo, written atomically at its full depth."""
    imagewrite.write_image(target, render(picture, result, output), format=output.format,
                       icc_profile=picture.icc_profile, exif=picture.exif)


def encode(picture: imageread.Picture, result: pipeline.Result, target: str | Path, output: Output) -> bytes:
    """The bytes ``write`` would put at ``target`` (a Ray actor's answer; the driver writes)."""
    return imagewrite.encode_image(target, render(picture, result, output), format=output.format,
                               icc_profile=picture.icc_profile, exif=picture.exif)


def process(job: Job, options: Options, output: Output, plan: pipeline.Plan,
            cancel: pipeline.CancelToken | None = None, progress: clips.FrameProgress | None = None) -> str | None:
    """Read, cut out and write one file, a photo or a video: why it failed, or None. One bad
    file never stops a batch, so every error becomes its message (``--debug`` lets a bug's
    traceback through). ``progress`` hears of a video's frames as they are written."""
    try:
        if videoio.is_video(job.source):
            clips.cut_out_clip(job.source, job.target, options, plan, mask=output.mask, bg=output.bg,
                               image_format=output.format, max_pixels=output.max_pixels, cancel=cancel,
                               progress=progress)
            return None
        picture, result = cut_out(job.source, options, plan, prompt=job.prompt,
                                  max_pixels=output.max_pixels, cancel=cancel)
        write(picture, result, job.target, output)
        return None
    except Exception as err:
        return failure(err, output.debug)


def failure(err: Exception, debug: bool = False) -> str:
    """A failed file's line in the failure list; a bug's too (the batch goes on), unless
    ``debug`` wants its traceback (then it is raised again). A Ctrl-C or ending signal that
    an import wrapped in an ImportError is raised as itself: the user is stopping the run."""
    stop = stopping.interruption(err)
    if stop is not None:
        raise stop
    if isinstance(err, CleancutError):
        return str(err)
    if isinstance(err, MemoryError):
        return "out of memory; try a smaller image or fewer threads"
    if debug:
        raise err
    return f"internal error ({type(err).__name__}: {err}); rerun with --debug"
