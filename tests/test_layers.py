"""The packages of workflow_scripts run downhill: no import cycle, no hidden one.

Layers, lowest first (a package may import only the ones below it):

1. ``decoding``: the decoding core (engine, budgets, prompts, thinking rounds, think/answer);
   below it only ``errors``, ``io`` and ``tokenization`` of workflow_scripts;
2. ``methods``: the registry of test-time scaling methods;
3. ``config``: schema, settings and the evaluation grid;
4. ``generation``: the stage (CLI, shards, method specs, trajectories).

Every module is parsed (not imported), so a function-local import counts as much as one at the
top: an import moved into a function to break a cycle is still a cycle here. In these four
packages a function-local import is kept only for a heavy or optional third-party dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "workflow_scripts"
LAYERS = ("decoding", "methods", "config", "generation")  # lowest first
DECODING_MAY_IMPORT = {"decoding", "errors", "io", "tokenization"}
# Loaded inside the function that needs them: slow to import, or absent where the code does not run them.
HEAVY = {"vllm", "torch", "transformers", "huggingface_hub", "pandas", "matplotlib", "tqdm"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def package(module: str) -> str:
    """``workflow_scripts.decoding.engine`` -> ``decoding``; ``workflow_scripts.io`` -> ``io``."""
    return module.split(".")[1] if "." in module else module


def resolve(node: ast.ImportFrom | ast.Import, alias: ast.alias, importer: str) -> str:
    """The module an import names: ``from pkg import sub`` is the submodule where one exists."""
    if isinstance(node, ast.Import):
        return alias.name
    base = node.module or ""
    if node.level:  # relative: from the importer's package
        anchor = importer.split(".")
        anchor = anchor[:len(anchor) - node.level + (MODULES[importer].name == "__init__.py")]
        base = ".".join(anchor + ([base] if base else []))
    candidate = f"{base}.{alias.name}"
    return candidate if candidate in MODULES else base


class Imports(ast.NodeVisitor):
    """(imported module, function or None for module level, line) of every import in a module."""

    def __init__(self, module: str):
        self.module, self.function, self.found = module, None, []

    def visit_FunctionDef(self, node):
        outer, self.function = self.function, self.function or node.name
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node):
        self.found.extend((resolve(node, alias, self.module), self.function, node.lineno) for alias in node.names)

    visit_ImportFrom = visit_Import


def imports(module: str) -> list[tuple[str, str | None, int]]:
    visitor = Imports(module)
    visitor.visit(ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module])))
    return visitor.found


IMPORTS = {module: imports(module) for module in MODULES}


def internal(target: str) -> bool:
    return target == "workflow_scripts" or target.startswith("workflow_scripts.")


def where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(ROOT.parent)}:{line}"


def test_every_module_is_parsed():
    assert {"workflow_scripts.methods.base", "workflow_scripts.config.grid",
            "workflow_scripts.generation.cli"} <= set(MODULES)
    assert any(target.startswith("workflow_scripts.") for found in IMPORTS.values() for target, _, _ in found)


def test_layers_import_only_downhill():
    """Module-level and function-local imports alike: a layer imports only the layers below it,
    and the decoding core only errors, io and tokenization besides itself."""
    wrong = []
    for module, found in IMPORTS.items():
        source = package(module)
        for target, _function, line in found:
            if not internal(target) or package(target) == source:
                continue
            if source == "decoding" and package(target) not in DECODING_MAY_IMPORT:
                wrong.append(f"{where(module, line)}: decoding imports {target}")
            elif source in LAYERS and package(target) in LAYERS and LAYERS.index(package(target)) > LAYERS.index(source):
                wrong.append(f"{where(module, line)}: {source} imports {target}, a layer above it")
    assert not wrong, "imports running uphill:\n" + "\n".join(wrong)


def package_graph() -> dict[str, set[str]]:
    graph = defaultdict(set)
    for module, found in IMPORTS.items():
        for target, _, _ in found:
            if internal(target) and package(target) != package(module):
                graph[package(module)].add(package(target))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), and self-loops."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_layer_packages_have_no_cycle():
    graph = {source: {t for t in targets if t in LAYERS} for source, targets in package_graph().items() if source in LAYERS}
    assert not cycles(graph), f"package import cycle(s) among {LAYERS}: {cycles(graph)}"


def test_no_module_level_cycle():
    graph = defaultdict(set)
    for module, found in IMPORTS.items():
        for target, function, _ in found:
            if function is None and target in MODULES and target != module:
                graph[module].add(target)
    assert not cycles(graph), f"module-level import cycle(s): {cycles(graph)}"


def stdlib(name: str) -> bool:
    import sys

    return name.split(".")[0] in sys.stdlib_module_names


@pytest.mark.parametrize("layer", LAYERS)
def test_function_local_imports_only_heavy(layer):
    """No import hidden in a function except a heavy third-party one (HEAVY) or, on Unix only,
    ``fcntl``; workflow_scripts and the standard library are imported at the top."""
    hidden = []
    for module, found in IMPORTS.items():
        if package(module) != layer:
            continue
        for target, function, line in found:
            if function is None:
                continue
            top = target.split(".")[0]
            if top in HEAVY or target == "fcntl":
                continue
            kind = "workflow_scripts" if internal(target) else "standard library" if stdlib(target) else "third-party"
            hidden.append(f"{where(module, line)}: {target} ({kind}) imported inside {function}()")
    assert not hidden, "function-local imports to move to the top:\n" + "\n".join(sorted(set(hidden)))
