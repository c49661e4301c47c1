"""The pipeline benchmark's Markdown table: one row per stage, the floors and their ratios."""

from __future__ import annotations

from typing import Any


def _ratio(stage: float | None, floor: float | None) -> str:
    if not stage or not floor:
        return ""
    return f"{stage / floor:.1f}x"


def _rows(run: dict[str, Any], read_floors: dict[str, Any]) -> list[str]:
    rows = []
    for stage, f in run.get("stages", {}).items():
        source = stage.removeprefix("ingest ") if stage.startswith("ingest ") else None
        floor = read_floors.get(source, {}).get("seconds") if source else None
        rows.append(
            f"| {stage} | {f['wall_seconds']:.1f} | {f['cpu_seconds']:.1f} | "
            f"{f['peak_rss_mib']:,.0f} | {'' if floor is None else f'{floor:.1f}'} | "
            f"{_ratio(f['wall_seconds'], floor)} |"
        )
    whole = run.get("run", {})
    if whole:
        rows.append(
            f"| **whole run** (start-up {whole['startup_seconds']:.1f} s) | "
            f"{whole['wall_seconds']:.1f} | {whole['cpu_seconds']:.1f} | "
            f"{whole['peak_rss_mib']:,.0f} | | |"
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    shop, machine = report["shop"], report["machine"]
    lines = [
        f"# Pipeline benchmark: {report['scale']} ({report['measured_at']})",
        "",
        f"Sample shop: {shop['params']['customers']:,} customers, "
        + ", ".join(f"{k} {v:,}" for k, v in shop["lines"].items())
        + f" lines, {shop['first_day']} to {shop['last_day']}.  ",
        f"Machine: {machine['cpus']} cores, {machine['memory_gib']} GiB, Python "
        f"{machine['python']}; DuckDB memory limit {report['settings']['duckdb_memory_limit']}, "
        f"{report['settings']['duckdb_threads']} threads.  ",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in machine["packages"].items()) + ".",
        "",
    ]
    floors = report.get("floors") or {}
    for title, key, floor_key in (
        ("Full rebuild", "full_rebuild", "read_full"),
        ("New day", "new_day", "read_new_day"),
    ):
        run = report[key]
        if "skipped" in run:
            lines += [f"## {title}: not run ({run['skipped']})", ""]
            continue
        status = "succeeded" if run["succeeded"] else "FAILED"
        lines += [
            f"## {title}: {run['days'][0]} to {run['days'][1]}, {status}",
            "",
            "| stage | wall s | CPU s | peak RSS MiB | floor s | ratio |",
            "|---|---:|---:|---:|---:|---:|",
            *_rows(run, floors.get(floor_key, {})),
            "",
        ]
        for label, key in (
            ("dbt models by group (dbt's execution time, s)", "dbt_model_groups_seconds"),
            ("Of ingestion, writing the raw zone (Parquet, s)", "raw_zone_seconds"),
        ):
            seconds = run.get(key, {})
            if seconds:
                lines.append(
                    f"{label}: " + ", ".join(f"{k} {s:.1f}" for k, s in seconds.items()) + "."
                )
        rfm = floors.get("rfm")
        if rfm and run.get("rfm_models_seconds") is not None:
            lines.append(
                f"RFM and lifecycle models {run['rfm_models_seconds']:.1f} s; floor (one query "
                f"over the loaded orders) {rfm['seconds']:.2f} s: "
                f"{_ratio(run['rfm_models_seconds'], rfm['seconds'])}."
            )
        lines.append("")
    peer = floors.get("rfm_peer")
    if peer:
        if "skipped" in peer:
            lines.append(f"Peer RFM summary: not run ({peer['skipped']}).")
        else:
            lines.append(
                f"Peer RFM summary ({peer['library']}, {peer['customers']:,} customers): "
                f"{peer['seconds']:.2f} s after {peer['load_seconds']:.2f} s loading the "
                f"orders into pandas; the one-query floor: {floors['rfm']['seconds']:.2f} s "
                f"({_ratio(peer['seconds'], floors['rfm']['seconds'])} faster)."
            )
    return "\n".join(lines) + "\n"
