# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut pyblish collector: image and video files and folders → one "cleancut" instance per file.

What to collect comes from the context, set by the pipeline before publishing (or with
``pyblish -d cleancutPaths '["shoots/"]' publish`` on the command line, which parses JSON):

* ``context.data["cleancutPaths"]``: a list of files, folders (searched recursively) or glob
  patterns, exactly as ``cleancut remove`` takes them; earlier cut-outs and masks
  (``*-cutout.*``, ``*-mask.*``) inside folders are not collected again.
* ``context.data["cleancutOptions"]``: optional engine options (the fields of
  ``cleancut.options.Options``: model, refine, provider, threads, offline).

A path that matches nothing still becomes an instance, marked with ``data["error"]``, so the
validator fails the publish before anything is extracted.
"""

from pathlib import Path

import pyblish.api

from cleancut.catalog import load_catalog
from cleancut.inputs import expand_inputs
from cleancut.options import Options


class CollectCleancutImages(pyblish.api.ContextPlugin):
    """One instance per image file named in context.data["cleancutPaths"]."""

    label = "cleancut: collect images"
    order = pyblish.api.CollectorOrder

    def process(self, context):
        paths = context.data.get("cleancutPaths") or []
        if isinstance(paths, str):
            paths = [paths]
        raw = dict(context.data.get("cleancutOptions") or {})
        options = Options(**raw)  # a bad option fails here, with the field's own message
        model = options.model or load_catalog().default
        raw["model"] = model

        found, missing = expand_inputs([str(p) for p in paths])
        for source, _ in found:
            source = source.resolve()
            instance = context.create_instance(str(source), family="cleancut", families=["cleancut"])
            instance.data.update(source=str(source), model=model, options=dict(raw))
            self.log.info("collected %s (model %s)", source, model)
        for name, why in missing:
            instance = context.create_instance(str(name), family="cleancut", families=["cleancut"])
            instance.data.update(source=str(Path(name)), model=model, options=dict(raw), error=why)
