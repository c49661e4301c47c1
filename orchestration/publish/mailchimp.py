"""Mailchimp Marketing API v3: one audience (list), a static segment (tag) per our audience.

- adds: batch member upsert `POST /lists/{list_id}` (500 members a call, `update_existing`)
  with merge fields, then `POST /lists/{list_id}/segments/{segment_id}` `members_to_add`.
  Members the upsert or the segment refuses (invalid address, "member in compliance state",
  a "forgotten" (permanently deleted) address, ...) are failed members with Mailchimp's error.
- updates: the upsert alone: merge fields change.
- removes: `members_to_remove` of the segment: the contact leaves the tag, stays in the
  audience, its status untouched.
Consent is one-way: members carry `status_if_new` (the consent we hold: audiences contain only
contacts whose recorded consent lets us mail them) and never `status`, so an existing
unsubscribed, cleaned or pending contact is never resubscribed, and nobody is unsubscribed.
Such a member is not published either: the upsert's answer gives each member's status, and
one that is not `subscribed` is a failed member (`esp_status: unsubscribed`, `cleaned`, ...),
left out of the segment and never counted as confirmed; the unsubscribed and cleaned ones
reach `marts.suppressions` (reason `esp_status`).
Merge fields are created once per audience if missing (`MERGE_FIELDS`; text fields). A segment
or merge field whose creation lost its answer, or that Mailchimp says exists already, is
looked up again rather than created twice (`find_or_create`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from orchestration.publish.adapters import REASON_LIMIT, Batch, BatchResult, Member, esp_status
from orchestration.publish.esp import chunks, find_or_create
from orchestration.publish.http import ApiClient, RetryPolicy

MAX_MEMBERS_PER_CALL = 500
NEW_MEMBER_STATUS = "subscribed"
MAILABLE_STATUS = "subscribed"  # unsubscribed, cleaned, pending, transactional are not
# Our attribute -> Mailchimp merge tag (at most 10 characters); others get a derived tag.
MERGE_FIELDS = {
    "first_name": "FNAME",
    "lifecycle_stage": "LCSTAGE",
    "rfm_segment": "RFMSEG",
    "is_vip": "ISVIP",
    "favourite_brand": "FAVBRAND",
    "favourite_category": "FAVCAT",
    "order_count": "ORDERS",
    "first_order_date": "FIRSTORDER",
    "last_order_date": "LASTORDER",
    "reason": "LCREASON",
    "checkout_url": "CARTURL",
    "cart_total": "CARTTOTAL",
    "cart_currency": "CARTCUR",
    "cart_item_count": "CARTITEMS",
    "abandoned_at": "ABANDONED",
}


def merge_tag(attribute: str) -> str:
    return MERGE_FIELDS.get(attribute) or re.sub(r"[^A-Z0-9]", "", attribute.upper())[:10]


def api_url(api_key: str) -> str:
    """The data centre's API: the key ends in `-<dc>` (for example `-us6`)."""
    _, _, dc = api_key.rpartition("-")
    if not re.fullmatch(r"[a-z]+[0-9]+", dc):
        raise ValueError("MAILCHIMP_API_KEY does not end in its data centre (such as -us6)")
    return f"https://{dc}.api.mailchimp.com/3.0"


