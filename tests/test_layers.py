"""The code location is a one-way house: each layer imports only the layers below it.

The pipeline runs ingest -> quality -> transform (dbt, driven from the assets) -> audiences ->
publish, over a small core that imports nothing of the pipeline; the Dagster wiring sits on
top. A module that imports a later layer makes a cycle waiting to happen (the gate needing
the loader needing the gate), so it fails here rather than at some import order in
production. The layers are also imported bottom-up in a fresh interpreter: an import cycle, or
a module that only imports once something else has been loaded, fails there.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "orchestration"

# Lowest first: a module may import its own layer and those before it.
LAYERS: dict[str, tuple[str, ...]] = {
    "core": (
        "orchestration.settings",
        "orchestration.quality_thresholds",
        "orchestration.churn_model_settings",
        "orchestration.shop_time",
        "orchestration.masking",
        "orchestration.warehouse_schema",
        "orchestration.partitions",
        "orchestration.dbt_project",
        "orchestration.spark_output",
    ),
    "ingest": ("orchestration.ingest",),
    "quality": ("orchestration.quality",),
    "clv": ("orchestration.clv",),
    "audiences": ("orchestration.audiences",),
    "publish": ("orchestration.publish",),
    "serve": ("orchestration.serve",),
    "resources": ("orchestration.resources",),
    "assets": ("orchestration.assets",),
    "jobs": ("orchestration.jobs", "orchestration.schedules", "orchestration.sensors"),
    "app": (
        "orchestration.definitions",
        "orchestration.cli",
        "orchestration.runs",
        "orchestration.sample_data",
        "orchestration.bench",
    ),
}
# The sample shop stands beside the pipeline: it may use the core only, and only the command
# lines (the app layer) use it.
SAMPLE = "sample"
SAMPLE_MODULES = ("orchestration.sample",)
ORDER = list(LAYERS)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> str | None:
    if module == "orchestration":
        return "core"  # the package itself: a docstring
    if _in(module, SAMPLE_MODULES):
        return SAMPLE
    return next((name for name, prefixes in LAYERS.items() if _in(module, prefixes)), None)


def may_import(importer: str, imported: str) -> bool:
    if importer == SAMPLE:
        return imported in ("core", SAMPLE)
    if imported == SAMPLE:
        return importer == "app"
    return ORDER.index(imported) <= ORDER.index(importer)


@functools.cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(module: str, path: Path) -> set[str]:
    """The orchestration modules `module` imports, at the top or inside a function."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up `level - 1` packages
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            # `from package import module` imports the module.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n in _modules() and n != module}


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in _modules() if layer_of(m) is None]
    assert not unplaced, f"add these modules to a layer in {Path(__file__).name}: {unplaced}"


def test_no_module_imports_a_later_layer() -> None:
    upward = []
    for module, path in _modules().items():
        importer = layer_of(module)
        for target in sorted(_imported(module, path)):
            imported = layer_of(target)
            if importer and imported and not may_import(importer, imported):
                upward.append(f"{module} ({importer}) imports {target} ({imported})")
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_the_layers_import_bottom_up_in_a_fresh_interpreter() -> None:
    """Each layer's modules imported in a fresh interpreter, lowest layer first (the sample
    shop right after the core), as Dagster or a script would import them."""
    order = ["core", SAMPLE, *ORDER[1:]]
    lines = [f"import {m}" for layer in order for m in sorted(_modules()) if layer_of(m) == layer]
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
