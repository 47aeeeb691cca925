# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut pyblish extractor: the mask and the RGBA cut-out of each instance, in a staging folder.

Outputs are PNG, ``NAME-mask.png`` (grey) and ``NAME-cutout.png`` (RGBA), the same files
``cleancut remove`` writes: 16-bit sources give 16-bit outputs, an alpha the source already had
limits the new one, the ICC profile and EXIF are kept. They go to a fresh folder under
``context.data["cleancutStagingDir"]`` (default: the system's temporary folder); the
integrator moves them next to the source.
"""

import os
import tempfile

import pyblish.api

from cleancut import compose, images, licences, pipeline
from cleancut.options import Options


class ExtractCleancutCutout(pyblish.api.InstancePlugin):
    """Write the instance's mask and cut-out into its staging folder."""

    label = "cleancut: extract mask and cut-out"
    order = pyblish.api.ExtractorOrder
    families = ["cleancut"]

    def process(self, instance):
        source = instance.data["source"]
        options = Options(**instance.data["options"])
        picture = images.read_image(source)
        result = pipeline.remove(images.to_rgb8(picture), options)
        alpha = compose.combine_alpha(result.alpha, picture.alpha)
        depth = picture.bit_depth
        colours = result.foreground if result.foreground is not None else picture.rgb

        stem = os.path.splitext(os.path.basename(source))[0]
        staging = tempfile.mkdtemp(prefix="cleancut-%s-" % stem, dir=instance.context.data.get("cleancutStagingDir"))
        files = {"mask": os.path.join(staging, stem + "-mask.png"),
                 "cutout": os.path.join(staging, stem + "-cutout.png")}
        meta = {"icc_profile": picture.icc_profile, "exif": picture.exif}
        images.write_image(files["mask"], compose.quantise(alpha, depth), **meta)
        images.write_image(files["cutout"], compose.cutout(colours, alpha, depth), **meta)

        record = licences.provenance(list(result.models), result.preset)
        instance.data.update(stagingDir=staging, files=files, timings=result.timings, modelEntry=record)
        self.log.info("%s: mask and cut-out extracted with %s", source, record["id"])
