"""Each function's code as Lambda receives it: the package ``functions.<name>``, so that its handler module and
the modules it imports beside it are found there (the API's handler imports its routers)."""

from __future__ import annotations

import ast
from pathlib import Path

from aws_cdk.assertions import Template
from aws_cdk.cx_api import CloudAssembly

from tests.support.templates import carbonmeter_functions


def _missing_imports(module: Path, root: Path) -> set[str]:
    """The modules of package ``functions`` that ``module`` imports and ``root`` does not hold."""
    missing: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "functions":
            if not _found(root, node.module):
                missing.add(node.module)
        elif isinstance(node, ast.Import):
            own = (alias.name for alias in node.names if alias.name.split(".")[0] == "functions")
            missing.update(name for name in own if not _found(root, name))
    return missing


def _found(root: Path, module: str) -> bool:
    path = root.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_every_handler_and_what_it_imports_of_its_package_is_in_its_code(
    template: Template, assembly: CloudAssembly
) -> None:
    for name, function in carbonmeter_functions(template).items():
        root = Path(assembly.directory) / function["Metadata"]["aws:asset:path"]
        handler_module = function["Properties"]["Handler"].rsplit(".", 1)[0]

        assert _found(root, handler_module), name
        for module in root.rglob("*.py"):
            missing = _missing_imports(module, root)
            assert not missing, f"{name}: {module.relative_to(root)} imports {missing}, not packaged"
