"""Video files out with PyAV: a cut-out clip written as the input was, one frame at a time.

A kind of video is chosen by the output's suffix (videoio.KINDS); the frames are put back in the
stored orientation under the same rotation, the input's colour tags (matrix, range, primaries,
transfer) are stated and used for the conversion to YUV, the input's time base and timestamps
are kept (so variable frame rates stay variable), and every audio stream is copied packet for
packet; a container that cannot hold the audio's codec (WebM holds Opus and Vorbis only) gets
it re-encoded to the container's own. Output goes to a temporary file beside the target and is
moved into place only when complete.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from . import temporaries, videoio
from .videoio import KINDS, Clip, VideoError, stored


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
            raise VideoError(f"cannot write {target}: {videoio.reason(err)}") from None
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
            raise VideoError(f"cannot write {self.target}: {videoio.reason(err)}") from None

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
            raise VideoError(f"cannot write {self.target}: the encoder failed ({videoio.reason(err)})") from None
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