def mailchimp_client(api_key: str, base_url: str, policy: RetryPolicy) -> ApiClient:
    return ApiClient(
        "mailchimp",
        base_url,
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        secrets=[api_key],
        policy=policy,
        auth=("lifecycle", api_key),
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class MailchimpAdapter:
    name = "mailchimp"
    max_batch = MAX_MEMBERS_PER_CALL

    def __init__(self, client: ApiClient, list_id: str) -> None:
        self.client = client
        self.list_id = list_id
        self._segments: dict[str, int] = {}
        self._fields: set[str] = set()  # the list's merge tags, once listed
        self._fields_listed = False

    def send(self, batch: Batch) -> BatchResult:
        segment = self.segment_id(batch.list_name)
        emails = [m.email for m in batch.members]
        if batch.action == "remove":
            for chunk in chunks(emails, MAX_MEMBERS_PER_CALL):
                self._segment_call(segment, {"members_to_remove": list(chunk)})
            return BatchResult(confirmed=tuple(emails))
        failed = self._upsert(batch.members)
        if batch.action == "add":
            accepted = [e for e in emails if e not in failed]
            for chunk in chunks(accepted, MAX_MEMBERS_PER_CALL):
                failed.update(self._segment_call(segment, {"members_to_add": list(chunk)}))
        return BatchResult(confirmed=tuple(e for e in emails if e not in failed), failed=failed)

    def finish(self, audience: str, plan_id: str, summary: dict[str, Any]) -> None:
        """Nothing to close: Mailchimp applies each call before it answers."""

    # -- the list's setup ----------------------------------------------------------------
    def segment_id(self, name: str) -> int:
        """The static segment (tag) named `name`, created on first use."""
        if name not in self._segments:
            self._segments[name] = find_or_create(
                self.client,
                f"static segment {name!r}",
                lambda: self._find_segment(name),
                lambda: self._create_segment(name),
            )
        return self._segments[name]

    def _find_segment(self, name: str) -> int | None:
        path = f"/lists/{self.list_id}/segments"
        found = self.client.request("GET", path, params={"type": "static", "count": 1000}).json()
        ids = [s["id"] for s in found.get("segments", []) if s["name"] == name]
        return ids[0] if ids else None

    def _create_segment(self, name: str) -> int:
        path = f"/lists/{self.list_id}/segments"
        body = {"name": name, "static_segment": []}
        return self.client.request("POST", path, json=body, idempotent=False).json()["id"]

    def _ensure_fields(self, attributes: Sequence[str]) -> None:
        """Create the merge fields the members carry and the list lacks (listed once)."""
        if not self._fields_listed:
            self._list_fields()
        for attribute in attributes:
            tag = merge_tag(attribute)
            if tag not in self._fields:
                # Just listed: no second look before the create (one after, if need be).
                find_or_create(
                    self.client,
                    f"merge field {tag}",
                    lambda tag=tag: tag if tag in self._list_fields() else None,
                    lambda tag=tag, attribute=attribute: self._create_field(tag, attribute),
                    look_first=False,
                )
                self._fields.add(tag)

    def _list_fields(self) -> set[str]:
        """The list's merge tags as Mailchimp has them now (kept in `_fields`)."""
        path = f"/lists/{self.list_id}/merge-fields"
        found = self.client.request("GET", path, params={"count": 1000}).json()
        self._fields = {f["tag"] for f in found.get("merge_fields", [])}
        self._fields_listed = True
        return self._fields

    def _create_field(self, tag: str, attribute: str) -> str:
        path = f"/lists/{self.list_id}/merge-fields"
        body = {"tag": tag, "name": attribute, "type": "text"}
        return self.client.request("POST", path, json=body, idempotent=False).json()["tag"]

    # -- calls ---------------------------------------------------------------------------
    def _upsert(self, members: Sequence[Member]) -> dict[str, str]:
        self._ensure_fields(sorted({a for m in members for a in m.attributes}))
        failed: dict[str, str] = {}
        for chunk in chunks(members, MAX_MEMBERS_PER_CALL):
            body = {
                "members": [
                    {
                        "email_address": m.email,
                        "status_if_new": NEW_MEMBER_STATUS,
                        "merge_fields": {merge_tag(k): _text(v) for k, v in m.attributes.items()},
                    }
                    for m in chunk
                ],
                "update_existing": True,
            }
            answer = self.client.request("POST", f"/lists/{self.list_id}", json=body).json()
            for error in answer.get("errors", []):
                code = error.get("error_code") or "ERROR"
                why = f"{code}: {error.get('error')}"
                failed[error["email_address"].lower()] = self.client.scrub(why, REASON_LIMIT)
            for member in answer.get("new_members", []) + answer.get("updated_members", []):
                status = member.get("status")
                if status != MAILABLE_STATUS:
                    failed[member["email_address"].lower()] = esp_status(status)
        return failed

    def _segment_call(self, segment: int, body: dict[str, list[str]]) -> dict[str, str]:
        answer = self.client.request(
            "POST", f"/lists/{self.list_id}/segments/{segment}", json=body
        ).json()
        failed = {}
        for error in answer.get("errors", []):
            for email in error.get("email_addresses", []):
                why = f"segment: {error.get('error')}"
                failed[email.lower()] = self.client.scrub(why, REASON_LIMIT)
        return failed
