# SPDX-License-Identifier: GPL-3.0-or-later
"""What to cut out: a still image, or the frames of an image sequence, movie or movie clip.

A video's mattes are numbered like the frames they belong to (image frame numbers), and the
matte node gets the same frame mapping as the node that shows the source, so the two always
play in step. Frames are read through a temporary image texture whose image user picks the
frame (Blender has no other Python access to one frame of a sequence or movie).
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

import bpy

from . import pixels

_DIGITS = re.compile(r"^(.*?)(\d+)(\D*)$")


class SourceError(Exception):
    pass


def image_frame(frames, scene_frame):
    """(image frame number, in range?) that a node with ``frames`` shows at ``scene_frame``.

    Blender's own mapping (BKE_image_user_frame_get): frames past the end hold the last one,
    cyclic mapping repeats the clip; the offset applies last.
    """
    length = frames["frame_duration"]
    if length <= 0:
        return 0, False
    frame = scene_frame - frames["frame_start"] + 1
    in_range = False
    if frames["use_cyclic"]:
        frame %= length
        if frame == 0:
            frame = length
        in_range = True
    if frame < 1:
        frame = 0
    elif frame > length:
        frame = length
    else:
        in_range = True
    return frame + frames["frame_offset"], in_range


def sequence_numbers(image):
    """The frame numbers of the files of an image sequence on disk, ascending."""
    path = bpy.path.abspath(image.filepath, library=image.library)
    folder, name = os.path.split(path)
    match = _DIGITS.match(os.path.splitext(name)[0])
    if match is None:
        return []
    head, tail = match.group(1), match.group(3) + os.path.splitext(name)[1]
    pattern = re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + "$")
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in map(pattern.match, names) if m)


class Source(object):
    """The datablock the user picked and how to read its frames."""

    def __init__(self, datablock):
        self.datablock = datablock
        self.helper: bpy.types.Image | None = None  # an Image loaded to read a movie clip's frames
        self.texture: bpy.types.ImageTexture | None = None
        if isinstance(datablock, bpy.types.MovieClip):
            path = bpy.path.abspath(datablock.filepath, library=datablock.library)
            if not os.path.isfile(path):
                raise SourceError("The movie clip %r has no file at %s." % (datablock.name, path))
            self.helper = bpy.data.images.load(path, check_existing=False)
            self.image = self.helper
            self.video = True
        else:
            self.image = datablock
            self.video = datablock.source in ("SEQUENCE", "MOVIE")
            if datablock.source == "TILED":
                raise SourceError("UDIM tiled images are not supported; cut out each tile's image.")

    @property
    def name(self):
        return self.datablock.name

    def default_frames(self, scene):
        """The frame mapping of a new node for this source: the clip starts at the scene's start."""
        if isinstance(self.datablock, bpy.types.MovieClip):
            clip = self.datablock
            return {"frame_start": clip.frame_start, "frame_duration": clip.frame_duration,
                    "frame_offset": clip.frame_offset, "use_cyclic": False}
        if self.image.source == "MOVIE":
            return {"frame_start": scene.frame_start, "frame_duration": self.image.frame_duration,
                    "frame_offset": 0, "use_cyclic": False}
        numbers = sequence_numbers(self.image)
        if not numbers:
            raise SourceError("No frames of the image sequence %r were found beside %s."
                              % (self.image.name, self.image.filepath))
        return {"frame_start": scene.frame_start, "frame_duration": numbers[-1] - numbers[0] + 1,
                "frame_offset": numbers[0] - 1, "use_cyclic": False}

    def read(self, frame=None):
        """(f32 RGBA bytes top-down, width, height): the still, or image frame ``frame``."""
        if frame is None:
            return pixels.read_rgba(self.image)
        if self.texture is None:
            texture = bpy.data.textures.new(".cleancut frame reader", "IMAGE")
            if not isinstance(texture, bpy.types.ImageTexture):
                raise SourceError("Blender made no image texture to read frames with.")
            texture.image = self.image
            self.texture = texture
        user = self.texture.image_user
        if user is None:  # the stubs allow None; an image texture always has its image user
            raise SourceError("Blender's image texture has no image user to pick frame %d with." % frame)
        user.frame_start, user.frame_offset, user.use_cyclic = 1, 0, False
        user.frame_duration = max(frame, 1)
        user.frame_current = frame
        if self.image.source == "SEQUENCE":
            path = bpy.path.abspath(self.image.filepath_from_user(image_user=user), library=self.image.library)
            if not os.path.isfile(path):
                raise SourceError("Frame %d of %r is missing: %s" % (frame, self.image.name, path))
        self.texture.evaluate((0.0, 0.0, 0.0))  # loads that frame as the image's current buffer
        try:
            return pixels.read_rgba(self.image)
        except pixels.PixelError:
            raise SourceError("Frame %d of %r could not be read." % (frame, self.image.name))

    def release(self):
        """Free what reading needed: the reader texture, a clip's helper image, cached frames."""
        if self.texture is not None:
            bpy.data.textures.remove(self.texture)
            self.texture = None
        if self.helper is not None:
            bpy.data.images.remove(self.helper)
            self.helper = None
        elif self.video:
            self.image.buffers_free()


STRIP_MEDIA_KEY = "cleancut_strip_media"  # on the Image that reads a strip's file(s): their path


def strip_media(strip: bpy.types.Strip) -> tuple[bpy.types.Image, dict[str, Any] | None, bool]:
    """(image, frame mapping or None, loaded now?) for an image or movie strip of the Sequencer.

    Strips hold file paths, not Images; the frames are read through an Image of the same
    file(s), found again on a re-run by the path stored on it. The mapping puts image frame
    numbers on scene frames the way the strip plays them: its first frame at ``frame_start``.
    """
    source: Literal["FILE", "SEQUENCE", "MOVIE"]
    if isinstance(strip, bpy.types.MovieStrip):
        path = bpy.path.abspath(strip.filepath)
        count = strip.frame_duration
        first = 1
        source = "MOVIE"
    elif isinstance(strip, bpy.types.ImageStrip):
        folder = bpy.path.abspath(strip.directory)
        names = [element.filename for element in strip.elements]
        path = os.path.join(folder, names[0])
        count = len(names)
        first = _consecutive(names, strip.name)
        source = "SEQUENCE" if count > 1 else "FILE"
    else:
        raise SourceError("The strip %r is neither an image nor a movie strip." % strip.name)
    if not os.path.isfile(path):
        raise SourceError("The strip %r has no file at %s." % (strip.name, path))
    key = os.path.normpath(path)
    found = next((i for i in bpy.data.images if i.get(STRIP_MEDIA_KEY) == key), None)
    loaded = found is None
    image = bpy.data.images.load(path, check_existing=False) if found is None else found
    image[STRIP_MEDIA_KEY] = key
    if source != "MOVIE" and image.source != source:
        image.source = source
    if source == "FILE":
        return image, None, loaded
    return image, {"frame_start": int(strip.frame_start), "frame_duration": count,
                   "frame_offset": first - 1, "use_cyclic": False}, loaded


def _consecutive(names: list[str], strip_name: str) -> int:
    """The first frame number of an image strip's files, which must be numbered one by one."""
    if len(names) < 2:
        return 1
    matches = [_DIGITS.match(os.path.splitext(name)[0]) for name in names]
    numbers = [int(m.group(2)) for m in matches if m is not None]
    if len(numbers) < len(names) or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise SourceError("The image strip %r is not a numbered sequence (its files must be numbered one "
                          "after the other, like frame_0001.png, frame_0002.png, …)." % strip_name)
    return numbers[0]
