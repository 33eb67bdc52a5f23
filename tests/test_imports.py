"""The import rules of docs/ARCHITECTURE.md, checked on the source: every import, also those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("dataplane", "curation", "dedup", "synth", "proxies", "automixer")
STAGE_PACKAGES = ("curation", "dedup", "synth", "proxies")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Project modules that ``name`` imports (``from pkg import mod`` counts as ``pkg.mod`` when that is a module)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m.split(".")[0] in PACKAGES}


GRAPH = {name: _imports(name) for name in MODULES}


def _top(module: str) -> str:
    return module.split(".")[0]


def test_the_module_walk_sees_the_project():
    assert {"dataplane.store", "automixer.cli", "automixer.mixing.optimizer", "dedup.minhash"} <= set(MODULES)
    assert "dataplane.errors" in GRAPH["curation.ingest"]


def test_dataplane_is_a_leaf():
    bad = {(m, i) for m in GRAPH if _top(m) == "dataplane" for i in GRAPH[m] if _top(i) != "dataplane"}
    assert not bad, f"dataplane imports from the project: {sorted(bad)}"


@pytest.mark.parametrize("package", STAGE_PACKAGES)
def test_stage_packages_import_only_themselves_and_dataplane(package):
    bad = {(m, i) for m in GRAPH if _top(m) == package for i in GRAPH[m] if _top(i) not in (package, "dataplane")}
    assert not bad, f"{package} imports outside itself and dataplane: {sorted(bad)}"


def test_mixture_science_does_not_import_orchestration():
    forbidden = ("automixer.flows", "automixer.cli", "automixer.demo", "automixer.sweep", "automixer.stage_run")
    bad = {(m, i) for m in GRAPH if m.startswith("automixer.mixing") for i in GRAPH[m]
           if i.startswith(forbidden)}
    assert not bad, f"automixer.mixing imports orchestration: {sorted(bad)}"


def test_there_is_no_import_cycle():
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in GRAPH:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_is_imported_by_a_string():
    users = [m for m, p in MODULES.items() if "importlib.import_module(" in p.read_text(encoding="utf-8")]
    assert not users, f"modules loaded by string (import them directly): {users}"


def test_export_logic_imports_only_itself_and_dataplane():
    bad = {(m, i) for m in GRAPH if m.startswith("automixer.export") for i in GRAPH[m]
           if not i.startswith(("automixer.export", "dataplane"))}
    assert not bad, f"automixer.export imports outside itself and dataplane: {sorted(bad)}"
