"""The `lifecycle` command's own answers: what it says and its exit code when it cannot run,
before Dagster or dbt start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.cli import main


def test_the_command_imports_neither_dagster_nor_the_generator_until_a_command_needs_them():
    """`lifecycle --help` and a mistyped option answer without loading Dagster (seconds)."""
    probe = (
        "import sys, orchestration.cli; "
        "print(sorted({'dagster', 'numpy', 'dbt'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_bad_date_says_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--start", "2025-13-01", "--end", "2025-01-02"])
    assert exit_.value.code == 2
    assert "'2025-13-01' is not a date: use YYYY-MM-DD" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # the demo's bad day: a date or N days ago
        main(["demo", "--bad-day", "thirty"])
    assert exit_.value.code == 2
    assert "'thirty' is not a date: use YYYY-MM-DD" in capsys.readouterr().err


def test_a_missing_landing_folder_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo"
    monkeypatch.setenv("LIFECYCLE_LANDING_DIR", str(missing))
    assert main(["run", "--start", "2025-01-01", "--end", "2025-01-02"]) == 2
    err = capsys.readouterr().err
    assert f"the landing folder {missing} does not exist" in err
    assert "LIFECYCLE_LANDING_DIR" in err
    assert not missing.exists()


def test_an_empty_landing_folder_says_what_it_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "landing" / "orders").mkdir(parents=True)
    monkeypatch.setenv("LIFECYCLE_LANDING_DIR", str(tmp_path / "landing"))
    assert main(["run", "--start", "2025-01-01", "--end", "2025-01-02"]) == 2
    err = capsys.readouterr().err
    assert "has no landing day" in err and "day=YYYY-MM-DD" in err


def test_a_range_that_ends_before_it_starts_is_refused(capsys: pytest.CaptureFixture[str]):
    assert main(["run", "--start", "2025-02-01", "--end", "2025-01-01"]) == 2
    assert "--start 2025-02-01 is after --end 2025-01-01" in capsys.readouterr().err
