"""The audiences the dbt project declares (`meta.audience`), read from its manifest once.

Their gates and their publish assets are generated from this list, so a new audience is one
SQL file: nothing in Python names an audience.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster import AssetKey

from orchestration.assets.dbt import LifecycleDbtTranslator
from orchestration.dbt_project import dbt_project, project_var

# dbt tag of the models the 15-minute cart job rebuilds (checkouts staging, cart steps).
INTRADAY_TAG = "intraday"


@dataclass(frozen=True)
class AudienceSpec:
    name: str  # the dbt model
    key: AssetKey  # its Dagster asset
    settings: Mapping[str, Any]  # meta.audience, with the unsubscribe group filled in
    tags: tuple[str, ...] = ()  # the model's dbt tags
    parents: frozenset[AssetKey] = frozenset()  # the assets of the models it selects from

    @property
    def list_name(self) -> str:
        return str(self.settings.get("list_name") or self.name)

    @property
    def frequency_capped(self) -> bool:
        """Counts towards the cap across audiences (the cart steps, a series, do not)."""
        return bool(self.settings.get("frequency_capped", True))

    @property
    def intraday(self) -> bool:
        """Rebuilt and published by the 15-minute cart job (dbt tag `intraday`)."""
        return INTRADAY_TAG in self.tags


def audience_specs(manifest: Mapping[str, Any]) -> list[AudienceSpec]:
    """Every model with `meta.audience` in the manifest, in name order."""
    translator = LifecycleDbtTranslator()
    default_group = project_var("audience_asm_group_id")
    specs = []
    for unique_id, node in sorted(manifest.get("nodes", {}).items()):
        meta = node.get("config", {}).get("meta", {}).get("audience")
        if node.get("resource_type") != "model" or not meta:
            continue
        settings = {"asm_group_id": default_group, **meta}
        key = translator.get_asset_spec(manifest, unique_id, dbt_project).key
        tags = tuple(node.get("tags", ()))
        parents = frozenset(
            translator.get_asset_spec(manifest, parent, dbt_project).key
            for parent in node.get("depends_on", {}).get("nodes", ())
        )
        specs.append(
            AudienceSpec(name=node["name"], key=key, settings=settings, tags=tags, parents=parents)
        )
    return specs
