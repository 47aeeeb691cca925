"""Video files in with PyAV (FFmpeg's libraries): one frame at a time, never a whole clip.

Reading (:func:`open_clip`): the first video stream's frames as 8-bit RGB, upright (the display
rotation applied, as players show them), with the alpha a VP8/VP9 WebM can carry; the frame
size is checked from the header before anything is decoded, like an image's. The kinds of
video an output can be (KINDS) and what reading and writing share live here too; writing is
:mod:`cleancut.videowrite`'s job.

PyAV (BSD) bundles FFmpeg with libvpx, libx264 and ProRes: one pip wheel, no system FFmpeg.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from . import smallfiles
from .errors import CleancutError

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".m4v")


class VideoError(CleancutError):
    """A video that cannot be read or written; the message says which and why."""


@dataclass(frozen=True)
class Kind:
    """What an output suffix means: container, encoder, pixel format and its settings."""

    container: str
    codec: str
    pix_fmt: str
    alpha: bool
    options: dict[str, str] = field(default_factory=dict)
    odd_pix_fmt: str | None = None  # the pixel format for odd frame sizes, when pix_fmt needs even ones


_VP9 = {"crf": "24", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1", "lag-in-frames": "0",
        "auto-alt-ref": "0"}
KINDS: dict[str, Kind] = {
    ".webm": Kind("webm", "libvpx-vp9", "yuva420p", True, _VP9),
    ".mkv": Kind("matroska", "libvpx-vp9", "yuva420p", True, _VP9),
    ".mov": Kind("mov", "prores_ks", "yuva444p10le", True, {"profile": "4444", "qscale": "4"}),
    ".mp4": Kind("mp4", "libx264", "yuv420p", False, {"crf": "16", "preset": "fast"}, odd_pix_fmt="yuv444p"),
}


@dataclass(frozen=True)
class Info:
    """What the header says about a clip's video stream (sizes as stored, before rotation)."""

    width: int
    height: int
    rotation: int  # degrees counter-clockwise a player turns the stored frames: 0, 90, 180 or 270
    frames: int | None  # as the header counts them; None when it does not
    rate: Fraction | None
    time_base: Fraction
    duration: float | None  # seconds of video the header states; None when it does not


