"""What to cut out and where each result goes: the command line's inputs turned into jobs.

Input paths become files (folders walked, globs matched, links followed once, special files and
our own results left out), each file becomes a :class:`cutout.Job` with its target, and the jobs
are screened before any work (two inputs writing one output, an output that is an input,
--skip-existing). The CLI and the pyblish collector share these rules; neither owns them.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from pathlib import Path
from typing import Sequence

from . import clips, imagewrite, smallfiles, videoio
from .cutout import Job
from .errors import UsageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
INPUT_SUFFIXES = IMAGE_SUFFIXES | set(videoio.VIDEO_SUFFIXES)
OUTPUT_SUFFIXES = {".png", ".webp", ".tif", ".tiff"}
OUTPUT_TAGS = ("-cutout", "-mask", "-composite")


def is_own_output(path: Path) -> bool:
    """Named like one of our results (any case): such files are never inputs again, however
    the inputs were named (folder, glob or file)."""
    return path.stem.lower().endswith(OUTPUT_TAGS)


def _walk_matches(root: Path, parts: tuple[str, ...]) -> list[Path]:
    """Paths under ``root`` matching glob ``parts`` (``**`` = any folders), links followed but
    each real folder entered once per pattern position: symlink loops end, and a folder reached
    by two routes gives its files once."""
    found: list[Path] = []
    seen: set[tuple[int, int, int]] = set()

    def visit(folder: Path, index: int) -> None:
        try:
            info = os.stat(folder)
        except OSError:
            return
        key = (info.st_dev, info.st_ino, index)
        if key in seen:
            return
        seen.add(key)
        if index == len(parts):
            found.append(folder)
            return
        part = parts[index]
        if part == "**":
            visit(folder, index + 1)
            for child in _children(folder):
                if child.name.startswith("."):
                    continue
                if child.is_dir():
                    if not is_own_output(child):  # an image sequence we wrote is no input
                        visit(child, index)
                elif index + 1 == len(parts):  # a trailing ** matches files too
                    found.append(child)
            return
        if not glob.has_magic(part):
            child = folder / part
            if index + 1 == len(parts):
                if os.path.lexists(child):
                    found.append(child)
            elif child.is_dir():
                visit(child, index + 1)
            return
        for child in _children(folder):
            if child.name.startswith(".") and not part.startswith("."):
                continue
            if fnmatch.fnmatchcase(child.name, part):
                if index + 1 == len(parts):
                    found.append(child)
                elif child.is_dir():
                    visit(child, index + 1)

    visit(root, 0)
    return found


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _unique_files(paths: list[Path]) -> list[Path]:
    """Image files among ``paths``, each real file once (the first route to it wins)."""
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or path.suffix.lower() not in INPUT_SUFFIXES or is_own_output(path):
            continue
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            files.append(path)
    return files


def _walk(folder: Path) -> list[Path]:
    return sorted(_unique_files(_walk_matches(folder, ("**", "*"))))


def _static_prefix(pattern: str) -> Path:
    parts = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def expand_inputs(args: Sequence[str]) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """(file, path relative to its root) for files, folders (recursive) and globs; plus misses.

    Only regular files are inputs: a FIFO or a device would block or never end. Files named
    like our own outputs are left out (and named when given explicitly). A file reached by
    several arguments is taken once. A folder or pattern that yields no image is a miss, like
    a missing file: the run exits 1 saying so.
    """
    found: list[tuple[Path, Path]] = []
    missing: list[tuple[str, str]] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            files = _walk(path)
            if not files:
                missing.append((arg, "this folder holds no image or video file (.png, .jpg, .webp, .tif, .bmp, .gif, "
                                     ".mp4, .mov, .webm, .mkv, .m4v)"))
            found += [(p, p.relative_to(path)) for p in files]
        elif os.path.lexists(path) and not glob.has_magic(arg) or path.exists():
            try:
                mode = os.stat(path).st_mode
            except OSError as err:
                missing.append((arg, f"cannot be read ({err.strerror})"))
                continue
            if not stat.S_ISREG(mode):
                missing.append((arg, f"{smallfiles.kind_of(mode)}, not an image or video file; cleancut reads regular files only"))
            elif is_own_output(path):
                missing.append((arg, "named like a cleancut result (-cutout, -mask, -composite), so it is "
                                     "not taken as an input again; rename it to process it"))
            else:
                found.append((path, Path(path.name)))
        elif glob.has_magic(arg):
            root = _static_prefix(arg)
            rest = Path(arg).parts[len(root.parts):]
            files = sorted(_unique_files(_walk_matches(root, tuple(rest))))
            if not files:
                missing.append((arg, "no image or video file matches this pattern"))
            found += [(m, m.relative_to(root)) for m in files]
        else:
            missing.append((arg, "no such file or folder"))
    return _first_routes(found), missing


def _first_routes(found: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Each real file once however many arguments reach it (``a.png '*.png'``, a folder and a
    file in it): the first argument that names it decides where its result goes."""
    unique: list[tuple[Path, Path]] = []
    seen: set[tuple[int, int] | Path] = set()
    for path, relative in found:
        key = identity(path)
        if key not in seen:
            seen.add(key)
            unique.append((path, relative))
    return unique


