"""Video files in and out with PyAV (FFmpeg's libraries): one frame at a time, never a whole clip.

Reading (:func:`open_clip`): the first video stream's frames as 8-bit RGB, upright (the display
rotation applied, as players show them), with the alpha a VP8/VP9 WebM can carry; the frame
size is checked from the header before anything is decoded, like an image's.
Writing (:class:`VideoWriter`): a kind of video chosen by the output's suffix (KINDS), the
frames put back in the stored orientation under the same rotation, the input's colour tags
(matrix, range, primaries, transfer) stated and used for the conversion to YUV, the input's time
base and timestamps kept (so variable frame rates stay variable), and every audio stream copied packet
for packet; a container that cannot hold the audio's codec (WebM holds Opus and Vorbis only)
gets it re-encoded to the container's own. Output goes to a temporary file beside the target
and is moved into place only when complete.

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

from . import smallfiles, temporaries
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
            raise VideoError(f"{self.name} cannot be read as a video ({_reason(err)})") from None
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
            raise VideoError(f"{self.name} is damaged ({_reason(err)})") from None
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


class VideoWriter:
    """A video written to a temporary file beside ``target`` and moved there by :meth:`finish`;
    :meth:`abort` (or leaving the ``with`` block by an exception) removes it."""

    def __init__(self, target: Path, clip: Clip, pixels: str) -> None:
        """``pixels``: "gray", "rgb24" or "rgba", the layout of the arrays :meth:`write` gets."""
        self.target = target
        self.kind = KINDS[target.suffix.lower()]
        self.pixels = pixels
        self.temporary = _temporary(target)
        self.rotation = clip.info.rotation
        self.time_base = clip.info.time_base  # the muxer may change its stream's; frames keep the input's
        self.colours = _colour_tags(clip.stream.codec_context)
        self.last_pts: int | None = None
        self.output: Any = None
        try:
            try:
                self._open(clip, copy=True)
            except av.error.FFmpegError:
                # The container refused a copied audio codec (PyAV lists Opus for MOV, FFmpeg
                # will not write it): the audio is re-encoded to the container's own instead.
                if self.output is not None:
                    self.output.close()
                self._open(clip, copy=False)
        except av.error.FFmpegError as err:
            self.abort()
            raise VideoError(f"cannot write {target}: {_reason(err)}") from None
        except BaseException:
            self.abort()
            raise

    def _open(self, clip: Clip, copy: bool) -> None:
        """The output file with its streams, its header written (where FFmpeg checks them)."""
        self.output = av.open(self.temporary, "w", format=self.kind.container)
        self.video = self._video_stream(clip)
        self.audio = {stream.index: self._audio_stream(stream, copy) for stream in clip.container.streams.audio}
        self.output.start_encoding()

    def _video_stream(self, clip: Clip) -> Any:
        info = clip.info
        odd = info.width % 2 or info.height % 2
        stream = self.output.add_stream(self.kind.codec, rate=info.rate or Fraction(25), options=dict(self.kind.options))
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = self.kind.odd_pix_fmt if odd and self.kind.odd_pix_fmt else self.kind.pix_fmt
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        for name, value in self.colours.items():
            setattr(stream.codec_context, name, value)
        if info.rotation:
            stream.set_display_rotation(info.rotation)
        return stream

    def _audio_stream(self, source: Any, copy: bool) -> _Audio:
        codec = source.codec_context.name
        if copy and codec in self.output.supported_codecs:
            return _Audio(self.output.add_stream_from_template(source), None, None)
        target = self.output.default_audio_codec
        rate = 48000 if target == "opus" else source.codec_context.sample_rate or 48000
        stream = self.output.add_stream("libopus" if target == "opus" else target, rate=rate,
                                        layout=source.codec_context.layout.name if source.codec_context.layout else "stereo")
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=stream.codec_context.layout.name,
                                      rate=rate, frame_size=stream.codec_context.frame_size or None)
        return _Audio(stream, source.codec_context, resampler)

    def write(self, pixels: np.ndarray, pts: int) -> None:
        """One upright frame (H×W grey, H×W×3 RGB or H×W×4 RGBA, 8-bit) at its input timestamp."""
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # a damaged or missing timestamp: keep the order the encoder needs
        self.last_pts = pts
        frame = av.VideoFrame.from_ndarray(stored(pixels, self.rotation), format=self.pixels)
        if self.colours:  # to YUV by the input's own matrix and range, as its tags say
            frame = frame.reformat(format=self.video.codec_context.pix_fmt,
                                   dst_colorspace=self.colours.get("colorspace"),
                                   dst_color_range=self.colours.get("color_range"))
        frame.pts, frame.time_base = pts, self.time_base
        self._mux(self.video.encode(frame))

    def copy_audio(self, packet: Any) -> None:
        """An audio packet of the input, copied as is (or re-encoded where the container needs it)."""
        audio = self.audio.get(packet.stream.index)
        if audio is None or packet.size == 0:
            return
        if audio.decoder is None:
            if packet.dts is None:
                return
            packet.stream = audio.stream
            self._mux([packet])
            return
        try:
            frames = audio.decoder.decode(packet)
        except av.error.FFmpegError:
            return  # a damaged audio packet: silence there, the picture is what is being cut out
        for frame in frames:
            frame.pts = None
            for part in audio.resampler.resample(frame):
                self._mux(audio.stream.encode(part))

    def _mux(self, packets: list[Any]) -> None:
        try:
            for packet in packets:
                self.output.mux(packet)
        except av.error.FFmpegError as err:
            raise VideoError(f"cannot write {self.target}: {_reason(err)}") from None

    def finish(self) -> None:
        """Flush the encoders, close the file and move it over the target."""
        try:
            self._mux(self.video.encode(None))
            for audio in self.audio.values():
                if audio.resampler is not None:
                    for part in audio.resampler.resample(None):
                        self._mux(audio.stream.encode(part))
                    self._mux(audio.stream.encode(None))
            self.output.close()
            with contextlib.suppress(OSError):  # overwriting keeps the existing file's permissions
                os.chmod(self.temporary, os.stat(self.target).st_mode & 0o7777)
            os.replace(self.temporary, self.target)
        except av.error.FFmpegError as err:
            self.abort()
            raise VideoError(f"cannot write {self.target}: the encoder failed ({_reason(err)})") from None
        except OSError as err:
            self.abort()
            raise VideoError(f"cannot write {self.target}: {err.strerror or err}") from None

    def abort(self) -> None:
        """Close and remove the temporary file; the target is left as it was."""
        with contextlib.suppress(Exception):
            self.output.close()
        with contextlib.suppress(OSError):
            os.remove(self.temporary)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type | None, *exc: object) -> None:
        if kind is not None:
            self.abort()


@dataclass
class _Audio:
    stream: Any
    decoder: Any  # None: packets are copied
    resampler: Any


# FFmpeg's "unspecified" value of each colour tag of a video stream.
_UNSPECIFIED = {"colorspace": 2, "color_range": 0, "color_primaries": 2, "color_trc": 2}


def _colour_tags(context: Any) -> dict[str, int]:
    """The colour tags the input's video stream states (matrix, range, primaries, transfer):
    the output states the same and is converted by the same matrix, so a BT.709 clip plays back
    in its own colours (an untagged output of a tagged input would be read by another matrix)."""
    tags = {name: int(getattr(context, name) or 0) for name in _UNSPECIFIED}
    return {name: value for name, value in tags.items() if value != _UNSPECIFIED[name]}


def _temporary(target: Path) -> str:
    try:
        return temporaries.beside(target)
    except OSError as err:
        raise VideoError(f"cannot write {target}: {err.strerror or err}") from None


def _reason(err: BaseException) -> str:
    if isinstance(err, (av.error.FFmpegError, OSError)):
        return err.strerror or str(err)
    return str(err)
