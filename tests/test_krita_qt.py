"""The Krita plug-in's Qt side under PyQt5 (Krita 5) and under PyQt6 (Krita 6).

No Krita 6 runs here, so the plug-in's dialogs are driven under both PyQt wheels from PyPI,
offscreen, with a stand-in for the few calls of Krita's `krita` module that the dialog and
extension code makes (settings, the active document, one paint layer, a transparency mask);
everything Krita itself does is tested in the real Krita 5.1/5.2/5.3 by tests/hosts/test_krita.py.
The engine is real: the plug-in's own client starts the real worker, on the tiny real ONNX
graphs of tests/conftest.py ("red": instant, "slow": seconds, "gpl": a copyleft licence).

PyQt5 and PyQt6 must never be loaded into one process (two Qt versions crash), so each binding
runs in a child process: this file run as a script (`python test_krita_qt.py BINDING OUT`).
Like Krita, the stand-in `krita` module imports its binding first, and the plug-in's compat
module (krita/cleancut_krita/qt.py) must follow it, even in the PyQt5 child where PyQt6 is
importable too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "krita" / "cleancut_krita"
CLIENT = REPO / "core" / "cleancut_client.py"
BINDINGS = ["PyQt5", "PyQt6"]
CHILD_TIMEOUT_S = 180
PHOTO = REPO / "examples" / "chelsea.png"
PHOTO_RECT = (40, 30, 451, 300)  # where the stand-in's paint layer sits: an offset, odd width


# ---------------------------------------------------------------------------------------------
# The child: one binding, every case, in one process.
# ---------------------------------------------------------------------------------------------
def make_standin_krita(binding: str):
    """A stand-in for the `krita` module, made of the chosen binding's classes (as Krita's is).

    Only what cleancut_krita's dialog/extension/layers code calls on a paint layer, 8-bit RGBA.
    """
    import types

    core = __import__(binding + ".QtCore", fromlist=["QObject"])
    QObject, QRect = core.QObject, core.QRect  # noqa: N806

    class Extension(QObject):
        def __init__(self, parent):
            QObject.__init__(self, parent)

    class Signal(QObject):
        applicationClosing = core.pyqtSignal()

    class Selection:
        def __init__(self):
            self.rect, self.data = None, None

        def setPixelData(self, data, x, y, w, h):  # noqa: N802
            self.rect, self.data = (x, y, w, h), bytes(data)

    class Mask:
        def __init__(self, name):
            self.name_, self.selection = name, None

        def setSelection(self, selection):  # noqa: N802
            self.selection = selection

        def uniqueId(self):  # noqa: N802
            return id(self)

        def type(self):
            return "transparencymask"

        def name(self):
            return self.name_

        def visible(self):
            return True

        def childNodes(self):  # noqa: N802
            return []

    class PaintLayer:
        def __init__(self, name, rect, bgra):
            self.name_, self.rect, self.bgra, self.children = name, rect, bgra, []

        def type(self):
            return "paintlayer"

        def name(self):
            return self.name_

        def visible(self):
            return True

        def uniqueId(self):  # noqa: N802
            return id(self)

        def bounds(self):
            return QRect(*self.rect)

        def pixelData(self, x, y, w, h):  # noqa: N802
            assert (x, y, w, h) == self.rect, "the stand-in only serves the layer's bounds"
            return core.QByteArray(self.bgra)

        def colorModel(self):  # noqa: N802
            return "RGBA"

        def colorDepth(self):  # noqa: N802
            return "U8"

        def childNodes(self):  # noqa: N802
            return list(self.children)

        def addChildNode(self, node, above):  # noqa: N802
            self.children.append(node)
            return True

    class Document:
        def __init__(self, layer):
            self.layer, self.masks_made = layer, 0

        def activeNode(self):  # noqa: N802
            return self.layer

        def topLevelNodes(self):  # noqa: N802
            return [self.layer]

        def rootNode(self):  # noqa: N802
            return self

        def selection(self):
            return None

        def resolution(self):
            return 72

        def xRes(self):  # noqa: N802
            return 72.0

        def yRes(self):  # noqa: N802
            return 72.0

        def createTransparencyMask(self, name):  # noqa: N802
            self.masks_made += 1
            return Mask(name)

        def waitForDone(self):  # noqa: N802
            pass

    class Krita(QObject):
        _instance = None

        def __init__(self):
            QObject.__init__(self)
            self.settings, self.extensions, self.document = {}, [], None
            self.signals = Signal()

        @staticmethod
        def instance():
            if Krita._instance is None:
                Krita._instance = Krita()
            return Krita._instance

        def readSetting(self, group, name, default):  # noqa: N802
            return self.settings.get((group, name), default)

        def writeSetting(self, group, name, value):  # noqa: N802
            self.settings[(group, name)] = value

        def addExtension(self, extension):  # noqa: N802
            self.extensions.append(extension)

        def activeWindow(self):  # noqa: N802
            return None  # dialogs get no parent: fine offscreen

        def activeDocument(self):  # noqa: N802
            return self.document

        def notifier(self):
            return self.signals

    module = types.ModuleType("krita")
    module.Krita, module.Extension, module.Selection = Krita, Extension, Selection
    module.Document, module.PaintLayer = Document, PaintLayer
    return module


def child(binding: str, out: Path) -> None:
    import importlib

    importlib.import_module(binding + ".QtCore")  # as Krita's own `krita` module does, first
    krita = make_standin_krita(binding)
    sys.modules["krita"] = krita
    sys.path.insert(0, str(out / "pykrita"))
    widgets = importlib.import_module(binding + ".QtWidgets")
    app = widgets.QApplication([])

    import cleancut_krita  # noqa: F401  (registers the extension, as Krita loads it)
    import cleancut_krita.dialog  # noqa: F401
    import cleancut_krita.options as cco
    from cleancut_krita import qt

    results: dict = {}
    extension = krita.Krita.instance().extensions[0]

    def wait(predicate, seconds=60.0):
        end = time.time() + seconds
        while not predicate():
            if time.time() > end:
                raise TimeoutError("gave up waiting after %s s" % seconds)
            app.processEvents()
            time.sleep(0.005)

    def options_dialog():
        found = [w for w in app.topLevelWidgets()
                 if w.objectName() == "cleancut-options" and w.isVisible()]
        return found[0] if found else None

    def options_round(model, refine, hint, accept):
        extension.show_options()
        wait(lambda: options_dialog() is not None)
        dialog = options_dialog()
        status = dialog.findChild(qt.QLabel, "status")
        seen = {"status_while_loading": status.text()}
        wait(lambda: status.text() == "")
        combo = dialog.findChild(qt.QComboBox, "model")
        levels = dialog.findChild(qt.QComboBox, "refine")
        hint_box = dialog.findChild(qt.QCheckBox, "selection_hint")
        accept_box = dialog.findChild(qt.QCheckBox, "accept_licence")
        ok = dialog.findChild(qt.QDialogButtonBox).button(qt.QDialogButtonBox.StandardButton.Ok)
        seen.update({
            "window_modal": dialog.windowModality() == qt.Qt.WindowModality.WindowModal,
            "models": [combo.itemData(i) for i in range(combo.count())],
            "refine": [levels.itemData(i) for i in range(levels.count())],
            "initial": {"model": combo.currentData(), "refine": levels.currentData(), "hint": hint_box.isChecked()}})
        combo.setCurrentIndex(combo.findData(model))
        levels.setCurrentIndex(levels.findData(refine))
        hint_box.setChecked(hint)
        seen["accept_visible"] = accept_box.isVisible()
        seen["ok_enabled_before_accepting"] = ok.isEnabled()
        seen["licence_text"] = dialog.findChild(qt.QLabel, "licence").text()
        if accept:
            accept_box.setChecked(True)
        seen["ok_enabled"] = ok.isEnabled()
        ok.click()
        wait(lambda: options_dialog() is None)
        seen["settings_after"] = cco.read_settings()
        return seen

    def progress_dialog():
        found = [w for w in app.topLevelWidgets()
                 if isinstance(w, qt.QProgressDialog) and w.objectName() == "cleancut-progress" and w.isVisible()]
        return found[0] if found else None

    def remove_background(model, cancel_when_working):
        from PIL import Image

        x, y, width, height = PHOTO_RECT
        rgba = Image.open(PHOTO).convert("RGBA").resize((width, height))
        r, g, b, a = rgba.split()
        layer = krita.PaintLayer("photo", PHOTO_RECT, Image.merge("RGBA", (b, g, r, a)).tobytes())
        document = krita.Document(layer)
        krita.Krita.instance().document = document
        cco.write_settings(model, "", False)
        count = len(extension.outcomes)
        seen = {"labels": [], "values": []}
        extension.remove_background()
        dialog = progress_dialog()
        seen["shown_at_once"] = dialog is not None
        seen["window_modal"] = dialog is not None and dialog.windowModality() == qt.Qt.WindowModality.WindowModal

        def watch():
            if dialog is not None and progress_dialog() is dialog:
                if not seen["labels"] or seen["labels"][-1] != dialog.labelText():
                    seen["labels"].append(dialog.labelText())
                seen["values"].append(dialog.value())
            return len(extension.outcomes) > count or (cancel_when_working and extension.job is not None
                                                        and extension.job.progress[1] != "model")

        wait(watch)
        if cancel_when_working and len(extension.outcomes) == count:
            seen["stage_at_cancel"] = extension.job.progress[1]
            buttons = [b for b in dialog.findChildren(qt.QPushButton) if b.text().replace("&", "") == "Cancel"]
            buttons[0].click()
            seen["label_after_cancel"] = dialog.labelText()
            wait(lambda: len(extension.outcomes) > count)
        outcome = dict(extension.outcomes[-1])
        outcome.pop("timings")
        seen["outcome"] = outcome
        seen["progress_closed"] = progress_dialog() is None
        seen["masks_made"] = document.masks_made
        seen["children"] = [child.name_ for child in layer.childNodes()]
        if layer.childNodes():
            selection = layer.childNodes()[0].selection
            (out / "mask.raw").write_bytes(selection.data)
            seen["mask_rect"] = list(selection.rect)
        return seen

    def points_rules():
        """layers.read_points on stand-in layer trees: the rules a host test need not repeat."""
        from cleancut_krita import layers

        core = importlib.import_module(binding + ".QtCore")

        class Shape:
            def __init__(self, x, y, visible=True):  # a 4×4 pt box centred on (x, y) pt
                self.box, self.shown = core.QRectF(x - 2, y - 2, 4, 4), visible

            def boundingBox(self):  # noqa: N802
                return self.box

            def visible(self):
                return self.shown

        class Node:
            def __init__(self, name, kind="vectorlayer", children=(), shapes=(), visible=True):
                self.name_, self.kind, self.children, self.shapes_, self.shown = name, kind, list(children), list(shapes), visible

            def name(self):
                return self.name_

            def type(self):
                return self.kind

            def visible(self):
                return self.shown

            def uniqueId(self):  # noqa: N802
                return id(self)

            def childNodes(self):  # noqa: N802
                return self.children

            def shapes(self):
                return self.shapes_

        class Doc:
            """libkis' resolutions: resolution() whole ppi (x, rounded), xRes()/yRes() exact, in ppi
            or, as some Krita versions give them, in pixels per point."""

            def __init__(self, nodes, resolution=144, y_resolution=None, per_point=False):
                self.nodes, self.ppi = nodes, (resolution, resolution if y_resolution is None else y_resolution)
                self.unit = 72.0 if per_point else 1.0

            def topLevelNodes(self):  # noqa: N802
                return self.nodes

            def resolution(self):
                return round(self.ppi[0])

            def xRes(self):  # noqa: N802
                return self.ppi[0] / self.unit

            def yRes(self):  # noqa: N802
                return self.ppi[1] / self.unit

        frame = layers.Frame(b"", 10, 20, 300, 200, "RGBA", "u8", False)  # x 10..309, y 20..219

        def attempt(nodes, target, resolution=144, **doc):
            try:
                return {"points": layers.read_points(Doc(nodes, resolution, **doc), target, frame)}
            except layers.UserError as err:
                return {"message": str(err)}

        photo = Node("photo", "paintlayer")
        # 144 ppi: 2 px a point. A hidden shape, a hidden layer, a layer in a hidden group, a mask
        # named "include" and a layer whose name only contains the word count for nothing.
        cases = {"mapped": attempt([
            photo,
            Node("Include hair", shapes=[Shape(50, 40), Shape(60, 60, visible=False)]),
            Node("EXCLUDE", shapes=[Shape(100, 90)]),
            Node("include", shapes=[Shape(5, 5)], visible=False),
            Node("off", "grouplayer", visible=False, children=[Node("exclude", shapes=[Shape(5, 5)])]),
            Node("mask holder", "paintlayer", children=[Node("include", "transparencymask")]),
            Node("not include", shapes=[Shape(5, 5)])], photo)}
        group = Node("group", "grouplayer", children=[Node("include", shapes=[Shape(50, 40)])])
        cases["in_the_group"] = attempt([group], group)
        cases["paint_layer"] = attempt([photo, Node("Exclude", "paintlayer")], photo)
        cases["hidden_paint_layer"] = attempt([photo, Node("Exclude", "paintlayer", visible=False)], photo)
        cases["too_many"] = attempt([photo, Node("include", shapes=[Shape(50, 40)] * 65)], photo)
        cases["off_the_left"] = attempt([photo, Node("include", shapes=[Shape(4.5, 40)])], photo)  # x 9 px
        cases["last_pixel"] = attempt([photo, Node("include", shapes=[Shape(154.75, 109.75)])], photo)  # 309.5, 219.5
        cases["past_the_last"] = attempt([photo, Node("include", shapes=[Shape(155, 40)])], photo)  # x 310 px
        one = [photo, Node("include", shapes=[Shape(50, 40)])]
        cases["per_point_units"] = attempt(one, photo, per_point=True)
        cases["fractional"] = attempt(one, photo, 150.3)
        cases["fractional_per_point_units"] = attempt(one, photo, 150.3, per_point=True)
        cases["not_square"] = attempt(one, photo, 144, y_resolution=72)
        return cases

    results["points"] = points_rules()
    results["options"] = options_round("red", "off", True, accept=False)
    results["options_again"] = options_round("gpl", "off", True, accept=True)
    engines_hello = extension.client.hello
    extension.client.hello = lambda: dict(engines_hello(), refine_modes=[])  # as an engine listing none
    results["options_no_refine_modes"] = options_round("red", "off", False, accept=False)
    extension.client.hello = engines_hello
    results["remove"] = remove_background("red", cancel_when_working=False)
    results["cancel"] = remove_background("slow", cancel_when_working=True)
    results["after_cancel"] = remove_background("red", cancel_when_working=False)
    results["qt"] = {"binding": qt.BINDING, "QT6": qt.QT6,
                     "loaded": sorted(name for name in ("PyQt5", "PyQt6") if name in sys.modules),
                     "qt_version": qt.QT_VERSION_STR}
    extension.shutdown()
    (out / "results.json").write_text(json.dumps(results, indent=1))


# ---------------------------------------------------------------------------------------------
# The tests.
# ---------------------------------------------------------------------------------------------
if __name__ != "__main__":
    import numpy as np
    import pytest
    from hostkit import run_group
    from PIL import Image

    from cleancut import frames, pipeline
    from cleancut.catalog import load_catalog
    from cleancut.options import REFINE_MODES, Options

    def run_child(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
        """Run a child in its own process group, killed whole on a timeout (its worker too)."""
        try:
            return run_group(argv, timeout, env=env, merge=True)
        except subprocess.TimeoutExpired as hung:
            pytest.fail(f"the {argv[-2]} child hung:\n{(hung.output or '')[-3000:]}")

    @pytest.fixture(scope="module", params=BINDINGS)
    def qt_run(request, tmp_path_factory):
        """Every case under one binding: (results, the folder with the mask, binding)."""
        binding = request.param
        out = tmp_path_factory.mktemp(binding)
        package = out / "pykrita" / "cleancut_krita"
        shutil.copytree(PLUGIN, package, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(CLIENT, package / "cleancut_client.py")  # as `cleancut install krita` lays it out
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CLEANCUT_ENGINE_PYTHON=sys.executable,
                   CLEANCUT_CONFIG_DIR=str(out / "config"))  # licence acceptances of this binding's run
        env.pop("CLEANCUT_KRITA_QT", None)  # the binding is the one `krita` loaded, as inside Krita
        return binding, out, env

    @pytest.fixture(scope="module")
    def krita_qt(qt_run, engine_catalog_env):
        binding, out, env = qt_run
        env = dict(engine_catalog_env, **env)
        done = run_child([sys.executable, __file__, binding, str(out)], env, CHILD_TIMEOUT_S)
        assert done.returncode == 0 and (out / "results.json").exists(), done.stdout[-4000:]
        return json.loads((out / "results.json").read_text()), out, binding, env

    @pytest.fixture(scope="module")
    def engine_catalog_env(tmp_path_factory, red_model_module, module_server):
        """A cache of its own with the tiny real models red and slow fetched; "gpl" (red's graph
        under a copyleft licence) is only ever accepted, never run."""
        from support import catalog_entry, slow_model

        from cleancut import fetch

        root = tmp_path_factory.mktemp("krita-qt-engine")
        red = red_model_module
        slow = slow_model()
        text = catalog_entry("red", red, f'{{ kind = "url", url = "{module_server.add("/red.onnx", "ok", red)}" }}')
        text += catalog_entry("slow", slow, f'{{ kind = "url", url = "{module_server.add("/slow.onnx", "ok", slow)}" }}',
                              size=1024)
        text += catalog_entry("gpl", red, f'{{ kind = "url", url = "{module_server.base}/red.onnx" }}',
                              licence="GPL-3.0-only")
        (root / "models.toml").write_text(text, encoding="utf-8")
        env = {"CLEANCUT_CACHE_DIR": str(root / "cache"), "CLEANCUT_CATALOG": str(root / "models.toml"), "CLEANCUT_OFFLINE": "1"}
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update({k: v for k, v in env.items() if k != "CLEANCUT_OFFLINE"})
        try:
            fetch.forget_verified()
            for model_id in ("red", "slow"):
                fetch.ensure(load_catalog().get(model_id), progress=False)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return env

    @pytest.fixture(scope="module")
    def red_model_module() -> bytes:
        from support import red_channel_model

        return red_channel_model()

    @pytest.fixture(scope="module")
    def module_server():
        from support import LoopbackServer

        server = LoopbackServer()
        yield server
        server.close()

    @pytest.fixture
    def engine_here(krita_qt, monkeypatch):
        """This process's engine on the child's catalog, cache and settings."""
        for name, value in krita_qt[3].items():
            if name.startswith("CLEANCUT_"):
                monkeypatch.setenv(name, value)
        from cleancut import fetch

        fetch.forget_verified()

    def photo_rgba() -> np.ndarray:
        x, y, width, height = PHOTO_RECT
        return np.asarray(Image.open(PHOTO).convert("RGBA").resize((width, height)))

    # --- the binding ---------------------------------------------------------------------------
    def test_the_plug_in_uses_the_binding_krita_loaded_and_never_the_other(krita_qt):
        results, _, binding, _ = krita_qt
        # The PyQt5 child has PyQt6 installed too: only the binding already loaded is safe.
        assert results["qt"]["binding"] == binding
        assert results["qt"]["QT6"] is (binding == "PyQt6")
        assert results["qt"]["loaded"] == [binding]  # every module went through qt.py
        assert results["qt"]["qt_version"].startswith("6." if binding == "PyQt6" else "5.")

    def test_no_plug_in_module_but_the_compat_module_imports_a_binding():
        for path in sorted(PLUGIN.glob("*.py")):
            if path.name != "qt.py":
                text = path.read_text(encoding="utf-8")
                assert "PyQt5" not in text and "PyQt6" not in text, path.name

    @pytest.mark.parametrize("binding", BINDINGS)
    def test_the_environment_variable_forces_a_binding(binding):
        code = ("import importlib.util, sys\n"
                f"spec = importlib.util.spec_from_file_location('qt', {str(PLUGIN / 'qt.py')!r})\n"
                "qt = importlib.util.module_from_spec(spec); spec.loader.exec_module(qt)\n"
                "print(qt.BINDING, sorted(n for n in ('PyQt5', 'PyQt6') if n in sys.modules))")
        env = dict(os.environ, CLEANCUT_KRITA_QT=binding, QT_QPA_PLATFORM="offscreen")
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert done.stdout.split(None, 1) == [binding, f"['{binding}']\n"], done.stderr

    def test_an_unknown_binding_in_the_environment_is_named_in_the_error():
        code = ("import importlib.util\n"
                f"spec = importlib.util.spec_from_file_location('qt', {str(PLUGIN / 'qt.py')!r})\n"
                "spec.loader.exec_module(importlib.util.module_from_spec(spec))")
        env = dict(os.environ, CLEANCUT_KRITA_QT="PySide6")
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert done.stderr.strip().splitlines()[-1] == (
            "ImportError: CLEANCUT_KRITA_QT=PySide6: expected one of PyQt6, PyQt5")

    # --- the options dialog --------------------------------------------------------------------
    def test_the_options_dialog_lists_the_engines_models_and_refinement_levels(krita_qt, engine_here):
        first = krita_qt[0]["options"]
        assert first["status_while_loading"] == "Asking the cleancut engine for its models\u2026"
        catalog = load_catalog()
        assert first["models"] == ["", *catalog.models, *catalog.presets]  # "": the engine's default
        assert first["refine"] == ["", *REFINE_MODES]
        assert first["window_modal"]

    def test_the_options_dialog_starts_from_the_defaults_and_remembers_the_choice(krita_qt):
        first = krita_qt[0]["options"]
        assert first["initial"] == {"model": "", "refine": "", "hint": False}
        assert (first["accept_visible"], first["ok_enabled"]) == (False, True)  # red: MIT
        assert first["settings_after"] == {"model": "red", "refine": "off", "selection_hint": True}

    def test_the_options_dialog_reopens_with_the_remembered_choice(krita_qt):
        again = krita_qt[0]["options_again"]
        assert again["initial"] == {"model": "red", "refine": "off", "hint": True}

    def test_the_options_dialog_offers_the_clients_fallback_when_the_engine_lists_no_levels(krita_qt):
        seen = krita_qt[0]["options_no_refine_modes"]
        assert seen["refine"] == ["", "off"]  # the engine's default, then cleancut_client.REFINE_FALLBACK
        assert seen["settings_after"] == {"model": "red", "refine": "off", "selection_hint": False}

    def test_a_copyleft_model_is_chosen_only_with_its_licence_accepted(krita_qt):
        again = krita_qt[0]["options_again"]
        assert again["accept_visible"] and not again["ok_enabled_before_accepting"]
        assert again["ok_enabled"]
        assert "GPL-3.0-only" in again["licence_text"]
        assert again["settings_after"]["model"] == "gpl"
        settings = json.loads((Path(krita_qt[3]["CLEANCUT_CONFIG_DIR"]) / "config.json").read_text())
        assert "gpl" in json.dumps(settings)  # the engine recorded the acceptance

    # --- progress, the result, Cancel ----------------------------------------------------------
    def test_the_progress_dialog_shows_the_engines_stages_and_closes(krita_qt):
        seen = krita_qt[0]["remove"]
        assert seen["shown_at_once"] and seen["window_modal"]
        assert seen["labels"][0] == "Remove Background of \u201cphoto\u201d\u2026"
        assert any(label.startswith("Remove Background of \u201cphoto\u201d: ") for label in seen["labels"][1:])
        assert seen["values"] == sorted(seen["values"]) and seen["values"][-1] <= 100  # never backwards
        assert seen["progress_closed"]

    def test_remove_background_writes_the_engines_alpha_over_the_layers_bounds(krita_qt, engine_here):
        seen, out = krita_qt[0]["remove"], krita_qt[1]
        assert (seen["outcome"]["status"], seen["outcome"]["message"], seen["outcome"]["engine"]) == (
            "done", None, "finished")
        assert seen["children"] == ["Background removed (cleancut)"]
        x, y, width, height = PHOTO_RECT
        assert seen["mask_rect"] == [x, y, width, height]
        rgb8, _ = frames.decode(photo_rgba().tobytes(), width, height, "RGBA", "u8")
        alpha = pipeline.remove(rgb8, Options(model="red", foreground=False)).alpha
        expected = np.frombuffer(frames.encode_alpha(alpha, "u8"), np.uint8)
        mask = np.frombuffer((out / "mask.raw").read_bytes(), np.uint8)
        assert 0 < expected.mean() < 255
        assert np.array_equal(mask, expected)

    def test_cancel_stops_the_engine_and_changes_nothing(krita_qt):
        seen = krita_qt[0]["cancel"]
        assert seen["stage_at_cancel"] != "model"  # clicked while the worker worked
        assert seen["label_after_cancel"] == "Cancelling\u2026"
        assert (seen["outcome"]["status"], seen["outcome"]["message"]) == ("cancelled", None)
        assert seen["outcome"]["engine"] == "cancelled"  # the worker stopped, not merely ignored
        assert (seen["masks_made"], seen["children"]) == (0, [])
        assert seen["progress_closed"]

    def test_the_next_run_after_cancel_works(krita_qt):
        seen = krita_qt[0]["after_cancel"]
        assert (seen["outcome"]["status"], seen["outcome"]["engine"]) == ("done", "finished")
        assert seen["children"] == ["Background removed (cleancut)"]

    def test_points_come_from_visible_vector_layers_named_include_or_exclude_in_frame_pixels(krita_qt):
        # 144 ppi: a shape's box centred on (50, 40) pt is at pixel (100, 80), (90, 60) in the
        # frame at (10, 20); hidden shapes, hidden layers and groups, masks and other names count
        # for nothing.
        include, exclude = krita_qt[0]["points"]["mapped"]["points"]
        assert (include, exclude) == ([[90.0, 60.0]], [[190.0, 160.0]])

    def test_points_are_converted_by_the_exact_resolution_in_either_unit_krita_gives(krita_qt):
        # (50, 40) pt: at 144 ppi pixel (100, 80); at 150.3 ppi (104.375, 83.5), which the
        # rounded resolution() of 150 would put at (104.167, 83.333); at 144 × 72 ppi (100, 40).
        cases = krita_qt[0]["points"]
        assert cases["per_point_units"]["points"] == [[[90.0, 60.0]], []]
        assert cases["fractional"]["points"] == cases["fractional_per_point_units"]["points"] == [[[94.375, 63.5]], []]
        assert cases["not_square"]["points"] == [[[90.0, 20.0]], []]

    def test_points_the_plug_in_refuses_before_any_work(krita_qt):
        cases = krita_qt[0]["points"]
        assert cases["in_the_group"]["message"].startswith(
            "The include points layer \u201cinclude\u201d is inside the group \u201cgroup\u201d that is being cut out")
        assert cases["paint_layer"]["message"].startswith(
            "The layer \u201cExclude\u201d is named like exclude points but is not a vector layer")
        assert cases["hidden_paint_layer"]["points"] == [[], []]
        assert cases["too_many"]["message"] == ("cleancut takes at most 64 include and exclude points together; "
                                                "the visible points layers hold 65: hide or delete some.")
        assert cases["off_the_left"]["message"].startswith(
            "The include point at 9, 80 (a shape on the layer \u201cinclude\u201d) lies outside the layer "
            "\u201cphoto\u201d, which covers x 10 to 309 and y 20 to 219")
        assert cases["last_pixel"]["points"] == [[[299.5, 199.5]], []]
        assert cases["past_the_last"]["message"].startswith("The include point at 310, 80 ")


if __name__ == "__main__":
    child(sys.argv[1], Path(sys.argv[2]))
