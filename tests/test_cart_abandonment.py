"""The cart-abandonment job on today's partition: steps by the clock, stops on completion,
no daily mart rebuilt, and a later daily build of an older day never undoes what it sent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance

from orchestration.assets.publish import publish_key, published_audience
from tests.conftest import BASE_END, BaseRun, point_settings_at
from tests.runs import reload_definitions, run_day

CART_AUDIENCES = ("aud_cart_abandonment_1h", "aud_cart_abandonment_24h", "aud_cart_abandonment_3d")
# Minutes since the last checkout activity -> the step due then (None: too fresh or over).
CASES = {"fresh": (10, None), "step_1": (45, 1), "step_2": (30 * 60, 2), "step_3": (4 * 1440, 3)}


def _checkout(email: str, first_name: str, token: str, at: dt.datetime, completed: bool) -> dict:
    stamp = at.isoformat(timespec="seconds")
    return {
        "id": 9_000_000_000 + int(token[-4:], 16),
        "token": token,
        "cart_token": f"cart-{token}",
        "email": email,
        "created_at": stamp,
        "updated_at": stamp,
        "completed_at": stamp if completed else None,
        "currency": "USD",
        "presentment_currency": "USD",
        "subtotal_price": "89.90",
        "total_discounts": "0.00",
        "total_price": "89.90",
        "abandoned_checkout_url": f"https://shop.example.com/checkouts/{token}/recover",
        "customer": {"id": None, "email": email, "first_name": first_name, "last_name": "X"},
        "line_items": [
            {
                "product_id": 8_000_000_001,
                "variant_id": 40_000_000_001,
                "sku": "SKU-1",
                "title": "A thing",
                "vendor": "Pico",
                "product_type": "Gifts",
                "quantity": 1,
                "price": "89.90",
            }
        ],
    }


def _land(landing: Path, day: dt.date, name: str, rows: list[dict]) -> None:
    folder = landing / "checkouts" / f"day={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _cart_members(warehouse: Path) -> dict[str, dict[str, bool]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            name: dict(con.execute(f"select email, is_holdout from audiences.{name}").fetchall())
            for name in CART_AUDIENCES
        }


def _state(warehouse: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return set(con.execute("select audience, email from publish.member_state").fetchall())


@pytest.fixture(scope="module")
def cart_runs(base_run: BaseRun, tmp_path_factory: pytest.TempPathFactory):
    """On a copy of the shared daily run: the cart job twice on today's partition (the second
    time after a checkout completed), then the daily run of the shared run's last day again."""
    data = base_run.copy(tmp_path_factory.mktemp("cart"))
    with pytest.MonkeyPatch.context() as mp:
        point_settings_at(mp, data)
        yield _run(data, data / "landing")


