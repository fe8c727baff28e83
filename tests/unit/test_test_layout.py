"""The tests' own layout (docs/architecture.md): shared helpers live in ``tests/support/``.

No file under ``tests/`` imports a test module or a conftest (pytest finds fixtures by itself), and none imports a
private name, ours or another test's: a helper worth sharing is public in ``tests/support/``, and a test goes through
the public names of ``carbonmeter``, ``devtools``, ``infra`` and ``functions``. Read with ``ast``, nothing imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
OURS = frozenset({"carbonmeter", "devtools", "infra", "functions", "tests"})
SUPPORT = "tests.support"


def _module_name(path: Path, root: Path) -> str:
    """``tests/unit/test_cli.py`` -> ``tests.unit.test_cli``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from ... import`` names, with a relative one resolved against the importing module."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_test_module(dotted: str) -> bool:
    """A test module, a conftest or a test package, anything under ``tests`` but ``tests.support``."""
    if dotted == SUPPORT or dotted.startswith(SUPPORT + "."):
        return False
    parts = dotted.split(".")
    return parts[0] == "tests" or any(part == "conftest" or part.startswith("test_") for part in parts)


def layout_problems(source: str, module: str, is_package: bool = False) -> list[str]:
    """What ``source`` (the module ``module``) imports against the layout rules, one line each."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported = [(alias.name, alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source_module = _absolute(node, module, is_package)
            # ``from tests import support`` imports the support package; ``from tests.unit import test_x`` a test.
            imported = [(source_module, f"{source_module}.{alias.name}", alias.name) for alias in node.names]
        else:
            continue
        for dotted, full, name in imported:
            where = f"line {node.lineno}: imports"
            if _is_test_module(dotted) and _is_test_module(full):
                problems.append(f"{where} {name + ' from ' if name else ''}the test module {dotted}")
            if dotted.split(".")[0] in OURS:
                if any(_is_private(part) for part in dotted.split(".")):
                    problems.append(f"{where} the private module {dotted}")
                if _is_private(name):
                    problems.append(f"{where} the private name {name} from {dotted}")
    return sorted(set(problems))


def layout_violations(root: Path) -> dict[str, list[str]]:
    """Every file under ``root`` (a ``tests`` folder) that breaks the rules, with its problems."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        problems = layout_problems(path.read_text(encoding="utf-8"), _module_name(path, root), path.stem == "__init__")
        if problems:
            found[str(path.relative_to(root.parent))] = problems
    return found


def test_no_test_imports_a_test_module_a_conftest_or_a_private_name():
    assert layout_violations(TESTS) == {}


def test_the_rules_cover_every_file_under_tests_support_and_conftests_included():
    files = {str(p.relative_to(TESTS.parent)) for p in TESTS.rglob("*.py")}
    assert {"tests/conftest.py", "tests/support/__init__.py", "tests/unit/test_test_layout.py"} <= files


@pytest.mark.parametrize(
    ("source", "module", "problem"),
    [
        # a helper from another test module
        ("from tests.unit.test_estimate import HOUR, usage\n", "tests.unit.test_report", "test module"),
        ("from tests.unit import test_estimate\n", "tests.unit.test_report", "test module"),
        ("import tests.unit.test_estimate as estimates\n", "tests.unit.test_report", "test module"),
        ("from tests.records import ec2_usage\n", "tests.unit.test_providers", "test module"),
        ("from tests import records\n", "tests.unit.test_providers", "test module"),
        # a helper or a fixture from a conftest, absolute, relative or as pytest's rootdir puts it on sys.path
        ("from tests.e2e.conftest import deny_assume_role\n", "tests.e2e.test_cli", "test module"),
        ("from tests.integration.conftest import CloudWatchLimits\n", "tests.e2e.conftest", "test module"),
        ("from .conftest import logical_id\n", "tests.infra.test_stack", "test module"),
        ("from . import conftest\n", "tests.infra.test_stack", "test module"),
        ("from ..integration.conftest import GetMetricDataPager\n", "tests.e2e.test_faults", "test module"),
        ("from conftest import logical_id\n", "tests.infra.test_stack", "test module"),
        # a private name: another test's, or the library's, the workbench's, the CDK app's or a handler's
        ("from tests.e2e.test_pipeline import CONNECTION, _register\n", "tests.e2e.test_provider_switch", "_register"),
        ("from tests.support.local_cloud import _hidden\n", "tests.e2e.test_cli", "_hidden"),
        ("from carbonmeter.emissions.coefficients import _rows\n", "tests.unit.test_comparison_ccf", "_rows"),
        (
            "from carbonmeter.emissions.providers.http_api import (\n    EstimateItem,\n    _items_by_id,\n)\n",
            "tests.unit.test_providers",
            "_items_by_id",
        ),
        ("from devtools.soak.pair import _reference_in_background\n", "tests.e2e.test_soak_smoke", "_reference"),
        ("from infra._private import x\n", "tests.infra.test_stack", "private module"),
        ("import functions._internal\n", "tests.integration.test_entry_points", "private module"),
        (
            "def f():\n    from functions.calculator.handler import _provider\n",
            "tests.e2e.test_provider_switch",
            "_provider",
        ),
    ],
)
def test_the_check_catches_each_kind_of_import_the_layout_forbids(source, module, problem):
    problems = layout_problems(source, module)
    assert problems
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from tests.support.estimates import HOUR, usage\n", "tests.unit.test_report"),
        ("from tests.support import estimates\n", "tests.unit.test_report"),
        ("from tests import support\n", "tests.unit.test_report"),
        ("from .estimates import HOUR\n", "tests.support.records"),
        ("from __future__ import annotations\nimport pytest\nfrom botocore.handlers import _x\n", "tests.unit.test_x"),
        ("from carbonmeter.emissions.coefficients import rows\n", "tests.unit.test_comparison_ccf"),
    ],
)
def test_the_check_lets_through_support_modules_public_names_and_other_peoples_privates(source, module):
    assert layout_problems(source, module) == []


def test_the_check_finds_a_forbidden_import_in_a_file_of_a_tests_folder(tmp_path):
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "unit" / "test_a.py").write_text("from tests.unit.test_b import helper\n")
    (tmp_path / "tests" / "unit" / "test_b.py").write_text("def helper():\n    return 1\n")

    assert layout_violations(tmp_path / "tests") == {
        "tests/unit/test_a.py": ["line 1: imports helper from the test module tests.unit.test_b"]
    }
