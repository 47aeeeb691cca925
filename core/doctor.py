"""`cleancut doctor`: check the engine, the models, the licences and each editor's plug-in.

Every finding is one line: ok, a note (nothing to do), or FIX with the command that fixes it.
The exit status is 1 when anything needs fixing, so scripts and support requests can use it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import __version__, bundles, cleancut_client, config, fetch, hosts, install, install_record, licences
from .catalog import load_catalog
from .errors import CleancutError
from .hosts.base import parse_version

OK, NOTE, FIX = "ok", "note", "FIX"


@dataclass(frozen=True)
class Finding:
    level: str  # ok, note, FIX
    subject: str
    text: str


def check_engine() -> list[Finding]:
    found = [Finding(OK, "engine", f"cleancut {__version__} on Python {sys.version.split()[0]} ({sys.executable})")]
    try:
        import onnxruntime  # noqa: PLC0415 - whether it imports at all is what this check finds out

        found.append(Finding(OK, "onnxruntime", f"{onnxruntime.__version__}, providers: "
                                                f"{', '.join(onnxruntime.get_available_providers())}"))
    except ImportError as err:
        found.append(Finding(FIX, "onnxruntime", f"cannot be imported ({err}): `{sys.executable} -m pip "
                                                 "install --force-reinstall onnxruntime`"))
    try:
        settings = config.load_config()
    except CleancutError as err:
        return found + [Finding(FIX, "settings", str(err))]
    found.append(Finding(OK, "settings", str(config.config_path())))
    found.append(_engine_python(settings))
    return found


def _engine_python(settings: dict) -> Finding:
    """The interpreter the editors' client starts: it must run this same cleancut."""
    chosen = os.environ.get(cleancut_client.ENV_PYTHON) or settings.get("engine_python")
    if not chosen:
        return Finding(FIX, "editors' engine", "no engine Python is set for the editors: run "
                                               "`cleancut install gimp|krita|blender`")
    try:
        done = subprocess.run([chosen, "-c", "import cleancut; print(cleancut.__version__)"],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as err:
        return Finding(FIX, "editors' engine", f"{chosen} cannot be run ({err}): run `cleancut install` "
                                               "again from the Python that has cleancut")
    if done.returncode != 0:
        return Finding(FIX, "editors' engine", f"{chosen} has no working cleancut: `{chosen} -m pip install "
                                               "cleancut`, or run `cleancut install` from the right Python")
    version = done.stdout.strip()
    if version != __version__:
        return Finding(FIX, "editors' engine", f"{chosen} runs cleancut {version}, this is {__version__}: "
                                               "run `cleancut install` again with the one you want")
    return Finding(OK, "editors' engine", f"{chosen} (cleancut {version})")


def check_models() -> list[Finding]:
    found = []
    try:
        catalog = load_catalog()
    except CleancutError as err:
        return [Finding(FIX, "catalog", str(err))]
    for entry in catalog.models.values():
        kind = licences.entry_class(entry)
        terms = f"{entry.licence}, {kind}"
        refused = config.commercial_use() and kind in (licences.NON_COMMERCIAL, licences.UNKNOWN)
        if not fetch.is_cached(entry):
            level = FIX if entry.id == catalog.default else NOTE
            found.append(Finding(level, entry.id, f"not fetched ({terms}): `cleancut models fetch {entry.id}`"))
            continue
        try:
            fetch.verify(entry)
        except CleancutError as err:
            found.append(Finding(FIX, entry.id, str(err)))
            continue
        if refused:
            found.append(Finding(NOTE, entry.id, f"verified; refused by the commercial-use policy ({terms})"))
        elif licences.needs_acceptance(entry):
            found.append(Finding(NOTE, entry.id, f"verified; needs your acceptance ({terms}): read "
                                                 f"`cleancut models info {entry.id}`, then "
                                                 f"`cleancut models accept {entry.id}`"))
        else:
            found.append(Finding(OK, entry.id, f"verified ({terms}"
                                               f"{', accepted' if kind != licences.PERMISSIVE else ''})"))
    return found


def check_hosts(where: hosts.Where | None = None) -> list[Finding]:
    """Each editor's recorded installs checked; where none is recorded, whether the editor is here."""
    found = []
    try:
        record = install_record.load_record()
    except CleancutError as err:
        return [Finding(FIX, "installs", str(err))]
    for editor in hosts.EDITORS.values():
        entries = [e for e in record["installs"] if e["host"] == editor.name]
        for entry in entries:
            found.append(_check_install(entry))
        try:
            targets = install.find_targets(editor.name, where=where)
        except CleancutError:
            targets = []
        present = [t for t in targets if Path(t.place.config).is_dir()]
        recorded = {(e["root"], e["bundle"]) for e in entries}
        for target in present:
            if (str(target.root), target.bundle.name) in recorded or not (target.root / target.bundle.client).exists():
                continue
            # Not installed by cleancut: unzipped by hand, or copied by the editor when it moved the
            # user's settings to a new version (GIMP 3.2 copies 3.0's plug-ins).
            if _stale(target.bundle, target.root):
                found.append(Finding(FIX, target.describe(), f"{target.root} holds a cleancut plug-in of another "
                                     f"version, not installed by `cleancut install` (an editor copies plug-ins when "
                                     f"it moves your settings to a new version): `cleancut install {editor.name}`"))
            else:
                found.append(Finding(OK, target.describe(), f"plug-in current in {target.root} (put there by hand)"))
        if not entries:
            if present:
                found.append(Finding(NOTE, editor.name, f"{present[0].describe()} found at {present[0].place.config}, "
                                                        f"plug-in not installed: `cleancut install {editor.name}`"))
            else:
                found.append(Finding(NOTE, editor.name, f"not found on this computer (cleancut supports "
                                                        f"{editor.title} {editor.versions})"))
    return found


def _stale(bundle: hosts.Bundle, root: Path) -> str | None:
    """The first of the bundle's files missing from root or not this engine's version, or None."""
    for rel, data in bundles.contents(bundle).items():
        path = root / rel
        if not path.is_file() or bundles.sha256(path.read_bytes()) != bundles.sha256(data):
            return rel
    return None


def _check_install(entry: dict) -> Finding:
    editor = hosts.EDITORS[entry["host"]]
    bundle = hosts.BUNDLES[entry["bundle"]]
    root = Path(entry["root"])
    title = (bundle.title + (f" {entry['version']}" if entry["version"] else "")
             + ("" if entry["flavour"] == "native" else f" ({entry['flavour']})"))
    fix = f"`cleancut install {entry['host']}`"
    if entry["version"] and parse_version(entry["version"]) is None:  # recorded by a cleancut that took "04.5"
        return Finding(FIX, title, f"{root} is in a version folder {editor.title} never reads: "
                                   f"`cleancut uninstall {entry['host']}`, then {fix}")
    current = {rel: bundles.sha256(data) for rel, data in bundles.contents(bundle).items()}
    missing = [rel for rel in current if not (root / rel).is_file()]
    if missing:
        return Finding(FIX, title, f"{len(missing)} plug-in files are missing from {root} (e.g. {missing[0]}): {fix}")
    stale = _stale(bundle, root)
    if stale:
        return Finding(FIX, title, f"the plug-in in {root} is not this engine's version ({stale} differs): {fix}")
    if os.name == "posix":
        shut = [rel for rel in bundle.executable if not os.access(root / rel, os.X_OK)]
        if shut:
            return Finding(FIX, title, f"{root / shut[0]} is not executable, so {bundle.title} skips it: "
                                       f"`chmod +x {root / shut[0]}`, or {fix}")
    problem = editor.switch_check(entry["switch"]) if entry.get("switch") else None
    if problem:
        return Finding(FIX, title, problem)
    return Finding(OK, title, f"plug-in installed and current in {root}")


def run(say: Callable[[str], None] = print) -> int:
    """Print every finding, grouped; 1 when something needs fixing."""
    problems = 0
    for title, findings in (("engine", check_engine()), ("models", check_models()), ("editors", check_hosts())):
        say(title)
        width = max(len(f.subject) for f in findings)
        for finding in findings:
            problems += finding.level == FIX
            say(f"  {finding.level:<4}  {finding.subject:<{width}}  {finding.text}")
    say("nothing to fix" if not problems else f"{problems} thing{'s' if problems > 1 else ''} to fix")
    return 1 if problems else 0
