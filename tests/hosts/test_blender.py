"""The Blender add-on in the real Blender, oldest to newest, every behaviour on every version:

- "3.4": 3.4.1 of Debian 12, the legacy add-on (bl_info) in a private BLENDER_USER_SCRIPTS;
- "4.3": 4.3.2 in the Debian 13 chroot, "5.2": 5.2.2 in the Debian sid chroot (Python 3.14),
  both installed as a 4.2+ extension by `blender --command extension build` / `install-file`;
- "4.5": 4.5.15 LTS and "5.0": 5.0.1, the PyPI `bpy` wheels (Blender as a module of this venv's
  Python 3.11), the extension built and installed by the same Blender code (wheel_run.py);
- "5.1": 5.1.2 and "5.3": 5.3.0, the PyPI `bpy` wheels for Python 3.13 (cp313 only), run by the
  Debian 13 chroot's python3.13 (with wheel_run.py, as 4.5 and 5.0), the engine worker by that
  chroot's python3 with its engine wheels, as for 4.3.
hostkit.BLENDERS is the list (hostkit.BLENDER_CHROOTS, BPY_WHEELS, BPY313_WHEELS say where each is).

Every run is `blender -b --factory-startup --python-exit-code 1` (or wheel_run.py) playing a
scenario of tests/hosts/blender/drive.py, with the real worker and the real u2netp / rvm. The
modal operator's tests run the Blender GUI under Xvfb (drive_gui.py): a bpy wheel has no GUI
(background only), so those run on 3.4, 4.3 and 5.2.

Expected mattes are computed here with cleancut.pipeline.remove on the same pixels. Mattes are
8-bit PNGs, so they are compared with the engine's alpha rounded to 8 bits, allowing ±1: the
worker (another onnxruntime build in the chroot, other thread counts) may differ from this
process in the last float bits, which can flip a rounding.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hostkit import (BLENDER_CHROOTS, BLENDERS, BPY313_WHEELS, BPY_WHEELS, REPO, Chroot, XServer, bpy_wheel,
                     engine_env_chroot, engine_env_native, fetch_real_model, in_chroot, run_group, which)
from hostkit.scenes import DOWNLOAD_MODEL, first_run_server

HERE = Path(__file__).resolve().parent
DRIVE = HERE / "blender" / "drive.py"
DRIVE_GUI = HERE / "blender" / "drive_gui.py"
WHEEL_RUN = HERE / "blender" / "wheel_run.py"
# what each version has, by compat.py's names (shared with tests/static/test_blender_api.py)
FEATURES = json.loads((REPO / "tests" / "static" / "blender" / "features.json").read_text())
EXTENSION = "bl_ext.user_default.cleancut_blender"
VERSIONS = BLENDERS
CHROOTS = BLENDER_CHROOTS  # the others: Debian 12 itself, or a bpy wheel
WHEELS = {**BPY_WHEELS, **BPY313_WHEELS}
MODULES = {v: "cleancut_blender" if v == "3.4" else EXTENSION for v in VERSIONS}
HOSTS = pytest.mark.parametrize("host", VERSIONS)
GUI_HOSTS = pytest.mark.parametrize("host", [v for v in VERSIONS if v not in WHEELS])  # a bpy wheel has no GUI
def _from_5_0(version: str) -> bool:
    return tuple(map(int, version.split("."))) >= (5, 0)


STRIP_HOSTS = [v for v in VERSIONS if _from_5_0(v)]  # a compositor node group runs on a strip as a modifier (Blender 5.0+)
# where the compositor's result leaves: 5.0 removed the Composite node (a node group's Group Output)
RESULT_NODE = {v: "Group Output" if _from_5_0(v) else "Composite" for v in VERSIONS}
BLENDER_TIMEOUT = 150  # s for one Blender run; a hung Blender fails the test
SEQ_SIZE = (160, 120)
SEQ_FIRST = 5  # the sequence's files are numbered from 5, so frame mapping (offset) matters


# --- the engine's own answers, computed in this process ---

@contextlib.contextmanager
def engine_env(cache: Path, config: Path):
    saved = {k: os.environ.get(k) for k in ("CLEANCUT_CACHE_DIR", "CLEANCUT_CONFIG_DIR", "CLEANCUT_OFFLINE")}
    os.environ.update(CLEANCUT_CACHE_DIR=str(cache), CLEANCUT_CONFIG_DIR=str(config), CLEANCUT_OFFLINE="1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def engine_alphas(frames: list, cache: Path, model: str = "u2netp", smoothing: float = 0.0,
                  stream: bool = False, hint: np.ndarray | None = None, include: tuple = (),
                  exclude: tuple = ()) -> list[np.ndarray]:
    """8-bit alphas of the engine for RGB frames; ``stream`` carries video state between them;
    ``hint`` (H×W uint8) and the ``include`` / ``exclude`` points (x, y pixels from the top-left
    corner) are given with every frame."""
    key = (tuple(f.tobytes() for f in frames), str(cache), model, smoothing, stream,
           None if hint is None else hint.tobytes(), tuple(include), tuple(exclude))
    if key not in _ALPHAS:
        _ALPHAS[key] = _engine_alphas(frames, cache, model, smoothing, stream, hint, tuple(include), tuple(exclude))
    return _ALPHAS[key]


_ALPHAS: dict = {}  # the engine is deterministic here; several tests compare with the same answers


def _engine_alphas(frames, cache, model, smoothing, stream, hint, include, exclude):
    from cleancut import frames as wire, licences, pipeline, prompts, temporal
    from cleancut.catalog import load_catalog
    from cleancut.options import Options

    config = cache.parent / ("reference-config-%d" % os.getpid())
    with engine_env(cache, config):
        entry = load_catalog().get(model)
        if licences.needs_acceptance(entry):
            licences.accept(entry)
        state = temporal.StreamState() if stream else None
        out = []
        for rgb in frames:
            options = Options(model=model, temporal_smoothing=smoothing, offline=True, foreground=False)
            clicks = prompts.Clicks(include=include, exclude=exclude)
            clicks = clicks.checked(rgb.shape[1], rgb.shape[0]) if clicks else None  # as the worker takes them
            result = pipeline.remove(rgb, options, stream=state, hint=hint, clicks=clicks)
            out.append(np.frombuffer(wire.encode_alpha(result.alpha, "u8"), np.uint8).reshape(rgb.shape[:2]))
        return out


def rgb_of(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def alpha_of(path) -> np.ndarray:
    image = Image.open(path)
    assert image.mode in ("RGBA", "LA"), f"{path} has no alpha ({image.mode})"
    return np.asarray(image)[..., -1]


def grey_of(path) -> np.ndarray:
    image = Image.open(path)
    assert image.mode == "L", f"{path} is {image.mode}, not 8-bit grey"
    return np.asarray(image)


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: {got.shape} != {want.shape}"
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1, f"{what}: max difference {diff.max()} at {np.unravel_index(diff.argmax(), diff.shape)}"


# --- test media: real photos, as an image sequence and a lossless movie ---

@pytest.fixture(scope="module")
def media(host_scratch) -> dict:
    """Three distinct real frames (astronaut, cat, mirrored astronaut) as files 0005–0007."""
    root = host_scratch / "blender-media"
    seq = root / "seq"
    seq.mkdir(parents=True, exist_ok=True)
    astronaut = Image.open(REPO / "examples" / "astronaut.png").convert("RGB")
    cat = Image.open(REPO / "examples" / "chelsea.png").convert("RGB")
    sources = [astronaut, cat, astronaut.transpose(Image.FLIP_LEFT_RIGHT)]
    files = []
    for index, picture in enumerate(sources):
        path = seq / f"frame_{SEQ_FIRST + index:04d}.png"
        picture.resize(SEQ_SIZE, Image.BICUBIC).save(path)
        files.append(path)
    cat512 = root / "chelsea-512.png"  # the astronaut's size, so one render setup fits both
    cat.resize((512, 512), Image.BICUBIC).save(cat512)
    return {"root": root, "seq": files, "frames": [rgb_of(p) for p in files], "cat512": cat512}


def make_movie(media: dict) -> Path:
    """The sequence as a lossless FFV1/MKV movie, encoded by Blender 3.4's own FFmpeg."""
    movie = media["root"] / "clip.mkv"
    if movie.exists():
        return movie
    script = media["root"] / "make_movie.py"
    script.write_text(f"""
import bpy
scene = bpy.context.scene
scene.use_nodes = True
tree = scene.node_tree
for node in list(tree.nodes):
    tree.nodes.remove(node)
image = bpy.data.images.load({str(media['seq'][0])!r})
image.source = "SEQUENCE"
node = tree.nodes.new("CompositorNodeImage")
node.image = image
node.frame_duration, node.frame_start, node.frame_offset = {len(media['seq'])}, 1, {SEQ_FIRST - 1}
tree.links.new(node.outputs[0], tree.nodes.new("CompositorNodeComposite").inputs[0])
scene.frame_start, scene.frame_end = 1, {len(media['seq'])}
scene.render.resolution_x, scene.render.resolution_y = {SEQ_SIZE[0]}, {SEQ_SIZE[1]}
scene.render.resolution_percentage = 100
scene.view_settings.view_transform = "Standard"
scene.render.dither_intensity = 0.0  # dither would change the pixels by ±1
scene.render.image_settings.file_format = "FFMPEG"
scene.render.ffmpeg.format = "MKV"
scene.render.ffmpeg.codec = "FFV1"
scene.render.image_settings.color_mode = "RGB"
scene.render.filepath = {str(movie)!r}
bpy.ops.render.render(animation=True)
""")
    subprocess.run([which("blender"), "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(script)],
                   check=True, capture_output=True, timeout=BLENDER_TIMEOUT)
    return movie


# --- installing the add-on and running Blender ---

@pytest.fixture(scope="module")
def rvm_cache(model_cache) -> Path:
    """rvm fetched (sha256-verified) into the session's model cache beside u2netp."""
    fetch_real_model("rvm", model_cache)
    return model_cache


@pytest.fixture(scope="module")
def addon_build(host_scratch) -> Path:
    """The add-on folder as bundled (core/bundles.py): the source tree with the client copied in."""
    from cleancut import bundles

    out = host_scratch / "blender-build"
    shutil.rmtree(out, ignore_errors=True)
    return bundles.write_folder(bundles.BUNDLES["blender"], out)


class Blender:
    """One Blender host: how to run a scenario in it with the add-on enabled."""

    def __init__(self, version: str, scratch: Path, build: Path, cache: Path, engine: Path | None):
        self.version = version
        self.scratch = scratch
        self.build = build
        self.cache = cache
        self.engine = engine  # the engine wheel folder for a chroot's Python
        self.wheel = bpy_wheel(version) if version in WHEELS else None
        # where it runs: a chroot (its Blender, or its Python for a cp313 bpy wheel), or here
        self.chroot: Chroot | None = self.wheel.chroot if self.wheel is not None else CHROOTS.get(version)
        self.runs = 0

    def env(self, config: Path) -> dict[str, str]:
        if self.chroot is not None:
            env = engine_env_chroot(self.chroot, self.engine, self.cache, config)
        else:
            env = engine_env_native(self.cache, config)
            if os.environ.get("PYTHONPATH"):
                # the engine this process computes the expected answers with (a checkout other
                # than the venv's editable install): the worker must run the same one
                env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        if self.version == "3.4":
            env.update(BLENDER_USER_SCRIPTS=str(self.scratch / "blender34-scripts"),
                       BLENDER_USER_CONFIG=str(self.scratch / "blender34-config"))
        if self.wheel is not None:
            env.update(BPY_SITE=self.wheel.site, HOME=str(self.home()))
        env["CLEANCUT_TEST_MODULE"] = MODULES[self.version]
        return env

    def home(self) -> Path:
        """A bpy wheel's HOME: its user preferences and extensions, private to this session."""
        return self.scratch / f"bpy{self.version}-home"

    def command(self, argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
        """argv in this Blender's place (the chroot, or here), its process group killed at the end."""
        if self.chroot is not None:
            return in_chroot(self.chroot, self.scratch, argv, env, timeout=timeout)
        full = dict(os.environ, **env)
        for name in list(full):
            if (name.startswith("CLEANCUT_") or name == "PYTHONPATH") and name not in env:
                del full[name]
        return run_group(argv, timeout, env=full)

    def blender(self, script: Path, args: list[str]) -> list[str]:
        """The command line that runs a drive script in background mode."""
        if self.wheel is not None:
            return [self.wheel.python, str(WHEEL_RUN), "drive", *args]
        return ["blender", "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(script), "--", *args]

    def ui_blend(self) -> Path:
        """A .blend whose screens hold Image Editors only: opened by the GUI runs, it spares them
        compiling the 3D viewport's shaders on the software renderer (≈14 s of 18 s at start)."""
        path = self.scratch / f"blender{self.version}-image-editors.blend"
        if not path.exists():
            expr = ("import bpy\n"
                    "for screen in bpy.data.screens:\n"
                    "    for area in screen.areas:\n"
                    "        area.type = 'IMAGE_EDITOR'\n"
                    f"bpy.ops.wm.save_as_mainfile(filepath={str(path)!r})\n")
            proc = self.command(["blender", "-b", "--factory-startup", "--python-exit-code", "1",
                                 "--python-expr", expr], {}, BLENDER_TIMEOUT)
            assert proc.returncode == 0 and path.exists(), proc.stdout + proc.stderr
        return path

    def run(self, scenario: str, params: dict, name: str, prefs: dict | None = None,
            accept: tuple[str, ...] = (), gui: bool = False, env: dict[str, str] | None = None) -> dict:
        """Run drive.py's scenario in a fresh folder (OUT) with its own settings; the result facts.

        ``gui``: drive_gui.py in the Blender GUI on a private Xvfb display instead. ``env``: more
        variables for Blender and so the engine (e.g. CLEANCUT_CATALOG).
        """
        out = self.scratch / f"blender{self.version}-{name}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        config = out.parent / (out.name + "-config")
        shutil.rmtree(config, ignore_errors=True)
        config.mkdir()
        if accept:
            with engine_env(self.cache, config):
                from cleancut import licences
                from cleancut.catalog import load_catalog
                for model in accept:
                    licences.accept(load_catalog().get(model))
        params = dict(params, out=str(out))
        if prefs:
            params["prefs"] = prefs
        params_path = out.parent / (out.name + "-params.json")
        result_path = out.parent / (out.name + "-result.json")
        params_path.write_text(json.dumps(params))
        result_path.unlink(missing_ok=True)
        env = dict(self.env(config), **(env or {}))
        if gui:
            assert self.wheel is None, "a bpy wheel has no GUI"
            argv = ["blender", "--factory-startup", "--enable-event-simulate", str(self.ui_blend()),
                    "--python", str(DRIVE_GUI), "--", str(params_path), str(result_path)]
            env["TMPDIR"] = str(out)  # Blender's quit.blend lands here
        else:
            argv = self.blender(DRIVE, [scenario, str(params_path), str(result_path)])
        started = time.time()
        if gui:  # a private X server (hostkit's), reached from the chroot through its abstract socket
            with XServer(out.parent / (out.name + "-xvfb.log"), size=(1024, 768)) as screen:
                proc = self.command(argv, dict(env, DISPLAY=screen.display), BLENDER_TIMEOUT)
        else:
            proc = self.command(argv, env, BLENDER_TIMEOUT)
        facts = json.loads(result_path.read_text()) if result_path.exists() else {}
        assert proc.returncode == 0 and "traceback" not in facts and "error" not in facts, (
            f"Blender {self.version} {scenario} failed ({proc.returncode}):\n"
            f"{facts.get('traceback', '')}{facts.get('error', '')}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        assert facts["blender"][:2] == [int(v) for v in self.version.split(".")]
        facts["out"] = out
        facts["config"] = config
        facts["seconds"] = time.time() - started
        facts["stdout"] = proc.stdout
        print(f"[blender {self.version} {name}: {facts['seconds']:.1f} s]", file=sys.stderr)
        return facts


def make_blender34(host_scratch: Path, addon_build: Path, cache: Path) -> Blender:
    """Blender 3.4.1 with the legacy add-on in a private BLENDER_USER_SCRIPTS/addons."""
    which("blender")
    addons = host_scratch / "blender34-scripts" / "addons"
    shutil.rmtree(addons, ignore_errors=True)
    addons.mkdir(parents=True)
    shutil.copytree(addon_build / "cleancut_blender", addons / "cleancut_blender")
    return Blender("3.4", host_scratch, addon_build, cache, None)


def make_chroot_blender(version: str, host_scratch: Path, addon_build: Path, cache: Path, engine: Path) -> Blender:
    """Blender in a chroot, the add-on built and installed as an extension by that Blender."""
    blender = Blender(version, host_scratch, addon_build, cache, engine)
    ext = host_scratch / f"blender{version}-extension"
    shutil.rmtree(ext, ignore_errors=True)
    ext.mkdir()
    built = blender.command(["blender", "--factory-startup", "--command", "extension", "build",
                             "--source-dir", str(addon_build / "cleancut_blender"), "--output-dir", str(ext)],
                            {}, BLENDER_TIMEOUT)
    assert built.returncode == 0, built.stdout + built.stderr
    (archive,) = ext.glob("cleancut_blender-*.zip")
    installed = blender.command(["blender", "--factory-startup", "--command", "extension", "install-file",
                                 "-r", "user_default", "-e", str(archive)], {}, BLENDER_TIMEOUT)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return blender


def make_wheel_blender(version: str, host_scratch: Path, addon_build: Path, cache: Path, engine: Path | None) -> Blender:
    """A bpy wheel, the add-on built and installed as an extension by that Blender's own code
    (``engine``: the engine wheel folder, for a bpy wheel run by a chroot's Python)."""
    blender = Blender(version, host_scratch, addon_build, cache, engine)
    shutil.rmtree(blender.home(), ignore_errors=True)
    ext = host_scratch / f"bpy{version}-extension"
    shutil.rmtree(ext, ignore_errors=True)
    ext.mkdir()
    env = {"BPY_SITE": blender.wheel.site, "HOME": str(blender.home())}
    installed = blender.command([blender.wheel.python, str(WHEEL_RUN), "install", str(addon_build / "cleancut_blender"),
                                 str(ext)], env, BLENDER_TIMEOUT)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return blender


@pytest.fixture(scope="module")
def hosts(request, host_scratch, addon_build, model_cache, rvm_cache):
    """Blender per version, set up on first use; results of shared runs are cached per module."""
    made = {}

    def get(version: str) -> Blender:
        if version not in made:
            if version == "3.4":
                made[version] = make_blender34(host_scratch, addon_build, rvm_cache)
            elif version in CHROOTS:
                engine = request.getfixturevalue("chroot_engine")(CHROOTS[version].name)
                made[version] = make_chroot_blender(version, host_scratch, addon_build, rvm_cache, engine)
            else:
                chroot = bpy_wheel(version).chroot
                engine = request.getfixturevalue("chroot_engine")(chroot.name) if chroot is not None else None
                made[version] = make_wheel_blender(version, host_scratch, addon_build, rvm_cache, engine)
        return made[version]

    get.cache = {}
    return get


def shared_run(hosts, host: str, key: str, make):
    """One Blender run whose facts several tests examine (each test checks one behaviour)."""
    if (host, key) not in hosts.cache:
        hosts.cache[(host, key)] = make(hosts(host))
    return hosts.cache[(host, key)]


def photo() -> str:
    return str(REPO / "examples" / "astronaut.png")


def still_run(hosts, host, media):
    params = {"photo": photo(), "photo2": str(media["cat512"]), "photo3": str(media["cat512"])}
    return shared_run(hosts, host, "still", lambda b: b.run("still", params, "still"))


def sequence_run(hosts, host, media):
    params = {"files": [str(p) for p in media["seq"]], "width": SEQ_SIZE[0], "height": SEQ_SIZE[1]}
    return shared_run(hosts, host, "sequence", lambda b: b.run("sequence", params, "sequence"))


SMOOTHING = 0.8


def video_models_run(hosts, host, media):
    params = {"first_file": str(media["seq"][0]), "frames": len(media["seq"]), "width": SEQ_SIZE[0],
              "height": SEQ_SIZE[1], "smoothing": SMOOTHING}
    return shared_run(hosts, host, "video-models",
                      lambda b: b.run("video_models", params, "video-models", accept=("rvm",)))


def prefs_run(hosts, host):
    params = {"photo": photo(), "model": "rvm", "bad_engine": "/nonexistent/python3"}
    return shared_run(hosts, host, "prefs", lambda b: b.run("preferences", params, "prefs"))


def our_groups(state: dict) -> dict:
    return {name: g for name, g in state["groups"].items() if name.startswith("Remove Background")}


def mattes(state: dict) -> dict:
    return {name: i for name, i in state["images"].items() if name.endswith(" matte")}


def sequence_mattes(folder: Path) -> list[np.ndarray]:
    return [grey_of(folder / f"matte_{SEQ_FIRST + i:06d}.png") for i in range(3)]


def assert_unchanged(facts: dict) -> None:
    assert facts["after"] == facts["before"]
    assert facts["files_after"] == facts["files_before"]


# --- stills ---

@HOSTS
def test_still_composite_alpha_equals_engine_matte(hosts, host, media, model_cache):
    facts = still_run(hosts, host, media)
    assert facts["first"] == [["FINISHED"], None]
    want = engine_alphas([rgb_of(photo())], model_cache)[0]
    assert_close(alpha_of(facts["render1"]), want, f"Blender {host} composite alpha")


@HOSTS
def test_still_soft_edges_keep_the_photo_s_colour(hosts, host, media):
    """Where the matte is half transparent, the cut-out's (straight) colour is the photo's own,
    not brightened: the group must premultiply for Blender's premultiplied compositor."""
    facts = still_run(hosts, host, media)
    render = np.asarray(Image.open(facts["render1"]).convert("RGBA")).astype(int)
    soft = (render[..., 3] > 64) & (render[..., 3] < 192)
    assert soft.sum() > 100
    difference = np.abs(render[..., :3] - rgb_of(photo()).astype(int))[soft]
    assert np.median(difference) <= 2, f"soft-edge colour is off by a median {np.median(difference)} levels"


@HOSTS
def test_still_matte_is_a_packed_non_color_image(hosts, host, media):
    facts = still_run(hosts, host, media)
    (name, matte), = mattes(facts["state1"]).items()
    assert name == "astronaut.png matte"
    assert (matte["source"], matte["colorspace"], matte["packed"]) == ("FILE", "Non-Color", True)


@HOSTS
def test_still_node_group_takes_image_and_gives_cutout_and_matte(hosts, host, media):
    facts = still_run(hosts, host, media)
    (group,) = our_groups(facts["state1"]).values()
    inputs = [(name, kind) for io, name, kind in group["sockets"] if io == "INPUT"]
    outputs = [(name, kind) for io, name, kind in group["sockets"] if io == "OUTPUT"]
    assert inputs == [("Image", "NodeSocketColor")]
    assert outputs == [("Image", "NodeSocketColor"), ("Matte", "NodeSocketFloat")]
    assert group["matte"] == "astronaut.png matte"
    assert "CompositorNodeSetAlpha" in group["nodes"]
    # the cut-out is the compositor's result, and what its Viewer shows where it has one (4.5's default)
    viewer = ["Group.Image>Viewer.Image"] if "CompositorNodeViewer:Viewer" in facts["state1"]["nodes"] else []
    assert facts["state1"]["links"] == [f"Group.Image>{RESULT_NODE[host]}.Image", *viewer, "Image.Image>Group.Image"]


@HOSTS
def test_still_matte_saved_beside_the_blend_on_request(hosts, host, media, model_cache):
    facts = still_run(hosts, host, media)
    assert facts["file_run"] == [["FINISHED"], None]
    matte = mattes(facts["state3"])["chelsea-512.png matte"]
    assert (matte["packed"], matte["filepath"]) == (False, "//cleancut_mattes/chelsea-512_png_matte.png")
    saved = facts["out"] / "cleancut_mattes" / "chelsea-512_png_matte.png"
    assert_close(grey_of(saved), engine_alphas([rgb_of(media["cat512"])], model_cache)[0], "saved matte")


@HOSTS
def test_rerun_updates_the_same_group_and_matte(hosts, host, media, model_cache):
    """The second run, after the image's pixels changed: same datablocks, nodes and links, new matte."""
    facts = still_run(hosts, host, media)
    assert facts["second"] == [["FINISHED"], None]
    first, second = facts["state1"], facts["state2"]
    assert (second["nodes"], second["links"]) == (first["nodes"], first["links"])
    assert second["groups"] == first["groups"]
    assert second["images"].keys() == first["images"].keys()
    assert_close(alpha_of(facts["render2"]), engine_alphas([rgb_of(media["cat512"])], model_cache)[0],
                 "composite alpha after the re-run")


# --- a mask image as the hint: black background, grey unsure (a region), white subject ---

MASK_REGION = (slice(0, 256), slice(96, 352))  # rows, columns (top-down): the astronaut's head and shoulders


def mask_run(hosts, host, media):
    """The astronaut cut out with a region mask (0 outside, 128 inside: a crop for the model)."""
    region = np.zeros(rgb_of(photo()).shape[:2], np.uint8)
    region[MASK_REGION] = 128
    mask, small = media["root"] / "region-mask.png", media["root"] / "small-mask.png"
    Image.fromarray(region).save(mask)
    Image.fromarray(region[:100, :200]).save(small)
    rows, columns = MASK_REGION
    params = {"photo": photo(), "mask": str(mask), "small_mask": str(small), "first_file": str(media["seq"][0]),
              "region": [rows.start, rows.stop, columns.start, columns.stop]}
    facts = shared_run(hosts, host, "mask", lambda b: b.run("mask", params, "mask"))
    return facts, region


@HOSTS
def test_mask_image_is_the_engine_hint_background_outside_the_region(hosts, host, media, model_cache):
    facts, region = mask_run(hosts, host, media)
    assert facts["run"] == [["FINISHED"], None]
    got = alpha_of(facts["render"])
    assert got[region == 0].max() == 0
    want = engine_alphas([rgb_of(photo())], model_cache, hint=region)[0]
    assert_close(got, want, f"Blender {host} composite alpha with the mask image")
    plain = engine_alphas([rgb_of(photo())], model_cache)[0]
    assert (plain[region == 0] > 128).sum() > 10000  # without the mask, the subject goes on outside it


@HOSTS
def test_mask_image_made_in_blender_gives_the_same_hint(hosts, host, media):
    """A float image drawn in Blender (rows bottom-up, grey 0.5) gives the bytes of the PNG mask."""
    facts, region = mask_run(hosts, host, media)
    hint = np.frombuffer((facts["out"] / "drawn-hint.u8").read_bytes(), np.uint8)
    assert np.array_equal(hint.reshape(region.shape), region)


@HOSTS
def test_mask_image_that_cannot_guide_is_refused_and_changes_nothing(hosts, host, media):
    facts, _ = mask_run(hosts, host, media)
    assert facts["wrong_size"] == [["CANCELLED"], "Error: The mask image 'small-mask.png' is 200×100 pixels; "
                                                  "it must be the size of 'astronaut.png', 512×512.\n"]
    assert facts["no_such_mask"] == [["CANCELLED"], "Error: There is no mask image called 'no such mask'.\n"]
    assert facts["video"] == [["CANCELLED"], "Error: A mask image guides still images only; 'frame_0005.png' has "
                                             "frames (a sequence, movie or movie clip). Clear Mask Image to cut it "
                                             "out.\n"]
    assert_unchanged(facts)


# --- include and exclude points: annotation layers of the Image Editor (stills) ---

CLICK_HOSTS = pytest.mark.parametrize("host", [VERSIONS[0], VERSIONS[-1]])  # the oldest and the newest
PHOTO_SIZE = 512  # astronaut.png is 512×512
INCLUDE = (400.5, 150.5)  # pixels from the top-left corner: the shuttle model, which u2netp alone leaves out
EXCLUDE = (220.5, 130.5)  # the astronaut's face, which u2netp alone keeps
OUTSIDE_UV = (1.25, 0.5)  # right of the image: 640, 256 in pixels


def uv(point: tuple[float, float]) -> tuple[float, float]:
    """Pixels (from the top-left corner) as the Image Editor keeps annotation strokes: UV, from
    the bottom-left corner, 0..1 across the image."""
    return point[0] / PHOTO_SIZE, 1.0 - point[1] / PHOTO_SIZE


def make_annotations(media: dict) -> Path:
    """A .blend with annotation data "Clicks" and "Outside", made by Blender 3.4's Python API
    (annotation strokes can no longer be made from Python in 4.3+; they read the file).

    "Clicks": the layer "Include" (any case) holds a stroke whose first point is INCLUDE (its
    other points on the face: only where the pen first touched counts), and at frame 10 (not
    shown at frame 1) a stroke on the face; "exclude" a dot on EXCLUDE; a hidden "exclude" layer
    ("Exclude") a dot on the shuttle and a "Note" layer a dot on the arm (both ignored)."""
    path = media["root"] / "clicks.blend"
    if path.exists():
        return path
    layers = {"Clicks": [("Include", False, {1: [[uv(INCLUDE), uv((215.5, 125.5)), uv(EXCLUDE)]],
                                             10: [[uv(EXCLUDE)]]}),
                         ("exclude", False, {1: [[uv(EXCLUDE)]]}),
                         ("Exclude", True, {1: [[uv((410.5, 180.5))]]}),  # "exclude" is taken: names are unique
                         ("Note", False, {1: [[uv((100.5, 400.5))]]})],
              "Outside": [("include", False, {1: [[uv(INCLUDE)], [OUTSIDE_UV]]})],
              "View": [("exclude", False, {1: [[uv(EXCLUDE)]]})]}  # placed in the View (made so below)
    script = media["root"] / "make_annotations.py"
    script.write_text(f"""
import bpy
for name, layers in {layers!r}.items():
    data = bpy.data.grease_pencils.new(name)
    data.use_fake_user = True
    for info, hidden, frames in layers:
        layer = data.layers.new(info)
        layer.annotation_hide = hidden
        for number, strokes in frames.items():
            frame = layer.frames.new(number)
            for points in strokes:
                stroke = frame.strokes.new()
                # the Annotate tool's Placement "Image"; "View" (screen space) for the annotation View
                stroke.display_mode = "SCREEN" if name == "View" else "2DSPACE"
                stroke.points.add(len(points))
                for point, (u, v) in zip(stroke.points, points):
                    point.co = (u, v, 0.0)
bpy.ops.wm.save_as_mainfile(filepath={str(path)!r})
""")
    subprocess.run([which("blender"), "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(script)],
                   check=True, capture_output=True, timeout=BLENDER_TIMEOUT)
    return path


def clicks_run(hosts, host, media):
    params = {"photo": photo(), "annotations": str(make_annotations(media)), "first_file": str(media["seq"][0])}
    return shared_run(hosts, host, "clicks", lambda b: b.run("clicks", params, "clicks"))


@CLICK_HOSTS
def test_clicks_from_the_image_editor_annotations_give_the_engine_answer(hosts, host, media, model_cache):
    facts = clicks_run(hosts, host, media)
    assert facts["annotations"] == ["Clicks", "Outside", "View"]
    assert facts["run"] == [["FINISHED"], None]
    assert facts["report"][0] == "INFO" and facts["report"][1].endswith(", 1 include and 1 exclude points)")
    want = engine_alphas([rgb_of(photo())], model_cache, include=(INCLUDE,), exclude=(EXCLUDE,))[0]
    assert_close(alpha_of(facts["render"]), want, f"Blender {host} composite alpha with include and exclude points")
    (name, matte), = mattes(facts["state"]).items()
    assert (name, matte["packed"]) == ("astronaut.png matte", True)


@CLICK_HOSTS
def test_clicks_matte_holds_the_include_point_and_not_the_exclude_point(hosts, host, media, model_cache):
    facts = clicks_run(hosts, host, media)
    got = alpha_of(facts["render"])
    (ix, iy), (ex, ey) = INCLUDE, EXCLUDE
    assert got[int(iy), int(ix)] > 128 and got[int(ey), int(ex)] < 128, (got[int(iy), int(ix)], got[int(ey), int(ex)])
    plain = engine_alphas([rgb_of(photo())], model_cache)[0]
    assert plain[int(iy), int(ix)] < 128 and plain[int(ey), int(ex)] > 128  # the points changed the answer


@CLICK_HOSTS
def test_click_outside_the_image_is_refused_and_changes_nothing(hosts, host, media):
    facts = clicks_run(hosts, host, media)
    assert facts["outside"] == [["CANCELLED"], "Error: The include point at 640, 256 (pixels from the top-left "
                                               "corner) of the annotation layer 'include' lies outside the image "
                                               "'astronaut.png' (512×512): move or erase it, then run Remove "
                                               "Background again.\n"]
    assert facts["no_such_annotation"] == [["CANCELLED"],
                                           "Error: There is no annotation called 'no such annotation'.\n"]
    assert_unchanged(facts)


@CLICK_HOSTS
def test_stroke_placed_in_the_view_is_refused_where_strokes_say_so(hosts, host, media):
    """Blender 3.4–4.2 strokes say where they are placed: one in the View (screen space) is no
    point of the image. (4.3+ strokes no longer say so; the scenario skips it there.)"""
    facts = clicks_run(hosts, host, media)
    if tuple(map(int, host.split("."))) >= (4, 3):
        assert "view_placed" not in facts
        return
    assert facts["view_placed"] == [["CANCELLED"], "Error: A stroke of the annotation layer 'exclude' is placed in "
                                                   "the View, not on the image: draw points with the Annotate tool's "
                                                   "Placement set to Image.\n"]
    assert_unchanged(facts)


@CLICK_HOSTS
def test_clicks_with_a_sequence_are_refused_and_change_nothing(hosts, host, media):
    facts = clicks_run(hosts, host, media)
    assert facts["sequence"] == [["CANCELLED"], "Error: Include and exclude points guide still images only; "
                                                "'frame_0005.png' has frames (a sequence, movie or movie clip). Hide "
                                                "or erase the annotation layers include and exclude to cut it out.\n"]
    assert_unchanged(facts)


# --- image sequences and movies ---

@HOSTS
def test_sequence_of_n_frames_gives_n_mattes(hosts, host, media, model_cache):
    facts = sequence_run(hosts, host, media)
    assert facts["run"] == [["FINISHED"], None]
    assert facts["mattes"] == ["frame_0005_png/"] + [f"frame_0005_png/matte_{SEQ_FIRST + i:06d}.png" for i in range(3)]
    want = engine_alphas(media["frames"], model_cache)
    got_all = sequence_mattes(facts["out"] / "cleancut_mattes" / "frame_0005_png")
    for index, (got, expected) in enumerate(zip(got_all, want)):
        assert_close(got, expected, f"matte of frame {SEQ_FIRST + index}")
    matte = mattes(facts["state"])["frame_0005.png matte"]
    assert (matte["source"], matte["colorspace"], matte["filepath"]) == (
        "SEQUENCE", "Non-Color", "//cleancut_mattes/frame_0005_png/matte_000005.png")


@HOSTS
def test_sequence_node_group_renders_each_frame(hosts, host, media, model_cache):
    facts = sequence_run(hosts, host, media)
    want = engine_alphas(media["frames"], model_cache)
    assert len(facts["renders"]) == len(want)
    for frame, (render, expected) in enumerate(zip(facts["renders"], want), start=1):
        assert_close(alpha_of(render), expected, f"composite alpha of scene frame {frame}")


@HOSTS
def test_sequence_rerun_does_not_duplicate(hosts, host, media):
    facts = sequence_run(hosts, host, media)
    assert facts["rerun"] == [["FINISHED"], None]
    first, second = facts["state"], facts["state2"]
    assert (second["nodes"], second["links"], second["groups"]) == (first["nodes"], first["links"], first["groups"])
    assert second["images"].keys() == first["images"].keys()
    assert facts["mattes2"] == facts["mattes"]
    assert second["textures"] == []  # the frame reader leaves nothing behind


@HOSTS
def test_sequence_with_a_missing_frame_fails_and_keeps_the_previous_mattes(hosts, host, media):
    facts = sequence_run(hosts, host, media)
    status, report = facts["broken_run"]
    assert status == ["CANCELLED"]
    assert report.strip() == f"Error: Frame {SEQ_FIRST + 1} of 'frame_0005.png' is missing: {facts['missing']}"
    assert_unchanged(facts)


@HOSTS
def test_movie_gives_a_matte_per_frame_that_the_group_plays(hosts, host, media, model_cache):
    movie = make_movie(media)
    params = {"movie": str(movie), "frames": len(media["seq"]), "width": SEQ_SIZE[0], "height": SEQ_SIZE[1]}
    facts = shared_run(hosts, host, "movie", lambda b: b.run("movie", params, "movie"))
    assert facts["source"] == "MOVIE"
    assert facts["run"] == [["FINISHED"], None]
    assert facts["mattes"] == ["clip_mkv/"] + [f"clip_mkv/matte_{n:06d}.png" for n in (1, 2, 3)]
    want = engine_alphas(media["frames"], model_cache)  # FFV1 RGB, undithered: the same pixels
    for number, expected in enumerate(want, start=1):
        assert_close(grey_of(facts["out"] / "cleancut_mattes" / "clip_mkv" / f"matte_{number:06d}.png"),
                     expected, f"matte of movie frame {number}")
        assert_close(alpha_of(facts["renders"][number - 1]), expected, f"composite alpha of movie frame {number}")


@HOSTS
def test_movie_clip_gives_a_matte_per_frame_that_the_group_plays(hosts, host, media, model_cache):
    movie = make_movie(media)
    params = {"movie": str(movie), "frames": len(media["seq"]), "width": SEQ_SIZE[0], "height": SEQ_SIZE[1]}
    facts = shared_run(hosts, host, "movie", lambda b: b.run("movie", params, "movie"))
    assert facts["clip_run"] == [["FINISHED"], None]
    assert [f for f in facts["clip_mattes"] if f.startswith("clip_clip")] == (
        ["clip_clip_mkv/"] + [f"clip_clip_mkv/matte_{n:06d}.png" for n in (1, 2, 3)])
    assert any(n.startswith("CompositorNodeMovieClip:") for n in facts["clip_state"]["nodes"])
    want = engine_alphas(media["frames"], model_cache)
    for number, expected in enumerate(want, start=1):
        assert_close(grey_of(facts["out"] / "cleancut_mattes" / "clip_clip_mkv" / f"matte_{number:06d}.png"),
                     expected, f"matte of clip frame {number}")
        assert_close(alpha_of(facts["clip_renders"][number - 1]), expected, f"composite alpha of clip frame {number}")


@HOSTS
def test_rvm_carries_its_recurrent_state_from_frame_to_frame(hosts, host, media, rvm_cache):
    facts = video_models_run(hosts, host, media)
    assert facts["rvm"] == [["FINISHED"], None]
    carried = engine_alphas(media["frames"], rvm_cache, model="rvm", stream=True)
    afresh = engine_alphas(media["frames"], rvm_cache, model="rvm", stream=False)
    # the state matters on these frames, so this test tells carrying it from restarting each frame
    assert max(np.abs(c.astype(int) - a.astype(int)).max() for c, a in zip(carried[1:], afresh[1:])) > 8
    got_all = sequence_mattes(facts["out"] / "rvm_mattes" / "frame_0005_png")
    for index, (got, expected) in enumerate(zip(got_all, carried)):
        assert_close(got, expected, f"rvm matte of frame {SEQ_FIRST + index}")


@HOSTS
def test_temporal_smoothing_is_applied_along_the_sequence(hosts, host, media, model_cache):
    facts = video_models_run(hosts, host, media)
    assert facts["smoothed"] == [["FINISHED"], None]
    smoothed = engine_alphas(media["frames"], model_cache, smoothing=SMOOTHING, stream=True)
    plain = engine_alphas(media["frames"], model_cache)
    assert max(np.abs(s.astype(int) - p.astype(int)).max() for s, p in zip(smoothed[1:], plain[1:])) > 8
    got_all = sequence_mattes(facts["out"] / "cleancut_mattes" / "frame_0005_png")
    for index, (got, expected) in enumerate(zip(got_all, smoothed)):
        assert_close(got, expected, f"smoothed matte of frame {SEQ_FIRST + index}")


# --- the Video Sequencer: the group as a strip's Compositor modifier (Blender 5.0+) ---

STRIP_START = 2  # the strips start at scene frame 2: frame 1 shows nothing
STRIP_MISSING = ("Remove Background in the Video Sequencer needs Blender 5.0 or later (its Compositor strip "
                 "modifier); in this Blender, use the Compositor or the Image Editor.")


def strips_run(hosts, host, media):
    params = {"files": [str(p) for p in media["seq"]], "width": SEQ_SIZE[0], "height": SEQ_SIZE[1],
              "end": STRIP_START + len(media["seq"]) - 1, "strip_start": STRIP_START,
              "movie": str(make_movie(media)), "photo": photo(), "features": sorted(FEATURES[host])}
    return shared_run(hosts, host, "strips", lambda b: b.run("strips", params, "strips"))


def strip_hosts():
    return pytest.mark.parametrize("host", STRIP_HOSTS)


@strip_hosts()
def test_image_strip_gets_a_compositor_modifier_running_the_group(hosts, host, media):
    facts = strips_run(hosts, host, media)
    assert facts["by_name"] == [["FINISHED"], None]
    (name, group), = our_groups(facts["state"]).items()
    assert group["matte"] == "frame_0005.png matte"
    assert facts["state"]["strips"]["frames"]["modifiers"] == [["COMPOSITOR", name, name]]
    assert not facts["state"]["compositor"]  # the scene compositor is left alone


@strip_hosts()
def test_image_strip_mattes_equal_the_engine_s_per_frame(hosts, host, media, model_cache):
    facts = strips_run(hosts, host, media)
    assert facts["mattes"] == ["frame_0005_png/"] + [f"frame_0005_png/matte_{SEQ_FIRST + i:06d}.png" for i in range(3)]
    want = engine_alphas(media["frames"], model_cache)
    for index, (got, expected) in enumerate(zip(sequence_mattes(facts["out"] / "cleancut_mattes" / "frame_0005_png"),
                                               want)):
        assert_close(got, expected, f"matte of strip frame {SEQ_FIRST + index}")


@strip_hosts()
def test_image_strip_modifier_cuts_out_each_frame_in_the_sequencer_render(hosts, host, media, model_cache):
    facts = strips_run(hosts, host, media)
    renders = facts["renders"]
    assert len(renders) == STRIP_START + len(media["seq"]) - 1
    assert alpha_of(renders[0]).max() == 0  # before the strip starts
    for number, (render, expected) in enumerate(zip(renders[STRIP_START - 1:], engine_alphas(media["frames"],
                                                                                              model_cache))):
        assert_close(alpha_of(render), expected, f"sequencer alpha of strip frame {SEQ_FIRST + number}")


@strip_hosts()
def test_strip_rerun_updates_the_same_modifier_group_and_matte(hosts, host, media):
    facts = strips_run(hosts, host, media)
    assert facts["rerun"] == [["FINISHED"], None]
    first, second = facts["state"], facts["state2"]
    assert (second["strips"], second["groups"]) == (first["strips"], first["groups"])
    assert second["images"].keys() == first["images"].keys()


@strip_hosts()
def test_strip_with_a_missing_file_fails_and_leaves_the_blend_and_disk_unchanged(hosts, host, media):
    facts = strips_run(hosts, host, media)
    status, report = facts["broken_run"]
    assert status == ["CANCELLED"]
    assert report.strip() == f"Error: Frame {SEQ_FIRST + 1} of 'frame_0005.png' is missing: {facts['broken_missing']}"
    assert facts["broken_after"] == facts["broken_before"]  # not even the Image read for the strip stays
    assert facts["broken_files_after"] == facts["broken_files_before"]


@strip_hosts()
def test_movie_strip_active_in_the_sequencer_gets_mattes_and_its_own_modifier(hosts, host, media, model_cache):
    facts = strips_run(hosts, host, media)
    assert facts["from_sequencer"] == [["FINISHED"], None]
    groups = our_groups(facts["movie_state"])
    (name,) = [n for n, g in groups.items() if g["matte"] == "clip.mkv matte"]
    assert facts["movie_state"]["strips"]["movie"]["modifiers"] == [["COMPOSITOR", name, name]]
    assert facts["movie_state"]["strips"]["frames"] == facts["state2"]["strips"]["frames"]
    assert [f for f in facts["movie_mattes"] if f.startswith("clip_mkv")] == (
        ["clip_mkv/"] + [f"clip_mkv/matte_{n:06d}.png" for n in (1, 2, 3)])
    want = engine_alphas(media["frames"], model_cache)
    for number, expected in enumerate(want, start=1):
        assert_close(grey_of(facts["out"] / "cleancut_mattes" / "clip_mkv" / f"matte_{number:06d}.png"),
                     expected, f"matte of movie strip frame {number}")
        assert_close(alpha_of(facts["movie_renders"][STRIP_START + number - 2]), expected,
                     f"sequencer alpha of movie strip frame {number}")


@HOSTS
def test_compat_sees_what_this_blender_has(hosts, host, media):
    """The add-on's feature answers (compat.py) in the real Blender are those of
    tests/static/blender/features.json, which the static API check relies on."""
    assert strips_run(hosts, host, media)["features"] == FEATURES[host]


@HOSTS
def test_sequencer_offers_remove_background_only_with_the_compositor_modifier(hosts, host, media):
    facts = strips_run(hosts, host, media)
    assert facts["has_strip_compositor"] is (host in STRIP_HOSTS)
    assert facts["poll_in_sequencer"] is (host in STRIP_HOSTS)
    if host not in STRIP_HOSTS:
        assert facts["by_name"] == [["CANCELLED"], f"Error: {STRIP_MISSING}\n"]
        status, message = facts["from_sequencer"]
        assert status == ["CANCELLED"] and STRIP_MISSING in message, message
        assert not our_groups(facts["state"]) and not mattes(facts["state"])


@HOSTS
def test_scene_without_a_compositor_gets_one_with_the_cut_out_as_its_result(hosts, host, media):
    facts = strips_run(hosts, host, media)
    assert facts["fresh_before"] is False
    assert facts["fresh_run"] == [["FINISHED"], None]
    state = facts["fresh_state"]
    assert state["compositor"]
    assert {f"Group.Image>{RESULT_NODE[host]}.Image", "Image.Image>Group.Image"} <= set(state["links"])


# --- failures and preferences ---

def client_error(**kwargs):
    sys.path.insert(0, str(REPO / "core"))
    import cleancut_client

    with pytest.raises(cleancut_client.CleancutError) as caught:
        cleancut_client.Client(**kwargs).hello()
    return caught.value


@HOSTS
def test_engine_that_cannot_start_is_reported_and_changes_nothing(hosts, host):
    facts = prefs_run(hosts, host)
    expected = client_error(python="/nonexistent/python3")
    assert expected.kind == "setup"
    assert facts["bad_run"] == [["CANCELLED"], "Error: " + str(expected) + "\n"]
    assert facts["bad_connection"] == [["CANCELLED"], "Error: " + str(expected) + "\n"]
    assert_unchanged(facts)


@HOSTS
def test_licence_refusal_is_reported_in_the_engine_words_and_changes_nothing(hosts, host, rvm_cache):
    facts = prefs_run(hosts, host)
    status, report = facts["refused"]
    assert status == ["CANCELLED"]
    from cleancut import licences
    from cleancut.catalog import load_catalog
    from cleancut.errors import LicenceError

    with engine_env(rvm_cache, facts["out"] / "never-accepted"):
        with pytest.raises(LicenceError) as expected:
            licences.check(load_catalog().get("rvm"))
    assert report == "Error: " + str(expected.value) + "\n"
    assert not our_groups(facts["state_refused"]) and not mattes(facts["state_refused"])


@HOSTS
def test_test_connection_reports_the_engine_and_lists_its_models(hosts, host):
    facts = prefs_run(hosts, host)
    import cleancut

    assert facts["connection"] == [["FINISHED"], None]
    assert facts["hello"]["engine"] == cleancut.__version__
    from cleancut.catalog import load_catalog

    assert sorted(m["id"] for m in facts["models"]) == sorted([*load_catalog().models, *load_catalog().presets])
    rvm = {m["id"]: m for m in facts["models"]}["rvm"]
    assert (rvm["needs_acceptance"], rvm["licence"]) == (True, "GPL-3.0-only")


@HOSTS
def test_operator_is_in_the_image_compositor_and_sequencer_menus(hosts, host):
    menus = prefs_run(hosts, host)["menus"]
    for menu in ("IMAGE_MT_image", "NODE_MT_add", "NODE_MT_context_menu", "SEQUENCER_MT_strip",
                 "SEQUENCER_MT_context_menu"):
        assert MODULES[host] in menus[menu], (menu, menus[menu])


@HOSTS
def test_preferences_offer_the_engine_refine_modes(hosts, host):
    from cleancut.options import REFINE_MODES

    assert prefs_run(hosts, host)["refine_items"] == ["DEFAULT"] + list(REFINE_MODES)  # "DEFAULT": the engine's


@HOSTS
def test_preferences_offer_every_refine_mode_before_the_engine_said_hello(hosts, host):
    from cleancut.options import REFINE_MODES

    assert prefs_run(hosts, host)["refine_items_without_hello"] == ["DEFAULT"] + list(REFINE_MODES)


@HOSTS
def test_a_stored_refine_choice_is_read_and_sent_before_the_engine_said_hello(hosts, host):
    facts = prefs_run(hosts, host)

    assert (facts["refine_stored_without_hello"], facts["refine_sent_without_hello"]) == ("best", "best")


@HOSTS
def test_licence_accepted_in_preferences_lets_the_default_model_run(hosts, host, rvm_cache):
    facts = prefs_run(hosts, host)
    assert facts["accept"] == [["FINISHED"], None]
    assert {m["id"]: m for m in facts["models_after"]}["rvm"]["needs_acceptance"] is False
    assert facts["run"] == [["FINISHED"], None]
    assert facts["last_run"]["model"] == "rvm"
    want = engine_alphas([rgb_of(photo())], rvm_cache, model="rvm")[0]
    assert_close(alpha_of(facts["render"]), want, "composite alpha with the default model rvm")


# --- the modal operator, in the Blender GUI (Xvfb), with a real Esc key event ---

def gui_run(hosts, host, media):
    params = {"files_a": [str(p) for p in media["seq"][:2]], "files_b": [str(p) for p in media["seq"]] * 4,
              "still": str(media["seq"][1]), "points": DRAWN_POINTS,
              "width": SEQ_SIZE[0], "height": SEQ_SIZE[1]}
    return shared_run(hosts, host, "gui", lambda b: b.run("gui", params, "gui", gui=True))


DRAWN_POINTS = [["include", 40.5, 30.5], ["exclude", 120.5, 90.5], ["include", 150.5, 10.5]]  # pixels, top-left


@GUI_HOSTS
def test_annotation_dots_drawn_in_the_image_editor_are_read_at_the_pixels_drawn(hosts, host, media):
    """The Annotate tool's dots (its operator, the mouse at each pixel's place in the Image Editor
    at zoom 1) reach the add-on as those pixels from the top-left corner, rows down (±1 pixel:
    the mouse is at whole region pixels)."""
    facts = gui_run(hosts, host, media)
    assert [status for _, _, status in facts["drawn"]] == [["FINISHED"]] * len(DRAWN_POINTS)
    include, exclude = facts["read_points"]
    want = {kind: [(x, y) for k, x, y in DRAWN_POINTS if k == kind] for kind in ("include", "exclude")}
    for kind, got in (("include", include), ("exclude", exclude)):
        assert len(got) == len(want[kind]), (kind, got)
        for (x, y), (wx, wy) in zip(got, want[kind]):
            assert abs(x - wx) <= 1 and abs(y - wy) <= 1, (kind, (x, y), (wx, wy))


@GUI_HOSTS
def test_modal_run_from_the_image_editor_takes_its_annotation_points(hosts, host, media, model_cache):
    """The drawn dots guide a modal run on the still from that Image Editor: its matte is the
    engine's answer for the still and the points the add-on read."""
    facts = gui_run(hosts, host, media)
    assert facts["invoke_points"] == ["RUNNING_MODAL"]
    run = facts["run_points"]
    assert (run["status"], run["report"][0]) == ("finished", "INFO")
    assert run["report"][1].endswith(", 2 include and 1 exclude points)"), run["report"]
    include, exclude = facts["read_points"]
    want = engine_alphas([media["frames"][1]], model_cache, include=tuple(map(tuple, include)),
                         exclude=tuple(map(tuple, exclude)))[0]
    got = np.frombuffer((facts["out"] / "points-matte.u8").read_bytes(), np.uint8).reshape(want.shape)
    assert_close(got, want, f"Blender {host} matte of a modal run with points")
    assert not np.array_equal(want, engine_alphas([media["frames"][1]], model_cache)[0])  # the points mattered


@GUI_HOSTS
def test_compositor_invocation_cuts_out_the_active_image_node(hosts, host, media):
    facts = gui_run(hosts, host, media)
    assert facts["invoke_still"] == ["RUNNING_MODAL"]  # a still too: the UI stays live, Esc cancels
    assert facts["run_still"]["report"][0] == "INFO"
    state = facts["state_still"]
    assert list(mattes(state)) == ["frame_0006.png matte"]
    assert "Still.Image>Group.Image" in state["links"] and f"Group.Image>{RESULT_NODE[host]}.Image" in state["links"]


@GUI_HOSTS
def test_modal_run_writes_every_matte_and_wires_the_group(hosts, host, media):
    facts = gui_run(hosts, host, media)
    assert facts["invoke_a"] == ["RUNNING_MODAL"]
    run = facts["run_a"]
    assert (run["status"], run["frames"], run["report"][0]) == ("finished", [1, 2], "INFO")
    assert sorted(g["matte"] for g in our_groups(facts["state_a"]).values()) == ["frame_0006.png matte", "seqA matte"]
    assert [f for f in facts["files_a"] if f.startswith("cleancut_mattes/")] == [
        "cleancut_mattes/", "cleancut_mattes/seqA/",
        "cleancut_mattes/seqA/matte_000001.png", "cleancut_mattes/seqA/matte_000002.png"]
    assert f"Group.001.Image>{RESULT_NODE[host]}.Image" in facts["state_a"]["links"]


@pytest.mark.parametrize("host", [v for v in STRIP_HOSTS if v not in WHEELS])
def test_sequencer_invocation_runs_modal_and_adds_the_strip_modifier(hosts, host, media):
    facts = gui_run(hosts, host, media)
    assert facts["invoke_strip"] == ["RUNNING_MODAL"]
    run = facts["run_strip"]
    assert (run["status"], run["frames"], run["report"][0]) == ("finished", [1, 2], "INFO")
    (name,) = [n for n, g in our_groups(facts["state_strip"]).items() if g["matte"] == "frame_0001.png matte"]
    assert facts["state_strip"]["strips"]["stripA"]["modifiers"] == [["COMPOSITOR", name, name]]
    assert [f for f in facts["files_strip"] if f.startswith("cleancut_mattes/frame_0001_png")] == [
        "cleancut_mattes/frame_0001_png/", "cleancut_mattes/frame_0001_png/matte_000001.png",
        "cleancut_mattes/frame_0001_png/matte_000002.png"]


@GUI_HOSTS
def test_esc_cancels_the_modal_run_and_leaves_nothing(hosts, host, media):
    facts = gui_run(hosts, host, media)
    assert facts["invoke_b"] == ["RUNNING_MODAL"]
    run = facts["run_b"]
    assert facts["frames_before_esc"]  # Esc came after a matte of B had been written to the staging folder
    assert run["status"] == "cancelled" and len(run["frames"]) < run["total"] == 12
    assert run["report"] == ["WARNING", "Remove Background cancelled; nothing was changed."]
    assert facts["state_b"] == facts["state_before_b"]
    assert facts["files_b"] == facts["files_before_b"]
    assert not any(f.startswith("cleancut_mattes") for f in facts["files_b"])


# --- a first run: the download shows in the status bar and Esc stops it (Blender 3.4) ----------


@pytest.fixture(scope="module")
def first_run(hosts, host_scratch, model_cache):
    """Blender 3.4's GUI runs Remove Background on a still with a model not downloaded yet, whose
    file a loopback server sends at 1 MiB/s (u2netp's 4.6 MB: 4.4 s); Esc once the download moved."""
    catalog = host_scratch / "blender-first-run-catalog.toml"
    params = {"flow": "first-run", "still": photo(), "model": DOWNLOAD_MODEL, "cancel_after": 3}
    with first_run_server(model_cache, catalog) as (server, size):
        facts = hosts("3.4").run("gui", params, "first-run", gui=True,
                                 env={"CLEANCUT_CATALOG": str(catalog), "CLEANCUT_OFFLINE": "0"})
    return facts, size, server.sent.get("/u2netp.onnx", 0)


def test_blender_says_what_a_first_run_downloads_and_shows_it_moving(first_run):
    facts, size, _ = first_run
    notice = (f"Test model {DOWNLOAD_MODEL} ({DOWNLOAD_MODEL}) is not downloaded yet: the first run downloads "
              f"{size / 1e6:.1f} MB (licence Apache-2.0) into the model cache, then runs. Cancel stops the download.")
    assert facts["invoke"] == ["RUNNING_MODAL"]
    shown = [progress for _, progress, _ in facts["samples"] if progress and "Downloading " in progress[1]]
    assert all(text.startswith(f"Remove Background: Downloading {DOWNLOAD_MODEL}: ") and
               text.endswith(f" of {size / 1e6:.1f} MB. {notice} Esc to cancel") for _, text in shown)
    fractions = [fraction for fraction, _ in shown]
    assert len({text for _, text in shown}) >= 3 and fractions == sorted(fractions) and 0 < fractions[-1] < 1


def test_blender_esc_during_the_download_stops_it_and_changes_nothing(first_run):
    facts, size, sent = first_run
    run = facts["run"]
    assert (run["status"], run["report"]) == ("cancelled", ["WARNING", "Remove Background cancelled; nothing was changed."])
    assert facts["esc_to_end_s"] < 1.0
    assert facts["state_after"] == facts["state_before"] and facts["files_after"] == facts["files_before"]
    assert facts["cache"] == [] and sent < size  # no partial file; the server saw the download stop
