"""SendGrid Marketing Campaigns (v3): one contact list per audience, bearer auth.

- adds: `PUT /v3/marketing/contacts` with the list in `list_ids` (an async upsert job: at
  most 30,000 contacts or 6 MB a request), polled at `GET /v3/marketing/contacts/imports/{id}`
  until it is no longer pending. Contacts the request's validation refuses (a 400 naming
  `contacts[i]`) are failed members and the rest is sent again; after a job that `errored`,
  the contacts are looked up by e-mail and those not on the list are failed members. A
  `failed` job is submitted again (3 tries) before the batch fails.
- updates: the same upsert without `list_ids`.
- removes: contact ids by e-mail (`POST /v3/marketing/contacts/search/emails`, 100 a call),
  then `DELETE /v3/marketing/lists/{id}/contacts?contact_ids=...` (100 a call, async): the
  contacts leave the list and are not deleted.
Consent is one-way: Marketing Campaigns keeps unsubscribes and suppressions apart from
contacts, and nothing here changes them. They are read, though: before the first add or
update of a sync the account's global suppression lists (unsubscribes, spam reports, bounces,
invalid e-mails; `GET /v3/suppression/<list>`, 500 a page) are read once, and a member on one
is a failed member (`esp_status: unsubscribed`, `complained`, `cleaned`), left out of the
upsert and never counted as confirmed; marts.suppressions then suppresses the contact. (Group
unsubscribes reach the pipeline as events.) Custom fields are created once if missing (Text;
SendGrid's names are unique regardless of case, so `Reason` is our `reason`). A list or field
whose creation lost its answer, or that SendGrid says exists already, is looked up again
rather than created twice (`find_or_create`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from orchestration.publish.adapters import Batch, BatchResult, Member, esp_status
from orchestration.publish.esp import JobAdapter, chunks, find_or_create, payload_chunks
from orchestration.publish.http import ApiClient, ApiError, RetryPolicy

UPSERT_MAX_CONTACTS = 30_000
UPSERT_MAX_BYTES = 6_000_000
SEARCH_MAX_EMAILS = 100
REMOVE_MAX_IDS = 100
RESERVED = {"first_name": "first_name"}  # our attribute -> SendGrid reserved field
# The account's global suppression lists, as the ESP statuses marts.suppressions knows (an
# address on two lists takes the first's).
SUPPRESSION_LISTS = {
    "unsubscribes": "unsubscribed",
    "spam_reports": "complained",
    "bounces": "cleaned",
    "invalid_emails": "cleaned",
}
SUPPRESSION_PAGE_SIZE = 500
_CONTACT_INDEX = re.compile(r"contacts\[(\d+)\]")


def sendgrid_client(api_key: str, base_url: str, policy: RetryPolicy) -> ApiClient:
    return ApiClient(
        "sendgrid",
        base_url,
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        secrets=[api_key],
        policy=policy,
    )


def _same(contact: dict[str, Any]) -> dict[str, Any]:
    return contact


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class SendGridAdapter(JobAdapter):
    name = "sendgrid"
    max_batch = UPSERT_MAX_CONTACTS

    def __init__(self, client: ApiClient, **job_options: Any) -> None:
        super().__init__(client, **job_options)
        self._lists: dict[str, str] = {}
        self._fields: dict[str, str] = {}  # custom field name (casefolded) -> id
        self._fields_listed = False
        self._suppressed: dict[str, str] | None = None  # email -> status, read once

    def suppressed(self) -> dict[str, str]:
        """Lower-cased email -> ESP status, for every address on the account's global
        suppression lists (read on first use, then kept for this adapter's sync)."""
        if self._suppressed is None:
            found: dict[str, str] = {}
            for name, status in SUPPRESSION_LISTS.items():
                offset = 0
                while True:
                    params = {"limit": SUPPRESSION_PAGE_SIZE, "offset": offset}
                    page = self.client.request("GET", f"/v3/suppression/{name}", params=params)
                    entries = page.json()
                    for entry in entries:
                        found.setdefault(str(entry["email"]).lower(), status)
                    if len(entries) < SUPPRESSION_PAGE_SIZE:
                        break
                    offset += SUPPRESSION_PAGE_SIZE
            self._suppressed = found
        return self._suppressed

    def send(self, batch: Batch) -> BatchResult:
        list_id = self.list_id(batch.list_name)
        emails = [m.email for m in batch.members]
        if batch.action == "remove":
            self._remove(list_id, emails)
            return BatchResult(confirmed=tuple(emails))
        suppressed = self.suppressed()
        failed = {
            m.email: esp_status(suppressed[m.email.lower()])
            for m in batch.members
            if m.email.lower() in suppressed
        }
        mailable = [m for m in batch.members if m.email not in failed]
        if mailable:
            failed.update(self._upsert(mailable, list_id if batch.action == "add" else None))
        return BatchResult(confirmed=tuple(e for e in emails if e not in failed), failed=failed)

    # -- setup ---------------------------------------------------------------------------
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
        found = self.client.request("GET", "/v3/marketing/lists", params={"page_size": 1000})
        ids = [e["id"] for e in found.json().get("result", []) if e["name"] == name]
        return ids[0] if ids else None

    def _create_list(self, name: str) -> str:
        body = {"name": name}
        answer = self.client.request("POST", "/v3/marketing/lists", json=body, idempotent=False)
        return answer.json()["id"]

    def _field_ids(self, attributes: Sequence[str]) -> dict[str, str]:
        """attribute -> custom field id, for each attribute that is not a reserved field."""
        if not self._fields_listed:
            self._list_fields()
        ids = {}
        for name in attributes:
            if name in RESERVED:
                continue
            key = name.casefold()
            if key not in self._fields:
                # Just listed: no second look before the create (one after, if need be).
                self._fields[key] = find_or_create(
                    self.client,
                    f"custom field {name!r}",
                    lambda key=key: self._list_fields().get(key),
                    lambda name=name: self._create_field(name),
                    look_first=False,
                )
            ids[name] = self._fields[key]
        return ids

    def _list_fields(self) -> dict[str, str]:
        """Custom field ids by casefolded name, as SendGrid has them now (kept in `_fields`)."""
        found = self.client.request("GET", "/v3/marketing/field_definitions").json()
        self._fields = {f["name"].casefold(): f["id"] for f in found.get("custom_fields", [])}
        self._fields_listed = True
        return self._fields

    def _create_field(self, name: str) -> str:
        body = {"name": name, "field_type": "Text"}
        path = "/v3/marketing/field_definitions"
        return self.client.request("POST", path, json=body, idempotent=False).json()["id"]

    # -- upserts -------------------------------------------------------------------------
    def _contact(self, member: Member, fields: dict[str, str]) -> dict[str, Any]:
        contact: dict[str, Any] = {"email": member.email}
        custom = {}
        for name, value in member.attributes.items():
            if name in RESERVED:
                contact[RESERVED[name]] = _text(value)
            else:
                custom[fields[name]] = _text(value)
        contact["custom_fields"] = custom
        return contact

    def _upsert(self, members: Sequence[Member], list_id: str | None) -> dict[str, str]:
        fields = self._field_ids(sorted({a for m in members for a in m.attributes}))
        contacts = [self._contact(m, fields) for m in members]
        failed: dict[str, str] = {}
        for chunk in payload_chunks(contacts, _same, UPSERT_MAX_CONTACTS, UPSERT_MAX_BYTES):
            pending = list(chunk)
            while pending:
                body: dict[str, Any] = {"contacts": pending}
                if list_id:
                    body["list_ids"] = [list_id]
                refused, status = self._submit(body)
                if not refused:
                    if status == "errored":
                        failed.update(self._not_imported(pending, list_id))
                    break
                failed.update(refused)
                pending = [c for c in pending if c["email"] not in refused]
        return failed

    def _submit(self, body: dict[str, Any]) -> tuple[dict[str, str], str]:
        """Send the upsert and wait for its job: (the contacts refused up front, job status)."""
        job_id = ""
        for _ in range(self.job_attempts):
            try:
                answer = self.client.request("PUT", "/v3/marketing/contacts", json=body).json()
            except ApiError as exc:
                refused = self._refused(exc, body["contacts"])
                if refused:
                    return refused, "refused"
                raise
            job_id = answer["job_id"]
            status = self._wait_for(job_id)
            if status != "failed":
                return {}, status
        raise self.gave_up(f"upsert {job_id}", "failed")

    def _refused(self, exc: ApiError, contacts: list[dict[str, Any]]) -> dict[str, str]:
        """email -> why, for the contacts a 400 validation error names."""
        if exc.status != 400 or not isinstance(exc.body, dict):
            return {}
        refused = {}
        for error in exc.body.get("errors", []):
            match = _CONTACT_INDEX.search(str(error.get("field", "")))
            if match and int(match.group(1)) < len(contacts):
                refused[contacts[int(match.group(1))]["email"]] = str(error.get("message"))
        return refused

    def _wait_for(self, job_id: str) -> str:
        path = f"/v3/marketing/contacts/imports/{job_id}"
        return self.wait_for(path, lambda job: job["status"], {"pending"})

    def _not_imported(self, contacts: list[dict[str, Any]], list_id: str | None) -> dict[str, str]:
        """After a job that errored: the contacts SendGrid does not have (on the list)."""
        found = self._lookup([c["email"] for c in contacts])
        failed = {}
        for contact in contacts:
            stored = found.get(contact["email"])
            if stored is None or (list_id and list_id not in stored.get("list_ids", [])):
                failed[contact["email"]] = "errored: not imported (see the job's errors_url)"
        return failed

    # -- removes -------------------------------------------------------------------------
    def _lookup(self, emails: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(emails, SEARCH_MAX_EMAILS):
            try:
                answer = self.client.request(
                    "POST", "/v3/marketing/contacts/search/emails", json={"emails": list(chunk)}
                ).json()
            except ApiError as exc:
                if exc.status == 404:  # none of them is a contact
                    continue
                raise
            for email, entry in answer.get("result", {}).items():
                if "contact" in entry:
                    found[email] = entry["contact"]
        return found

    def _remove(self, list_id: str, emails: Sequence[str]) -> None:
        ids = [c["id"] for c in self._lookup(emails).values() if list_id in c.get("list_ids", [])]
        for chunk in chunks(ids, REMOVE_MAX_IDS):
            answer = self.client.request(
                "DELETE",
                f"/v3/marketing/lists/{list_id}/contacts",
                params={"contact_ids": ",".join(chunk)},
            ).json()
            if answer.get("job_id"):
                self._wait_for(answer["job_id"])
