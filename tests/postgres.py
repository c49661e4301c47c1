"""A throwaway PostgreSQL server for the portability tests, and a copier of raw tables into it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg2

# DuckDB column types of the raw tables -> PostgreSQL types.
PG_TYPES = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "JSON": "text",
}


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    database: str

    def env(self) -> dict[str, str]:
        return {
            "LIFECYCLE_PG_HOST": self.host,
            "LIFECYCLE_PG_PORT": str(self.port),
            "LIFECYCLE_PG_USER": self.user,
            "LIFECYCLE_PG_DATABASE": self.database,
        }

    def connect(self):
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname=self.database
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")


def find_pg_bin() -> Path | None:
    for candidate in [
        shutil.which("initdb"),
        *sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")),
    ]:
        if candidate:
            return Path(candidate).parent
    return None


def start_server(root: Path, bin_dir: Path) -> tuple[PostgresServer, Path]:
    """initdb a cluster in `root` (a folder the server user can reach), start it on a free
    loopback port; returns the server and its data folder."""
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    port = _free_port()
    _run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "lifecycle",
                          "--auth=trust", "-E", "UTF8"]))  # fmt: skip
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                          "-l", str(root / "server.log"), "start"]))  # fmt: skip
    admin = psycopg2.connect(host="127.0.0.1", port=port, user="lifecycle", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("create database lifecycle")
    admin.close()
    return PostgresServer("127.0.0.1", port, "lifecycle", "lifecycle"), data


def stop_server(bin_dir: Path, data: Path) -> None:
    subprocess.run(
        _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
        check=False, capture_output=True,
    )  # fmt: skip


def copy_schema(
    warehouse: Path, server: PostgresServer, scratch: Path, schema: str
) -> dict[str, int]:
    """Copy every table of a DuckDB warehouse's `schema` into PostgreSQL; rows per table."""
    scratch.mkdir(parents=True, exist_ok=True)
    counts = {}
    with duckdb.connect(str(warehouse), read_only=True) as duck, server.connect() as pg:
        tables = [r[0] for r in duck.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_type = 'BASE TABLE'",
            [schema],
        ).fetchall()]  # fmt: skip
        with pg.cursor() as cur:
            cur.execute(f"create schema if not exists {schema}")
            for table in tables:
                columns = duck.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                ddl = ", ".join(f'"{n}" {PG_TYPES[t]}' for n, t in columns)
                relation = f"{schema}.{table}"
                cur.execute(f"drop table if exists {relation}")
                cur.execute(f"create table {relation} ({ddl})")
                path = scratch / f"{schema}.{table}.csv"
                duck.execute(f"copy {relation} to '{path}' (format csv, header true)")
                with path.open() as fh:
                    cur.copy_expert(
                        f"copy {relation} from stdin with (format csv, header true)", fh
                    )
                counts[table] = duck.execute(f"select count(*) from {relation}").fetchall()[0][0]
        pg.commit()
    return counts
