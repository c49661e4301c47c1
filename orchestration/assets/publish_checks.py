"""The checks every publish asset reports after its sync: is the list what we wanted, and did
the target take (nearly) every member?

Both warn rather than block: the sync has happened, and what it could not do is sent again by
the next one. `list_in_sync`: the members the target confirmed for the list equal the
audience's desired members. `member_failures_within_threshold`: the members the target refused
or reported as not mailable are at most LIFECYCLE_PUBLISH_MAX_FAILED_SHARE of the members the
sync sent (they are in publish.member_failures, and the next day's suppressions take the
not-mailable ones).
"""

import duckdb
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

from orchestration.publish.engine import SyncReport
from orchestration.warehouse_schema import PUBLISH_SCHEMA

IN_SYNC = "list_in_sync"
FAILURES = "member_failures_within_threshold"


def publish_check_specs(key: AssetKey) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            IN_SYNC, asset=key, description="The target's confirmed members equal the desired."
        ),
        AssetCheckSpec(
            FAILURES,
            asset=key,
            description="Members the target refused stay under LIFECYCLE_PUBLISH_MAX_FAILED_SHARE.",
        ),
    ]


def publish_check_results(
    con: duckdb.DuckDBPyConnection, report: SyncReport, max_failed_share: float
) -> list[AssetCheckResult]:
    [(confirmed,)] = con.execute(
        f"select count(*) from {PUBLISH_SCHEMA}.member_state where audience = ? and target = ?",
        [report.audience, report.target],
    ).fetchall()
    if report.skipped or report.dry_run:
        why = report.skipped or "dry run: nothing was sent"
        in_sync = AssetCheckResult(
            check_name=IN_SYNC,
            passed=True,
            description=f"not judged: {why}",
            metadata={"confirmed_members": confirmed},
        )
    else:
        in_sync = AssetCheckResult(
            check_name=IN_SYNC,
            passed=confirmed == report.desired,
            severity=AssetCheckSeverity.WARN,
            description=f"{confirmed:,} members confirmed by {report.target}, "
            f"{report.desired:,} desired",
            metadata={"confirmed_members": confirmed, "desired_members": report.desired},
        )
    sent = report.adds + report.removes + report.updates
    share = report.failed / sent if sent else 0.0
    failures = AssetCheckResult(
        check_name=FAILURES,
        passed=share <= max_failed_share,
        severity=AssetCheckSeverity.WARN,
        description=f"{report.failed:,} of {sent:,} members sent were refused or not mailable "
        f"({share:.2%}; at most {max_failed_share:.2%})",
        metadata={"failed_members": report.failed, "sent_members": sent, "share": share},
    )
    return [in_sync, failures]
