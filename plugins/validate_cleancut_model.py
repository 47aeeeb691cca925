# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut pyblish validator: the source exists, the model's licence fits the studio's policy,
and the model file is in the cache and matches its catalog sha256.

Policy: the commercial-use policy is on when cleancut's own setting says so
(``CLEANCUT_COMMERCIAL=1`` or ``"commercial_use": true`` in its settings file) or when the
pipeline sets ``context.data["cleancutCommercialUse"] = True``. Under it, non-commercial and
unknown licences are refused. Copyleft, non-commercial and unknown licences otherwise need the
acceptance recorded by ``cleancut models accept ID``. The context can only turn the policy on:
the engine enforces its own setting whatever the context says.

The licence is checked before the file: a refused model is never downloaded. A missing file is
fetched (unless offline mode is on), so a successful validation means "fetched and verified".
"""

import pyblish.api

from cleancut import config, fetch, licences
from cleancut.catalog import load_catalog
from cleancut.errors import CleancutError, LicenceError


class ValidateCleancutModel(pyblish.api.InstancePlugin):
    """The source exists; the model is allowed by the studio's policy, fetched and verified."""

    label = "cleancut: model licence and file"
    order = pyblish.api.ValidatorOrder
    families = ["cleancut"]

    def process(self, instance):
        if instance.data.get("error"):
            raise CleancutError("%s: %s" % (instance.data["source"], instance.data["error"]))
        entries, preset = load_catalog().resolve(instance.data["model"])  # a model, or a preset's models
        for entry in entries:
            kind = licences.entry_class(entry)
            if instance.context.data.get("cleancutCommercialUse") or config.commercial_use():
                if kind in (licences.NON_COMMERCIAL, licences.UNKNOWN):
                    raise LicenceError(
                        "model '%s' is refused by the studio's commercial-use policy: its licence %s is %s "
                        "(training data: %s — %s). Choose a permissive model (see `cleancut models list`)."
                        % (entry.id, entry.licence, kind, entry.training_data,
                           entry.training_data_terms.rstrip(".")))
            licences.check(entry)
        for entry in entries:
            fetch.ensure(entry, offline=instance.data["options"].get("offline"), progress=False)
            self.log.info("%s: model %s (%s, %s) verified", instance.data["source"], entry.id, entry.licence,
                          licences.entry_class(entry))
        instance.data["modelEntry"] = licences.provenance(entries, preset)
