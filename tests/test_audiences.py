"""Audiences built by the real pipeline on two consecutive days (the session's shared run,
then the next day on a copy of it): holdouts, suppression, publishing, entries, and six
opt-outs landed on the second day in ways that used to lose them (`tests.consent_cases`)."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import math
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from orchestration.assets.audiences import audience_specs
from orchestration.assets.publish import LIST_PREFIX
from orchestration.audiences.gate import run_audience_gate
from orchestration.dbt_project import load_manifest, project_var
from orchestration.publish.funnel import NOT_MAILABLE
from orchestration.quality_thresholds import QualityThresholds
from tests.conftest import AUDIENCES, BASE_END, BaseRun, point_settings_at
from tests.consent_cases import CASES, land_opt_outs, published_people
from tests.runs import reload_definitions

DAY_1 = BASE_END
DAY_2 = BASE_END + dt.timedelta(days=1)
HOLDOUT_SHARE = 0.1  # every audience's meta.audience.holdout_share


def _members(warehouse: Path) -> dict[tuple[str, str], bool]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = []
        for table in AUDIENCES:
            sql = f"select audience, email, is_holdout from audiences.{table}"
            rows += con.execute(sql).fetchall()
    return {(audience, email): holdout for audience, email, holdout in rows}


@pytest.fixture(scope="module")
def two_days(base_run: BaseRun, tmp_path_factory: pytest.TempPathFactory):
    """The shared run (up to DAY_1), then DAY_2 on a copy of it: once for this module."""
    data = base_run.copy(tmp_path_factory.mktemp("audiences"))
    with pytest.MonkeyPatch.context() as mp:
        point_settings_at(mp, data)
        yield _run_second_day(base_run, data)


def _run_second_day(base_run: BaseRun, data: Path):
    job = reload_definitions().defs.resolve_job_def("daily_refresh")
    warehouse = data / "warehouse.duckdb"
    first = _members(warehouse)
    # Six published contacts opt out on DAY_2 in ways that used to lose the opt-out.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        opted_out = published_people(con)
        land_opt_outs(con, data / "landing", DAY_2, opted_out)
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, partition_key=DAY_2.isoformat())
        assert result.success
        published = {
            (key.split("/")[-1].removeprefix(LIST_PREFIX), base_run.run_id): metadata
            for key, metadata in base_run.metadata.items()
            if key.startswith("publish/")
        }
        published.update(
            {
                (e.asset_key.path[-1].removeprefix(LIST_PREFIX), result.run_id): (
                    e.step_materialization_data.materialization.metadata
                )
                for e in result.get_asset_materialization_events()
                if e.asset_key.path[0] == "publish"
            }
        )
        second = _members(warehouse)
        gates = {
            e.asset_check_evaluation_data.asset_key.path[-1]: e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
            and e.asset_check_evaluation_data.check_name == "audience_gate"
        }
        vip = instance.fetch_materializations(AssetKey(["audiences", "aud_vip"]), limit=1)
        metadata = vip.records[0].asset_materialization.metadata
    runs = (base_run.run_id, result.run_id)
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    return first, second, metadata, warehouse, gates, published, runs, opted_out, checks


def test_audiences_keep_a_stable_holdout_and_change_from_day_to_day(two_days) -> None:
    first, second, metadata, *_ = two_days
    audiences = {audience for audience, _ in first}
    assert len(audiences) >= 7, audiences
    # The same contact stays in (or out of) an audience's holdout from one day to the next.
    both = first.keys() & second.keys()
    assert both and all(first[k] == second[k] for k in both)
    # Members enter and leave as the days pass.
    assert second.keys() - first.keys() and first.keys() - second.keys()
    # The holdout share is the configured one, within four binomial standard deviations.
    n = len(second)
    share = sum(second.values()) / n
    assert abs(share - HOLDOUT_SHARE) < 4 * math.sqrt(HOLDOUT_SHARE * (1 - HOLDOUT_SHARE) / n)
    # The Dagster UI shows each audience's treatment and holdout sizes.
    assert metadata["aud_vip: holdout"].value + metadata["aud_vip: treatment"].value == (
        metadata["dagster/row_count"].value
    )


def test_no_audience_holds_a_contact_who_must_not_be_mailed(two_days) -> None:
    _, _, _, warehouse, gates, *_ = two_days
    # Every audience passed its gate before publishing: suite, contract, suppressions.
    assert sorted(gates) == AUDIENCES
    assert all(g.passed for g in gates.values())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        suppressed = {
            e
            for (e,) in con.execute(
                "select email from marts.suppressions where coalesce(asm_group_id, 102) = 102"
            ).fetchall()
        }
        assert suppressed
    members = {email for _, email in _members(warehouse)}
    assert members and not members & suppressed


def test_the_audience_gate_stops_a_suppressed_member(two_days, tmp_path: Path) -> None:
    _, _, _, warehouse, *_ = two_days
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with duckdb.connect(str(copy)) as con:
        # As if an audience's SQL forgot the suppression list.
        con.execute(
            "insert into audiences.aud_vip by name "
            "select 'aud_vip' as audience, email, 'oops' as reason, false as is_holdout, "
            "(select max(run_date) from audiences.aud_vip) as run_date "
            "from marts.suppressions where reason = 'hard_bounced' limit 1"
        )
        report = run_audience_gate(con, "aud_vip", 102, QualityThresholds(), "UTC")
    [failure] = report.failures
    assert failure.rule == "suppressed_member"
    assert "(hard_bounced)" in failure.message
    assert failure.samples[0]["email"].split("@")[0].endswith("***")


def _replay(outbox: Path, audience: str, runs: tuple[str, ...]) -> set[str]:
    """The list a reader of the outbox ends up with, applying each run's files in order (and
    the removals of its suppression-only sync, in `<run>-opt-outs`)."""
    members: set[str] = set()
    for folder in (outbox / audience / p for run in runs for p in (run, f"{run}-opt-outs")):
        if not folder.exists():
            continue
        manifest = json.loads((folder / "manifest.json").read_text())
        for name in manifest["files"]:
            if name.endswith(".csv"):
                with (folder / name).open() as handle:
                    emails = {row["email"] for row in csv.DictReader(handle)}
                members = members - emails if name.startswith("removes") else members | emails
    return members


def test_every_audience_is_published_and_the_outbox_follows_it(two_days) -> None:
    _, second, _, warehouse, _, published, runs, *_ = two_days
    assert {a for a, _ in published} == {
        *AUDIENCES,
        "frequency_caps",
        "audience_entries",
        "opt_out_removals",
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        state = con.execute(
            "select audience, email from publish.member_state where target = 'outbox'"
        ).fetchall()
        capped = set(con.execute("select audience, email from publish.capped_members").fetchall())
    treatment = {(a, e) for (a, e), holdout in second.items() if not holdout} - capped
    specs = {s.name: s for s in audience_specs(load_manifest())}
    # The frequency cap: nobody is published to more than one series (the default cap),
    # besides the cart-abandonment steps, a series left out of it. Segments overlap freely:
    # every eligible treatment member of one is published.
    per_contact = collections.Counter(e for a, e in state if specs[a].frequency_capped)
    assert capped and max(per_contact.values()) == 1
    assert {a for a, _ in capped} <= {a for a, s in specs.items() if s.frequency_capped}
    assert set(state) == treatment
    for name, spec in specs.items():
        eligible = {e for (a, e), holdout in second.items() if a == name and not holdout}
        if spec.kind == "segment":
            assert {e for a, e in state if a == name} == eligible, name
    outbox = warehouse.parent / "outbox"
    for audience in AUDIENCES:
        expected = {e for a, e in treatment if a == audience}
        assert _replay(outbox, audience, runs) == expected, audience
        day_2 = published[(audience, runs[1])]
        assert day_2["dagster/row_count"].value == len(expected)
    changes = sum(
        published[(a, runs[1])]["adds"].value + published[(a, runs[1])]["removes"].value
        for a in AUDIENCES
    )
    assert changes > 0, "members enter and leave audiences from one day to the next"


def test_the_funnel_of_every_audience_adds_up_to_its_eligible(two_days) -> None:
    """publish.audience_funnel of the second day, against the tables it summarises and a
    count of the win-back rule made here from the marts: every stage adds up to the
    eligible, each unpublished contact has its one reason, the publish asset shows the
    funnel, and VIP publishes at least 90% of its eligible treatment members."""
    _, second, _, warehouse, _, published, runs, *_ = two_days
    stages = (
        "suppressed", "not_mailable", "excluded", "holdout", "capped", "refused", "not_sent",
        "published",
    )  # fmt: skip
    with duckdb.connect(str(warehouse), read_only=True) as con:
        funnel = {
            row[0]: dict(zip(("eligible", *stages, "excluded_by"), row[1:], strict=True))
            for row in con.execute(
                f"select audience, eligible, {', '.join(stages)}, excluded_by "
                "from publish.audience_funnel where run_id = ?",
                [runs[1]],
            ).fetchall()
        }
        dropped = collections.Counter(
            dict(
                con.execute(
                    "select audience, count(*) from audiences.dropped_members group by 1"
                ).fetchall()
            )
        )
        state = collections.Counter(
            a for (a,) in con.execute("select audience from publish.member_state").fetchall()
        )
        capped = set(con.execute("select audience, email from publish.capped_members").fetchall())
        unpublished = con.execute(
            "select audience, email, stage from publish.unpublished_members"
        ).fetchall()
        kept_by = con.execute(
            "select c.email, c.capped_by from publish.capped_members c "
            "where c.reason like 'in %' and c.capped_by is not null"
        ).fetchall()
        listed = set(con.execute("select audience, email from publish.member_state").fetchall())
        window = project_var("recent_order_exclusion_days")
        just_ordered = con.execute(
            f"""
            select count(*) from marts.customer_churn c
            join marts.customer_lifecycle l using (email)
            where c.is_win_back_eligible and c.days_since_last_order <= {window}
                and l.is_mailable
                and c.email not in (
                    select email from marts.suppressions
                    where asm_group_id is null or asm_group_id = ?
                )
            """,
            [project_var("audience_asm_group_id")],
        ).fetchall()[0][0]
    assert set(funnel) == set(AUDIENCES)
    for audience, f in funnel.items():
        members = {e: h for (a, e), h in second.items() if a == audience}
        assert f["eligible"] == sum(f[s] for s in stages), audience
        assert f["eligible"] == len(members) + dropped[audience], audience
        assert f["holdout"] == sum(members.values()), audience
        assert f["capped"] == len(
            {e for e in members if (audience, e) in capped} - {e for e, h in members.items() if h}
        ), audience
        assert f["published"] == state[audience], audience
        # Per member: the published ones are listed, every other one has one reason.
        mine = [(e, stage) for a, e, stage in unpublished if a == audience]
        assert len(mine) == len({e for e, _ in mine}) == f["eligible"] - f["published"]
        by_stage = collections.Counter(
            "excluded" if s.startswith("excluded: ") else "not_mailable" if s in NOT_MAILABLE else s
            for _, s in mine
        )
        assert by_stage == {s: f[s] for s in stages[:-1] if f[s]}, audience
        metadata = published[(audience, runs[1])]
        assert metadata["funnel: eligible"].value == f["eligible"], audience
        assert metadata["funnel: published"].value == f["published"], audience
    # The exclusion rule counted here from the marts: customers past their interval who
    # ordered within the window, mailable and not suppressed.
    assert json.loads(funnel["aud_win_back"]["excluded_by"]) == (
        {"recent_order": just_ordered} if just_ordered else {}
    )
    assert just_ordered > 0, "the sample shop has win-back customers who just ordered"
    # A contact capped by rank is in every audience that kept it, and not capped there:
    # published, or in its holdout (the cap treats the holdout like the treatment).
    assert kept_by
    for email, audiences in kept_by:
        for kept in audiences.split(", "):
            holdout = second[(kept, email)]
            assert (kept, email) not in capped, email
            assert holdout or (kept, email) in listed, email
    vip = funnel["aud_vip"]
    treatment = vip["eligible"] - vip["suppressed"] - vip["not_mailable"] - vip["holdout"]
    assert vip["published"] >= 0.9 * treatment > 0


def test_entries_and_the_holdout_read_out_follow_the_audiences(two_days) -> None:
    first, second, _, warehouse, *_ = two_days
    with duckdb.connect(str(warehouse), read_only=True) as con:
        open_spells = set(
            con.execute(
                "select audience, email from publish.audience_entries where left_on is null"
            ).fetchall()
        )
        left = set(
            con.execute(
                "select audience, email from publish.audience_entries where left_on = ?",
                [DAY_2],
            ).fetchall()
        )
        results = con.execute(
            "select audience, itt_treatment_members + itt_holdout_members, conversion_lift, "
            "conversion_lift_low_95, conversion_lift_high_95 from marts.holdout_results"
        ).fetchall()
    assert open_spells == set(second)
    assert left == set(first) - set(second)
    members = {a: n for a, n, *_ in results}
    entered = collections.Counter(a for a, _ in set(first) | set(second))
    assert members == {a: entered[a] for a in members} and members
    for _, _, lift, low, high in results:
        if lift is not None and low is not None:
            assert low <= lift <= high


def test_opt_outs_landed_in_bad_rows_are_suppressed_and_unpublished(two_days) -> None:
    """A millisecond timestamp, a month-first date, a quarantined row (2099, conflicting
    copies), a late copy of an event id: each opt-out is suppressed, says where it came from,
    is in no audience and is taken off every list the same day."""
    *_, warehouse, _, _, runs, opted_out, checks = two_days
    people = list(opted_out.values())
    marks = ", ".join("?" for _ in people)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        evidence = dict(
            con.execute(
                "select email, evidence from marts.suppressions "
                f"where asm_group_id is null and reason = 'unsubscribed' and email in ({marks})",
                people,
            ).fetchall()
        )
        assert evidence == {opted_out[case]: kind for case, kind in CASES.items()}
        for table in AUDIENCES:
            sql = f"select email from audiences.{table} where email in ({marks})"
            assert con.execute(sql, people).fetchall() == [], table
        # The audiences whose rules still find them say why they are left out.
        dropped = con.execute(
            f"select distinct dropped_by from audiences.dropped_members where email in ({marks})",
            people,
        ).fetchall()
        assert set(dropped) <= {("suppressed",)}
        listed = f"select email from publish.member_state where email in ({marks})"
        assert con.execute(listed, people).fetchall() == []
        # The day's syncs removed them and added none of them.
        sent = con.execute(
            "select b.action, count(*) from publish.batch_members m join publish.batches b "
            f"using (batch_id) where b.plan_id like ? and m.email in ({marks}) group by 1",
            [f"{runs[1]}%", *people],
        ).fetchall()
        assert dict(sent).get("add", 0) == 0 and dict(sent).get("remove", 0) >= len(people)
        # The millisecond event and the month-first contact row were read, not quarantined.
        loaded = con.execute(
            "select count(*) from raw.email_events where sg_event_id = 'c-ms' "
            "and _partition_date = ?",
            [DAY_2],
        ).fetchall()
        assert loaded == [(1,)]
    assert checks["assert_every_landed_opt_out_is_suppressed"] is True
