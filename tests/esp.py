"""One handle per ESP for the adapter tests: its emulator, an adapter pointed at it, and how
to read the emulator's list back. The tests that every ESP must pass use only this."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from esp_emulators.base import Emulator, Faults
from esp_emulators.klaviyo import KlaviyoEmulator
from esp_emulators.mailchimp import MailchimpEmulator, subscriber_hash
from esp_emulators.sendgrid import SendGridEmulator
from orchestration.publish.engine import SyncReport, SyncSettings, sync_audience
from orchestration.publish.http import RetryPolicy
from orchestration.publish.klaviyo import KlaviyoAdapter, klaviyo_client
from orchestration.publish.mailchimp import MailchimpAdapter, mailchimp_client
from orchestration.publish.sendgrid import SendGridAdapter, sendgrid_client
from tests.audience_tables import AUDIENCE, GROUP

LIST = "Lifecycle test list"
FAST = RetryPolicy(
    deadline_seconds=60, timeout_seconds=5, backoff_base_seconds=0.01, backoff_max_seconds=0.2
)


class NoWait:
    """Stands in for `time.sleep` between retries: records what the client would have
    waited (a 429's Retry-After, a backoff) and returns at once."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@dataclass(frozen=True)
class Esp:
    name: str
    api_key: str
    public_url: str  # where the adapter goes without LIFECYCLE_ESP_BASE_URL
    env: tuple[tuple[str, str], ...] = ()  # what the target needs besides <NAME>_API_KEY

    def start(self, faults: Faults | None = None) -> Emulator:
        if self.name == "klaviyo":
            return KlaviyoEmulator(self.api_key, faults=faults).start()
        if self.name == "sendgrid":
            return SendGridEmulator(self.api_key, faults=faults).start()
        return MailchimpEmulator(self.api_key, faults=faults).start()

    def adapter(self, server: Emulator, key: str | None = None, max_batch: int | None = None):
        key = key or self.api_key
        if self.name == "klaviyo":
            adapter = KlaviyoAdapter(klaviyo_client(key, server.base_url, FAST), poll_seconds=0.01)
        elif self.name == "sendgrid":
            client = sendgrid_client(key, server.base_url, FAST)
            adapter = SendGridAdapter(client, poll_seconds=0.01)
        else:
            client = mailchimp_client(key, f"{server.base_url}/3.0", FAST)
            adapter = MailchimpAdapter(client, list_id=server.list_id)
        if max_batch:
            adapter.max_batch = min(adapter.max_batch, max_batch)
        adapter.client.sleep = NoWait()
        return adapter

    def members(self, server: Emulator, list_name: str = LIST) -> set[str]:
        if isinstance(server, MailchimpEmulator):
            return server.segment_members(list_name)
        return server.members(list_name)

    def refuse(self, server: Emulator, emails: set[str]) -> None:
        """Make the ESP refuse these addresses (Klaviyo: invalid; Mailchimp: compliance
        state; SendGrid: dropped by the upsert job, which ends `errored`)."""
        if isinstance(server, MailchimpEmulator):
            server.compliance = set(emails)
        else:
            server.rejected = set(emails)

    def opt_out(self, server: Emulator, email: str, kind: str) -> str:
        """Record at the ESP, as that ESP does, that an address opted out or cannot be mailed
        (`unsubscribe`, `bounce`, `complaint`); returns the ESP status the adapter must
        report for it."""
        if isinstance(server, KlaviyoEmulator):
            reason = {"unsubscribe": "UNSUBSCRIBE", "bounce": "HARD_BOUNCE"}
            server.suppress(email, reason.get(kind, "SPAM_COMPLAINT"))
            return {"unsubscribe": "unsubscribed", "bounce": "cleaned"}.get(kind, "complained")
        if isinstance(server, SendGridEmulator):
            name = {"unsubscribe": "unsubscribes", "bounce": "bounces"}.get(kind, "spam_reports")
            server.suppress(email, name)
            return {"unsubscribe": "unsubscribed", "bounce": "cleaned"}.get(kind, "complained")
        # Mailchimp: a bounce cleans the member; an abuse report unsubscribes it.
        status = "cleaned" if kind == "bounce" else "unsubscribed"
        member = server.members.setdefault(
            subscriber_hash(email), {"email_address": email, "merge_fields": {}}
        )
        member["status"] = status
        return status

    def objects(self, server: Emulator) -> Counter[tuple[str, str]]:
        """The lists (Mailchimp: static segments) and fields the ESP holds, by kind and name,
        each with how many of that name there are."""
        if isinstance(server, KlaviyoEmulator):
            return Counter(("list", entry["name"]) for entry in server.lists.values())
        if isinstance(server, SendGridEmulator):
            lists = Counter(("list", entry["name"]) for entry in server.lists.values())
            return lists + Counter(("field", name) for name in server.fields.values())
        segments = Counter(("list", entry["name"]) for entry in server.segments.values())
        return segments + Counter(("field", tag) for tag in server.merge_fields)

    def first_name(self, server: Emulator, email: str) -> str:
        if isinstance(server, KlaviyoEmulator):
            return server.profiles[email]["first_name"]
        if isinstance(server, SendGridEmulator):
            return server.contacts[email]["first_name"]
        return server.members[subscriber_hash(email)]["merge_fields"]["FNAME"]


ESPS = {
    "klaviyo": Esp("klaviyo", "pk_live_" + "9f3c2b1a7e6d" * 3, "https://a.klaviyo.com"),
    "mailchimp": Esp(
        "mailchimp",
        "0123456789abcdef" * 2 + "-us6",
        "https://us6.api.mailchimp.com/3.0",
        (("MAILCHIMP_LIST_ID", "a1b2c3d4e5"),),
    ),
    "sendgrid": Esp("sendgrid", "SG." + "aB3dE5fG7hJ9kL1m" * 4, "https://api.sendgrid.com"),
}
ASYNC_JOB_ESPS = ("klaviyo", "sendgrid")  # their writes are jobs that can fail


def sync(path: Path, adapter: Any, run_id: str) -> SyncReport:
    with duckdb.connect(str(path)) as con:
        settings = SyncSettings(
            list_name=LIST, asm_group_id=GROUP, max_change_share=10.0, min_change_rows=100
        )
        return sync_audience(con, AUDIENCE, adapter, run_id, settings)


def writes(server: Emulator) -> int:
    return sum(n for key, n in server.calls.items() if not key.startswith("GET"))
