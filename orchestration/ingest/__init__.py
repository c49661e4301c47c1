"""Ingestion: landing files of each source into raw DuckDB tables, one day at a time."""

from orchestration.ingest.errors import LandingFileError
from orchestration.ingest.loader import RAW_SCHEMA, LoadResult, ensure_raw_tables, load_days
from orchestration.ingest.sources import SOURCES, RawTable, SourceSpec

__all__ = [
    "RAW_SCHEMA",
    "SOURCES",
    "LandingFileError",
    "LoadResult",
    "RawTable",
    "SourceSpec",
    "ensure_raw_tables",
    "load_days",
]
