"""Credentials and addresses taken out of what an ESP answers, before anyone can read it.

An error's text and body go to logs, to the Dagster UI and into exceptions that other code
may print. ESPs, their proxies and debug pages sometimes echo the request: the Authorization
header (for Mailchimp's Basic auth that is `base64("anystring:KEY")`, with whatever user name
the client chose), the key in a URL-encoded query, the addresses it was about. So a scrubber
removes a key in every form such a text can hold it:
- as it is, URL-encoded (either case of hex digits) and with JSON's escaped slash;
- in Base64 and Base64url, padded or not, alone or after any prefix such as `user:`: Base64
  turns three bytes into four characters, so a key after a prefix of unknown length is
  encoded in one of three alignments; the characters that depend on the key alone are
  removed for each (a character or two shared with the neighbouring bytes can stay: too
  little of the key to use).
and masks every address (`j***@domain`, `orchestration.masking`). A JSON body is scrubbed
through and through (keys, values, nested lists); a text is scrubbed before it is cut short,
so a cut never keeps the first half of a key.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from orchestration.masking import mask_addresses

REDACTED = "***"
MIN_FRAGMENT = 16  # shorter Base64 fragments of a key could match ordinary text


def _base64_forms(data: bytes) -> set[str]:
    standard = base64.b64encode(data).decode()
    url = base64.urlsafe_b64encode(data).decode()
    return {standard, standard.rstrip("="), url, url.rstrip("=")}


def _fragments(secret: bytes) -> set[str]:
    """The Base64 characters that encode `secret` alone, at each of the three alignments it
    can have after a prefix (and in the URL-safe alphabet)."""
    found = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode()
        start = -(-8 * offset // 6)  # the first character with no bit of the prefix
        end = 8 * (offset + len(secret)) // 6  # past the last one with no bit after the secret
        fragment = encoded[start:end]
        if len(fragment) >= MIN_FRAGMENT:
            found |= {fragment, fragment.translate(str.maketrans("+/", "-_"))}
    return found


def _spellings(form: str) -> set[str]:
    """A form as a URL or a JSON document may spell it."""
    spellings = {form, quote(form, safe=""), quote_plus(form, safe="")}
    spellings |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), s) for s in spellings}
    spellings |= {s.replace("/", "\\/") for s in spellings if "/" in s}
    return spellings


class Scrubber:
    """Removes the given secrets (and `user:secret` pairs) in every form above, and masks
    addresses."""

    def __init__(self, secrets: Iterable[str], users: Iterable[str] = ()) -> None:
        secrets = [s for s in dict.fromkeys(secrets) if s]
        forms: set[str] = set()
        for secret in secrets:
            data = secret.encode()
            forms |= {secret} | _base64_forms(data) | _fragments(data)
            for user in users:
                forms |= _base64_forms(f"{user}:{secret}".encode())
        spellings = {s for form in forms for s in _spellings(form)}
        # Longest first: a whole `user:key` encoding goes before the fragments inside it.
        ordered = sorted(spellings, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, text: str, limit: int | None = None) -> str:
        """The text without credentials, addresses masked, then cut to `limit` characters."""
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        text = mask_addresses(text)
        return text if limit is None else text[:limit]

    def value(self, value: Any) -> Any:
        """A parsed JSON value (dict, list, str, number...) scrubbed all through."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
