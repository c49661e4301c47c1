"""The seeded sample shop: a realistic landing folder for demos, tests and benchmarks."""

from orchestration.sample.params import SampleParams, SampleParamsError
from orchestration.sample.shop import SampleSummary, generate_sample_shop

__all__ = ["SampleParams", "SampleParamsError", "SampleSummary", "generate_sample_shop"]
