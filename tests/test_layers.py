"""The module map in CONTRIBUTING.md is the rule: each module imports only those listed above it."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "harmony_vocab"


def module_map() -> list:
    """The modules of CONTRIBUTING.md's table, bottom to top."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE)


def imported(source: str) -> set:
    """The harmony_vocab modules a module's `source` imports anywhere (at its top or in a function)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harmony_vocab."):
            names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("harmony_vocab."))
    # `from . import __version__` names the package itself; _pins is generated, below everything
    return {n for n in names if (PACKAGE / f"{n}.py").exists()} - {"_pins"}


def imports_of(module: str) -> set:
    return imported((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))


def test_the_map_lists_every_module() -> None:
    on_disk = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__", "_pins"}
    assert sorted(module_map()) == sorted(on_disk)


@pytest.mark.parametrize("module", module_map())
def test_imports_point_down(module: str) -> None:
    order = module_map()
    above = set(order[:order.index(module)])
    assert imports_of(module) <= above, f"{module} imports {sorted(imports_of(module) - above)}, listed above it"


def test_the_check_sees_imports_that_point_up() -> None:
    """Control: an import inside a function counts, in each spelling; the package's own names do not."""
    source = ("from . import __version__\nfrom .errors import VocabError\ndef f():\n    from .cli import main\n"
              "    import harmony_vocab.doctor\n    from harmony_vocab.export import export\n")
    assert imported(source) == {"errors", "cli", "doctor", "export"}
