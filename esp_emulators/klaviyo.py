"""Klaviyo's JSON:API, the part the adapter uses (revision 2026-07-15): lists, bulk profile
import jobs with their import errors, profile lookup by e-mail, list relationship removal.
Responses and error bodies have Klaviyo's shapes; limits are Klaviyo's published ones."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from typing import Any

from esp_emulators.base import Emulator, Faults, Reply, Request

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIST_FILTER = re.compile(r"^equals\(name,(\".*\")\)$")
EMAIL_FILTER = re.compile(r"^any\(email,\[(.*)\]\)$")


class KlaviyoEmulator(Emulator):
    creates = re.compile(r"^POST /api/lists$")

    def __init__(
        self,
        api_key: str,
        faults: Faults | None = None,
        steady_per_minute: float = 0.0,
        polls_until_complete: int = 1,
    ) -> None:
        super().__init__(faults, steady_per_minute)
        self.api_key = api_key
        self.polls_until_complete = polls_until_complete
        self.rejected: set[str] = set()  # addresses Klaviyo refuses (besides malformed ones)
        self.profiles: dict[str, dict[str, Any]] = {}  # email -> profile
        self.lists: dict[str, dict[str, Any]] = {}  # id -> {"name", "members": set of ids}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.duplicate_adds = 0  # a profile added to a list it was already on
        self.failed_jobs_left = self.faults.failed_jobs
        self._ids = itertools.count(1)

    # -- what the tests read -------------------------------------------------------------
    def members(self, list_name: str) -> set[str]:
        by_id = {p["id"]: email for email, p in self.profiles.items()}
        with self.lock:
            for entry in self.lists.values():
                if entry["name"] == list_name:
                    return {by_id[i] for i in entry["members"]}
        return set()

    def suppress(self, email: str, reason: str, list_id: str | None = None) -> None:
        """Put a profile under a global suppression (`HARD_BOUNCE`, `UNSUBSCRIBE`, ...), or
        with `list_id` suppress it from that list only, as Klaviyo records it."""
        with self.lock:
            known = self.profiles.setdefault(email, {"id": f"P{next(self._ids)}", "properties": {}})
            marketing = known.setdefault("subscriptions", _subscriptions())["email"]["marketing"]
            entry = {"reason": reason, "timestamp": "2026-11-20T00:00:00+00:00"}
            if list_id:
                marketing["list_suppressions"].append({**entry, "list_id": list_id})
            else:
                marketing["suppression"].append(entry)
                marketing["can_receive_email_marketing"] = False
            if reason in ("UNSUBSCRIBE", "USER_SUPPRESSED"):
                marketing["consent"] = "UNSUBSCRIBED"

    def list_id(self, list_name: str) -> str | None:
        return next((i for i, e in self.lists.items() if e["name"] == list_name), None)

    def error_body(self, status: int, title: str, detail: str) -> Any:
        code = {401: "not_authenticated", 429: "throttled"}.get(status, "error")
        return {
            "errors": [
                {
                    "id": str(uuid.uuid4()),
                    "status": status,
                    "code": code,
                    "title": title,
                    "detail": detail,
                    "source": {"pointer": "/data/"},
                }
            ]
        }

    def _fail(self, status: int, title: str, detail: str) -> Reply:
        return Reply(status, self.error_body(status, title, detail))

    # -- routes ----------------------------------------------------------------------------
    def route(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"Klaviyo-API-Key {self.api_key}":
            raise self._fail(
                401,
                "Authentication credentials were not provided.",
                "Missing or invalid private key.",
            )
        if not request.headers.get("revision"):
            raise self._fail(400, "Invalid revision", "The revision header is required.")
        parts = request.path.strip("/").split("/")
        self.count(f"{request.method} {re.sub(r'/[LJP][0-9]+', '/{id}', request.path)}")
        with self.lock:
            match request.method, parts:
                case "GET", ["api", "lists"]:
                    return self._get_lists(request)
                case "POST", ["api", "lists"]:
                    return self._create_list(request)
                case "POST", ["api", "profile-bulk-import-jobs"]:
                    return self._create_job(request)
                case "GET", ["api", "profile-bulk-import-jobs", job_id]:
                    return self._get_job(job_id)
                case "GET", ["api", "profile-bulk-import-jobs", job_id, "import-errors"]:
                    return self._get_errors(job_id, request)
                case "GET", ["api", "profiles"]:
                    return self._get_profiles(request)
                case "DELETE", ["api", "lists", list_id, "relationships", "profiles"]:
                    return self._remove(list_id, request)
        raise self._fail(404, "Not found", f"{request.method} {request.path} is not emulated.")

    def _get_lists(self, request: Request) -> tuple[int, Any]:
        match = LIST_FILTER.match(request.query.get("filter", [""])[0])
        name = json.loads(match.group(1)) if match else None
        data = [
            {"type": "list", "id": i, "attributes": {"name": entry["name"]}}
            for i, entry in self.lists.items()
            if name is None or entry["name"] == name
        ]
        return 200, {"data": data, "links": {"next": None}}

    def _create_list(self, request: Request) -> tuple[int, Any]:
        name = request.body["data"]["attributes"]["name"]
        list_id = f"L{next(self._ids)}"
        self.lists[list_id] = {"name": name, "members": set()}
        return 201, {"data": {"type": "list", "id": list_id, "attributes": {"name": name}}}

    def _create_job(self, request: Request) -> tuple[int, Any]:
        data = request.body["data"]
        profiles = data["attributes"]["profiles"]["data"]
        if len(profiles) > 10_000:
            raise self._fail(400, "Invalid input", "At most 10000 profiles per job.")
        if len(json.dumps(request.body)) > 5_000_000:
            raise self._fail(413, "Payload too large", "At most 5MB per request.")
        lists = [r["id"] for r in data.get("relationships", {}).get("lists", {}).get("data", [])]
        for list_id in lists:
            if list_id not in self.lists:
                raise self._fail(404, "Not found", f"List {list_id} does not exist.")
        job_id = f"J{next(self._ids)}"
        job = {"status": "queued", "polls": 0, "errors": [], "total": len(profiles)}
        if self.failed_jobs_left > 0:
            self.failed_jobs_left -= 1
            job["ends"] = "cancelled"  # nothing of it is applied
        else:
            job["ends"] = "complete"
            self._apply(job, profiles, lists)
        self.jobs[job_id] = job
        return 202, {"data": self._job_resource(job_id)}

    def _apply(self, job: dict[str, Any], profiles: list[dict], lists: list[str]) -> None:
        for position, item in enumerate(profiles):
            attributes = item["attributes"]
            email = attributes.get("email")
            if not email or not EMAIL.match(email) or email in self.rejected:
                job["errors"].append(
                    {
                        "code": "invalid",
                        "title": "Invalid input.",
                        "detail": f"Invalid email address: {email}",
                        "source": {"pointer": f"/data/attributes/profiles/data/{position}"},
                        "original_payload": item,
                    }
                )
                continue
            known = self.profiles.setdefault(email, {"id": f"P{next(self._ids)}", "properties": {}})
            known["first_name"] = attributes.get("first_name", known.get("first_name"))
            known["properties"].update(attributes.get("properties") or {})
            for list_id in lists:
                members = self.lists[list_id]["members"]
                if known["id"] in members:
                    self.duplicate_adds += 1
                members.add(known["id"])

    def _job_resource(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        done = job["status"] == "complete"
        return {
            "type": "profile-bulk-import-job",
            "id": job_id,
            "attributes": {
                "status": job["status"],
                "total_count": job["total"],
                "completed_count": job["total"] - len(job["errors"]) if done else 0,
                "failed_count": len(job["errors"]) if done else 0,
                "created_at": "2026-11-23T00:00:00+00:00",
            },
            "links": {"self": f"{self.base_url}/api/profile-bulk-import-jobs/{job_id}"},
        }

    def _get_job(self, job_id: str) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise self._fail(404, "Not found", f"Job {job_id} does not exist.")
        job["polls"] += 1
        if job["polls"] > self.polls_until_complete:
            job["status"] = job["ends"]
        elif job["status"] == "queued":
            job["status"] = "processing"
        return 200, {"data": self._job_resource(job_id)}

    def _get_errors(self, job_id: str, request: Request) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise self._fail(404, "Not found", f"Job {job_id} does not exist.")
        size = int(request.query.get("page[size]", ["20"])[0])
        if not 1 <= size <= 100:
            raise self._fail(400, "Invalid input", "page[size] must be between 1 and 100.")
        start = int(request.query.get("page[cursor]", ["0"])[0])
        page = job["errors"][start : start + size]
        following = None
        if start + size < len(job["errors"]):
            following = (
                f"{self.base_url}/api/profile-bulk-import-jobs/{job_id}/import-errors"
                f"?page%5Bsize%5D={size}&page%5Bcursor%5D={start + size}"
            )
        data = [{"type": "import-error", "id": str(uuid.uuid4()), "attributes": e} for e in page]
        return 200, {"data": data, "links": {"next": following}}

    def _get_profiles(self, request: Request) -> tuple[int, Any]:
        size = int(request.query.get("page[size]", ["20"])[0])
        if not 1 <= size <= 100:
            raise self._fail(400, "Invalid input", "page[size] must be between 1 and 100.")
        match = EMAIL_FILTER.match(request.query.get("filter", [""])[0])
        if not match:
            raise self._fail(400, "Invalid filter", "Only any(email,[...]) is emulated.")
        emails = json.loads(f"[{match.group(1)}]")
        if len(emails) > 100:
            raise self._fail(400, "Invalid filter", "At most 100 values in any().")
        # `subscriptions` is an additional field: only there when asked for.
        extra = request.query.get("additional-fields[profile]", [""])[0].split(",")
        found = []
        for email in emails:
            if email in self.profiles:
                attributes: dict[str, Any] = {"email": email}
                if "subscriptions" in extra:
                    attributes["subscriptions"] = self.profiles[email].get(
                        "subscriptions", _subscriptions()
                    )
                found.append(
                    {"type": "profile", "id": self.profiles[email]["id"], "attributes": attributes}
                )
        return 200, {"data": found[:size], "links": {"next": None}}

    def _remove(self, list_id: str, request: Request) -> tuple[int, Any]:
        entry = self.lists.get(list_id)
        if entry is None:
            raise self._fail(404, "Not found", f"List {list_id} does not exist.")
        ids = [item["id"] for item in request.body["data"]]
        if len(ids) > 1_000:
            raise self._fail(400, "Invalid input", "At most 1000 profiles per call.")
        entry["members"].difference_update(ids)
        return 204, None


def _subscriptions() -> dict[str, Any]:
    """A profile's `subscriptions` as Klaviyo answers them for one never subscribed."""
    return {
        "email": {
            "marketing": {
                "can_receive_email_marketing": True,
                "consent": "NEVER_SUBSCRIBED",
                "suppression": [],
                "list_suppressions": [],
            }
        }
    }
