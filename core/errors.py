"""One exception family, so every entry point can turn a failure into one actionable line."""

from __future__ import annotations

import json


class CleancutError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message, no traceback needed."""


class UsageError(CleancutError):
    """A command line that cannot mean what it says: exit code 2, like argparse's own errors.
    Here rather than in the CLI so the modules that check an option's value (an editor's
    version, the --ray options) can say so without importing the CLI."""


class ImageError(CleancutError):
    """An input image that cannot be read, or an output that cannot be written."""


class ModelError(CleancutError):
    """A model that is unknown, missing, tampered with or cannot be loaded."""


class FetchError(ModelError):
    """A model file that could not be downloaded or did not verify."""


class LicenceError(ModelError):
    """A model whose licence the user's policy or missing acceptance does not allow."""


class Cancelled(CleancutError):
    """The run was cancelled by the user; nothing was produced.

    Here rather than in the pipeline because a download (fetch) stops with it too, and the
    pipeline imports fetch, not the other way round."""


def brief(value: object) -> str:
    """A value someone sent or wrote, as JSON (else as Python shows it), short enough for a
    one-line message."""
    try:
        text = repr(value) if isinstance(value, (bytes, bytearray)) else json.dumps(value)
    except (TypeError, ValueError):  # not a JSON value, e.g. a numpy number from a plugin
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
