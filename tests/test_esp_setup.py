"""What an adapter creates at the ESP (lists, Mailchimp's static segments, merge and custom
fields) exists once: found before it is created, looked up again when the answer to a create
is lost, used when the ESP says it already exists. (The rest is in test_esp_adapters.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_emulators.base import Faults
from orchestration.publish.adapters import Batch, Member
from orchestration.publish.http import ApiError
from tests.audience_tables import make_people, make_warehouse
from tests.esp import ESPS, LIST, Esp, sync


@pytest.fixture(params=sorted(ESPS))
def esp(request: pytest.FixtureRequest) -> Esp:
    return ESPS[request.param]


@pytest.mark.parametrize("lost_status", [0, 504], ids=["dropped", "gateway-504"])
def test_a_create_whose_answer_is_lost_is_looked_up_not_made_again(
    tmp_path: Path, esp: Esp, lost_status: int
) -> None:
    # Every create is applied and its answer lost: a dropped connection, or a gateway's 504.
    server = esp.start(Faults(lose_create_answers=100, lost_answer_status=lost_status))
    try:
        path = tmp_path / "warehouse.duckdb"
        people = make_people(30)
        make_warehouse(path, people, [])
        report = sync(path, esp.adapter(server), "run-1")
        assert esp.members(server) == {p["email"] for p in people if not p["holdout"]}
        assert report.failed == 0
        objects = esp.objects(server)
        assert objects[("list", LIST)] == 1
        assert all(count == 1 for count in objects.values()), objects
        # Each create was sent once, and each lost its answer.
        assert server.creates is not None
        creates = sum(n for key, n in server.calls.items() if server.creates.match(key))
        assert creates == server.faulted["lost_create_answer"] > 0
    finally:
        server.stop()


def _update(attribute: str) -> Batch:
    member = Member("p1@example.com", {attribute: "x"})
    return Batch(f"b-{attribute}", "aud", LIST, "run-1", 1, "update", (member,))


@pytest.mark.parametrize("name", ["mailchimp", "sendgrid"])  # the ESPs with fields to create
def test_a_field_another_sync_created_meanwhile_is_used_not_refused(name: str) -> None:
    esp = ESPS[name]
    server = esp.start()
    try:
        ours, theirs = esp.adapter(server), esp.adapter(server)
        ours.send(_update("favourite_brand"))  # ours reads the ESP's fields once
        theirs.send(_update("favourite_category"))  # another sync creates one meanwhile
        # Ours believes it missing; the ESP answers that it already exists.
        result = ours.send(_update("favourite_category"))
        assert result.confirmed == ("p1@example.com",) and not result.failed
        objects = esp.objects(server)
        assert all(count == 1 for count in objects.values()), objects
    finally:
        server.stop()


def test_a_sendgrid_field_named_in_another_case_is_the_same_field(tmp_path: Path) -> None:
    esp = ESPS["sendgrid"]
    server = esp.start()
    try:
        server.fields["e90_T"] = "Reason"  # SendGrid's names are unique regardless of case
        path = tmp_path / "warehouse.duckdb"
        make_warehouse(path, make_people(5), [])
        sync(path, esp.adapter(server), "run-1")
        assert ("field", "reason") not in esp.objects(server)
        assert server.contacts["p1@example.com"]["custom_fields"]["e90_T"] == "test"
    finally:
        server.stop()


def test_a_create_refused_as_existing_yet_not_found_says_what_to_do() -> None:
    esp = ESPS["sendgrid"]
    server = esp.start()
    try:
        # `First_Name` is SendGrid's reserved `first_name` to SendGrid, not a custom field.
        with pytest.raises(ApiError, match="yet looking it up does not find it") as raised:
            esp.adapter(server).send(_update("First_Name"))
        assert "rename or remove it in sendgrid" in str(raised.value)
        assert not server.fields
    finally:
        server.stop()