@dataclass
class Frame:
    """One decoded frame: upright 8-bit RGB, its own alpha (None if the clip has none), its time."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    pts: int


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether a path names a video by its suffix (any case)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def upright(pixels: np.ndarray, rotation: int) -> np.ndarray:
    """Stored pixels turned as a player shows them (``rotation`` degrees counter-clockwise)."""
    return np.ascontiguousarray(np.rot90(pixels, rotation // 90))


def stored(pixels: np.ndarray, rotation: int) -> np.ndarray:
    """Upright pixels turned back to the stored orientation (the inverse of :func:`upright`)."""
    return np.ascontiguousarray(np.rot90(pixels, -(rotation // 90)))


class Clip:
    """An open video file; use as a context manager, read with :meth:`frames`."""

    def __init__(self, path: Path, max_pixels: int, name: str | None = None) -> None:
        self.path = path
        self.name = name or str(path)  # what messages call it
        if os.path.lexists(path) and not path.is_file():
            raise VideoError(f"{self.name} is {smallfiles.describe(path)}, not a video file")
        try:
            self.container = av.open(str(path), metadata_errors="replace")
        except (av.error.FFmpegError, OSError, UnicodeError) as err:
            raise VideoError(f"{self.name} cannot be read as a video ({reason(err)})") from None
        try:
            if not self.container.streams.video:
                kinds = sorted({str(stream.type) for stream in self.container.streams}) or ["no streams"]
                raise VideoError(f"{self.name} has no video stream ({', '.join(kinds)}); cleancut cuts out pictures")
            self.stream = self.container.streams.video[0]
            self.info = self._info(max_pixels)
        except BaseException:
            self.container.close()
            raise

    def _info(self, max_pixels: int) -> Info:
        context = self.stream.codec_context
        width, height = context.width, context.height
        if width < 1 or height < 1:
            raise VideoError(f"{self.name}: its video stream states no frame size; the file is damaged")
        if width * height > max_pixels:
            raise VideoError(f"{self.name}: frames of {width}×{height} ({width * height / 1e6:.1f} MP) exceed the "
                             f"limit of {max_pixels / 1e6:g} MP; raise it with --max-megapixels if the video is trusted")
        rotation = 0
        with contextlib.suppress(StopIteration, av.error.FFmpegError):
            rotation = self._first_rotation()
        rate = self.stream.average_rate or self.stream.guessed_rate
        return Info(width=width, height=height, rotation=rotation, frames=self.stream.frames or None,
                    rate=Fraction(rate) if rate else None, time_base=self._time_base(),
                    duration=self._duration())

    def _time_base(self) -> Fraction:
        """The unit of the stream's timestamps (FFmpeg's 1/90000 if a demuxer states none)."""
        return Fraction(self.stream.time_base or Fraction(1, 90000))

    def _duration(self) -> float | None:
        """The video stream's own length: its header field, else Matroska's DURATION tag."""
        if self.stream.duration:
            return float(self.stream.duration * self._time_base())
        match = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", self.stream.metadata.get("DURATION", ""))
        if match is None:
            return None
        hours, minutes, seconds = match.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)

    def frames_expected(self) -> int | None:
        """How many frames the clip has, for a progress bar: the header's count, else its length
        times its frame rate (Matroska states no count), else None."""
        info = self.info
        if info.frames is not None:
            return info.frames
        if info.duration is not None and info.rate:
            return max(1, round(info.duration * info.rate))
        return None

    def shortfall(self, written: int, last_pts: int | None) -> str | None:
        """Why the frames decoded fall short of what the header promises (a truncated or
        damaged file), or None: fewer frames than it counts, or ending over a frame early."""
        info = self.info
        if written == 0:
            return "no frame could be decoded"
        if info.frames is not None and written < info.frames:
            return f"only {written} of the {info.frames} frames its header states could be decoded"
        if info.duration is not None and last_pts is not None and last_pts >= 0:
            frame = float(1 / info.rate) if info.rate else 0.04
            start = float((self.stream.start_time or 0) * info.time_base)
            ends = float(last_pts * info.time_base) - start + frame
            if ends < info.duration - 1.5 * frame:
                return f"its frames end at {ends:.2f} s of the {info.duration:.2f} s its header states"
        return None

    def _first_rotation(self) -> int:
        """The display rotation, from the stream's display matrix (read from its first frame,
        where FFmpeg puts it), as 0, 90, 180 or 270."""
        probe = av.open(str(self.path), metadata_errors="replace")
        try:
            frame = next(probe.decode(probe.streams.video[0]))
            return round((frame.rotation or 0) / 90) % 4 * 90
        finally:
            probe.close()

    def __enter__(self) -> Clip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.container.close()

    def packets(self) -> Iterator[Any]:
        """Every packet of the video stream and of the audio streams, in file order."""
        return self.container.demux(self.stream, *self.container.streams.audio)

    def decoder(self) -> Any:
        """The video decoder: libvpx for VP8/VP9 that carries alpha (FFmpeg's own ignores it)."""
        name = self.stream.codec_context.name
        if self.stream.metadata.get("alpha_mode") == "1" and name in ("vp8", "vp9"):
            return av.CodecContext.create(f"libvpx-{name}", "r")
        return self.stream.codec_context

    def decode(self, decoder: Any, packet: Any) -> Iterator[Frame]:
        """The frames one packet of the video stream gives (a None packet flushes the decoder)."""
        try:
            frames = decoder.decode(packet)
        except av.error.EOFError:  # flushed already
            return
        except av.error.FFmpegError as err:
            raise VideoError(f"{self.name} is damaged ({reason(err)})") from None
        for frame in frames:
            yield self._frame(frame)

    def _frame(self, frame: Any) -> Frame:
        rotation = self.info.rotation
        if any(component.is_alpha for component in frame.format.components):
            rgba = frame.to_ndarray(format="rgba")
            rgb, alpha = rgba[..., :3], rgba[..., 3]
        else:
            rgb, alpha = frame.to_ndarray(format="rgb24"), None
        pts = frame.pts if frame.pts is not None else frame.best_effort_timestamp
        return Frame(rgb=upright(rgb, rotation), alpha=None if alpha is None else upright(alpha, rotation),
                     pts=pts if pts is not None else -1)


def open_clip(path: str | os.PathLike[str], max_pixels: int, name: str | None = None) -> Clip:
    """A video file opened for reading, after the checks that need no decoding (VideoError);
    ``name`` is what messages call it (default: the path)."""
    return Clip(Path(path), max_pixels, name)


def reason(err: BaseException) -> str:
    """What went wrong with a video file, in FFmpeg's or the OS's own words."""
    if isinstance(err, (av.error.FFmpegError, OSError)):
        return err.strerror or str(err)
    return str(err)
