"""The marketer's report as one self-contained HTML page: tables and static SVG charts, no
script and nothing fetched, so it opens offline, in a mail attachment or a shared drive.

Segment and stage counts are set beside the previous report's (its JSON sidecar), so the page
says what changed since the last run.
"""

from __future__ import annotations

import html
from typing import Any

from orchestration.serve.report_data import COHORT_MONTHS, ReportData

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#1d2430}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.6rem 0}td,th{padding:.25rem .6rem;text-align:right}
th{background:#f2f4f8}td:first-child,th:first-child{text-align:left}
.up{color:#17803d}.down{color:#b42318}.note{color:#667085}svg text{font-size:11px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _change(now: int, before: int | None) -> str:
    if before is None:
        return "<td class=note>new</td>"
    diff = now - before
    css = "up" if diff > 0 else "down" if diff < 0 else "note"
    return f"<td class={css}>{diff:+,}</td>"


def _bars(rows: list[tuple[str, int]], width: int = 520) -> str:
    """A horizontal bar chart, as SVG."""
    top = max((n for _, n in rows), default=0) or 1
    height = 22 * len(rows) + 6
    bars = []
    for i, (label, n) in enumerate(rows):
        w = round(n / top * (width - 230))
        y = 22 * i + 4
        bars.append(
            f'<text x="0" y="{y + 13}">{_e(label)}</text>'
            f'<rect x="170" y="{y}" width="{w}" height="16" fill="#4e79a7"/>'
            f'<text x="{176 + w}" y="{y + 13}">{n:,}</text>'
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(bars)}</svg>'


def _lines(points: list[tuple[str, list[float | None]]], names: list[str]) -> str:
    """Lines over months (percentages), as SVG: one polyline per series."""
    width, height, left, bottom = 900, 220, 40, 24
    values = [v for _, vs in points for v in vs if v is not None]
    top = float(max(values, default=0)) or 1.0
    step = (width - left - 10) / max(len(points) - 1, 1)
    colours = ["#4e79a7", "#f28e2b"]
    axis = height - bottom
    parts = [f'<line x1="{left}" y1="{axis}" x2="{width}" y2="{axis}" stroke="#999"/>']
    for s, name in enumerate(names):
        xy = " ".join(
            f"{left + i * step:.1f},{axis - float(v) / top * (axis - 10):.1f}"
            for i, (_, vs) in enumerate(points)
            if (v := vs[s]) is not None
        )
        parts.append(
            f'<polyline fill="none" stroke="{colours[s]}" stroke-width="2" points="{xy}"/>'
        )
        parts.append(
            f'<text x="{left + 10 + 190 * s}" y="12" fill="{colours[s]}">{_e(name)}</text>'
        )
    for i, (month, _) in enumerate(points):
        if i % 3 == 0:
            parts.append(
                f'<text x="{left + i * step - 14:.1f}" y="{height - 6}">{_e(month)}</text>'
            )
    parts.append(f'<text x="0" y="20">{top:.0f}%</text>')
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def _td(value: Any) -> str:
    if isinstance(value, int):
        return f"<td>{value:,}</td>"
    return f"<td>{_e(value)}</td>"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _heat(share: float | None) -> str:
    if share is None:
        return "<td></td>"
    shade = round(255 - min(share / 0.5, 1) * 160)
    return f'<td style="background:rgb({shade},{min(shade + 10, 255)},255)">{share:.0%}</td>'


def _counts(title: str, rows: list[tuple[str, int]], before: dict | None) -> str:
    """A bar chart and a table of counts, with the change since the previous report."""
    table = _table(
        [title, "count", "change"],
        [[_td(k), _td(n), _change(n, before.get(k, 0) if before is not None else None)]
         for k, n in rows],
    )  # fmt: skip
    return _bars(rows) + table


def _cohort_table(data: ReportData) -> str:
    months = range(1, COHORT_MONTHS)
    rows = []
    for cohort, customers, shares in data.cohorts:
        cells = [_heat(s) for s in shares] + ["<td></td>"] * (len(months) - len(shares))
        rows.append([_td(f"{cohort:%Y-%m}"), _td(customers), *cells])
    return _table(["first order", "customers", *[f"m{k}" for k in months]], rows)


def _funnel_table(data: ReportData) -> str:
    steps = ("eligible", "suppressed", "excluded", "holdout", "capped", "not_sent", "published")
    return _table(
        ["audience", "target", *[s.replace("_", " ") for s in steps]],
        [[_td(f["audience"]), _td(f["target"]), *[_td(f[s]) for s in steps]] for f in data.funnels],
    )


def _interval(low: float | None, high: float | None) -> str:
    """'-1.2% to 3.4%', or nothing while the read-out gives no figure."""
    return "" if low is None or high is None else f"{_pct(low)} to {_pct(high)}"


def _holdout_table(data: ReportData) -> str:
    rows = [
        [
            _td(h["audience"]), _td(h["entry_month"]), _td(h["readout_status"]),
            _td(h["treatment_members"]), _td(h["control_members"]),
            _td(_pct(h["conversion_lift"])),
            _td(_interval(h["conversion_lift_low_95"], h["conversion_lift_high_95"])),
        ]
        for h in data.holdouts
    ]  # fmt: skip
    headers = ["audience", "entry month", "status", "treatment", "holdout", "conversion lift"]
    return _table([*headers, "95% interval"], rows)


def _or_note(content: str, present: bool, note: str) -> str:
    return content if present else f"<p class=note>{_e(note)}</p>"


def render_report(data: ReportData, previous: dict[str, Any] | None) -> str:
    before_segments = dict(previous["segments"]) if previous else None
    before_stages = dict(previous["stages"]) if previous else None
    since = f" (change since {previous['run_date']})" if previous else ""
    retention = [(m.strftime("%Y-%m"), [churn, repeat]) for m, churn, repeat in data.retention]
    churn = [(f"{10 * b}-{10 * b + 10}%", n) for b, n in enumerate(data.churn_histogram)]
    transitions = [[_td(a), _td(b), _td(n)] for a, b, n in data.transitions]
    sections = [
        f"<h1>Lifecycle report, {data.run_date}</h1>",
        f"<p>{data.customers:,} customers with a completed order.</p>",
        f"<h2>RFM segments{since}</h2>",
        _counts("segment", data.segments, before_segments),
        f"<h2>Lifecycle stages{since}</h2>",
        _counts("stage", data.stages, before_stages),
        "<h2>Stage transitions on the run date</h2>",
        _or_note(
            _table(["from", "to", "contacts"], transitions),
            bool(transitions),
            "No contact changed stage on the run date.",
        ),
        "<h2>Monthly retention</h2><p class=note>Complete months; the current month joins "
        "once it has ended.</p>",
        _or_note(
            _lines(retention, ["customer churn rate %", "repeat purchase rate %"]),
            bool(retention),
            "No retention metrics yet.",
        ),
        "<h2>Cohort retention</h2><p class=note>Share of each month's new customers who "
        "ordered in each later month (m1 = the month after the first order).</p>",
        _cohort_table(data),
        "<h2>Churn probability</h2>",
        _or_note(
            _bars(churn),
            bool(churn),
            "No churn predictions for this run (marts.customer_predictions.prediction_status).",
        ),
        "<h2>Audience funnels</h2>",
        _or_note(_funnel_table(data), bool(data.funnels), "Nothing was published that day."),
        "<h2>Holdout read-out</h2>",
        _or_note(_holdout_table(data), bool(data.holdouts), "No holdout read-out yet."),
    ]
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>Lifecycle report "
        f"{data.run_date}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _pct(value: float | None) -> str:
    return "" if value is None else f"{float(value):+.1%}"


def headline_markdown(data: ReportData) -> dict[str, str]:
    """The report's headline numbers as Markdown tables, for the asset's metadata."""

    def table(title: str, rows: list[tuple[str, int]]) -> str:
        lines = [f"| {a} | {n:,} |" for a, n in rows]
        return "\n".join([f"| {title} | count |", "|---|---:|", *lines])

    out = {"segments": table("segment", data.segments), "stages": table("stage", data.stages)}
    if data.funnels:
        out["published"] = table(
            "audience", [(f["audience"], f["published"]) for f in data.funnels]
        )
    if data.churn_histogram:
        bins = [(f"{10 * b}-{10 * b + 10}%", n) for b, n in enumerate(data.churn_histogram)]
        out["churn probability"] = table("churn probability", bins)
    return out
