"""The layout's one-way data flow: import-linter's contracts, plus the top-level modules.

import-linter analyses packages only, so the user's top-level modules are checked here
with the same order: a module may import only what stands below it.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Top to bottom; the package's stages and the top-level modules in one order.
ORDER = (
    "main",
    "foresight.cli",
    "dashboard",
    "foresight.web",
    "foresight.live",
    "foresight.alerts",
    "foresight.replay",
    "scaling_engine",
    "foresight.scaling",
    "resource_manager",
    "foresight.pool",
    "foresight.sources",
    "metrics_collector",
    "foresight.risk",
    "foresight.host",
    "foresight.evaluation",
    "predictor",
    "foresight.models",
    "foresight.store",
    "foresight.core",
)


def rank(module: str) -> int | None:
    for i, layer in enumerate(ORDER):
        if module == layer or module.startswith(layer + "."):
            return i
    return None


def is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` — a script's entry, not an import of the module."""
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def own_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    tree.body = [node for node in tree.body if not is_main_guard(node)]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if rank(name) is not None]


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


SOURCES = sorted([*ROOT.glob("*.py"), *(ROOT / "foresight").rglob("*.py")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    me = module_name(path)
    my_rank = rank(me)
    if my_rank is None:
        pytest.skip(f"{me} is not a layer")
    upward = [
        f"{path.name}:{line} imports {name}"
        for line, name in own_imports(path)
        if rank(name) < my_rank
    ]  # type: ignore[operator]
    assert not upward, "imports pointing up the layers: " + "; ".join(upward)


def test_import_linter_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed (requirements-dev.txt has it)")
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