def plan_jobs(inputs: list[tuple[Path, Path]], output: str | None, tag: str, fmt: str | None,
              mask: bool = False, bg: str | None = None) -> list[Job]:
    """Where each input's result goes: -o FILE, -o FOLDER (relative paths kept), or beside it.

    ``-o`` names a file when it ends in an image or video suffix and is not an existing folder;
    that needs exactly one input and a suffix cleancut can write for it: a UsageError otherwise,
    rather than a folder called ``out.jpg``. ``fmt`` (--format) chooses pictures' format and
    videos' kind: a video format for videos, a picture format makes a video an image sequence
    (a folder named like its result); each kind of input takes only the formats that fit it.
    """
    suffix_of_output = Path(output).suffix.lower() if output else ""
    if output and suffix_of_output in INPUT_SUFFIXES and not Path(output).is_dir():
        if not inputs:
            return []
        if len(inputs) > 1:
            raise UsageError(f"-o {output} names one file, but {len(inputs)} input files were found; "
                             "give a folder to -o for several inputs")
        _check_file_target(inputs[0][0], Path(output), mask, bg)
        return [Job(inputs[0][0], Path(output))]
    jobs = []
    for source, relative in inputs:
        suffix = _video_suffix(fmt, mask, bg) if videoio.is_video(source) else "." + _picture_format(fmt)
        name = relative.with_name(relative.stem + tag + suffix)
        target = Path(output) / name if output else source.with_name(name.name)
        jobs.append(Job(source, target))
    return jobs


def _check_file_target(source: Path, target: Path, mask: bool, bg: str | None) -> None:
    """Refuse -o FILE of a kind the one input cannot become."""
    suffix = target.suffix.lower()
    if videoio.is_video(source):
        if suffix not in videoio.KINDS:
            raise UsageError(f"-o {target}: a video becomes a video ({', '.join(videoio.KINDS)}) or, with "
                             "--format png|webp|tiff and -o FOLDER, an image sequence")
        problem = clips.target_problem(suffix, mask, bg)
        if problem:
            raise UsageError(f"-o {target}: {problem}")
    elif suffix not in OUTPUT_SUFFIXES:
        why = "a picture does not become a video" if suffix in videoio.VIDEO_SUFFIXES else "no transparency"
        raise UsageError(f"-o {target}: cleancut cannot write {suffix} ({why}); use .png, .webp or .tif")


def _picture_format(fmt: str | None) -> str:
    return fmt if fmt in imagewrite.SUPPORTED_OUTPUT_FORMATS else imagewrite.SUPPORTED_OUTPUT_FORMATS[0]


def _video_suffix(fmt: str | None, mask: bool, bg: str | None) -> str:
    """A video's result suffix: --format's video kind, "" (a sequence folder) for a picture
    format, else the default for what is written."""
    if fmt in imagewrite.SUPPORTED_OUTPUT_FORMATS:
        return ""
    suffix = f".{fmt}" if fmt else clips.default_suffix(mask, bg)
    problem = clips.target_problem(suffix, mask, bg)
    if problem:
        raise UsageError(f"--format {fmt}: {problem}")
    return suffix


def identity(path: Path) -> tuple[int, int] | Path:
    """The file a path leads to (device, inode), or its resolved path when it does not exist."""
    try:
        info = os.stat(path)
        return (info.st_dev, info.st_ino)
    except OSError:
        return path.resolve()


def screen(jobs: list[Job], skip_existing: bool, also_read: Sequence[Path] = ()) -> tuple[list[int], dict[int, str | None], int]:
    """Which jobs to run and which are refused (with why), by index, and how many were skipped,
    decided before any work: two inputs must not write one output, an output must not be an
    input (nor a file every job reads, ``also_read``: a --bg picture)."""
    todo: list[int] = []
    refused: dict[int, str | None] = {}
    skipped = 0
    seen: dict[Path, Path] = {}
    sources = {identity(path) for job in jobs for path in job.inputs()} | {identity(path) for path in also_read}
    for index, job in enumerate(jobs):
        key = job.target.resolve()
        if key in seen:
            refused[index] = f"its output {job.target} would overwrite the result of {seen[key]}"
        elif identity(job.target) in sources:
            refused[index] = (f"its output {job.target} is an input (an image, a video, the --hint file or the --bg picture); "
                              "it was left unchanged (choose another -o)")
        else:
            seen[key] = job.source
            if skip_existing and job.target.exists():
                skipped += 1
            else:
                todo.append(index)
    return todo, refused, skipped
