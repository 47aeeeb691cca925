# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut pyblish extractor: the mask and the RGBA cut-out of each instance, in a staging folder.

Outputs are PNG, ``NAME-mask.png`` (grey) and ``NAME-cutout.png`` (RGBA), the same files
``cleancut remove`` writes: 16-bit sources give 16-bit outputs, an alpha the source already had
limits the new one, the ICC profile and EXIF are kept. They go to a fresh folder under
``context.data["cleancutStagingDir"]`` (default: the system's temporary folder); the
integrator moves them next to the source.

On a farm: with ``context.data["cleancutRay"]`` set to a Ray cluster's address (``auto``,
``HOST:PORT``, or ``local`` for a Ray started on this machine), the first instance extracted
hands every cleancut instance of the publish to ``cleancut remove --ray``'s path
(cleancut.cluster: licence gate on each node, actors that keep the model loaded, lost actors'
files retried, files written here atomically); each instance then takes its own outputs, or
fails alone with its file's message. ``context.data["cleancutRayActors"]`` chooses the number
of actors.
"""

import os
import shutil
import tempfile

import pyblish.api

from cleancut import cluster, cutout, licences, pipeline, rayactor
from cleancut.errors import CleancutError
from cleancut.options import Options


def _staging(instance, stem):
    staging = tempfile.mkdtemp(prefix="cleancut-%s-" % stem, dir=instance.context.data.get("cleancutStagingDir"))
    return staging, {"mask": os.path.join(staging, stem + "-mask.png"),
                     "cutout": os.path.join(staging, stem + "-cutout.png")}


def _on_ray(context):
    """Run every cleancut instance of the publish on Ray, once (the first instance extracted
    asks); {instance id: (staging folder, files, Outcome)}, one cluster run per set of options."""
    if "cleancutRayResults" in context.data:
        return context.data["cleancutRayResults"]
    groups = {}
    for instance in context:
        if "cleancut" in instance.data.get("families", []) and not instance.data.get("error") \
                and instance.data.get("publish", True):
            groups.setdefault(Options(**instance.data["options"]), []).append(instance)
    results = {}
    for options, members in groups.items():
        staged = []
        for instance in members:
            stem = os.path.splitext(os.path.basename(instance.data["source"]))[0]
            staged.append(_staging(instance, stem))
        tasks = [rayactor.Task(instance.data["source"], ((files["mask"], cutout.Output(mask=True)),
                                                        (files["cutout"], cutout.Output())))
                 for instance, (_, files) in zip(members, staged)]
        try:
            outcomes = cluster.run(tasks, options, address=context.data["cleancutRay"],
                                   actors=context.data.get("cleancutRayActors")).outcomes
        except CleancutError as err:  # no cluster, or no actor would run: every instance says so
            outcomes = [rayactor.Outcome(error=str(err))] * len(tasks)
        for instance, (staging, files), outcome in zip(members, staged, outcomes):
            results[instance.id] = (staging, files, outcome)
    context.data["cleancutRayResults"] = results
    return results


class ExtractCleancutCutout(pyblish.api.InstancePlugin):
    """Write the instance's mask and cut-out into its staging folder."""

    label = "cleancut: extract mask and cut-out"
    order = pyblish.api.ExtractorOrder
    families = ["cleancut"]

    def process(self, instance):
        if instance.context.data.get("cleancutRay"):
            return self._from_ray(instance)
        source = instance.data["source"]
        options = Options(**instance.data["options"])
        picture, result = cutout.cut_out(source, options)
        staging, files = _staging(instance, os.path.splitext(os.path.basename(source))[0])
        cutout.write(picture, result, files["mask"], cutout.Output(mask=True))
        cutout.write(picture, result, files["cutout"], cutout.Output())

        record = licences.provenance(list(result.models), result.preset)
        instance.data.update(stagingDir=staging, files=files, timings=result.timings, modelEntry=record)
        self.log.info("%s: mask and cut-out extracted with %s", source, record["id"])

    def _from_ray(self, instance):
        staging, files, outcome = _on_ray(instance.context)[instance.id]
        source = instance.data["source"]
        if outcome is None or outcome.error:
            shutil.rmtree(staging, ignore_errors=True)
            raise CleancutError("%s: %s" % (source, outcome.error if outcome else "not processed"))
        entries, preset = pipeline.resolve_models(Options(**instance.data["options"]))
        record = licences.provenance(entries, preset)
        instance.data.update(stagingDir=staging, files=files, timings=outcome.timings, modelEntry=record,
                             rayNode=outcome.node)
        self.log.info("%s: mask and cut-out extracted with %s on Ray (%s)", source, record["id"], outcome.node)