def _run(data: Path, landing: Path):
    module = reload_definitions()
    cart = module.defs.resolve_job_def("cart_abandonment")
    warehouse = data / "warehouse.duckdb"
    runs = {}
    with DagsterInstance.ephemeral() as instance:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            people = con.execute(
                """
                select email, first_name from marts.customer_lifecycle
                where is_mailable and email not in (select email from marts.suppressions)
                order by email limit 4
                """
            ).fetchall()
        contacts = dict(zip(CASES, people, strict=True))
        now = dt.datetime.now(dt.UTC)
        today = now.date()
        tokens = {case: f"tok-{case}-{i:04x}" for i, case in enumerate(CASES, start=1)}
        started = {case: now - dt.timedelta(minutes=m) for case, (m, _) in CASES.items()}
        rows = [
            _checkout(*contacts[case], tokens[case], started[case], completed=False)
            for case in CASES
        ]
        _land(landing, today, "checkouts_live_001.jsonl", rows)
        runs["first"] = cart.execute_in_process(instance=instance, partition_key=today.isoformat())
        assert runs["first"].success
        first = _cart_members(warehouse)
        state_first = _state(warehouse)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            step_1_row = con.execute(
                "select checkout_url, cart_total, as_of from audiences.aud_cart_abandonment_1h "
                "where email = ?",
                [contacts["step_1"][0]],
            ).fetchall()

        # A published contact unsubscribes in an events file the loader refuses (its last
        # line cut): the daily ingest fails, but the next cart run removes them everywhere.
        leaver = _refuse_an_unsubscribe(module, instance, warehouse, landing, contacts)
        runs["refused"] = leaver["run"]

        # The step-1 contact completes the checkout: a new version lands in today's partition.
        email, first_name = contacts["step_1"]
        done = _checkout(email, first_name, tokens["step_1"], dt.datetime.now(dt.UTC), True)
        done["created_at"] = started["step_1"].isoformat(timespec="seconds")
        _land(landing, today, "checkouts_live_002.jsonl", [done])
        runs["second"] = cart.execute_in_process(instance=instance, partition_key=today.isoformat())
        assert runs["second"].success
        second = _cart_members(warehouse)
        state_second = _state(warehouse)

        # The nightly run of an older day builds the cart steps as of that day's end: older
        # than what the cart job sent, so it must not be published over it.
        # (Only what the cart steps' publishing is built from: the rest is not the point.)
        cart_publishes = [publish_key(name) for name in CART_AUDIENCES]
        runs["daily"] = run_day(module, instance, BASE_END, upstream_of=cart_publishes)
        assert runs["daily"].success
        state_after_daily = _state(warehouse)
    return {
        "contacts": contacts,
        "first": first,
        "step_1_row": step_1_row,
        "now": now,
        "second": second,
        "states": (state_first, state_second, state_after_daily),
        "runs": runs,
        "leaver": leaver["email"],
        "leaver_lists_before": leaver["lists"],
        "warehouse": warehouse,
        "outbox": data / "outbox",
    }


def _refuse_an_unsubscribe(module, instance, warehouse: Path, landing: Path, contacts) -> dict:
    """Land a cut events file holding a published contact's unsubscribe, the day after the
    shared run, and load it (the e-mail events' ingest only): refused, the opt-out recorded."""
    cart_people = {email for email, _ in contacts.values()}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        email, lists = next(
            (e, n)
            for e, n in con.execute(
                "select email, count(*) from publish.member_state where email not in "
                "(select email from marts.suppressions) group by 1 order by 2 desc, 1"
            ).fetchall()
            if e not in cart_people
        )
    day = BASE_END + dt.timedelta(days=1)
    path = sorted((landing / "email_events" / f"day={day}").iterdir())[0]
    at = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
    leaving = {"email": email, "timestamp": int(at.timestamp()), "event": "unsubscribe"}
    text = json.dumps({**leaving, "sg_event_id": "cut-file-leaver"}) + "\n" + path.read_text()
    path.write_text(text[: len(text) - 30])
    events = AssetSelection.assets(AssetKey(["raw", "email_events"]))
    keys = events.required_multi_asset_neighbors().resolve(module.defs.resolve_asset_graph())
    run = module.defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
        partition_key=day.isoformat(),
        raise_on_error=False,
    )
    return {"email": email, "lists": lists, "run": run}


