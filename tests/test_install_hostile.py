"""`cleancut install|uninstall` against a hostile world (issue 21): a disk that fills mid-copy, a
read-only editor folder, Ctrl-C and SIGTERM, links and edits the user made after install, a
hand-edited installed.json, versions written in ways no editor writes them.

The rule each test states: a failure changes nothing of the user's and says in one line what
and where; uninstall deletes only what install wrote, inside the plug-in's folder.

How the failures are made: a full disk is a real tmpfs mounted in a private mount namespace
(`unshare`, as root or through a user namespace; skipped with the reason where neither is
allowed), and, always, a write that raises ENOSPC (the install's file writer monkeypatched) for
the cases about what is undone. A read-only folder is a real chmod 555 folder, written by a real
process that cannot override file modes (setpriv drops CAP_DAC_OVERRIDE when the tests run as
root, as tests/test_reliability.py does). SIGTERM is sent to a real `cleancut install` while a
stand-in Blender (a shell script) is switching the add-on on.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cleancut import bundles, cli, doctor, hosts, install, install_changes, install_record, uninstall
from cleancut.errors import CleancutError

from support import without_permission_override

CLI = [sys.executable, "-m", "cleancut"]
GIMP30 = Path(".config/GIMP/3.0/plug-ins")
CLIENT = "cleancut_client.py"


def where(home: Path) -> hosts.Where:
    return hosts.Where(platform="linux", home=str(home), env={"PATH": ""})


def quiet(*_args) -> None:
    pass


def state(root: Path) -> dict[str, tuple[object, int]]:
    """Every file (its bytes), link (its target) and folder under root, with its mode; links not followed."""
    out: dict[str, tuple[object, int]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            mode = stat.S_IMODE(path.lstat().st_mode)
            if path.is_symlink():
                out[str(path.relative_to(root))] = ("-> " + os.readlink(path), mode)
            else:
                out[str(path.relative_to(root))] = (None if path.is_dir() else path.read_bytes(), mode)
    return out


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a real `cleancut` run by the user whose home this is."""
    env = dict(os.environ, HOME=str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env.pop(name, None)
    return env


def fail_on_write(monkeypatch, number: int, error: BaseException) -> None:
    """The install's number-th plug-in file write raises error; the writes before it really happen."""
    real, calls = install_changes.write_atomic, []

    def write(path: Path, data: bytes, executable: bool = False) -> None:
        calls.append(path)
        if len(calls) == number:
            raise error
        real(path, data, executable=executable)

    monkeypatch.setattr(install_changes, "write_atomic", write)


def no_space() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as write() raises it: no file name


def own_file(home: Path) -> Path:
    """A file of the user's where the GIMP 3 plug-in's dialog goes."""
    own = home / GIMP30 / "cleancut" / "cleancut_dialog.py"
    own.parent.mkdir(parents=True)
    own.write_text("# my own dialog\n")
    own.chmod(0o600)
    return own


def fake_blender(folder: Path, enabling: str) -> Path:
    """A stand-in Blender 4.3: `--version` answers, anything else (enabling the add-on) runs `enabling`."""
    exe = folder / "blender"
    exe.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Blender 4.3.2"; exit 0; fi\n{enabling}\n')
    exe.chmod(0o755)
    return exe


# --- item 5: all or nothing ---

def test_no_space_mid_copy_puts_the_users_file_back_and_leaves_no_backup_or_record(home, monkeypatch):
    own = own_file(home)
    before = state(home)
    fail_on_write(monkeypatch, 2, no_space())
    with pytest.raises(install.InstallError) as err:
        install.install("gimp", where=where(home), say=quiet)
    assert str(err.value) == f"could not install into {own.parent}: no space left on device; nothing was changed"
    assert state(home) == before  # the user's file in place, no plug-in file, no backups/, no installed.json


def test_a_failed_reinstall_leaves_the_earlier_install_and_its_record_as_they_were(home, monkeypatch):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    folder = home / GIMP30 / "cleancut"
    (folder / "cleancut.py").write_text("# what the earlier install put here")  # so a rewrite would show
    before = state(home)
    fail_on_write(monkeypatch, 3, no_space())
    with pytest.raises(install.InstallError):
        install.install("gimp", where=where(home), say=quiet)
    assert state(home) == before


def test_a_failure_in_the_second_editor_folder_undoes_the_first(home, monkeypatch):
    for version in ("3.2", "3.0"):
        (home / ".config" / "GIMP" / version).mkdir(parents=True)
    before = state(home)
    fail_on_write(monkeypatch, 5, no_space())  # 3.2 gets its 3 files, then 3.0's second fails
    with pytest.raises(install.InstallError, match=f"could not install into {home / GIMP30 / 'cleancut'}: "):
        install.install("gimp", where=where(home), say=quiet)
    assert state(home) == before


def test_ctrl_c_mid_copy_undoes_the_install(home, monkeypatch):
    own_file(home)
    before = state(home)
    fail_on_write(monkeypatch, 2, KeyboardInterrupt())
    said = []
    with pytest.raises(KeyboardInterrupt):
        install.install("gimp", where=where(home), say=said.append)
    assert state(home) == before
    assert said[-1] == "stopped: nothing was changed"


def test_after_a_failed_install_install_and_uninstall_work_and_give_the_users_file_back(home, monkeypatch):
    own = own_file(home)
    (home / ".config" / "cleancut").mkdir()  # uninstall leaves cleancut's settings folder
    before = state(home)
    fail_on_write(monkeypatch, 2, no_space())
    with pytest.raises(install.InstallError):
        install.install("gimp", where=where(home), say=quiet)
    monkeypatch.undo()
    monkeypatch.setenv("CLEANCUT_CONFIG_DIR", str(home / ".config" / "cleancut"))
    install.install("gimp", where=where(home), say=quiet)  # no "already there" from a leftover backup
    assert uninstall.uninstall("gimp", say=quiet) == 1
    assert state(home) == before and own.read_text() == "# my own dialog\n"


def test_a_blender_that_cannot_switch_the_add_on_on_undoes_the_install(home, tmp_path):
    (home / ".config" / "blender" / "4.3").mkdir(parents=True)
    exe = fake_blender(tmp_path, 'echo "Error: add-on not loaded" >&2; exit 1')
    before = state(home)
    enabling = re.escape(f"Blender ({exe}) could not enable bl_ext.user_default.cleancut_blender:")
    with pytest.raises(CleancutError, match=enabling):
        install.install("blender", blender=str(exe), where=where(home), say=quiet)
    assert state(home) == before


def sigterm_while_enabling(command: list[str], home: Path, started: Path) -> tuple[int, str, str]:
    """Run command (an install of Blender whose stand-in touches started, then sleeps), SIGTERM it
    once Blender is switching the add-on on; its exit status, stdout and stderr."""
    proc = subprocess.Popen(command, env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), proc.communicate()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err


def test_sigterm_mid_install_undoes_it_and_exits_as_terminated(home, tmp_path):
    (home / ".config" / "blender" / "4.3").mkdir(parents=True)
    started = tmp_path / "enabling"
    exe = fake_blender(tmp_path, f"touch {started}\nexec sleep 60")
    before = state(home)
    status, out, err = sigterm_while_enabling(CLI + ["install", "blender", "--blender", str(exe)], home, started)
    assert (status, err) == (128 + signal.SIGTERM, "cleancut: stopped by SIGTERM; nothing half-written was left\n")
    assert out.endswith("stopped: nothing was changed\n")
    assert state(home) == before


def test_sigterm_undoes_an_install_run_by_a_program_that_does_not_handle_it(home, tmp_path):
    (home / ".config" / "blender" / "4.3").mkdir(parents=True)
    started = tmp_path / "enabling"
    exe = fake_blender(tmp_path, f"touch {started}\nexec sleep 60")
    before = state(home)
    script = "import sys\nfrom cleancut import install\ninstall.install('blender', blender=sys.argv[1])\n"
    status, out, err = sigterm_while_enabling([sys.executable, "-c", script, str(exe)], home, started)
    assert (status, out.splitlines()[-1], err) == (128 + signal.SIGTERM, "stopped: nothing was changed", "")
    assert state(home) == before


SMALL_DISK = r"""
import json, os, stat, subprocess, sys
from pathlib import Path

disk, command = Path(sys.argv[1]), sys.argv[2:]
own = disk / "cleancut" / "cleancut_dialog.py"
own.parent.mkdir()
own.write_text("# my own dialog\n")
free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
# room for the plug-in's cleancut.py (16 KiB), not then for its client (30 KiB)
(disk / "filler").write_bytes(b"x" * (free - 24 * 1024))

def state():
    out = {}
    for folder, dirs, files in os.walk(disk):
        for name in dirs + files:
            path = Path(folder) / name
            data = None if path.is_dir() else path.read_bytes().hex()
            out[str(path.relative_to(disk))] = [data, stat.S_IMODE(path.lstat().st_mode)]
    return out

before = state()
done = subprocess.run(command, capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "stderr": done.stderr, "before": before, "after": state()}))
"""


def private_mount_namespace() -> list[str]:
    """`unshare` arguments for a private mount namespace where tmpfs can be mounted, or a skip saying why."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to mount a small tmpfs")
    flags = ["--mount", "--propagation", "private"] if os.geteuid() == 0 else ["--user", "--map-root-user", "--mount"]
    probe = subprocess.run(["unshare", *flags, "sh", "-c", "mount -t tmpfs -o size=64k probe /mnt"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no tmpfs can be mounted here ({probe.stderr.strip()}); the ENOSPC tests above still run")
    return ["unshare", *flags]


def test_a_disk_filling_up_mid_copy_puts_everything_back_and_says_so_in_one_line(home):
    """A real full disk: GIMP's plug-ins folder is a 256 KiB tmpfs, nearly full, with a file of the
    user's where the plug-in goes (moved aside across disks into backups/, in the settings folder)."""
    unshare = private_mount_namespace()
    plugins = home / GIMP30
    plugins.mkdir(parents=True)
    mount = 'mount -t tmpfs -o size=256k,mode=755 cleancut-test "$1" && shift && exec "$@"'
    done = subprocess.run(unshare + ["sh", "-c", mount, "sh", str(plugins), sys.executable, "-c", SMALL_DISK,
                                     str(plugins), *CLI, "install", "gimp"],
                          env=cli_env(home), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert (seen["rc"], seen["stderr"]) == (
        1, f"cleancut: could not install into {plugins / 'cleancut'}: no space left on device; nothing was changed\n")
    assert seen["after"] == seen["before"]
    assert not (home / ".config" / "cleancut").exists()  # no backups/, no installed.json, no settings


# --- item 6: a read-only editor folder ---

def test_a_read_only_plug_in_folder_is_named_in_one_line_and_nothing_changes(home):
    plugins = home / GIMP30
    plugins.mkdir(parents=True)
    (plugins / "their_plugin.py").write_text("theirs")
    plugins.chmod(0o555)
    before = state(home)
    try:
        done = subprocess.run(without_permission_override() + CLI + ["install", "gimp"], env=cli_env(home),
                              capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stderr) == (
            1, f"cleancut: could not install into {plugins}: permission denied; nothing was changed\n")
        assert state(home) == before
    finally:
        plugins.chmod(0o755)


def test_uninstall_from_a_read_only_plug_in_folder_says_so_in_one_line_and_keeps_the_record(home):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    folder = home / GIMP30 / "cleancut"
    folder.chmod(0o555)
    before = state(home)
    try:
        done = subprocess.run(without_permission_override() + CLI + ["uninstall", "gimp"], env=cli_env(home),
                              capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stderr) == (
            1, f"cleancut: could not uninstall from {folder}: permission denied; what is left stays recorded: "
               "run `cleancut uninstall gimp` again once that is fixed\n")
        assert state(home) == before
    finally:
        folder.chmod(0o755)


# --- item 10: uninstall removes only what install made ---

def test_uninstall_leaves_a_link_put_at_the_plug_in_folder_and_the_files_it_points_to(home, tmp_path):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    folder = home / GIMP30 / "cleancut"
    checkout = tmp_path / "checkout"
    shutil.copytree(folder, checkout)  # the very files install wrote: uninstall must still not reach them
    shutil.rmtree(folder)
    folder.symlink_to(checkout)
    kept = state(checkout)
    said = []
    uninstall.uninstall("gimp", say=said.append)
    assert state(checkout) == kept
    assert folder.is_symlink() and os.readlink(folder) == str(checkout)
    assert f"  left {folder} alone: it is a link (to {checkout}) that cleancut did not make" in said


def test_uninstall_leaves_a_link_put_at_an_installed_file_and_the_file_it_points_to(home, tmp_path):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    link = home / GIMP30 / "cleancut" / CLIENT
    mine = tmp_path / "my_client.py"
    mine.write_bytes(link.read_bytes())
    link.unlink()
    link.symlink_to(mine)
    said = []
    uninstall.uninstall("gimp", say=said.append)
    assert mine.read_bytes() == bundles.CLIENT.read_bytes()
    assert sorted(p.name for p in link.parent.iterdir()) == [CLIENT]  # the link, and nothing of the plug-in
    assert os.readlink(link) == str(mine)
    assert f"  left {link} alone: it is a link (to {mine}) that cleancut did not make" in said


def test_uninstall_keeps_a_plug_in_file_the_user_edited_and_says_where(home):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    edited = home / GIMP30 / "cleancut" / "cleancut_dialog.py"
    edited.write_text(edited.read_text() + "# my tweak\n")
    mine = edited.read_bytes()
    said = []
    uninstall.uninstall("gimp", say=said.append)
    (kept,) = [p for p in install_record.edited_dir().rglob("*") if p.is_file()]
    assert kept.read_bytes() == mine and kept.name == "cleancut_dialog.py"
    assert f"  you had edited {edited}: your copy is kept at {kept}" in said
    assert not (home / GIMP30 / "cleancut").exists()  # the rest of the plug-in is gone


# --- item 12: a record naming paths outside the plug-in's folder ---

def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hostile_record(case: str, home: Path, outside: Path) -> tuple[dict, str]:
    """A record shaped as cleancut writes it but for one path, and the problem load_record names."""
    root = home / GIMP30
    victim = outside / "notes.txt"
    climb = os.path.relpath(outside / "planted.txt", root)
    entry = {"host": "gimp", "bundle": "gimp3", "version": "3.0", "flavour": "native", "root": str(root),
             "files": {"cleancut/cleancut.py": "0" * 64}, "created_dirs": [], "backups": {}}
    inside = f"which is not inside the plug-in folder {root}"
    if case == "a file climbing out with ..":
        entry["files"] = {os.path.relpath(victim, root): sha(victim)}
        problem = f'"installs"[0]["files"] names {json.dumps(os.path.relpath(victim, root))}, {inside}'
    elif case == "an absolute file path":
        entry["files"] = {str(victim): sha(victim)}
        problem = f'"installs"[0]["files"] names {json.dumps(str(victim))}, {inside}'
    elif case == "a backup put back outside with ..":
        saved = install_record.backups_dir() / "gimp3-0" / "planted.txt"
        saved.parent.mkdir(parents=True)
        saved.write_text("planted")
        entry["backups"] = {climb: str(saved)}
        problem = f'"installs"[0]["backups"] names {json.dumps(climb)}, {inside}'
    elif case == "a backup taken from outside backups/":
        entry["backups"] = {"cleancut/cleancut.py": str(victim)}
        problem = (f'"installs"[0]["backups"] keeps a file at {json.dumps(str(victim))}, which is not inside '
                   f"{install_record.backups_dir()}")
    elif case == "a created folder outside":
        entry["created_dirs"] = [str(outside / "empty")]
        problem = (f'"installs"[0]["created_dirs"] names {json.dumps(str(outside / "empty"))}, which is neither '
                   f"inside nor above the plug-in folder {root}")
    elif case == "the file system's root as the plug-in folder":
        entry.update(root="/", files={os.path.relpath(victim, "/"): sha(victim)})
        problem = '"installs"[0]["root"] is "/", not the full path of a GIMP plug-in folder'
    else:  # a relative root
        entry.update(root="plug-ins")
        problem = '"installs"[0]["root"] is "plug-ins", not the full path of a GIMP plug-in folder'
    return {"installs": [entry]}, problem


HOSTILE = ["a file climbing out with ..", "an absolute file path", "a backup put back outside with ..",
           "a backup taken from outside backups/", "a created folder outside",
           "the file system's root as the plug-in folder", "a relative root"]


@pytest.fixture
def outside(tmp_path) -> Path:
    """The user's things outside any plug-in folder: a file and an empty folder."""
    outside = tmp_path / "outside"
    (outside / "empty").mkdir(parents=True)
    (outside / "notes.txt").write_text("mine")
    return outside


@pytest.mark.parametrize("case", HOSTILE)
def test_uninstall_refuses_a_record_naming_a_path_outside_the_plug_in_folder_and_touches_nothing(home, outside, case):
    (home / GIMP30 / "cleancut").mkdir(parents=True)
    record, problem = hostile_record(case, home, outside)
    install_record.record_path().parent.mkdir(parents=True, exist_ok=True)
    install_record.record_path().write_text(json.dumps(record))
    before, outside_before = state(home), state(outside)
    with pytest.raises(CleancutError) as err:
        uninstall.uninstall("gimp", say=quiet)
    assert str(err.value) == (f"{install_record.record_path()} is not a record cleancut wrote ({problem}); fix it or "
                              "delete it (cleancut then forgets what it installed)")
    assert (state(home), state(outside)) == (before, outside_before)


@pytest.mark.parametrize("case", HOSTILE)
def test_doctor_reports_a_record_naming_a_path_outside_the_plug_in_folder(home, outside, case):
    (home / GIMP30 / "cleancut").mkdir(parents=True)
    record, problem = hostile_record(case, home, outside)
    install_record.record_path().parent.mkdir(parents=True, exist_ok=True)
    install_record.record_path().write_text(json.dumps(record))
    (found,) = [f for f in doctor.check_hosts(where(home)) if f.subject == "installs"]
    assert (found.level, f"({problem})" in found.text) == (doctor.FIX, True)


# --- item 22: versions as the editors write them ---

@pytest.mark.parametrize("version", ["0004.0005", "\u0664.\u0665"])
def test_the_command_line_refuses_a_blender_version_no_blender_names_a_folder_and_creates_nothing(
        home, monkeypatch, capsys, version):
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["install", "blender", "--host-version", version]) == 2
    shown = version if version.isascii() else ascii(version)
    assert capsys.readouterr().err == (
        f"cleancut: Blender {shown} is not supported: --host-version takes its major.minor version, 3.4 to 5.x "
        "(like 4.5 or 5.2), written in plain digits without leading zeros\n")
    assert list(home.iterdir()) == []


def test_doctor_flags_a_plug_in_recorded_in_a_version_folder_blender_never_reads(home):
    """What an earlier cleancut did with --host-version 0004.0005: doctor no longer says ok."""
    install.install("blender", host_version="4.5", where=where(home), say=quiet)
    right, wrong = home / ".config" / "blender" / "4.5", home / ".config" / "blender" / "0004.0005"
    right.rename(wrong)
    text = install_record.record_path().read_text().replace(str(right), str(wrong)).replace('"4.5"', '"0004.0005"')
    install_record.record_path().write_text(text)
    (found,) = [f for f in doctor.check_hosts(where(home)) if f.subject == "Blender 0004.0005"]
    assert (found.level, found.text) == (
        doctor.FIX, f"{wrong / 'extensions' / 'user_default'} is in a version folder Blender never reads: "
                    "`cleancut uninstall blender`, then `cleancut install blender`")


def test_a_named_pipe_at_the_install_record_is_refused_without_waiting(home):
    path = install_record.record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    began = time.monotonic()
    with pytest.raises(CleancutError, match=r"is a named pipe \(FIFO\), not a regular file"):
        install_record.load_record()
    assert time.monotonic() - began < 5
