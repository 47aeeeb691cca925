# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut pyblish integrator: move the staged mask and cut-out next to the source and record them.

For ``shoot/photo.jpg`` it writes ``shoot/photo-mask.png``, ``shoot/photo-cutout.png`` and
``shoot/photo-cleancut.json``, replacing those of an earlier publish. Every file appears
whole or not at all (written beside its final name, then renamed). The record names the
outputs relative to its own folder, with their sha256, and the model that made them: its id,
the sha256 of its weights and its licence.
"""

import datetime
import hashlib
import json
import os
import shutil
import tempfile

import pyblish.api

import cleancut


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _place(write, target):
    """Create ``target`` through a temporary file in its folder and a rename."""
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class IntegrateCleancutOutputs(pyblish.api.InstancePlugin):
    """Place the outputs beside the source, with a JSON record of what made them."""

    label = "cleancut: integrate next to the source"
    order = pyblish.api.IntegratorOrder
    families = ["cleancut"]

    def process(self, instance):
        files = instance.data.get("files")
        if not files:
            raise RuntimeError("%s: nothing was extracted, so nothing was published" % instance.data["source"])
        source = instance.data["source"]
        folder = os.path.dirname(source)
        stem = os.path.splitext(os.path.basename(source))[0]

        outputs = {}
        for kind in sorted(files):
            target = os.path.join(folder, os.path.basename(files[kind]))
            with open(files[kind], "rb") as staged:
                _place(lambda handle: shutil.copyfileobj(staged, handle), target)
            outputs[kind] = {"file": os.path.basename(target), "sha256": _sha256(target)}

        record = {
            "source": os.path.basename(source),
            "outputs": outputs,
            "model": instance.data["modelEntry"],
            "options": instance.data["options"],
            "engine": {"name": "cleancut", "version": cleancut.__version__},
            "published_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        record_path = os.path.join(folder, stem + "-cleancut.json")
        text = json.dumps(record, indent=2, sort_keys=True) + "\n"
        _place(lambda handle: handle.write(text.encode("utf-8")), record_path)
        shutil.rmtree(instance.data["stagingDir"], ignore_errors=True)

        instance.data["published"] = dict({kind: os.path.join(folder, out["file"]) for kind, out in outputs.items()},
                                          record=record_path)
        self.log.info("%s: published %s", source, ", ".join(sorted(instance.data["published"].values())))
