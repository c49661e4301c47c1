"""Klaviyo: one list per audience, filled by bulk profile import jobs (API revision below).

- adds: `POST /api/profile-bulk-import-jobs` with the list as the job's relationship (up to
  10,000 profiles and 5 MB a job), polled until `complete`; the job's import errors are the
  members that failed (never marked published, never retried by the engine). A job that
  ends in any other status (`cancelled`) is submitted again, a few times, before the batch
  fails, with the last job's status in the error.
- updates: the same import job without the list: the profiles' properties change.
- removes: the profiles' ids by e-mail (`GET /api/profiles?filter=any(email,[...])`, 100 a
  page), then `DELETE /api/lists/{id}/relationships/profiles` (1,000 a call). Removing takes
  a profile off the list only: its consent and subscriptions stay as they are.
Consent is one-way: imports carry no `subscriptions`, so they never subscribe, unsubscribe or
unsuppress anyone (the bulk subscribe endpoint, which would lift suppressions, is not used).
Nor is a profile Klaviyo will not mail published: before adds and updates the profiles are
read with their `subscriptions` (`GET /api/profiles`, 100 a call), and one under a global
suppression, unsubscribed, or suppressed from our list is a failed member
(`esp_status: unsubscribed`, `cleaned`, `complained`; see `email_status`), left out of the
import and never counted as confirmed; marts.suppressions then suppresses the contact.
Every call is idempotent, so a batch sent again after a crash changes nothing twice; the list
is created once, looked up again if the answer to its creation is lost (`find_or_create`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from orchestration.publish.adapters import REASON_LIMIT, Batch, BatchResult, Member, esp_status
from orchestration.publish.esp import JobAdapter, chunks, find_or_create, payload_chunks
from orchestration.publish.http import ApiClient, RetryPolicy

REVISION = "2026-07-15"
IMPORT_MAX_PROFILES = 10_000
IMPORT_MAX_BYTES = 5_000_000
LIST_CALL_MAX_PROFILES = 1_000
PROFILE_PAGE_SIZE = 100
ERROR_PAGE_SIZE = 100
STEADY_PER_MINUTE = 150  # bulk import and list relationship endpoints (burst 10/s)
# Our attributes that are Klaviyo profile fields; every other one is a custom property.
PROFILE_FIELDS = {"first_name": "first_name"}
# Klaviyo's global suppression reasons as the ESP statuses marts.suppressions knows; a reason
# not listed here is `suppressed` (still suppressing: fail safe).
SUPPRESSION_STATUS = {
    "UNSUBSCRIBE": "unsubscribed",
    "USER_SUPPRESSED": "unsubscribed",
    "SPAM_COMPLAINT": "complained",
    "HARD_BOUNCE": "cleaned",
    "INVALID_EMAIL": "cleaned",
}


def klaviyo_client(
    api_key: str, base_url: str, policy: RetryPolicy, revision: str = REVISION
) -> ApiClient:
    return ApiClient(
        "klaviyo",
        base_url,
        headers={
            "Authorization": f"Klaviyo-API-Key {api_key}",
            "revision": revision,
            "accept": "application/vnd.api+json",
            "content-type": "application/vnd.api+json",
        },
        secrets=[api_key],
        policy=policy,
    )


def profile(member: Member) -> dict[str, Any]:
    """A member as a Klaviyo profile: e-mail, profile fields, the rest as properties."""
    attributes: dict[str, Any] = {"email": member.email}
    properties = {}
    for name, value in member.attributes.items():
        if name in PROFILE_FIELDS:
            attributes[PROFILE_FIELDS[name]] = value
        else:
            properties[name] = value
    attributes["properties"] = properties
    return {"type": "profile", "attributes": attributes}


class KlaviyoAdapter(JobAdapter):
    name = "klaviyo"
    max_batch = IMPORT_MAX_PROFILES

    def __init__(self, client: ApiClient, **job_options: Any) -> None:
        super().__init__(client, **job_options)
        self._lists: dict[str, str] = {}

    # -- the adapter interface -----------------------------------------------------------
    def send(self, batch: Batch) -> BatchResult:
        list_id = self.list_id(batch.list_name)
        if batch.action == "remove":
            self._remove(list_id, batch.members)
            return BatchResult(confirmed=tuple(m.email for m in batch.members))
        failed = self._not_mailable(batch.members, list_id)
        mailable = [m for m in batch.members if m.email not in failed]
        for chunk in payload_chunks(mailable, profile, IMPORT_MAX_PROFILES, IMPORT_MAX_BYTES):
            failed.update(self._import(chunk, list_id if batch.action == "add" else None))
        confirmed = tuple(m.email for m in batch.members if m.email not in failed)
        return BatchResult(confirmed=confirmed, failed=failed)

    # -- lists ---------------------------------------------------------------------------
    def list_id(self, name: str) -> str:
        """The list named `name`, created on first use."""
        if name not in self._lists:
            self._lists[name] = find_or_create(
                self.client,
                f"list {name!r}",
                lambda: self._find_list(name),
                lambda: self._create_list(name),
            )
        return self._lists[name]

    def _find_list(self, name: str) -> str | None:
        quoted = json.dumps(name)
        found = self.client.request(
            "GET", "/api/lists", params={"filter": f"equals(name,{quoted})"}
        ).json()["data"]
        return found[0]["id"] if found else None

    def _create_list(self, name: str) -> str:
        created = self.client.request(
            "POST",
            "/api/lists",
            json={"data": {"type": "list", "attributes": {"name": name}}},
            idempotent=False,
        ).json()
        return created["data"]["id"]

    # -- profiles ------------------------------------------------------------------------
    def _profiles(self, emails: Sequence[str], subscriptions: bool = False) -> Iterator[dict]:
        """The profiles Klaviyo has for these addresses (id and e-mail; with `subscriptions`,
        their consent and suppressions too)."""
        for chunk in chunks(emails, PROFILE_PAGE_SIZE):
            quoted = ",".join(json.dumps(e) for e in chunk)
            params = {
                "filter": f"any(email,[{quoted}])",
                "page[size]": PROFILE_PAGE_SIZE,
                "fields[profile]": "email,subscriptions" if subscriptions else "email",
            }
            if subscriptions:
                params["additional-fields[profile]"] = "subscriptions"
            yield from self.client.request("GET", "/api/profiles", params=params).json()["data"]

    def _not_mailable(self, members: Sequence[Member], list_id: str) -> dict[str, str]:
        """email -> `esp_status: ...`, for the members Klaviyo would not mail from our list."""
        wanted = {m.email.lower(): m.email for m in members}
        failed = {}
        for found in self._profiles(list(wanted), subscriptions=True):
            attributes = found.get("attributes", {})
            status = email_status(attributes.get("subscriptions"), list_id)
            email = wanted.get(str(attributes.get("email", "")).lower())
            if status and email:
                failed[email] = esp_status(status)
        return failed

    # -- adds and updates ----------------------------------------------------------------
    def _import(self, members: Sequence[Member], list_id: str | None) -> dict[str, str]:
        body: dict[str, Any] = {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {"profiles": {"data": [profile(m) for m in members]}},
            }
        }
        if list_id:
            body["data"]["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
        job_id = status = ""
        for _ in range(self.job_attempts):
            job = self.client.request("POST", "/api/profile-bulk-import-jobs", json=body).json()
            job_id = job["data"]["id"]
            status = self.wait_for(
                f"/api/profile-bulk-import-jobs/{job_id}", _job_status, {"queued", "processing"}
            )
            if status == "complete":
                return self._import_errors(job_id, members)
        # Named by the last job's own status: `cancelled` is the one Klaviyo documents.
        raise self.gave_up(f"import {job_id}", status)

    def _import_errors(self, job_id: str, members: Sequence[Member]) -> dict[str, str]:
        """email -> why, for each profile the job could not import."""
        failed: dict[str, str] = {}
        path = f"/api/profile-bulk-import-jobs/{job_id}/import-errors"
        params: dict[str, Any] | None = {"page[size]": ERROR_PAGE_SIZE}
        while path:
            page = self.client.request("GET", path, params=params).json()
            for error in page.get("data", []):
                attributes = error.get("attributes", {})
                email = _failed_email(attributes, members)
                if email:
                    why = f"{attributes.get('code')}: {attributes.get('detail')}"
                    failed[email] = self.client.scrub(why, REASON_LIMIT)
            following = (page.get("links") or {}).get("next")
            path = following.removeprefix(self.client.base_url) if following else ""
            params = None  # the next link carries its cursor
        return failed

    # -- removes -------------------------------------------------------------------------
    def _remove(self, list_id: str, members: Sequence[Member]) -> None:
        ids = [p["id"] for p in self._profiles([m.email for m in members])]
        for chunk in chunks(ids, LIST_CALL_MAX_PROFILES):
            self.client.request(
                "DELETE",
                f"/api/lists/{list_id}/relationships/profiles",
                json={"data": [{"type": "profile", "id": i} for i in chunk]},
            )


def email_status(subscriptions: dict[str, Any] | None, list_id: str) -> str | None:
    """Why Klaviyo will not mail this profile e-mail marketing from our list, as an ESP status
    (a global suppression's reason, `unsubscribed` for an opt-out or a suppression from our
    list), or None if it will. A profile never subscribed and not suppressed is mailable:
    Klaviyo's own `can_receive_email_marketing` means "no global suppression"."""
    marketing = ((subscriptions or {}).get("email") or {}).get("marketing") or {}
    for suppression in marketing.get("suppression") or []:
        return SUPPRESSION_STATUS.get(str(suppression.get("reason", "")).upper(), "suppressed")
    if marketing.get("can_receive_email_marketing") is False:
        return "suppressed"
    if any(s.get("list_id") == list_id for s in marketing.get("list_suppressions") or []):
        return "unsubscribed"
    if marketing.get("consent") == "UNSUBSCRIBED":
        return "unsubscribed"
    return None


def _job_status(answer: dict[str, Any]) -> str:
    return answer["data"]["attributes"]["status"]


def _failed_email(attributes: dict[str, Any], members: Sequence[Member]) -> str | None:
    """The member an import error is about: from its original payload, else its pointer."""
    payload = attributes.get("original_payload") or {}
    email = (payload.get("attributes") or {}).get("email") or payload.get("email")
    if email:
        return str(email)
    pointer = (attributes.get("source") or {}).get("pointer") or ""
    index = pointer.rstrip("/").rsplit("/", 1)[-1]
    if index.isdigit() and int(index) < len(members):
        return members[int(index)].email
    return None
