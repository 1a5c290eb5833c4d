"""The layering of the project: cli/plan/checks/finance/policy -> components -> catalogue, one way only.

* ``catalogue/`` is the domain (modules, names, sizing, versions, prices, labels, tenant files, shared config):
  plain Python, no Pulumi. Finance, the policy pack, the checks and the docs read it without loading the SDK.
* ``components/`` turns the catalogue's objects into Pulumi resources; it knows nothing of the commands.
* Everything else (``urbanstack/``, ``finance/``, ``policy/``) sits on top.
* ``clikit/`` (terminal output, progress, output folders) serves both command lines and imports neither: ``finance``
  never imports ``urbanstack``; ``urbanstack`` imports ``finance`` only in its command line (``urbanstack.cli``
  registers the ``costs`` commands).
* Inside ``urbanstack/``: the offline engine (``engine/``), the operator model (``cluster_model/``) and the checks
  (``checks/``) know nothing of the operations commands (``ops/``) or of the command line (``cli.py``). A
  ``python -m`` entry point (a ``__main__`` module) runs the command line and so may import it.

The import graph is read from the source (every ``import``, also those inside functions), so a back edge hidden
in a function body is caught as well as one at the top of a file.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from catalogue.paths import ROOT
from catalogue.tenants import load_all
from tests.stack_urns import RECORDED, urns_by_stack

PACKAGES = ("catalogue", "components", "urbanstack", "finance", "policy", "clikit")
PULUMI = ("pulumi", "pulumi_kubernetes", "pulumi_random")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "catalogue": ("components", "urbanstack", "finance", "policy", "clikit", *PULUMI),
    "components": ("urbanstack", "finance", "policy", "clikit"),
    "finance": ("components", "urbanstack", *PULUMI),
    "policy": ("components", "urbanstack", *PULUMI),
    "clikit": ("catalogue", "components", "urbanstack", "finance", "policy", *PULUMI),
    "urbanstack.engine": ("urbanstack.ops", "urbanstack.cli", "finance"),
    "urbanstack.cluster_model": ("urbanstack.ops", "urbanstack.cli", "finance"),
    "urbanstack.checks": ("components", "urbanstack.ops", "urbanstack.cli", "finance", *PULUMI),
    "urbanstack.ops": ("urbanstack.cli", "finance"),
    "urbanstack.docs": ("urbanstack.ops", "urbanstack.cli", "finance"),
}
"""Importing layer (a package or subpackage) -> what it must never import (packages and their modules)."""


def project_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` of the project's packages below ``root``."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import statement in the file, at any depth (functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def back_edges(root: Path) -> list[str]:
    """One message per import that points against the layering (:data:`FORBIDDEN`), naming file, line and import."""
    problems = []
    for module, path in project_modules(root).items():
        if module.rpartition(".")[2] == "__main__":
            continue  # a ``python -m`` entry point: it runs the command line, above every layer
        for lineno, imported in imports_of(path, module):
            for layer, forbidden in FORBIDDEN.items():
                if _within(module, layer) and any(_within(imported, f) for f in forbidden):
                    rel = path.relative_to(root)
                    problems.append(f"{rel}:{lineno}: imports {imported}, but {layer} must not import "
                                    f"{next(f for f in forbidden if _within(imported, f))}")
    return problems


def import_cycles(root: Path) -> list[list[str]]:
    """Every set of project modules that import each other in a ring (strongly connected components > 1)."""
    modules = project_modules(root)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {m: {t for _, imported in imports_of(p, m) if (t := resolve(imported)) and t != m}
             for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            ring = []
            while True:
                w = stack.pop()
                ring.append(w)
                if w == v:
                    break
            if len(ring) > 1:
                cycles.append(sorted(ring))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def unexplained_function_imports(root: Path, packages: tuple[str, ...]) -> list[str]:
    """One message per project import inside a function of ``packages`` whose line gives no reason (a comment:
    an import cycle, or a heavy dependency kept out of ``--help``). Without a reason it belongs at the top."""
    problems = []
    for module, path in project_modules(root).items():
        if not any(_within(module, p) for p in packages):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for func in ast.walk(ast.parse("\n".join(lines), filename=str(path))):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else
                         [a.name for a in node.names] if isinstance(node, ast.Import) else
                         ["."] if isinstance(node, ast.ImportFrom) else [])
                project = any(n == "." or n.split(".")[0] in PACKAGES for n in names)
                if project and "#" not in "".join(lines[node.lineno - 1:node.end_lineno]):
                    problems.append(f"{path.relative_to(root)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return sorted(set(problems))


# -- the project -------------------------------------------------------------------------------------------------

def test_no_import_points_against_the_layering():
    assert back_edges(ROOT) == []


def test_urbanstack_imports_finance_only_in_its_command_line():
    """``urbanstack.cli`` registers the ``costs`` commands; no other module of ``urbanstack`` leans on finance."""
    importers = sorted(f"{module}:{lineno}" for module, path in project_modules(ROOT).items()
                       if _within(module, "urbanstack") and module != "urbanstack.cli"
                       for lineno, imported in imports_of(path, module) if _within(imported, "finance"))
    assert importers == []


def test_no_project_modules_import_each_other_in_a_ring():
    assert import_cycles(ROOT) == []


def test_finance_and_the_catalogue_import_project_modules_at_the_top_unless_a_comment_says_why():
    assert unexplained_function_imports(ROOT, ("catalogue", "finance")) == []


PULUMI_FREE = """
import json, sys
from pathlib import Path
import catalogue.modules, catalogue.schema, catalogue.shared_config, catalogue.tenants, catalogue.prices
import finance.report, finance.cli, finance.allocate, finance.sources.estimate
import policy.urbanstack_policies as policies
from catalogue.schema import platform_secret, tenant_model
from urbanstack.checks import CHECK_NAMES, load_plan, run_all

