"""The `cleancut` command: remove backgrounds from files, manage models.

Exit codes: 0 everything worked; 1 something failed (each failure is listed, one line per
file, after the other files completed); 2 the command line itself was wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from . import (__version__, arguments, backgrounds, batch, clips, cluster, doctor, hosts, imageread, imagewrite,
               inputs, install, listener, modelcommands, pipeline, prompts, stopping, uninstall, videoio, worker)
from .cutout import Output
from .errors import CleancutError, UsageError
from .options import DEFAULT_REFINE, MAX_SMOOTHING, REFINE_MODES, Options


def _progress(results, total: int, quiet: bool):
    if quiet or total < 2:
        return results
    return tqdm(results, total=total, unit="image", file=sys.stderr, disable=None)


@contextlib.contextmanager
def _frame_bar(show: bool):
    """A progress bar in frames with the time left, for a video cut out here (None when not shown)."""
    if not show:
        yield None
        return
    with tqdm(unit="frame", file=sys.stderr, disable=None) as bar:
        def frames(done: int, total: int | None) -> None:
            if total is not None and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)
        yield frames


def _refuse_for_videos(args: argparse.Namespace, prompt: prompts.Prompt | None, found: list) -> None:
    """What videos do not take: a prompt (a subject in one place of one picture), an image
    sequence on Ray (the driver writes each output as one file)."""
    video = next((str(path) for path, _ in found if videoio.is_video(path)), None)
    if video is None:
        return
    if prompt is not None:
        raise UsageError(f"--box, --hint, --include and --exclude say where the subject is in one picture; "
                         f"{video} is a video: leave videos out of this run")
    if args.ray is not None and args.format in imagewrite.SUPPORTED_OUTPUT_FORMATS:
        raise UsageError(f"image sequences are not made on Ray clusters; {video} is a video: choose a video "
                         f"--format ({', '.join(clips.VIDEO_FORMATS)}) or run it without --ray")


def cmd_remove(args: argparse.Namespace) -> int:
    max_pixels = int(args.max_megapixels * 1_000_000)
    if args.bg:
        if args.ray is not None and backgrounds.is_picture(args.bg):
            raise UsageError("--bg PICTURE is not supported with --ray (the nodes may not see the file); use a colour")
        backgrounds.check(args.bg, max_pixels)
    prompt = _prompt(args)
    if args.ray is not None or args.ray_actors is not None:
        cluster.require_ray(args)  # before any model is fetched: without Ray this run cannot happen
    options = Options(model=args.model, refine=args.refine, provider=args.provider,
                      threads=args.threads, offline=True if args.offline else None,
                      foreground=args.foreground and not args.mask,
                      **({} if args.smoothing is None else {"temporal_smoothing": args.smoothing}))
    found, failures = inputs.expand_inputs(args.inputs)
    _refuse_for_videos(args, prompt, found)
    tag = "-mask" if args.mask else ("-composite" if args.bg else "-cutout")
    jobs = [replace(job, prompt=prompt)
            for job in inputs.plan_jobs(found, args.output, tag, args.format, args.mask, args.bg)]
    if not jobs and failures:
        for name, why in failures:
            print(f"cleancut: {name}: {why}", file=sys.stderr)
        return 1

    # Model problems are the same for every file: settle them once, before any work.
    plan = pipeline.prepare(options, bar=not args.quiet)

    picture_bg = [Path(args.bg)] if args.bg and backgrounds.is_picture(args.bg) else []
    todo, outcome, skipped = inputs.screen(jobs, args.skip_existing, also_read=picture_bg)
    image_format = args.format if args.format in imagewrite.SUPPORTED_OUTPUT_FORMATS else None
    output = Output(mask=args.mask, bg=args.bg, format=image_format, debug=args.debug, max_pixels=max_pixels)
    started = time.perf_counter()
    one_video = len(todo) == 1 and videoio.is_video(jobs[todo[0]].source)
    with _frame_bar(one_video and not args.quiet) as frames:
        if args.ray is not None:  # the same jobs and answers, from Ray actors on a cluster
            results = cluster.run_jobs([jobs[i] for i in todo], options, output, plan, args)
        else:
            workers = args.workers or batch.default_workers(len(todo))
            results = batch.run([jobs[i] for i in todo], options, output, plan, workers, progress=frames)
        with contextlib.closing(results):  # an interrupt stops the workers before it is reported
            for index, (_, failure) in zip(todo, _progress(results, len(todo), args.quiet)):
                outcome[index] = failure
    done = 0
    for index, job in enumerate(jobs):
        if index not in outcome:  # skipped: its output was already there
            continue
        if outcome[index] is None:
            done += 1
        else:
            failures.append((str(job.source), outcome[index]))
    if not args.quiet:
        if len(jobs) == 1 and done:
            print(f"wrote {jobs[0].target}", file=sys.stderr)
        elapsed = time.perf_counter() - started
        print(f"{done} written, {skipped} skipped, {len(failures)} failed in {elapsed:.1f} s", file=sys.stderr)
    for name, why in failures:
        print(f"cleancut: failed: {name}: {why}", file=sys.stderr)
    return 1 if failures else 0


def cmd_worker(args: argparse.Namespace) -> int:
    if args.listen:
        return listener.listen(args.listen, idle_timeout=args.idle_timeout, stall_timeout=args.stall_timeout)
    return worker.run(idle_timeout=args.idle_timeout, stall_timeout=args.stall_timeout)


def cmd_install(args: argparse.Namespace) -> int:
    install.install(args.host, host_version=args.host_version, dry_run=args.dry_run, blender=args.blender)
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    uninstall.uninstall(args.host, dry_run=args.dry_run)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    return doctor.run()


def _box(text: str) -> tuple[int, int, int, int]:
    """argparse type for --box: X,Y,W,H in pixels."""
    try:
        return prompts.parse_box(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _point(text: str) -> prompts.Point:
    """argparse type for --include and --exclude: X,Y in pixels."""
    try:
        return prompts.parse_point(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _prompt(args: argparse.Namespace) -> prompts.Prompt | None:
    """The --box or --hint, and the clicks, every input gets; a hint file is read once here, so
    an unreadable one is refused before any model is fetched."""
    clicks = prompts.Clicks(include=tuple(args.include or ()), exclude=tuple(args.exclude or ()))
    if len(clicks.include) + len(clicks.exclude) > prompts.MAX_CLICKS:
        raise UsageError(f"at most {prompts.MAX_CLICKS} --include and --exclude points together")
    if clicks and args.hint is not None:
        raise UsageError("--include and --exclude go with --box or alone, not with --hint FILE "
                         "(a hint file already says where the subject is)")
    if args.box is not None or clicks:
        return prompts.Prompt(box=args.box, clicks=clicks)
    if args.hint is not None:
        if args.ray is not None:
            raise UsageError("--hint FILE is not supported with --ray (the nodes may not see the file); use --box")
        prompts.read_hint_file(Path(args.hint), int(args.max_megapixels * 1_000_000))
        return prompts.Prompt(hint=Path(args.hint))
    return None


def _ray_address(text: str) -> str:
    """argparse type for --ray: local, auto, HOST:PORT or ray://HOST:PORT (an input path put
    right after a bare --ray is named as such, exit code 2)."""
    try:
        return cluster.parse_address(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cleancut", description="Local, non-destructive AI background removal.")
    parser.add_argument("--version", action="version", version=f"cleancut {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rm = sub.add_parser("remove", help="remove the background of images and videos",
                        description="Remove the background of image and video files, folders (recursive) "
                                    "and glob patterns.")
    rm.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video file, folder or glob pattern")
    rm.add_argument("-o", "--output", metavar="OUT",
                    help="output file (one input) or folder (relative paths kept); default: beside each input")
    what = rm.add_mutually_exclusive_group()
    what.add_argument("--mask", action="store_true", help="write the alpha mask (16-bit for 16-bit inputs)")
    what.add_argument("--bg", metavar="COLOUR|PICTURE",
                      help="composite over a flat colour (name or #rrggbb) or a picture (scaled to cover, centred)")
    rm.add_argument("--format", choices=imagewrite.SUPPORTED_OUTPUT_FORMATS + clips.VIDEO_FORMATS,
                    help="pictures: png (default), webp, tiff; videos: webm (default for cut-outs), mov (ProRes "
                         "4444), mkv, mp4 (default for --mask and --bg), or a picture format for an image sequence")
    rm.add_argument("--smoothing", type=float, metavar="S",
                    help=f"videos: damp flicker between frames, 0 (default, off) to {MAX_SMOOTHING}; "
                         "RVM keeps its own state instead")
    rm.add_argument("--model", metavar="ID", help="model or preset id, e.g. quality (see `cleancut models list`)")
    rm.add_argument("--refine", choices=REFINE_MODES, default=None,
                    help=f"edge refinement (default: the preset's, else {DEFAULT_REFINE})")
    rm.add_argument("--no-decontaminate", dest="foreground", action="store_false",
                    help="keep the photo's own colours in the soft edge instead of estimating the subject's")
    where = rm.add_mutually_exclusive_group()
    where.add_argument("--box", type=_box, metavar="X,Y,W,H",
                       help="where the subject is, in pixels (top-left corner, width, height): only it "
                            "is cut out, and the model looks at a crop around it")
    where.add_argument("--hint", metavar="FILE",
                       help="an image the input's size: a trimap (black background, grey 128 unsure, "
                            "white subject) or a rough mask of the subject")
    rm.add_argument("--include", type=_point, action="append", metavar="X,Y",
                    help="a point on the subject, in pixels from the top-left corner (repeatable): "
                         "the subject there is cut out, with what belongs to it")
    rm.add_argument("--exclude", type=_point, action="append", metavar="X,Y",
                    help="a point that is not the subject (repeatable): what is there is left out")
    rm.add_argument("--skip-existing", action="store_true", help="leave inputs whose output exists alone")
    rm.add_argument("--offline", action="store_true", help="use cached models only")
    rm.add_argument("--max-megapixels", type=arguments.positive_number, default=imageread.DEFAULT_MAX_PIXELS / 1e6, metavar="N",
                    help="refuse larger images (decompression-bomb guard, default %(default)g)")
    rm.add_argument("--threads", type=int, metavar="N",
                    help="onnxruntime threads per worker process (default: its share of the cores)")
    rm.add_argument("--workers", type=arguments.count, metavar="N",
                    help="files of a batch cut out at once, on threads of a worker process that share "
                         f"one model (default: one per core, at most {batch.MAX_DEFAULT_WORKERS}; "
                         "1 runs the files one at a time)")
    rm.add_argument("--provider", metavar="NAME", help="cpu, cuda, directml or coreml (default: best installed)")
    rm.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    rm.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS", type=_ray_address,
                    help="run on a Ray cluster (pip install 'cleancut[ray]'): none starts Ray on this "
                         "machine, auto joins the running cluster, or HOST:PORT")
    rm.add_argument("--ray-actors", type=arguments.count, metavar="N",
                    help="Ray actors (default: one per GPU, else one per --threads CPUs of the cluster)")
    rm.set_defaults(func=cmd_remove)

    sub.add_parser("bench", help="measure quality and speed against ground truth, beside rembg",
                   add_help=False)
    wk = sub.add_parser("worker", help="serve editors over stdin/stdout (started by the editor plug-ins)")
    wk.add_argument("--idle-timeout", type=float, default=900.0, metavar="S",
                    help="exit after S seconds without a request (default %(default)g)")
    wk.add_argument("--stall-timeout", type=float, default=10.0, metavar="S",
                    help="give up on a request whose announced bytes stop arriving for S seconds")
    wk.add_argument("--listen", metavar="SOCKET",
                    help="serve one client at a time on this Unix socket, staying warm between them")
    wk.set_defaults(func=cmd_worker)

    inst = sub.add_parser("install", help="install the plug-in into GIMP, Krita or Blender",
                          description="Copy the plug-in into every installation of the editor found in your "
                                      "folders (or the version given), and point it at this engine.")
    inst.add_argument("host", choices=hosts.names())
    inst.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    inst.add_argument("--host-version", metavar="V",
                      help="only this editor version (GIMP 3.2, 3.0 or 2.10; Blender 5.2, 4.5, ...), created if absent")
    inst.add_argument("--blender", metavar="PATH",
                      help="the Blender executable that enables the add-on in its preferences "
                           "(default: `blender` on PATH when its version matches)")
    inst.set_defaults(func=cmd_install)
    uninst = sub.add_parser("uninstall", help="remove exactly what `cleancut install` added")
    uninst.add_argument("host", choices=hosts.names())
    uninst.add_argument("--dry-run", action="store_true", help="print what would be removed, change nothing")
    uninst.set_defaults(func=cmd_uninstall)
    sub.add_parser("doctor", help="check the engine, models, licences and editor plug-ins"
                   ).set_defaults(func=cmd_doctor)

    models = sub.add_parser("models", help="list, inspect, fetch and accept models")
    msub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    msub.add_parser("list", help="every model with its licence class and cache state").set_defaults(func=modelcommands.cmd_list)
    info = msub.add_parser("info", help="print a model's card")
    info.add_argument("id")
    info.set_defaults(func=modelcommands.cmd_info)
    for name, func, text in (("fetch", modelcommands.cmd_fetch, "download and verify models"),
                             ("verify", modelcommands.cmd_verify, "check cached models against their sha256")):
        action = msub.add_parser(name, help=text)
        action.add_argument("ids", nargs="+", metavar="ID")
        action.add_argument("-q", "--quiet", action="store_true")
        if name == "fetch":
            action.add_argument("--offline", action="store_true", help="use cached models only (verify them)")
        action.set_defaults(func=func)
    for name, func, text in (("accept", modelcommands.cmd_accept, "accept a model's licence terms"),
                             ("revoke", modelcommands.cmd_revoke, "withdraw an acceptance")):
        action = msub.add_parser(name, help=text)
        action.add_argument("id")
        action.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the benchmark has its own argument parser
        # A developer tool outside the product's layers (it imports onnxruntime and rembg's
        # runner at once): handed over here, never imported by a product command.
        from .benchmarks import command  # noqa: PLC0415

        return command.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with stopping.unwinding():
            status = args.func(args)
        sys.stdout.flush()  # here, so that a closed pipe is seen while it can be handled
        return status
    except BrokenPipeError:
        # The reader stopped reading (`cleancut models info x | head -1`): what it wanted, it got.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UsageError as err:
        if args.debug:
            raise
        print(f"cleancut: {err}", file=sys.stderr)
        return 2
    except CleancutError as err:
        if args.debug:
            raise
        print(f"cleancut: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # option values that argparse cannot check, e.g. a bad colour
        if args.debug:
            raise
        print(f"cleancut: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cleancut: interrupted", file=sys.stderr)
        return 130
    except stopping.Terminated as err:
        print(f"cleancut: stopped by {err.name}; nothing half-written was left", file=sys.stderr)
        return 128 + err.number


if __name__ == "__main__":
    sys.exit(main())
