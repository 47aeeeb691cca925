"""The cut-out sequence for a video: frames in → engine (with the clip's stream state) → render →
an alpha video, a mask or composite video, or an image sequence out.

Frames are decoded, cut out, rendered and encoded one at a time: memory depends on the frame
size, never on the clip's length. The engine sees each frame with the clip's
``temporal.StreamState``: RVM carries its recurrent state, other models get the temporal
smoothing ``Options.temporal_smoothing`` asks for. Audio packets pass through as they come.
A failure, a cancel, Ctrl-C or SIGTERM leaves the target as it was (writers work on temporaries).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from . import backgrounds, compose, imagewrite, pipeline, sequences, temporal, videoio, videowrite
from .options import Options

# progress(frames written, frames in the clip as its header counts them or its length and frame
# rate say, or None when it says neither)
FrameProgress = Callable[[int, "int | None"], None]

# What a video becomes when neither -o nor --format says: a cut-out needs alpha (VP9 WebM);
# a mask or a composite has none, so it goes where it plays everywhere (H.264 MP4).
DEFAULT_CUTOUT_SUFFIX = ".webm"
DEFAULT_FLAT_SUFFIX = ".mp4"
VIDEO_FORMATS = tuple(suffix[1:] for suffix in videoio.KINDS)


def default_suffix(mask: bool, bg: str | None) -> str:
    """The suffix of a video's result when the command line names none."""
    return DEFAULT_FLAT_SUFFIX if mask or bg else DEFAULT_CUTOUT_SUFFIX


def target_problem(suffix: str, mask: bool, bg: str | None) -> str | None:
    """Why a video cannot be written as ``suffix`` (its kind has no alpha for a cut-out), or None.
    A target without a video suffix is an image-sequence folder."""
    kind = videoio.KINDS.get(suffix.lower())
    if kind is not None and not kind.alpha and not (mask or bg):
        return (f"{suffix} video has no transparency, so it cannot hold a cut-out; use .webm or .mov, "
                "or --bg COLOUR|PICTURE or --mask")
    return None


def cut_out_clip(source: str | os.PathLike[str], target: str | os.PathLike[str], options: Options,
                 plan: pipeline.Plan, *, mask: bool = False, bg: str | None = None, image_format: str | None = None,
                 max_pixels: int, cancel: pipeline.CancelToken | None = None,
                 progress: FrameProgress | None = None, name: str | None = None) -> None:
    """Cut a video file out into ``target``: a video when its suffix is one of videoio.KINDS, else
    a folder of ``image_format`` pictures (sequences.py). Raises CleancutError; leaves nothing.
    ``name``: the file as messages call it, when ``source`` is a copy of it (a Ray node's)."""
    cancel = cancel or pipeline.CancelToken()
    target = Path(target)
    with videoio.open_clip(source, max_pixels, name) as clip:
        layout = "gray" if mask else ("rgb24" if bg else "rgba")
        if target.suffix.lower() in videoio.KINDS:
            writer: videowrite.VideoWriter | sequences.SequenceWriter = videowrite.VideoWriter(target, clip, layout)
        else:
            writer = sequences.SequenceWriter(target, image_format or imagewrite.SUPPORTED_OUTPUT_FORMATS[0])
        with writer:
            written, last_pts = _frames(clip, writer, options, plan, mask, bg, max_pixels, cancel, progress)
            shortfall = clip.shortfall(written, last_pts)
            if shortfall:
                raise videoio.VideoError(f"cannot read {clip.name}: {shortfall}; the file is truncated or damaged, so nothing "
                                         "was written")
            writer.finish()


def _frames(clip: videoio.Clip, writer: videowrite.VideoWriter | sequences.SequenceWriter, options: Options,
            plan: pipeline.Plan, mask: bool, bg: str | None, max_pixels: int, cancel: pipeline.CancelToken,
            progress: FrameProgress | None) -> tuple[int, int | None]:
    """Every frame through the engine into ``writer``, audio passed along: how many frames were
    written, and the last one's timestamp."""
    state = temporal.StreamState()
    decoder = clip.decoder()
    written, last_pts = 0, None
    expected = clip.frames_expected()

    def take(frames: Iterator[videoio.Frame]) -> None:
        nonlocal written, last_pts
        for frame in frames:
            writer.write(_render(frame, options, plan, state, mask, bg, max_pixels, cancel), frame.pts)
            written, last_pts = written + 1, frame.pts
            if progress is not None:
                progress(written, max(written, expected) if expected is not None else None)

    for packet in clip.packets():
        cancel.check()
        if packet.stream.type == "audio":
            writer.copy_audio(packet)
        else:
            take(clip.decode(decoder, packet))
    take(clip.decode(decoder, None))  # what a decoder of its own still holds
    return written, last_pts


def _render(frame: videoio.Frame, options: Options, plan: pipeline.Plan, state: temporal.StreamState,
            mask: bool, bg: str | None, max_pixels: int, cancel: pipeline.CancelToken) -> np.ndarray:
    """One frame cut out with the clip's state and rendered as the output wants it (8-bit)."""
    result = pipeline.remove(frame.rgb, options, plan=plan, cancel=cancel, stream=state)
    height, width = result.alpha.shape
    background = backgrounds.pixels(bg, height, width, max_pixels) if bg else None
    colours = result.foreground if result.foreground is not None else frame.rgb
    return compose.finish(result.alpha, frame.alpha, colours, 8, mask=mask, background=background)
