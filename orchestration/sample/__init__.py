"""The seeded sample shop: a realistic landing folder for demos, tests and benchmarks.

The generator (numpy) is imported on first use, so reading the parameters stays cheap (the
`lifecycle` command's options take their defaults from them).
"""

from typing import Any

from orchestration.sample.params import SampleParams, SampleParamsError

__all__ = ["SampleParams", "SampleParamsError", "SampleSummary", "generate_sample_shop"]


def __getattr__(name: str) -> Any:
    if name in ("SampleSummary", "generate_sample_shop"):
        from orchestration.sample import shop

        return getattr(shop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
