"""Benchmark: the churn model's daily fit and the scoring of every customer, at a million.

A shop's completed orders are drawn from the models themselves (BG/NBD purchase and drop-out,
Gamma-Gamma spend, known parameters, first purchases spread over two years) into the table
the pipeline fits on (intermediate.int_orders_completed). Then, as the pipeline does it:
the fit as of the last day (grouped summaries in DuckDB, both models by maximum likelihood,
the expected orders per (x, T)), and the scoring of every customer by dbt
(marts.customer_predictions). Beside it the peer, lifetimes' BetaGeoFitter, fitted on the same
histories (grouped, with weights) and scoring the same customers from arrays. The report
(JSON and Markdown in bench/results/) also gives how closely the fit recovers the parameters
the orders were drawn from. Targets are read from the report, never asserted in a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import time
from importlib.metadata import version
from pathlib import Path

import duckdb
import numpy as np

from orchestration.assets.churn_model import ORDERS
from orchestration.churn_model_settings import ChurnModelSettings
from orchestration.clv import BgNbdParams, GammaGammaParams
from orchestration.clv.daily import backtest, fit_as_of
from orchestration.clv.tables import write_expected_orders, write_fit
from orchestration.dbt_project import DBT_EXECUTABLE, dbt_project
from orchestration.settings import PROJECT_ROOT, Settings

# Per day, near CDNOW's weekly estimates (alpha 4.4 weeks) and its spend model.
TRUE_PURCHASES = BgNbdParams(r=0.25, alpha=30.0, a=0.8, b=2.4)
TRUE_SPEND = GammaGammaParams(p=6.0, q=4.0, gamma=15.0)
FIRST_DAY = dt.date(2024, 1, 1)


def draw_orders(customers: int, days: int, seed: int) -> dict[str, np.ndarray]:
    """Orders drawn from BG/NBD and Gamma-Gamma: (customer, day offset, amount) arrays."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUE_PURCHASES.r, 1 / TRUE_PURCHASES.alpha, customers)
    drop = rng.beta(TRUE_PURCHASES.a, TRUE_PURCHASES.b, customers)
    first = rng.integers(0, days, customers)
    spend_rate = rng.gamma(TRUE_SPEND.q, 1 / TRUE_SPEND.gamma, customers)
    ids, offsets = [np.arange(customers)], [first]
    clock = np.zeros(customers)
    active = np.arange(customers)
    while len(active):
        clock[active] += rng.exponential(1 / rate[active])
        active = active[first[active] + clock[active] < days]
        ids.append(active)
        offsets.append(first[active] + np.floor(clock[active]).astype(np.int64))
        active = active[rng.random(len(active)) >= drop[active]]  # drop out after a purchase
    customer = np.concatenate(ids)
    amount = rng.gamma(TRUE_SPEND.p, 1 / spend_rate[customer])
    return {"customer": customer, "day": np.concatenate(offsets), "amount": amount}


def land_orders(warehouse: Path, orders: dict[str, np.ndarray]) -> int:
    with duckdb.connect(str(warehouse)) as con:
        con.register("drawn", orders)
        con.execute("create schema if not exists intermediate")
        con.execute(
            "create or replace table intermediate.int_orders_completed as select "
            "'c' || customer || '@example.com' as email, customer as customer_id, "
            f"date '{FIRST_DAY}' + cast(day as integer) as ordered_date, "
            "round(amount + 0.01, 2) as net_revenue_amount from drawn"
        )
        return con.execute("select count(*) from intermediate.int_orders_completed").fetchone()[0]


def score_with_dbt(warehouse: Path, run_date: dt.date, settings: Settings) -> dict:
    """`dbt run` of marts.customer_predictions: wall seconds and dbt's own for the model."""
    target = warehouse.parent / "dbt_target"
    variables = {
        "run_date": run_date.isoformat(),
        "warehouse_path": str(warehouse),
        "duckdb_memory_limit": settings.duckdb_memory_limit,
        "duckdb_threads": settings.duckdb_threads,
    }
    started = time.perf_counter()
    done = subprocess.run(
        [
            DBT_EXECUTABLE, "run", "--select", "customer_predictions",
            "--project-dir", str(dbt_project.project_dir),
            "--profiles-dir", str(dbt_project.profiles_dir),
            "--target-path", str(target), "--vars", json.dumps(variables),
        ],
        capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"dbt run failed:\n{done.stdout[-3000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    (model,) = [r for r in results if r["unique_id"] == "model.lifecycle.customer_predictions"]
    return {"wall_seconds": round(wall, 2), "model_seconds": round(model["execution_time"], 2)}


def peer(warehouse: Path) -> dict:
    """lifetimes on the same histories: fit on the grouped ones, score every customer."""
    from lifetimes import BetaGeoFitter

    with duckdb.connect(str(warehouse), read_only=True) as con:
        scored = con.execute(
            "select repeat_purchase_days, first_to_last_purchase_days, "
            "days_since_first_purchase from marts.customer_predictions"
        ).fetchnumpy()
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in scored.values())
    grouped, counts = np.unique(np.column_stack([x, t_x, big_t]), axis=0, return_counts=True)
    started = time.perf_counter()
    fitter = BetaGeoFitter().fit(*grouped.T, weights=counts)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fitter.conditional_probability_alive(x, t_x, big_t)
    fitter.conditional_expected_number_of_purchases_up_to_time(90, x, t_x, big_t)
    score_seconds = time.perf_counter() - started
    return {
        "library": f"lifetimes {version('lifetimes')}",
        "params": {k: round(float(v), 4) for k, v in fitter.params_.items()},
        "fit_seconds": round(fit_seconds, 2),
        "score_seconds": round(score_seconds, 2),
    }


