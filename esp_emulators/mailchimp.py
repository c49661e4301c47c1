"""Mailchimp Marketing API v3, the part the adapter uses: batch member upsert, static
segments and their batch membership, merge fields. Error bodies are Mailchimp's problem
documents; batch answers carry per-member errors as Mailchimp's do; limits are Mailchimp's."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from typing import Any

from esp_emulators.base import Emulator, Faults, Reply, Request

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ID = re.compile(r"/(?:[0-9a-f]{10}|[0-9]+)(?=/|$)")  # list and segment ids in a path
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


class MailchimpEmulator(Emulator):
    creates = re.compile(r"^POST /3\.0/lists/[^/]+/(segments|merge-fields)$")

    def __init__(
        self,
        api_key: str,
        list_id: str = "a1b2c3d4e5",
        faults: Faults | None = None,
        steady_per_minute: float = 0.0,
    ) -> None:
        super().__init__(faults, steady_per_minute)
        self.api_key = api_key
        self.list_id = list_id
        self.members: dict[str, dict[str, Any]] = {}  # subscriber hash -> member
        self.segments: dict[int, dict[str, Any]] = {}
        self.merge_fields: dict[str, str] = {"FNAME": "text", "LNAME": "text"}
        self.compliance: set[str] = set()  # addresses in a compliance state
        self.forgotten: set[str] = set()  # permanently deleted addresses
        self.status_changes = 0  # existing members whose status a request changed
        self.duplicate_adds = 0
        self._ids = itertools.count(1001)

    def segment_members(self, name: str) -> set[str]:
        with self.lock:
            for segment in self.segments.values():
                if segment["name"] == name:
                    return {self.members[h]["email_address"] for h in segment["members"]}
        return set()

    def error_body(self, status: int, title: str, detail: str) -> Any:
        return {
            "type": "https://mailchimp.com/developer/marketing/docs/errors/",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": "00000000-0000-0000-0000-000000000000",
        }

    def _fail(self, status: int, title: str, detail: str) -> Reply:
        return Reply(status, self.error_body(status, title, detail))

    def route(self, request: Request) -> tuple[int, Any]:
        auth = request.headers.get("Authorization", "")
        password = ""
        if auth.startswith("Basic "):
            password = base64.b64decode(auth[6:]).decode().partition(":")[2]
        if password != self.api_key:
            raise self._fail(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        parts = request.path.strip("/").split("/")
        if parts[:1] != ["3.0"]:
            raise self._fail(404, "Resource Not Found", "The requested resource was not found.")
        self.count(f"{request.method} {ID.sub('/{id}', request.path)}")
        with self.lock:
            match request.method, parts[1:]:
                case "POST", ["lists", list_id]:
                    self._check_list(list_id)
                    return self._batch_members(request)
                case "GET", ["lists", list_id, "merge-fields"]:
                    self._check_list(list_id)
                    fields = [{"tag": t, "type": k} for t, k in self.merge_fields.items()]
                    return 200, {"merge_fields": fields, "total_items": len(fields)}
                case "POST", ["lists", list_id, "merge-fields"]:
                    self._check_list(list_id)
                    return self._create_field(request)
                case "GET", ["lists", list_id, "segments"]:
                    self._check_list(list_id)
                    found = [
                        {"id": i, "name": s["name"], "type": "static"}
                        for i, s in self.segments.items()
                    ]
                    return 200, {"segments": found, "total_items": len(found)}
                case "POST", ["lists", list_id, "segments"]:
                    self._check_list(list_id)
                    segment_id = next(self._ids)
                    self.segments[segment_id] = {"name": request.body["name"], "members": set()}
                    return 200, {"id": segment_id, "name": request.body["name"], "type": "static"}
                case "POST", ["lists", list_id, "segments", segment_id]:
                    self._check_list(list_id)
                    return self._segment_members(int(segment_id), request)
        raise self._fail(404, "Resource Not Found", f"{request.method} {request.path}")

    def _check_list(self, list_id: str) -> None:
        if list_id != self.list_id:
            raise self._fail(404, "Resource Not Found", "The requested resource was not found.")

    def _create_field(self, request: Request) -> tuple[int, Any]:
        tag = request.body.get("tag", "")
        if not re.fullmatch(r"[A-Z0-9_]{1,10}", tag):
            raise self._fail(400, "Invalid Resource", "The merge field tag is invalid.")
        if tag in self.merge_fields:
            raise self._fail(
                400,
                "Invalid Resource",
                f'A Merge Field with the tag "{tag}" already exists for this list.',
            )
        self.merge_fields[tag] = request.body.get("type", "text")
        return 200, {"tag": tag, "name": request.body.get("name"), "type": self.merge_fields[tag]}

    def _batch_members(self, request: Request) -> tuple[int, Any]:
        members = request.body.get("members", [])
        if len(members) > 500:
            raise self._fail(400, "Invalid Resource", "Maximum batch size is 500 members.")
        update = bool(request.body.get("update_existing"))
        created, updated, errors = [], [], []
        for item in members:
            email = item.get("email_address", "")
            problem = self._refusal(email, item)
            if problem:
                errors.append({"email_address": email, **problem})
                continue
            key = subscriber_hash(email)
            known = self.members.get(key)
            if known is None:
                status = item.get("status") or item.get("status_if_new")
                if status not in STATUSES:
                    errors.append(
                        {
                            "email_address": email,
                            "error": "Invalid status",
                            "error_code": "ERROR_GENERIC",
                        }
                    )
                    continue
                self.members[key] = {
                    "email_address": email,
                    "status": status,
                    "merge_fields": dict(item.get("merge_fields") or {}),
                }
                created.append({"email_address": email, "id": key, "status": status})
            elif update:
                if item.get("status") and item["status"] != known["status"]:
                    self.status_changes += 1
                    known["status"] = item["status"]
                known["merge_fields"].update(item.get("merge_fields") or {})
                updated.append({"email_address": email, "id": key, "status": known["status"]})
            else:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is already a list member.",
                        "error_code": "ERROR_CONTACT_EXISTS",
                    }
                )
        return 200, {
            "new_members": created,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(created),
            "total_updated": len(updated),
            "error_count": len(errors),
        }

    def _refusal(self, email: str, item: dict[str, Any]) -> dict[str, str] | None:
        if not EMAIL.match(email):
            return {"error": "Please provide a valid email address.", "error_code": "ERROR_GENERIC"}
        if email in self.forgotten:
            return {
                "error": f"{email} was permanently deleted and cannot be re-imported. The "
                "contact must re-subscribe to get back on the list.",
                "error_code": "ERROR_GENERIC",
            }
        if email in self.compliance:
            return {
                "error": f"{email} is in a compliance state due to unsubscribe, bounce, or "
                "compliance review and cannot be subscribed.",
                "error_code": "ERROR_CONTACT_EXISTS",
            }
        unknown = set(item.get("merge_fields") or {}) - set(self.merge_fields)
        if unknown:
            return {
                "error": f"Your merge fields were invalid: {sorted(unknown)}",
                "error_code": "ERROR_GENERIC",
            }
        return None

    def _segment_members(self, segment_id: int, request: Request) -> tuple[int, Any]:
        segment = self.segments.get(segment_id)
        if segment is None:
            raise self._fail(404, "Resource Not Found", "The requested segment was not found.")
        to_add = request.body.get("members_to_add", [])
        to_remove = request.body.get("members_to_remove", [])
        if len(to_add) > 500 or len(to_remove) > 500:
            raise self._fail(400, "Invalid Resource", "At most 500 members per array.")
        added, removed, missing = [], [], []
        for email in to_add:
            key = subscriber_hash(email)
            if key not in self.members:
                missing.append(email)
                continue
            if key in segment["members"]:
                self.duplicate_adds += 1
            segment["members"].add(key)
            added.append({"email_address": email, "id": key})
        for email in to_remove:
            key = subscriber_hash(email)
            if key in segment["members"]:
                segment["members"].discard(key)
                removed.append({"email_address": email, "id": key})
        errors = []
        if missing:
            errors.append(
                {"email_addresses": missing, "error": "Email addresses not present on the list"}
            )
        return 200, {
            "members_added": added,
            "members_removed": removed,
            "errors": errors,
            "total_added": len(added),
            "total_removed": len(removed),
            "error_count": len(missing),
        }
