"""Ingestion: landing files of each source into raw DuckDB tables, one day at a time; rows that
break a row rule go to quarantine instead."""

from orchestration.ingest.errors import LandingFileError
from orchestration.ingest.loader import LoadResult, ensure_raw_tables, load_days
from orchestration.ingest.sources import SOURCES, SourceSpec

__all__ = [
    "SOURCES",
    "LandingFileError",
    "LoadResult",
    "SourceSpec",
    "ensure_raw_tables",
    "load_days",
]
