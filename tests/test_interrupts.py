"""Ctrl-C and ending signals while libraries load: at start-up, and at a run's first model call.

A real signal is sent at a chosen moment: the child installs an import hook that, when the named
module starts to load, sends the signal to its own process, then runs `python -m cleancut`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest
from cleancut import cutout, stopping
from PIL import Image

CHILD = """
import os, runpy, signal, sys

class SignalOnImport:
    fired = False

    def find_spec(self, name, path=None, target=None):
        if name == {module!r} and not SignalOnImport.fired:
            SignalOnImport.fired = True
            os.kill(os.getpid(), signal.{signal_name})
        return None

sys.meta_path.insert(0, SignalOnImport())
sys.argv = ["cleancut", *{argv!r}]
runpy.run_module("cleancut", run_name="__main__", alter_sys=True)
"""


def cleancut_signalled_on_import(module: str, signal_name: str, *argv: str) -> tuple[int, str]:
    """Run `cleancut ARGV`, sending it ``signal_name`` as ``module`` starts to load; (status, stderr)."""
    child = subprocess.run([sys.executable, "-c", CHILD.format(module=module, signal_name=signal_name, argv=argv)],
                           check=False, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, timeout=120,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return child.returncode, child.stderr


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(path)
    return path


def test_the_installed_command_starts_through_the_launcher():
    (command,) = [each for each in metadata.entry_points(group="console_scripts") if each.name == "cleancut"]

    assert command.value == "cleancut.launch:main"


@pytest.mark.parametrize("module", ["numpy", "PIL.Image", "cv2", "av"])
def test_ctrl_c_while_the_engine_loads_is_one_line_and_status_130(tmp_path, photo, module):
    status, errors = cleancut_signalled_on_import(module, "SIGINT", "remove", str(photo), "-o", str(tmp_path / "out"))

    assert (status, errors) == (130, "cleancut: interrupted\n")
    assert not (tmp_path / "out").exists()


SIGNALS = pytest.mark.parametrize(("signal_name", "status", "message"), [
    ("SIGINT", 130, "cleancut: interrupted\n"),
    ("SIGTERM", 143, "cleancut: stopped by SIGTERM; nothing half-written was left\n")])


@SIGNALS
def test_a_signal_as_onnxruntime_loads_for_the_first_model_call_writes_nothing(tmp_path, photo, engine_models,
                                                                                signal_name, status, message):
    red, _ = engine_models
    found = cleancut_signalled_on_import("onnxruntime", signal_name, "remove", str(photo),
                                         "-o", str(tmp_path / "out"), "--model", red)

    assert found == (status, message)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@SIGNALS
def test_a_signal_as_scipy_loads_for_the_first_closed_form_solve_writes_nothing(tmp_path, engine_models,
                                                                                 signal_name, status, message):
    red, _ = engine_models
    ramp = np.zeros((64, 64, 3), np.uint8)
    ramp[..., 0] = np.linspace(0, 255, 64).astype(np.uint8)[None, :]  # a soft edge: a band to solve
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    found = cleancut_signalled_on_import("scipy.sparse", signal_name, "remove", str(tmp_path / "ramp.png"),
                                         "-o", str(tmp_path / "out"), "--model", red, "--refine", "best")

    assert found == (status, message)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def interrupted_import(stop: BaseException) -> ImportError:
    """What a C extension's set-up raises when a signal's exception interrupts it."""
    try:
        try:
            raise stop
        except BaseException as err:
            raise ImportError("initialization failed") from err
    except ImportError as err:
        return err


def test_a_ctrl_c_inside_an_import_error_stops_the_run_instead_of_failing_the_file():
    with pytest.raises(KeyboardInterrupt):
        cutout.failure(interrupted_import(KeyboardInterrupt()))


def test_an_ending_signal_inside_an_import_error_stops_the_run_instead_of_failing_the_file():
    with pytest.raises(stopping.Terminated) as raised:
        cutout.failure(interrupted_import(stopping.Terminated(signal.SIGTERM)))

    assert raised.value.code == 143


def test_an_import_error_of_its_own_is_still_the_files_failure():
    assert cutout.failure(ImportError("initialization failed")) == (
        "internal error (ImportError: initialization failed); rerun with --debug")


def test_an_exception_that_hides_no_signal_has_no_interruption():
    try:
        try:
            raise ValueError("inner")
        except ValueError as inner:
            raise OSError("outer") from inner
    except OSError as err:
        assert stopping.interruption(err) is None
