"""SendGrid Marketing Campaigns v3, the part the adapter uses: lists, custom field
definitions, the async contact upsert and its job status, contact search by e-mail and list
membership removal. Error bodies, the rate-limit headers (an epoch reset) and the request
limits are SendGrid's."""

from __future__ import annotations

import itertools
import json
import math
import re
import time
import uuid
from typing import Any

from esp_emulators.base import Emulator, Faults, Reply, Request

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UUID_IN_PATH = re.compile(r"/[0-9a-f-]{36}(?=/|$)")
SUPPRESSION_LISTS = ("unsubscribes", "spam_reports", "bounces", "invalid_emails")


class SendGridEmulator(Emulator):
    creates = re.compile(r"^POST /v3/marketing/(lists|field_definitions)$")

    def __init__(
        self,
        api_key: str,
        faults: Faults | None = None,
        steady_per_minute: float = 0.0,
        polls_until_done: int = 1,
    ) -> None:
        super().__init__(faults, steady_per_minute)
        self.api_key = api_key
        self.polls_until_done = polls_until_done
        self.contacts: dict[str, dict[str, Any]] = {}  # email -> contact
        self.lists: dict[str, dict[str, Any]] = {}  # id -> {"name", "members": set of emails}
        self.fields: dict[str, str] = {}  # custom field id -> name
        self.jobs: dict[str, dict[str, Any]] = {}
        self.rejected: set[str] = set()  # valid-looking addresses the job drops (errored)
        # The account's global suppression lists, kept apart from contacts.
        self.suppressions: dict[str, list[dict[str, Any]]] = {n: [] for n in SUPPRESSION_LISTS}
        self.duplicate_adds = 0
        self.failed_jobs_left = self.faults.failed_jobs
        self._ids = itertools.count(1)

    def members(self, list_name: str) -> set[str]:
        with self.lock:
            for entry in self.lists.values():
                if entry["name"] == list_name:
                    return set(entry["members"])
        return set()

    def suppress(self, email: str, suppression_list: str) -> None:
        """Put an address on one of the global suppression lists (`unsubscribes`, ...)."""
        with self.lock:
            entry = {"email": email, "created": int(time.time())}
            if suppression_list in ("bounces", "invalid_emails"):
                entry["reason"] = (
                    "550 5.1.1 The email account that you tried to reach does not exist"
                )
            self.suppressions[suppression_list].append(entry)

    def error_body(self, status: int, title: str, detail: str) -> Any:
        return {"errors": [{"field": None, "message": detail}]}

    def throttle_headers(self, wait: float) -> dict[str, str]:
        reset = math.ceil(time.time() + wait)
        return {
            "X-RateLimit-Limit": "600",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        }

    def _fail(self, status: int, message: str, field: str | None = None) -> Reply:
        return Reply(status, {"errors": [{"field": field, "message": message}]})

    def route(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise self._fail(401, "authorization required")
        self.count(f"{request.method} {UUID_IN_PATH.sub('/{id}', request.path)}")
        parts = request.path.strip("/").split("/")
        with self.lock:
            match request.method, parts:
                case "GET", ["v3", "marketing", "lists"]:
                    size = int(request.query.get("page_size", ["100"])[0])
                    if not 1 <= size <= 1000:
                        raise self._fail(400, "page_size must be between 1 and 1000", "page_size")
                    found = [
                        {"id": i, "name": e["name"], "contact_count": len(e["members"])}
                        for i, e in self.lists.items()
                    ]
                    return 200, {"result": found[:size], "_metadata": {}}
                case "POST", ["v3", "marketing", "lists"]:
                    list_id = str(uuid.uuid4())
                    self.lists[list_id] = {"name": request.body["name"], "members": set()}
                    return 201, {"id": list_id, "name": request.body["name"], "contact_count": 0}
                case "GET", ["v3", "marketing", "field_definitions"]:
                    custom = [
                        {"id": i, "name": n, "field_type": "Text"} for i, n in self.fields.items()
                    ]
                    reserved = [{"id": "_rf1_T", "name": "first_name", "field_type": "Text"}]
                    return 200, {"custom_fields": custom, "reserved_fields": reserved}
                case "POST", ["v3", "marketing", "field_definitions"]:
                    taken = {n.casefold() for n in self.fields.values()} | {"first_name"}
                    if request.body["name"].casefold() in taken:
                        # Names are unique regardless of case, reserved ones included.
                        raise self._fail(400, "Field definition name already exists", "name")
                    field_id = f"e{next(self._ids)}_T"
                    self.fields[field_id] = request.body["name"]
                    return 200, {
                        "id": field_id,
                        "name": request.body["name"],
                        "field_type": request.body.get("field_type", "Text"),
                    }
                case "GET", ["v3", "suppression", name] if name in SUPPRESSION_LISTS:
                    limit = int(request.query.get("limit", ["500"])[0])
                    offset = int(request.query.get("offset", ["0"])[0])
                    if not 1 <= limit <= 500:
                        raise self._fail(400, "limit must be between 1 and 500", "limit")
                    return 200, self.suppressions[name][offset : offset + limit]
                case "PUT", ["v3", "marketing", "contacts"]:
                    return self._upsert(request)
                case "GET", ["v3", "marketing", "contacts", "imports", job_id]:
                    return self._job(job_id)
                case "POST", ["v3", "marketing", "contacts", "search", "emails"]:
                    return self._search(request)
                case "DELETE", ["v3", "marketing", "lists", list_id, "contacts"]:
                    return self._remove(list_id, request)
        raise self._fail(404, f"{request.method} {request.path} is not emulated")

    def _upsert(self, request: Request) -> tuple[int, Any]:
        contacts = request.body.get("contacts", [])
        if not 1 <= len(contacts) <= 30_000:
            raise self._fail(400, "contacts must hold 1 to 30000 items", "contacts")
        if len(json.dumps(request.body)) > 6_000_000:
            raise self._fail(413, "request body is larger than 6MB")
        list_ids = request.body.get("list_ids", [])
        for list_id in list_ids:
            if list_id not in self.lists:
                raise self._fail(404, f"list {list_id} does not exist", "list_ids")
        errors = []
        for i, contact in enumerate(contacts):
            if not EMAIL.match(contact.get("email", "")):
                errors.append({"field": f"contacts[{i}].email", "message": "must be a valid email"})
            unknown = set(contact.get("custom_fields") or {}) - set(self.fields)
            if unknown:
                errors.append(
                    {
                        "field": f"contacts[{i}].custom_fields",
                        "message": f"custom field ids {sorted(unknown)} do not exist",
                    }
                )
        if errors:
            raise Reply(400, {"errors": errors})
        job_id = str(uuid.uuid4())
        job = {"status": "pending", "polls": 0, "requested": len(contacts), "errored": 0}
        if self.failed_jobs_left > 0:
            self.failed_jobs_left -= 1
            job["ends"] = "failed"
        else:
            job["errored"] = self._apply(contacts, list_ids)
            job["ends"] = "errored" if job["errored"] else "completed"
        self.jobs[job_id] = job
        return 202, {"job_id": job_id}

    def _apply(self, contacts: list[dict[str, Any]], list_ids: list[str]) -> int:
        errored = 0
        for contact in contacts:
            email = contact["email"].lower()
            if email in self.rejected:
                errored += 1
                continue
            stored = self.contacts.setdefault(
                email, {"id": str(uuid.uuid4()), "email": email, "custom_fields": {}}
            )
            if "first_name" in contact:
                stored["first_name"] = contact["first_name"]
            stored["custom_fields"].update(contact.get("custom_fields") or {})
            for list_id in list_ids:
                members = self.lists[list_id]["members"]
                if email in members:
                    self.duplicate_adds += 1
                members.add(email)
        return errored

    def _job(self, job_id: str) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise self._fail(404, "job not found")
        job["polls"] += 1
        if job["polls"] > self.polls_until_done:
            job["status"] = job["ends"]
        results: dict[str, Any] = {
            "requested_count": job["requested"],
            "errored_count": job["errored"],
        }
        if job["status"] == "errored":
            results["errors_url"] = f"{self.base_url}/errors/{job_id}.csv"
        return 200, {
            "id": job_id,
            "status": job["status"],
            "job_type": "upsert",
            "results": results,
        }

    def _contact_view(self, email: str) -> dict[str, Any]:
        stored = self.contacts[email]
        list_ids = [i for i, e in self.lists.items() if email in e["members"]]
        return {**stored, "list_ids": list_ids}

    def _search(self, request: Request) -> tuple[int, Any]:
        emails = request.body.get("emails", [])
        if len(emails) > 100:
            raise self._fail(400, "at most 100 emails per search", "emails")
        result = {}
        for email in emails:
            key = email.lower()
            if key in self.contacts:
                result[key] = {"contact": self._contact_view(key)}
            else:
                result[key] = {"error": "contact not found"}
        if not any("contact" in r for r in result.values()):
            raise self._fail(404, "No results found")
        return 200, {"result": result}

    def _remove(self, list_id: str, request: Request) -> tuple[int, Any]:
        entry = self.lists.get(list_id)
        if entry is None:
            raise self._fail(404, "list not found")
        ids = [i for i in request.query.get("contact_ids", [""])[0].split(",") if i]
        if not ids:
            raise self._fail(400, "contact_ids is required", "contact_ids")
        by_id = {c["id"]: email for email, c in self.contacts.items()}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise self._fail(404, "one or more contact IDs do not exist")
        entry["members"].difference_update(by_id[i] for i in ids)
        job_id = str(uuid.uuid4())
        self.jobs[job_id] = {
            "status": "pending",
            "polls": 0,
            "requested": len(ids),
            "errored": 0,
            "ends": "completed",
        }
        return 202, {"job_id": job_id}
