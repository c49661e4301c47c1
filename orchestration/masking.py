"""E-mail addresses masked for anything people read: logs, check metadata, error messages.

One way to hide a person everywhere (`j***@example.com`: the first letter and the domain,
enough to tell addresses apart while debugging), so the quality gates and the ESP adapters
cannot drift apart. Values of an e-mail field are masked even when malformed; in free text an
address is recognised by its `@`, by its `%40` in a URL-encoded query that an error message
may quote, or by the rarer spellings an echo through a proxy or an HTML error page gives it:
`%2540` (encoded twice), `&#64;` / `&#x40;` (HTML) and the full-width at sign (U+FF20).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

# The local part of an address inside free text: a run of characters up to an `@` that
# cannot belong to the surrounding text (quotes, brackets, separators).
_ADDRESS = re.compile(r"([^\s@\"',:;<>()\[\]{}])[^\s@\"',:;<>()\[\]{}]*@")
# The same, URL-encoded (`jane.doe%40example.com`): a run of what a URL leaves as it is and
# of escapes (`%2B` for `+`), but not of the escaped separators above nor of `& = / ?`, and
# not starting inside an escape (the `22` of a `%22` quote before the address).
_ESCAPED_SEPARATOR = r"%(?:0[9AaDd]|2[026-9CcFf]|3[A-Fa-f]|40|5[BbDd]|7[BbDd])"
_URL_CHAR = rf"(?:[\w.~!$*+-]|(?!{_ESCAPED_SEPARATOR})%[0-9A-Fa-f]{{2}})"
_ENCODED_ADDRESS = re.compile(rf"(?<!%)(?<!%[0-9A-Fa-f])({_URL_CHAR}){_URL_CHAR}*%40")
# Encoded twice: every escape of the local part is `%25XX`, and the `@` is `%2540`.
_TWICE_CHAR = r"(?:[\w.~!$*+-]|%25[0-9A-Fa-f]{2})"
_TWICE_ENCODED_ADDRESS = re.compile(rf"(?<![%\w])({_TWICE_CHAR}){_TWICE_CHAR}*%2540")
# An HTML character reference or the full-width sign for the `@`.
_OTHER_AT = re.compile(
    r"([^\s@\"',:;<>()\[\]{}&\uff20])[^\s@\"',:;<>()\[\]{}&\uff20]*"
    r"(&#0*64;|&#[xX]0*40;|\uff20)"
)


def mask(value: Any) -> Any:
    """Hide the person in an address (`j***@example.com`); other values pass unchanged."""
    if not isinstance(value, str):
        return value
    if "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    return value


def mask_field(name: str | None, value: Any) -> Any:
    """A value fit for logs and metadata: in an e-mail field even a malformed one is hidden."""
    value = _plain(value)
    if name and "email" in name.lower() and isinstance(value, str) and value and "@" not in value:
        return f"{value[:1]}*** (malformed)"
    return mask(value)


def mask_row(row: dict[str, Any]) -> dict[str, Any]:
    """`mask_field` of every column of a row."""
    return {key: mask_field(key, value) for key, value in row.items()}


def mask_addresses(text: str) -> str:
    """Free text with every address in it masked (`j***@domain`, `j***%40domain`, and the
    rarer spellings of the `@` above)."""
    text = _ADDRESS.sub(lambda m: f"{m.group(1)}***@", text)
    text = _TWICE_ENCODED_ADDRESS.sub(lambda m: f"{m.group(1)}***%2540", text)
    text = _ENCODED_ADDRESS.sub(lambda m: f"{m.group(1)}***%40", text)
    return _OTHER_AT.sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (pandas and numpy values become Python ones)."""
    if _is_missing(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, dt.datetime) and value.time() == dt.time() and value.tzinfo is None:
        return value.date().isoformat()  # a DATE column, as pandas holds it
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _is_missing(value: Any) -> bool:
    """None, NaN or NaT: the missing values, which alone differ from themselves. (Checked
    without pandas, so that the HTTP layer, which masks too, does not load it.)"""
    if value is None or isinstance(value, list | dict | tuple):
        return value is None
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # an array-like: never a single missing value
        return False
