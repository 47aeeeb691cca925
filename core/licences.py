"""The licence gate: which models may run for this user, and what they must accept first.

Policy (docs/models.md, "Licence policy"): permissive models run freely; copyleft, non-commercial and unknown
licences need a per-model acceptance recorded in the user's settings; with the "commercial
use" policy on, non-commercial and unknown models are refused outright. The class comes
from the catalog's whole SPDX licence expression, read by a real SPDX parser (licence_class
says how AND, OR and WITH combine).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

from license_expression import LicenseSymbol, LicenseWithExceptionSymbol, Licensing, get_spdx_licensing

from . import config
from .catalog import ModelEntry
from .errors import LicenceError

PERMISSIVE = "permissive"
COPYLEFT = "copyleft"
NON_COMMERCIAL = "non-commercial"
UNKNOWN = "unknown"

# How restrictive each class is, for combining the terms of an expression. Unknown ranks
# above copyleft because an unknown licence may forbid anything; non-commercial ranks top
# because it is known to forbid commercial use (the policy treats the two alike anyway).
_RANK = {PERMISSIVE: 0, COPYLEFT: 1, UNKNOWN: 2, NON_COMMERCIAL: 3}

# Single licence ids (as the SPDX parser spells them), matched whole: no id with extra
# words ("BSD-3-Clause-No-Military-License") is permissive by accident of its prefix.
_PERMISSIVE = re.compile(
    r"Apache-2\.0|MIT|MIT-0|BSD-[0-4]-Clause|BSD-2-Clause-Patent|ISC|Zlib|Unlicense|CC0-1\.0|CC-BY-[0-9.]+|"
    r"PSF-2\.0|BSL-1\.0|0BSD",
    re.IGNORECASE,
)
# OpenRAIL licences are here, not above: their use restrictions bind every later user, as
# copyleft's terms do, so a person should read them once (an acceptance); they allow
# commercial use, so the commercial-use policy does not refuse them.
_COPYLEFT = re.compile(
    r"A?GPL-[0-9.]+(-only|-or-later|\+)?|LGPL-[0-9.]+(-only|-or-later|\+)?|MPL-2\.0|EUPL-1\.[12]|"
    r"CC-BY-SA-[0-9.]+|OSL-3\.0|CDDL-1\.[01]|OpenRAIL(\+\+)?(-[MSDA])?",
    re.IGNORECASE,
)
# Anywhere in the text, before parsing: no alias or exception can hide a non-commercial term.
_NON_COMMERCIAL = re.compile(r"(^|[-_. ])NC([-_. ]|$)|non-?commercial|no-?commercial", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _licensing() -> Licensing:
    """The SPDX licence and exception list that ships inside license-expression (no network)."""
    return get_spdx_licensing()


def _term_class(key: str) -> str:
    if _NON_COMMERCIAL.search(key):
        return NON_COMMERCIAL
    if _PERMISSIVE.fullmatch(key):
        return PERMISSIVE
    if _COPYLEFT.fullmatch(key):
        return COPYLEFT
    return UNKNOWN


def _tree_class(node: object) -> str:
    """The class of a parsed expression: the most restrictive class of its terms, for AND and
    for OR alike (see licence_class for why OR is not the least restrictive)."""
    if isinstance(node, LicenseWithExceptionSymbol):
        # A WITH exception only adds permissions (the strict parse admits only known SPDX
        # exceptions there), so the licence it modifies decides; GPL + Classpath stays copyleft.
        return _term_class(node.license_symbol.key)
    if isinstance(node, LicenseSymbol):
        return _term_class(node.key)
    terms = getattr(node, "args", ())
    if not terms:
        return UNKNOWN
    return max((_tree_class(term) for term in terms), key=_RANK.__getitem__)


@functools.lru_cache(maxsize=1024)
def _expression_class(expression: str) -> str:
    try:
        tree = _licensing().parse(expression, validate=False, strict=True)
    except Exception:  # noqa: BLE001 - ExpressionError, and its own bugs: IndexError on "()"
        return UNKNOWN  # an expression nobody can read is one a person must read
    return UNKNOWN if tree is None else _tree_class(tree)


def licence_class(spdx: str, commercial_use: bool = True) -> str:
    """Classify an SPDX licence expression; ``commercial_use`` other than True means non-commercial.

    The whole expression is parsed by license-expression (SPDX syntax: AND, OR, WITH,
    parentheses; ids in any case; deprecated ids such as GPL-3.0 mapped to today's), and
    its class is the most restrictive class of its terms:

    - AND: every term applies at once, so the most restrictive one binds.
    - OR: the licensee may choose a branch, so the least restrictive branch would be exact;
      cleancut still takes the most restrictive. Choosing a branch is a legal decision for a
      person to make and record (an acceptance), not one to take silently for them. A class
      that overstates at worst asks for an acceptance (or, with the commercial-use policy on,
      refuses a model one branch would allow: "GPL-3.0-only OR CC-BY-NC-4.0"); one that
      understates would run a model under terms nobody read. So an expression with any
      non-permissive or unknown term is never permissive: "MIT OR GPL-3.0-only" is copyleft.
    - WITH: a licence exception adds permissions, so the licence it modifies decides.
    - Anything the parser refuses ("MIT/GPL", "MIT WITH GPL-2.0", an empty string), and any
      id not in the tables above, is unknown: the policy then asks for an acceptance, and the
      commercial-use policy refuses it, as for any unknown licence.

    A non-commercial marker anywhere in the text (NC, NonCommercial, NoCommercialUse)
    makes the whole expression non-commercial, whatever the parser makes of the rest.
    """
    if commercial_use is not True or isinstance(spdx, str) and _NON_COMMERCIAL.search(spdx):
        return NON_COMMERCIAL
    return _expression_class(spdx) if isinstance(spdx, str) else UNKNOWN


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
