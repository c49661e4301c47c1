"""The warehouse's schemas, named once for every layer that reads or writes them.

The layers run ingest -> quality -> transform (dbt) -> audiences -> publish, and each reads
what an earlier one wrote: a name defined here cannot differ between the writer and its
readers, and no layer imports a later one to learn it. dbt builds `marts` and `audiences`
(its `models/` folders); the Python layers write the rest.
"""

RAW_SCHEMA = "raw"  # the landed rows that passed their row rules (ingest)
QUARANTINE_SCHEMA = "quarantine"  # the landed rows that broke one (ingest)
QUALITY_SCHEMA = "quality"  # the record of each load and each gate's verdict
INTERMEDIATE_SCHEMA = "intermediate"  # dbt's intermediate models (orders that count, ...)
MARTS_SCHEMA = "marts"  # dbt's marts
AUDIENCE_SCHEMA = "audiences"  # dbt's audiences, gated and then published
PREDICTIONS_SCHEMA = "predictions"  # the churn model's fits and expected orders (dbt scores)
PUBLISH_SCHEMA = "publish"  # what each sync sent and what the targets confirmed

# Who must never be mailed: the audience gate checks it, and every sync leaves it out.
SUPPRESSIONS = f"{MARTS_SCHEMA}.suppressions"
