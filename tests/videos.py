"""Real encoded videos for the video tests, made with PyAV from the example photo, and read back.

A clip pans across the astronaut photo (a still seen through a moving window), so every frame
differs a little, as a hand-held shot of a still subject would.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from cleancut import pipeline, temporal
from cleancut.options import Options

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "astronaut.png"
RATE = 25
AUDIO_RATE = 48000


def panned(count: int, width: int, height: int, step: int = 4) -> list[np.ndarray]:
    """``count`` frames of width × height: windows of the photo moving ``step`` pixels right each."""
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    side = photo.shape[0] - step * count
    return [np.asarray(Image.fromarray(photo[:side, i * step:i * step + side]).resize((width, height), Image.BILINEAR))
            for i in range(count)]


def make_clip(path: Path, count: int = 8, width: int = 96, height: int = 72, *, codec: str = "libx264",
              pix_fmt: str = "yuv420p", audio: bool = True, rotation: int = 0, pts: list[int] | None = None,
              frames: list[np.ndarray] | None = None, options: dict | None = None, bt709: bool = False) -> Path:
    """An encoded clip (its container from the suffix) of panned frames at RATE fps with a
    440 Hz AAC tone as long as the picture; ``pts`` in 1/RATE units for a variable frame rate;
    ``bt709``: converted by BT.709's matrix and tagged so, as HD cameras write."""
    frames = frames if frames is not None else panned(count, width, height)
    output = av.open(str(path), "w")
    video = output.add_stream(codec, rate=RATE, options=options or {})
    video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
    if rotation:
        video.set_display_rotation(rotation)
    if bt709:
        for name in ("colorspace", "color_range", "color_primaries", "color_trc"):
            setattr(video.codec_context, name, 1)  # BT.709, limited range
    sound = output.add_stream("aac", rate=AUDIO_RATE, layout="mono") if audio else None
    for index, pixels in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
        if bt709:
            frame = frame.reformat(format=pix_fmt, dst_colorspace=1, dst_color_range=1)
        frame.pts, frame.time_base = (pts[index] if pts else index), Fraction(1, RATE)
        for packet in video.encode(frame):
            output.mux(packet)
    for packet in video.encode():
        output.mux(packet)
    if sound is not None:
        samples = int(len(frames) / RATE * AUDIO_RATE)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / AUDIO_RATE)).astype(np.float32)
        for start in range(0, samples, 1024):
            part = av.AudioFrame.from_ndarray(tone[None, start:start + 1024].copy(), format="fltp", layout="mono")
            part.sample_rate, part.pts = AUDIO_RATE, start
            for packet in sound.encode(part):
                output.mux(packet)
        for packet in sound.encode():
            output.mux(packet)
    output.close()
    return path


@dataclass
class Decoded:
    """A clip read back: each frame's pixels (RGBA when it has alpha, else RGB), time and rotation."""

    pixels: list[np.ndarray]
    times: list[float]
    rotation: int
    codec: str
    pix_fmt: str


def read_clip(path: Path) -> Decoded:
    """Every frame of a clip's video stream as stored (not turned upright); VP9 through libvpx,
    which reads the alpha FFmpeg's own decoder skips."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoder = (av.CodecContext.create("libvpx-vp9", "r") if stream.codec_context.name == "vp9"
                   else stream.codec_context)
        pixels, times, rotation, pix_fmt = [], [], 0, ""
        for packet in container.demux(stream):
            for frame in decoder.decode(packet):
                alpha = any(component.is_alpha for component in frame.format.components)
                pixels.append(frame.to_ndarray(format="rgba" if alpha else "rgb24"))
                times.append(float(frame.pts * stream.time_base))
                rotation, pix_fmt = frame.rotation, frame.format.name
        return Decoded(pixels, times, rotation, stream.codec_context.name, pix_fmt)


def audio_packets(path: Path) -> tuple[str, list[bytes]]:
    """The first audio stream's codec and its packets' bytes."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return stream.codec_context.name, [bytes(packet) for packet in container.demux(stream) if packet.size]


def engine_alphas(frames: list[np.ndarray], options: Options) -> list[np.ndarray]:
    """The engine's alpha for each frame of one stream, as 8-bit."""
    state = temporal.StreamState()
    return [np.rint(pipeline.remove(rgb, options, stream=state).alpha * 255).astype(np.uint8) for rgb in frames]


def decoded_input(path: Path) -> list[np.ndarray]:
    """The frames of an input clip as the engine gets them (8-bit RGB, as stored)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
