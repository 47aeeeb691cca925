"""A video's results as an image sequence: one numbered picture per frame, in a folder that
appears complete or not at all.

Frames are written into a temporary folder beside the target and the folder is moved into
place at the end. A target folder that already exists is replaced only when it holds nothing
but frames named as this module names them (an earlier run's): other files are never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from . import imagewrite, temporaries
from .errors import CleancutError

FRAME_NAME = "{:06d}"  # 000001.png, 000002.png, … (numbered from 1, as FFmpeg and editors read them)
_OURS = re.compile(r"^\d{6}\.(png|webp|tiff)$")


class SequenceError(CleancutError):
    """An image sequence that cannot be written where asked."""


def check_target(target: Path) -> None:
    """Refuse a target that is a file, or a folder holding anything but an earlier run's frames."""
    if not os.path.lexists(target):
        return
    if not target.is_dir() or target.is_symlink():
        raise SequenceError(f"cannot write the frames into {target}: it exists and is not a folder; move it away")
    strangers = [entry for entry in os.listdir(target) if not _OURS.match(entry)]
    if strangers:
        raise SequenceError(f"cannot write the frames into {target}: it holds other files ({strangers[0]}, …); "
                            "choose another -o or empty it")


class SequenceWriter:
    """Frames written as ``FORMAT`` pictures into a temporary folder, moved to ``target`` by
    :meth:`finish`; :meth:`abort` (or an exception leaving the ``with`` block) removes them."""

    def __init__(self, target: Path, image_format: str) -> None:
        check_target(target)
        self.target = target
        self.format = image_format
        self.temporary = Path(_temporary_folder(target))
        self.count = 0

    def write(self, pixels: np.ndarray, pts: int) -> None:
        """The next frame, upright (images carry no rotation)."""
        self.count += 1
        name = self.temporary / f"{FRAME_NAME.format(self.count)}.{self.format}"
        try:
            name.write_bytes(imagewrite.encode_image(name, pixels, format=self.format))
        except OSError as err:
            raise SequenceError(f"cannot write the frames into {self.target}: {err.strerror or err}") from None

    def copy_audio(self, packet: Any) -> None:
        """Pictures have no sound: an image sequence leaves the audio out."""

    def finish(self) -> None:
        """Move the complete folder into place (an earlier run's frames are replaced)."""
        check_target(self.target)
        old = None
        try:
            if os.path.lexists(self.target):
                old = _temporary_folder(self.target)
                os.replace(self.target, old)
            os.replace(self.temporary, self.target)
        except OSError as err:
            if old is not None and not os.path.lexists(self.target):
                os.replace(old, self.target)
                old = None
            self.abort()
            raise SequenceError(f"cannot write the frames into {self.target}: {err.strerror or err}") from None
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            shutil.rmtree(self.temporary)

    def __enter__(self) -> SequenceWriter:
        return self

    def __exit__(self, kind: type | None, *exc: object) -> None:
        if kind is not None:
            self.abort()


def _temporary_folder(target: Path) -> str:
    try:
        return temporaries.folder_beside(target)
    except OSError as err:
        raise SequenceError(f"cannot write the frames into {target}: {err.strerror or err}") from None
