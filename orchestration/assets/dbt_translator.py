"""How dbt's nodes appear in Dagster: their group (the lineage reads left to right like the
flow), descriptions and freshness policies. Apart from the dbt steps so the audience specs
can translate dbt's nodes the same way without depending on how the steps run."""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dagster import AssetCheckSpec, AssetSpec, FreshnessPolicy
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from orchestration.assets.dbt_descriptions import check_description, node_description

# dbt tag of the read-outs built from what the publish step records (marts.holdout_results):
# they run in a dbt step of their own, after publishing.
READOUT_TAG = "readout"


# dbt folder -> Dagster group, so the lineage reads left to right like the flow.
FOLDER_GROUPS = {
    "staging": "staging",
    "intermediate": "intermediate",
    "marts": "marts",
    "audiences": "audiences",
}


def group_for_node(node: Mapping[str, Any]) -> str:
    """The Dagster group of a dbt node: its folder under models/, `reference` for seeds, and
    `measurement` for the read-outs (tag `readout`), which are built after publishing from
    what it recorded: in `marts` the lineage would read publish -> marts."""
    if node.get("resource_type") == "seed":
        return "reference"
    if READOUT_TAG in node.get("tags", []):
        return "measurement"
    fqn = node.get("fqn", [])
    folder = fqn[1] if len(fqn) > 2 else ""
    return FOLDER_GROUPS.get(folder, "marts")


# The groups whose tables people read: a freshness policy says when they are overdue.
FRESH_GROUPS = ("marts", "audiences", "measurement")


class LifecycleDbtTranslator(DagsterDbtTranslator):
    def __init__(
        self,
        settings: DagsterDbtTranslatorSettings | None = None,
        fresh_within_hours: float | None = None,  # None: no freshness policy
    ):
        super().__init__(settings=settings)
        self.fresh_within_hours = fresh_within_hours

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return node_description(dbt_resource_props)

    def get_asset_check_spec(
        self,
        asset_spec: AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        return spec._replace(description=check_description(manifest["nodes"][unique_id]))

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest.get("nodes", {}).get(unique_id)
        if node is None:  # a source: keeps its raw/<table> key and the ingest group
            return spec
        group = group_for_node(node)
        if group not in FRESH_GROUPS or self.fresh_within_hours is None:
            return spec.replace_attributes(group_name=group)
        # Rebuilt once a day: warn when a day's run is late, fail past the setting.
        fail = dt.timedelta(hours=self.fresh_within_hours)
        warn = min(dt.timedelta(hours=25), fail * 0.9)
        return spec.replace_attributes(
            group_name=group,
            freshness_policy=FreshnessPolicy.time_window(fail_window=fail, warn_window=warn),
        )
