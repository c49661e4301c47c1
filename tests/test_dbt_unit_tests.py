"""dbt's unit tests (the rules with hand-computed expectations in `_*__unit_tests.yml`), run
once here: pipeline runs leave them out. They need the models' parents in the warehouse for
their column types, so they run on a copy of the shared run's warehouse."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from orchestration.dbt_project import DBT_EXECUTABLE, dbt_project
from tests.conftest import BaseRun


def test_every_dbt_unit_test_passes(base_run: BaseRun, tmp_path: Path) -> None:
    warehouse = base_run.copy(tmp_path) / "warehouse.duckdb"
    done = subprocess.run(
        [
            DBT_EXECUTABLE, "test", "--select", "test_type:unit",
            "--project-dir", str(dbt_project.project_dir),
            "--profiles-dir", str(dbt_project.profiles_dir),
            "--target-path", str(tmp_path / "target"),
        ],
        env={**os.environ, "LIFECYCLE_WAREHOUSE_PATH": str(warehouse)},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:]
    declared = sum(
        len(yaml.safe_load(path.read_text()).get("unit_tests") or [])
        for path in Path(dbt_project.project_dir, "models").rglob("*.yml")
    )
    passed = re.search(r"PASS=(\d+)", done.stdout)
    assert passed and int(passed.group(1)) == declared > 0, done.stdout[-2000:]
