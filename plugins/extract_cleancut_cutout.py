# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut pyblish extractor: the mask and the RGBA cut-out of each instance, in a staging folder.

Outputs are the files ``cleancut remove`` writes by default: for a photo PNG, ``NAME-mask.png``
(grey) and ``NAME-cutout.png`` (RGBA); for a video ``NAME-mask.mp4`` (grey H.264) and
``NAME-cutout.webm`` (VP9 with alpha), sound kept. For photos: 16-bit sources give 16-bit
outputs, an alpha the source already had limits the new one, the ICC profile and EXIF are kept. They go to a fresh folder under
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

import dataclasses
import os
import shutil
import tempfile

import pyblish.api

from cleancut import clips, cluster, cutout, imageread, licences, pipeline, rayactor, videoio
from cleancut.errors import CleancutError
from cleancut.options import Options


def _staging(instance, source):
    """A fresh staging folder and the outputs' paths in it: PNGs for a photo; for a video, the
    grey mask video and the alpha cut-out video ``cleancut remove`` writes by default."""
    stem, video = os.path.splitext(os.path.basename(source))[0], videoio.is_video(source)
    staging = tempfile.mkdtemp(prefix="cleancut-%s-" % stem, dir=instance.context.data.get("cleancutStagingDir"))
    suffixes = {"mask": clips.default_suffix(True, None), "cutout": clips.default_suffix(False, None)} if video \
        else {"mask": ".png", "cutout": ".png"}
    return staging, {kind: os.path.join(staging, stem + "-" + kind + suffix) for kind, suffix in suffixes.items()}


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
            staged.append(_staging(instance, instance.data["source"]))
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
        if videoio.is_video(source):
            return self._video(instance, source, options)
        picture, result = cutout.cut_out(source, options)
        staging, files = _staging(instance, source)
        cutout.write(picture, result, files["mask"], cutout.Output(mask=True))
        cutout.write(picture, result, files["cutout"], cutout.Output())

        record = licences.provenance(list(result.models), result.preset)
        instance.data.update(stagingDir=staging, files=files, timings=result.timings, modelEntry=record)
        self.log.info("%s: mask and cut-out extracted with %s", source, record["id"])

    def _video(self, instance, source, options):
        """A video's mask and cut-out videos: each a pass over the clip (the mask's without colours)."""
        plan = pipeline.prepare(options, bar=False)
        staging, files = _staging(instance, source)
        try:
            for kind, options_for in (("mask", dataclasses.replace(options, foreground=False)), ("cutout", options)):
                clips.cut_out_clip(source, files[kind], options_for, plan, mask=kind == "mask",
                                   max_pixels=imageread.DEFAULT_MAX_PIXELS)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        record = licences.provenance(list(plan.entries), plan.preset)
        instance.data.update(stagingDir=staging, files=files, timings={}, modelEntry=record)
        self.log.info("%s: mask and cut-out videos extracted with %s", source, record["id"])

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