tenants = catalogue.tenants.load_all()
tenant_model().model_json_schema()
platform_secret("db-geodata")
catalogue.shared_config.load_file()
catalogue.prices.load_prices()
policies.known_tenants(), policies.known_modules()
results = run_all(load_plan(Path(sys.argv[1])), [n for n in CHECK_NAMES if n != "checkov"])
print(json.dumps({"tenants": len(tenants), "failures": sum(len(r.failures) for r in results),
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi", "pulumi_kubernetes",
                                                                             "pulumi_random", "components"))}))
"""


def test_finance_the_policy_pack_the_tenant_loader_the_schema_and_the_checks_run_without_pulumi(real_plan_dir):
    """``costs report``, the policy rules, ``tenants validate`` and ``urbanstack check`` need no Kubernetes SDK."""
    done = subprocess.run([sys.executable, "-c", PULUMI_FREE, str(real_plan_dir)], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tenants"] == len(load_all()) and result["failures"] == 0
    assert result["loaded"] == []


# -- the checker itself ------------------------------------------------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> Path:
    for package in PACKAGES:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").touch()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_catalogue_import_of_components_hidden_in_a_function_is_a_back_edge_named_by_file_and_line(tmp_path):
    root = _tree(tmp_path, {"catalogue/names.py": "X = 1\n\n\ndef f():\n    from components.k8s import meta\n"})
    assert back_edges(root) == [
        "catalogue/names.py:5: imports components.k8s.meta, but catalogue must not import components"]


@pytest.mark.parametrize(("file", "text", "layer", "target"), [
    ("catalogue/x.py", "import pulumi\n", "catalogue", "pulumi"),
    ("components/x.py", "from urbanstack.cli import app\n", "components", "urbanstack"),
    ("finance/x.py", "from components import modules\n", "finance", "components"),
    ("urbanstack/checks/x.py", "from ...components import k8s\n", "urbanstack.checks", "components"),
    ("finance/x.py", "from urbanstack.console import err\n", "finance", "urbanstack"),
    ("clikit/x.py", "from finance.cli import app\n", "clikit", "finance"),
    ("clikit/x.py", "from urbanstack import cli\n", "clikit", "urbanstack"),
    ("urbanstack/engine/x.py", "from urbanstack.ops.deploy import up\n", "urbanstack.engine", "urbanstack.ops"),
    ("urbanstack/cluster_model/x.py", "from ..cli import app\n", "urbanstack.cluster_model", "urbanstack.cli"),
    ("urbanstack/checks/x.py", "from urbanstack.cli import app\n", "urbanstack.checks", "urbanstack.cli"),
    ("urbanstack/ops/x.py", "from urbanstack import cli\n", "urbanstack.ops", "urbanstack.cli"),
])
def test_every_forbidden_direction_is_reported(tmp_path, file, text, layer, target):
    (message,) = back_edges(_tree(tmp_path, {file: text}))
    assert message.startswith(f"{file}:1: imports ") and message.endswith(f"{layer} must not import {target}")


def test_a_python_dash_m_entry_point_may_run_the_command_line(tmp_path):
    root = _tree(tmp_path, {"urbanstack/checks/__main__.py": "from urbanstack.cli import app\n"})
    assert back_edges(root) == []


def test_components_and_commands_may_import_the_catalogue(tmp_path):
    root = _tree(tmp_path, {"components/x.py": "from catalogue import names\n",
                            "urbanstack/y.py": "from components import x\nfrom catalogue import names\n"})
    assert back_edges(root) == []


def test_two_modules_that_import_each_other_are_a_ring(tmp_path):
    root = _tree(tmp_path, {"urbanstack/a.py": "from urbanstack import b\n",
                            "urbanstack/b.py": "def f():\n    from urbanstack.a import g\n",
                            "urbanstack/c.py": "from urbanstack import a\n"})
    assert import_cycles(root) == [["urbanstack.a", "urbanstack.b"]]


def test_a_project_import_inside_a_function_without_a_reason_is_named_by_file_and_line(tmp_path):
    root = _tree(tmp_path, {"finance/a.py": "def f():\n    from catalogue import names\n    return names\n",
                            "finance/b.py": "def g():\n    from finance import a  # cycle: a -> b -> a\n",
                            "finance/c.py": "def h():\n    import json\n    return json\n"})
    assert unexplained_function_imports(root, ("finance",)) == ["finance/a.py:2: from catalogue import names"]


# -- URNs ----------------------------------------------------------------------------------------------------------

def test_the_urns_of_every_example_stack_are_the_recorded_ones(plan_stack):
    """A changed URN replaces a resource (blocked by protect) or needs a state migration: code moves must not
    change one (re-record with ``python -m tests.stack_urns`` only for an intended change)."""
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    from catalogue import cells
    from catalogue.shared_config import load_file

    layout = cells.layout(load_file(), load_all())
    current = urns_by_stack([plan_stack(stack) for cs in layout for stack in (cs.platform, *cs.members.values())])
    assert list(current) == list(recorded)
    for stack, urns in recorded.items():
        assert set(current[stack]) - set(urns) == set(), f"{stack}: new URNs"
        assert set(urns) - set(current[stack]) == set(), f"{stack}: URNs gone"