def run(customers: int, days: int, workdir: Path, seed: int) -> dict:
    settings = Settings.from_env()
    warehouse = workdir / "churn_model.duckdb"
    warehouse.unlink(missing_ok=True)
    started = time.perf_counter()
    rows = land_orders(warehouse, draw_orders(customers, days, seed))
    draw_seconds = time.perf_counter() - started
    run_date = FIRST_DAY + dt.timedelta(days=days - 1)
    started = time.perf_counter()
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"set threads = {settings.duckdb_threads}")
        fit, history = fit_as_of(con, ORDERS, run_date, ChurnModelSettings())
        write_fit(con, fit, dt.datetime.now(dt.UTC))
        pairs = write_expected_orders(con, fit, history)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        tested = backtest(con, ORDERS, run_date, ChurnModelSettings())
        backtest_seconds = time.perf_counter() - started
    scoring = score_with_dbt(warehouse, run_date, settings)
    return {
        "benchmark": "churn_model",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": version("duckdb"),
            "scipy": version("scipy"),
        },
        "shop": {"customers": customers, "days": days, "orders": rows, "seed": seed},
        "draw_seconds": round(draw_seconds, 2),
        "fit": {
            "status": fit.status,
            "distinct_histories": len(history.n),
            "expected_order_rows": pairs,
            "model_seconds": round(fit.seconds, 2),
            "seconds": round(fit_seconds, 2),
            "params": {**vars(fit.purchases), **vars(fit.spend)} if fit.purchases else None,
            "drawn_with": {**vars(TRUE_PURCHASES), **vars(TRUE_SPEND)},
        },
        "backtest": {
            "seconds": round(backtest_seconds, 2),
            "result": tested
            if isinstance(tested, str)
            else {
                "predicted": round(tested.predicted, 1),
                "actual": tested.actual,
                "error": round(tested.error, 4),
            },
        },
        "scoring": scoring,
        "fit_and_scoring_seconds": round(fit_seconds + scoring["wall_seconds"], 2),
        "asset_and_scoring_seconds": round(
            fit_seconds + backtest_seconds + scoring["wall_seconds"], 2
        ),
        "peer": peer(warehouse),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def markdown(result: dict) -> str:
    fit, scoring, other = result["fit"], result["scoring"], result["peer"]
    params = fit["params"] or {}
    drawn = fit["drawn_with"]
    lines = [
        f"# Churn model: {result['shop']['customers']:,} customers, "
        f"{result['shop']['orders']:,} orders ({result['measured_at']})",
        "",
        f"{result['machine']['cpus']} cores, Python {result['machine']['python']}, "
        f"DuckDB {result['machine']['duckdb']}, scipy {result['machine']['scipy']}",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| fit as of the run date ({fit['distinct_histories']:,} distinct histories; "
        f"summaries, both models, expected orders) | {fit['seconds']} |",
        f"| scoring every customer (`dbt run` of customer_predictions; the model itself "
        f"{scoring['model_seconds']} s) | {scoring['wall_seconds']} |",
        f"| **fit and scoring** | **{result['fit_and_scoring_seconds']}** |",
        f"| the backtest the asset also runs (a second fit, 90 days back) | "
        f"{result['backtest']['seconds']} |",
        f"| the asset and the scoring together | {result['asset_and_scoring_seconds']} |",
        f"| peer: {other['library']} fit on the same grouped histories | {other['fit_seconds']} |",
        f"| peer: P(alive) and 90-day expected orders for every customer | "
        f"{other['score_seconds']} |",
        "",
        "| parameter | drawn with | fitted | peer |",
        "|---|---|---|---|",
    ]
    for name, value in drawn.items():
        fitted = params.get(name, float("nan"))
        lines.append(f"| {name} | {value} | {fitted:.4g} | {other['params'].get(name, '')} |")
    return "\n".join(lines) + f"\n\nPeak RSS {result['peak_rss_mb']:,} MB.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "data" / "bench")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = run(args.customers, args.days, args.workdir, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "churn_model.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "churn_model.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
