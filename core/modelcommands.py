"""`cleancut models`: list, info, fetch, verify, accept, revoke.

What a user asks about the catalog's models and presets: their licences and whether they are
accepted, where they are cached, fetching and verifying them. Each command is a function of the
parsed arguments that prints its answer and returns the exit status; cli.py owns the parser.
"""

from __future__ import annotations

import argparse
import sys

from . import config, fetch, licences
from .catalog import load_catalog, read_card
from .errors import CleancutError


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def cmd_list(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    rows = [("id", "task", "size", "licence", "class", "cached", "")]
    for entry in catalog.models.values():
        kind = licences.entry_class(entry)
        note = "default" if entry.id == catalog.default else ""
        if kind != licences.PERMISSIVE:
            note = ", ".join(filter(None, [note, "accepted" if licences.is_accepted(entry) else "needs acceptance"]))
        rows.append((entry.id, entry.task, _mib(entry.size), entry.licence, kind,
                     "yes" if fetch.is_cached(entry) else "no", note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if catalog.presets:
        print("\npresets (use them like a model id):")
        for preset in catalog.presets.values():
            flips = f", {' and '.join(preset.flip)} also mirrored" if preset.flip else ""
            refine = f", refine {preset.refine}" if preset.refine else ""
            print(f"  {preset.id}: {' + '.join(preset.models)}{flips}{refine} — {preset.name}")
    return 0


def _entries(catalog, ids: list[str]) -> list:
    """The model entries for ids that name models or presets, each once, in order."""
    seen: dict[str, object] = {}
    for name in ids:
        for entry in catalog.resolve(name)[0]:
            seen.setdefault(entry.id, entry)
    return list(seen.values())


def cmd_info(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    if args.id in catalog.presets:
        preset = catalog.presets[args.id]
        print(f"# {preset.name} (preset `{preset.id}`)\n\n{preset.description}\n")
        print(f"models: {', '.join(preset.models)} (the first draws the outline)")
        refine = preset.refine or "the caller's choice"
        print(f"mirrored too: {', '.join(preset.flip) or 'none'}; refine: {refine}")
        for entry in catalog.resolve(args.id)[0]:
            kind = licences.entry_class(entry)
            state = kind if kind == licences.PERMISSIVE else (
                "accepted" if licences.is_accepted(entry) else f"needs `cleancut models accept {args.id}`")
            print(f"- {entry.id}: licence {entry.licence} ({state}); "
                  f"{'cached' if fetch.is_cached(entry) else 'not fetched'}")
        return 0
    entry = catalog.get(args.id)
    print(read_card(entry).rstrip())
    print()
    print(f"licence class: {licences.entry_class(entry)}"
          + ("" if licences.entry_class(entry) == licences.PERMISSIVE else
             f" ({'accepted' if licences.is_accepted(entry) else f'run `cleancut models accept {entry.id}` to use it'})"))
    print(f"cache: {fetch.cached_path(entry)} ({'present' if fetch.is_cached(entry) else 'not fetched'})")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    for entry in _entries(load_catalog(), args.ids):
        # Offline mode (--offline or CLEANCUT_OFFLINE / the settings) is honoured here too.
        path = fetch.ensure(entry, offline=True if args.offline else None, progress=not args.quiet)
        print(f"{entry.id}: {path}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    status = 0
    for entry in _entries(load_catalog(), args.ids):
        try:
            print(f"{entry.id}: ok ({fetch.verify(entry)})")
        except CleancutError as err:
            print(f"cleancut: {err}", file=sys.stderr)
            status = 1
    return status


def cmd_accept(args: argparse.Namespace) -> int:
    for entry in licences.accept_for(*load_catalog().resolve(args.id)):
        kind = licences.entry_class(entry)
        print(f"accepted for model '{entry.id}': licence {entry.licence} ({kind}); "
              f"training data: {entry.training_data} — {entry.training_data_terms}")
        print(f"recorded in {config.config_path()}; undo with `cleancut models revoke {entry.id}`")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    entry = load_catalog().get(args.id)
    print(f"acceptance for '{entry.id}' " + ("revoked" if licences.revoke(entry) else "was not recorded"))
    return 0
