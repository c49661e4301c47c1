"""The audiences the dbt project declares (`meta.audience`), read from its manifest once.

Their gates and their publish assets are generated from this list, so a new audience is one
SQL file: nothing in Python names an audience.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster import AssetKey

from orchestration.assets.dbt_translator import LifecycleDbtTranslator
from orchestration.dbt_project import dbt_project, project_var

# dbt tag of the models the 15-minute cart job rebuilds (checkouts staging, cart steps).
INTRADAY_TAG = "intraday"
# What a membership does: a standing segment campaigns are sent to (may overlap), or the
# entry into a message series (capped across series by priority).
AUDIENCE_KINDS = ("segment", "series")


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
    def kind(self) -> str:
        """`segment` (a standing list: may overlap others) or `series` (entry starts a series)."""
        return str(self.settings["kind"])

    @property
    def frequency_capped(self) -> bool:
        """Counts towards the cap across audiences: a series does, unless its meta says not
        (the cart steps keep their own cadence); a segment never does."""
        return self.kind == "series" and bool(self.settings.get("frequency_capped", True))

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
        if settings.get("kind") not in AUDIENCE_KINDS:
            raise ValueError(
                f"audience {node['name']}: meta.audience.kind is {settings.get('kind')!r}; "
                f"set it to one of {', '.join(AUDIENCE_KINDS)} in {node.get('original_file_path')}"
            )
        if not isinstance(settings.get("exclusions", {}), Mapping):
            raise ValueError(
                f"audience {node['name']}: meta.audience.exclusions must map each rule's name "
                "(the audience's excluded_by) to what it means, in "
                f"{node.get('original_file_path')}"
            )
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
