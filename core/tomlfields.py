"""Reading a parsed TOML document field by field, with one-line messages that say where.

Every problem is ``FILE: KEY.PATH problem`` (``models.red.sources[0].url must not be empty``):
a user's catalog is checked whole when it is read, so a wrong type, a missing key or a key this
version does not know is named at once instead of failing later inside a cut-out. catalog.py
says which keys there are; these functions only read and check them.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from typing import Any

from .errors import ModelError, brief

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
MISSING = object()  # a key without a default: it must be there


def key_path(parent: str, key: str | int) -> str:
    """``parent`` and one more step, as TOML would write it: models.red.sources[0].url.
    A key that TOML must quote ("isnet.v2", "café", anything odd) is quoted, with anything
    unprintable in it escaped, so that the message stays one readable line."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if BARE_KEY.fullmatch(key):
        step = key
    else:
        body = json.dumps(key, ensure_ascii=False)[1:-1]
        step = '"' + "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in body) + '"'
    return f"{parent}.{step}" if parent else step


# In this order: bool before int (a bool is an int), datetime before date (a datetime is a date).
TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
    (list, "an array"), (dict, "a table"), (_dt.datetime, "a date-time"), (_dt.date, "a date"),
    (_dt.time, "a time"))


def toml_type(value: Any) -> str:
    """The TOML type of a parsed value, in words, for "must be X, not Y"."""
    for kind, words in TOML_TYPES:
        if isinstance(value, kind):
            return words
    return type(value).__name__


def fault(file: str, path: str, problem: str) -> ModelError:
    return ModelError(f"{file}: {path} {problem}")


def table(file: str, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fault(file, path, f"must be a table, not {toml_type(value)}")
    return value


def no_unknown_keys(file: str, table: dict[str, Any], path: str, known: tuple[str, ...], what: str) -> None:
    """Refuse a key this version does not read: a misspelt key would otherwise be ignored."""
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise fault(file, key_path(path, unknown[0]),
                    f"is not a key cleancut knows ({what} has: {', '.join(known)})")


KIND_WORDS = {str: "a string", int: "an integer", bool: "true or false", list: "an array", dict: "a table"}


def get(file: str, table: dict[str, Any], path: str, key: str, kind: type, default: Any = MISSING) -> Any:
    """``table[key]`` checked to be a ``kind`` (str, int, bool, list or dict; true is not an
    integer here, though Python says it is); ``default`` when absent, or an error when there
    is no default."""
    if key not in table:
        if default is MISSING:
            raise fault(file, key_path(path, key), "is missing")
        return default
    value = table[key]
    if not isinstance(value, kind) or kind is int and isinstance(value, bool):
        raise fault(file, key_path(path, key), f"must be {KIND_WORDS[kind]}, not {toml_type(value)}")
    return value


def text(file: str, table: dict[str, Any], path: str, key: str, default: Any = MISSING) -> Any:
    """A string that must say something (a name, a URL, a package): not empty, no NUL."""
    value = get(file, table, path, key, str, default)
    if key in table and (not value or "\0" in value):
        raise fault(file, key_path(path, key), "must not be empty" if not value else "must not contain NUL")
    return value


def choice(file: str, table: dict[str, Any], path: str, key: str, choices: tuple[str, ...], default: Any) -> Any:
    value = get(file, table, path, key, str, default)
    if key in table and value not in choices:
        raise fault(file, key_path(path, key), f"must be one of {', '.join(choices)}, not {brief(value)}")
    return value


def finite(value: Any) -> bool:
    """A number numpy can hold as float32 work: no NaN, no infinity, no 400-digit integer."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63
