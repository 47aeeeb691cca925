"""The licence gate: which models may run for this user, and what they must accept first.

Policy (DESIGN.md §3): permissive models run freely; copyleft, non-commercial and unknown
licences need a per-model acceptance recorded in the user's settings; with the "commercial
use" policy on, non-commercial and unknown models are refused outright.
"""

from __future__ import annotations

import datetime as _dt
import re

from . import config
from .catalog import ModelEntry
from .errors import LicenceError

PERMISSIVE = "permissive"
COPYLEFT = "copyleft"
NON_COMMERCIAL = "non-commercial"
UNKNOWN = "unknown"

_PERMISSIVE = re.compile(
    r"^(Apache-2\.0|MIT|MIT-0|BSD-[0-9]-Clause.*|ISC|Zlib|Unlicense|CC0-1\.0|CC-BY-[0-9.]+|"
    r"OpenRAIL.*|PSF-2\.0|BSL-1\.0|0BSD)$",
    re.IGNORECASE,
)
_COPYLEFT = re.compile(
    r"^(A?GPL-[0-9.]+(-only|-or-later)?|LGPL-[0-9.]+(-only|-or-later)?|MPL-2\.0|EUPL-1\.[12]|"
    r"CC-BY-SA-[0-9.]+|OSL-3\.0|CDDL-1\.[01])$",
    re.IGNORECASE,
)
_NON_COMMERCIAL = re.compile(r"(^|-)NC(-|$)|non-?commercial", re.IGNORECASE)


def licence_class(spdx: str, commercial_use: bool = True) -> str:
    """Classify an SPDX licence expression; ``commercial_use=False`` always means non-commercial.

    Compound expressions ("A OR B", "A AND B") are unknown on purpose: a person should read them.
    """
    expression = spdx.strip()
    if not commercial_use or _NON_COMMERCIAL.search(expression):
        return NON_COMMERCIAL
    if _PERMISSIVE.match(expression):
        return PERMISSIVE
    if _COPYLEFT.match(expression):
        return COPYLEFT
    return UNKNOWN


def entry_class(entry: ModelEntry) -> str:
    return licence_class(entry.licence, entry.commercial_use)


def _accepted() -> dict:
    value = config.load_config().get("accepted_licences", {})
    return value if isinstance(value, dict) else {}


def is_accepted(entry: ModelEntry) -> bool:
    """True when the user accepted this model under the licence the catalog states now."""
    record = _accepted().get(entry.id)
    return isinstance(record, dict) and record.get("licence") == entry.licence


def accept(entry: ModelEntry) -> None:
    """Record the user's acceptance of this model's licence and training-data terms."""
    data = config.load_config()
    accepted = data.get("accepted_licences")
    if not isinstance(accepted, dict):
        accepted = {}
    accepted[entry.id] = {
        "licence": entry.licence,
        "sha256": entry.sha256,
        "accepted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    data["accepted_licences"] = accepted
    config.save_config(data)


def accept_for(entries: list[ModelEntry], preset=None) -> list[ModelEntry]:
    """Accept a model, or what a preset's models need (their non-permissive licences only);
    returns the entries whose acceptance was recorded."""
    if preset is not None:
        entries = [e for e in entries if entry_class(e) != PERMISSIVE] or entries[:1]
    for entry in entries:
        accept(entry)
    return entries


def revoke(entry: ModelEntry) -> bool:
    """Forget an acceptance; returns whether there was one."""
    data = config.load_config()
    accepted = data.get("accepted_licences")
    if not isinstance(accepted, dict) or entry.id not in accepted:
        return False
    del accepted[entry.id]
    config.save_config(data)
    return True


def needs_acceptance(entry: ModelEntry) -> bool:
    return entry_class(entry) != PERMISSIVE and not is_accepted(entry)


def check(entry: ModelEntry) -> None:
    """Raise LicenceError unless the policy lets this model run now; the message says what to do."""
    kind = entry_class(entry)
    if kind == PERMISSIVE:
        return
    terms = f"training data: {entry.training_data} — {entry.training_data_terms.rstrip('.')}"
    if config.commercial_use() and kind in (NON_COMMERCIAL, UNKNOWN):
        raise LicenceError(
            f"model '{entry.id}' is refused by the commercial-use policy: its licence "
            f"{entry.licence} is {kind}; {terms}. Choose a permissive model "
            f"(see `cleancut models list`) or turn the policy off ({config.ENV_COMMERCIAL}=0)"
        )
    if not is_accepted(entry):
        raise LicenceError(
            f"model '{entry.id}' needs your acceptance first: its licence {entry.licence} is "
            f"{kind}; {terms}. Read `cleancut models info {entry.id}`, then run "
            f"`cleancut models accept {entry.id}`"
        )


def provenance(entries: list[ModelEntry], preset=None) -> dict:
    """What a published result records about the models that made it: id, sha256, licence and
    its class; for a preset, its id and one such record per model."""
    records = [{"id": e.id, "sha256": e.sha256, "licence": e.licence, "licence_class": entry_class(e)}
               for e in entries]
    if preset is None:
        return records[0]
    return {"id": preset.id, "preset": True, "models": records}
