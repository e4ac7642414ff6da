"""The package's shape: no import cycles at module level, small modules, one IGNORE_INDEX, no X.py beside X/."""

import ast
from pathlib import Path

import networkx as nx
import pytest

import sft_recipes

ROOT = Path(sft_recipes.__file__).parent
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The package modules an import statement names (``from a import b`` names a.b when b is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "sft_recipes"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "sft_recipes":
        return []
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]


def import_graph(module_level_only: bool) -> nx.DiGraph:
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = tree.body if module_level_only else ast.walk(tree)
        for node in nodes:
            if isinstance(node, ast.If):  # TYPE_CHECKING blocks are not run
                continue
            for target in imported(node, module, path.name == "__init__.py"):
                while target not in MODULES and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != module:
                    graph.add_edge(module, target)
    return graph


def test_the_graph_sees_the_imports():
    graph = import_graph(module_level_only=True)
    assert graph.has_edge("sft_recipes.chat.tokenize", "sft_recipes.chat.masking")
    assert graph.number_of_nodes() > 50
    everything = import_graph(module_level_only=False)
    assert everything.number_of_edges() > graph.number_of_edges()  # function-level imports exist and are seen


def test_no_import_cycles_at_module_level():
    cycles = list(nx.simple_cycles(import_graph(module_level_only=True)))
    assert cycles == [], "module-level import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines"


def minus_hundreds(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub) and isinstance(n.operand, ast.Constant)
            and n.operand.value == 100]


def test_one_ignore_index():
    found = {module: lines for module, path in MODULES.items() if (lines := minus_hundreds(path))}
    assert found == {"sft_recipes.chat.masking": found.get("sft_recipes.chat.masking", [])}, found
    masking = MODULES["sft_recipes.chat.masking"].read_text(encoding="utf-8").splitlines()
    assert [masking[n - 1].strip() for n in found["sft_recipes.chat.masking"]] == ["IGNORE_INDEX = -100"]


def test_no_module_beside_a_package_of_its_name():
    clashes = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if p.with_suffix("").is_dir()]
    assert clashes == []
