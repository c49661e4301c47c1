"""What an ESP's error carries to people: never a credential, in whatever encoding the ESP (or
a proxy in between) echoed it, and never a full address; its text is cut only once scrubbed.
(The retries and the rest of what every ESP must do are in test_esp_adapters.py.)"""

from __future__ import annotations

import base64
import logging
import traceback
from urllib.parse import quote

import pytest

from esp_emulators.base import Faults
from orchestration.publish.http import ApiClient, ApiError
from orchestration.publish.scrub import Scrubber
from tests.esp import ESPS, Esp

ADDRESS = "jane.doe@example.com"
log = logging.getLogger(__name__)


@pytest.fixture(params=sorted(ESPS))
def esp(request: pytest.FixtureRequest) -> Esp:
    return ESPS[request.param]


def _encodings(key: str) -> list[str]:
    """The key as an echoed request may spell it, whole: Base64 of the key and of `user:key`
    for users of each length modulo 3 (padded or not, URL-safe), and URL-encoded."""
    data = key.encode()
    forms = [key]
    for prefix in (b"", b"user:", b"anystring:", b"lifecycle:", b"ab:"):
        for encoded in (base64.b64encode(prefix + data), base64.urlsafe_b64encode(prefix + data)):
            forms += [encoded.decode(), encoded.decode().rstrip("=")]
    return forms + [quote(f, safe="") for f in forms]


def _leaks(text: str, key: str) -> list[str]:
    """The encodings of the key in the text, and pieces of it: 12 characters of the raw key,
    or the last 24 characters of an encoding (its last 18 bytes: the key's, whatever the
    prefix)."""
    forms = _encodings(key)
    pieces = [key[i : i + 12] for i in range(len(key) - 11)]
    pieces += [form.rstrip("=")[-24:] for form in forms if "%" not in form]
    return [piece for piece in forms + pieces if piece in text]


@pytest.mark.parametrize("echo", ["json", "text"])
def test_an_error_echoing_the_credentials_and_an_address_carries_neither(
    esp: Esp, echo: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Every other call throttled: the retries are logged, the echo comes with the error.
    server = esp.start(Faults(echo_errors=echo, rate_limit_every=2, retry_after_seconds=0))
    try:
        client = esp.adapter(server).client
        for _ in range(2):  # the second is throttled once, then refused
            with pytest.raises(ApiError) as raised:
                client.request(
                    "POST",
                    "/nowhere",
                    params={"filter": f'any(email,["{ADDRESS}"])'},
                    json={"profiles": [{"email": ADDRESS, "first_name": "Jane"}]},
                )
            log.error("the ESP refused: %s (%r)", raised.value, raised.value.body)
    finally:
        server.stop()
    error = raised.value
    assert error.status == 404 and "HTTP 429" in caplog.text
    shown = {"str": str(error), "body": repr(error.body), "logs": caplog.text}
    assert "authorization" in repr(error.body)  # the emulator did echo the request
    for where, text in shown.items():
        assert not _leaks(text, esp.api_key), where
        assert "jane.doe" not in text and "jane.doe%40" not in text, where
    # Still readable: the address is masked, not gone.
    assert "j***@example.com" in shown["body"] and "j***%40example.com" in shown["body"]


def test_every_encoding_of_a_key_in_a_json_body_is_scrubbed() -> None:
    key = ESPS["sendgrid"].api_key
    scrubber = Scrubber([key], users=["lifecycle"])
    body = {
        "errors": [{"message": f"bad key {form} for {ADDRESS}"} for form in _encodings(key)],
        ADDRESS: [key, 3, None, {"nested": f"Basic {_encodings(key)[1]}"}],
    }
    scrubbed = repr(scrubber.value(body))
    assert not _leaks(scrubbed, key)
    assert "jane.doe" not in scrubbed and "'j***@example.com'" in scrubbed  # keys too
    assert "'nested'" in scrubbed and ", 3, None," in scrubbed  # the rest is left as it was


def test_a_text_cut_short_keeps_no_piece_of_a_key() -> None:
    key = ESPS["klaviyo"].api_key
    text = "x" * 490 + f"key={key} for {ADDRESS}"
    cut = Scrubber([key]).text(text, limit=500)
    assert len(cut) == 500 and not _leaks(cut, key) and key[:8] not in cut


def test_a_request_that_cannot_be_sent_is_an_api_error_quoting_nothing() -> None:
    """requests refuses a header holding a line break and quotes the header in its error (a
    key, here) and may quote the URL (an address in the query): the ApiError names the
    kind of failure only and chains nothing a traceback would print."""
    key = "sek-first-half\nsecond-half"
    client = ApiClient("esp", "http://127.0.0.1:9", {"Authorization": f"Bearer {key}"}, [key])
    with pytest.raises(ApiError, match="InvalidHeader: the request could not be sent") as err:
        client.request("GET", "/members", params={"email": ADDRESS})
    shown = "".join(traceback.format_exception(err.value))
    assert "sek-first-half" not in shown and ADDRESS not in shown