def test_an_opt_out_in_a_refused_file_leaves_every_list_at_the_next_cart_run(cart_runs) -> None:
    refused = cart_runs["runs"]["refused"]
    assert not refused.success
    failure = next(e for e in refused.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    assert "read anyway (1 new" in error.message + (error.cause.message if error.cause else "")
    leaver = cart_runs["leaver"]
    assert cart_runs["leaver_lists_before"] > 0
    second = cart_runs["runs"]["second"]
    removals = [
        e.step_materialization_data.materialization.metadata
        for e in second.get_asset_materialization_events()
        if e.asset_key == AssetKey(["publish", "opt_out_removals"])
    ]
    assert removals and removals[0]["removes"].value >= cart_runs["leaver_lists_before"]
    with duckdb.connect(str(cart_runs["warehouse"]), read_only=True) as con:
        assert con.execute(
            "select rule from raw.email_events_consent where email = ?", [leaver]
        ).fetchall() == [("file_refused",)]
        assert con.execute(
            "select count(*) from publish.member_state where email = ?", [leaver]
        ).fetchall() == [(0,)]


def test_each_contact_is_in_the_step_its_checkout_is_due_for(cart_runs) -> None:
    contacts, first = cart_runs["contacts"], cart_runs["first"]
    for case, (_, step) in CASES.items():
        email = contacts[case][0]
        in_steps = [n for n, members in first.items() if email in members]
        expected = [] if step is None else [CART_AUDIENCES[step - 1]]
        assert in_steps == expected, (case, in_steps)
    # Published: exactly the treatment of each step (the holdout stays in the warehouse).
    state = cart_runs["states"][0]
    for name, members in first.items():
        treatment = {e for e, holdout in members.items() if not holdout}
        assert {e for a, e in state if a == name} == treatment
    # The checkout to come back to travels with the member; the step was computed as of the
    # run's moment (a few seconds after the checkouts were written), not the end of the day.
    ((url, total, as_of),) = cart_runs["step_1_row"]
    assert url.endswith("/recover") and float(total) == 89.90
    now = cart_runs["now"].replace(tzinfo=None, microsecond=0)
    assert now <= as_of < now + dt.timedelta(minutes=10)


def test_a_completed_checkout_leaves_the_series_and_is_removed(cart_runs) -> None:
    email = cart_runs["contacts"]["step_1"][0]
    assert email in cart_runs["first"]["aud_cart_abandonment_1h"]
    assert all(email not in members for members in cart_runs["second"].values())
    state_second = cart_runs["states"][1]
    assert ("aud_cart_abandonment_1h", email) not in state_second
    # Everyone else is where they were.
    others = {k for k in cart_runs["states"][0] if k[1] != email}
    assert {k for k in state_second if k[0].startswith("aud_cart")} == {
        k for k in others if k[0].startswith("aud_cart")
    }


def test_the_cart_job_builds_only_the_cart_path(cart_runs) -> None:
    result = cart_runs["runs"]["first"]
    built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert built == {
        "raw/checkouts",
        "raw/checkout_line_items",
        "staging/stg_shopify__checkouts",
        "intermediate/int_abandoned_checkouts",
        *(f"audiences/{name}" for name in CART_AUDIENCES),
        *(f"publish/list_{name}" for name in CART_AUDIENCES),
        "publish/opt_out_removals",  # the suppression-only sync, every 15 minutes too
        "serve/serving_file",  # BI tools see the new cart steps
    }
    checks = [
        (e.asset_check_evaluation_data.asset_key.to_user_string(), e.asset_check_evaluation_data)
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name in ("quality_gate", "audience_gate")
    ]
    assert {key for key, _ in checks} == {
        "raw/checkouts",
        *(f"audiences/{name}" for name in CART_AUDIENCES),
    }
    assert all(check.passed for _, check in checks)


def test_an_older_daily_build_is_not_published_over_the_cart_jobs_state(cart_runs) -> None:
    _, state_second, state_after_daily = cart_runs["states"]
    cart = {k for k in state_second if k[0].startswith("aud_cart")}
    assert cart, "the cart job published nobody"
    assert {k for k in state_after_daily if k[0].startswith("aud_cart")} == cart
    result = cart_runs["runs"]["daily"]
    skipped = {
        published_audience(e.asset_key): e.step_materialization_data.materialization.metadata[
            "skipped"
        ].value
        for e in result.get_asset_materialization_events()
        if published_audience(e.asset_key) in CART_AUDIENCES
    }
    assert set(skipped) == set(CART_AUDIENCES)
    assert all("before the state" in reason for reason in skipped.values()), skipped
