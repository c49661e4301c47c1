"""The gate before an audience is published, run on the table dbt built.

The audiences come after the transform and before publishing, so their gate lives with them:
it uses the quality package's report and suite checks, and nothing below it knows about it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import duckdb

from orchestration.masking import mask_row
from orchestration.quality.report import SAMPLE_ROWS, Failure, GateReport
from orchestration.quality.suite_checks import check_column_contract, validate_suite
from orchestration.quality.suites import load_suite_file, suite_path
from orchestration.quality_thresholds import QualityThresholds
from orchestration.shop_time import shop_today
from orchestration.warehouse_schema import AUDIENCE_SCHEMA, SUPPRESSIONS


def run_audience_gate(
    con: duckdb.DuckDBPyConnection,
    audience: str,
    asm_group_id: int | None,
    t: QualityThresholds,
    shop_timezone: str,
    attributes: Mapping[str, str] | None = None,
) -> GateReport:
    """The gate before an audience is published: its column contract (the shared suite
    `expectations/audiences.json` plus the `attributes` the audience declares), the suite,
    and no member on the suppression lists it must honour."""
    started = time.perf_counter()
    relation = f"{AUDIENCE_SCHEMA}.{audience}"
    members, run_date = con.execute(f"select count(*), max(run_date) from {relation}").fetchall()[0]
    day = run_date or shop_today(shop_timezone)  # an empty audience has no run date
    report = GateReport(table=relation, start=day, end=day)
    suite = load_suite_file(suite_path(AUDIENCE_SCHEMA))
    check_column_contract(con, AUDIENCE_SCHEMA, audience, suite, report, attributes)
    group = "" if asm_group_id is None else f" or s.asm_group_id = {int(asm_group_id)}"
    suppressed = con.execute(
        f"""
        select distinct a.email, s.reason
        from {relation} a join {SUPPRESSIONS} s on s.email = a.email
        where s.asm_group_id is null{group}
        order by a.email
        """
    ).fetchall()
    if suppressed:
        report.failures.append(
            Failure(
                "suppressed_member",
                f"{len(suppressed)} member(s) of {relation} must not be mailed "
                f"({', '.join(sorted({r for _, r in suppressed}))}); the audience SQL must "
                "end with audience_members(), which leaves them out",
                (),
                observed=len(suppressed),
                samples=tuple(
                    mask_row({"email": e, "reason": r}) for e, r in suppressed[:SAMPLE_ROWS]
                ),
            )
        )
    if not any(f.rule == "column_contract" for f in report.failures):
        # Slices by a hash of the address, so that one address always lands in one slice.
        slices = max(1, -(-members // t.validation_chunk_rows))
        validate_suite(
            con,
            relation,
            AUDIENCE_SCHEMA,
            suite,
            [
                (f"{relation} (slice {i + 1} of {slices})", f"hash(email) % {slices} = {i}", [], ())
                for i in range(slices)
            ],
            t,
            report,
        )
    report.seconds = round(time.perf_counter() - started, 3)
    return report
