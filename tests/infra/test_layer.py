"""The carbonmeter layer as synthesized: built for the Lambda runtime, complete and lean."""

from __future__ import annotations

import ast
import email
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.binary_compat import extension_problems, layer_problems, tag_is_compatible, wheel_tag_problems
from infra.constants import ARCHITECTURE, LAYER_PACKAGE_DIR, LAYER_REQUIREMENTS, RUNTIME
from infra.python_target import ELF_MACHINES, PythonTarget
from infra.wheelhouse import WheelhouseMissingError, require_wheelhouse

TARGET = PythonTarget.for_lambda(RUNTIME, ARCHITECTURE)
# What the Lambda Python runtime ships with its boto3; the layer must not shadow it.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
# What the library must never import: the AWS emulator, the workbench, the handlers (which import the library).
FORBIDDEN_IMPORTS = frozenset({"moto", "devtools", "functions"})
# Where the workbench lives now and lived before: neither may reappear inside the library.
WORKBENCH_FOLDERS = frozenset({"devtools", "local"})


def _fake_shared_object(path: Path, machine: str) -> Path:
    """The first bytes of a little-endian 64-bit ELF shared object for ``machine``."""
    header = bytearray(b"\x7fELF\x02\x01\x01" + bytes(9))
    header += (3).to_bytes(2, "little") + ELF_MACHINES[machine].to_bytes(2, "little")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(header) + bytes(44))
    return path


def _fake_dist_info(root: Path, name: str, tag: str) -> None:
    dist_info = root / f"{name}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")


def _imported_modules(source: str) -> Iterator[str]:
    """Every absolute module name ``source`` imports, at any depth: import statements and constant
    ``importlib.import_module``/``__import__`` calls (a relative import stays inside the library)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


def _forbidden_imports(library: Path) -> list[str]:
    return [
        f"{path.relative_to(library)} imports {module}"
        for path in sorted(library.rglob("*.py"))
        for module in _imported_modules(path.read_text(encoding="utf-8"))
        if module.split(".")[0] in FORBIDDEN_IMPORTS
    ]


def _pinned_names() -> set[str]:
    lines = LAYER_REQUIREMENTS.read_text().splitlines()
    return {canonicalize_name(Requirement(line).name) for line in lines if line and not line.startswith("#")}


def test_lambda_target_is_cpython_314_on_arm() -> None:
    assert (TARGET.cpython_tag, TARGET.machine) == ("cp314", "aarch64")
    assert TARGET.extension_suffix == ".cpython-314-aarch64-linux-gnu.so"


def test_layer_binaries_fit_the_function_runtime(layer_dir: Path) -> None:
    site_packages = layer_dir / "python"
    extensions = list(site_packages.rglob(f"*{TARGET.extension_suffix}"))

    # pydantic-core is compiled: without it this check would have nothing to look at.
    assert any(path.name.startswith("_pydantic_core.") for path in extensions)
    assert layer_problems(site_packages, TARGET) == []


def test_layer_holds_the_library_without_workstation_only_code(layer_dir: Path) -> None:
    library = layer_dir / "python" / LAYER_PACKAGE_DIR.name
    shipped = {path.relative_to(library) for path in library.rglob("*") if "__pycache__" not in path.parts}
    source = {
        relative
        for relative in (path.relative_to(LAYER_PACKAGE_DIR) for path in LAYER_PACKAGE_DIR.rglob("*"))
        if "__pycache__" not in relative.parts
    }

    assert shipped == source
    assert not list(layer_dir.rglob("__pycache__"))


def test_bundled_library_imports_neither_moto_nor_the_workbench_nor_the_handlers(layer_dir: Path) -> None:
    site_packages = layer_dir / "python"
    library = site_packages / LAYER_PACKAGE_DIR.name
    sources = list(library.rglob("*.py"))

    # The library is there to be read, subpackages included.
    assert library / "__init__.py" in sources
    assert library / "services" / "__init__.py" in sources
    assert _forbidden_imports(library) == []
    folders = {path.name for path in library.rglob("*") if path.is_dir()}
    folders |= {path.name for path in site_packages.iterdir() if path.is_dir()}
    assert not folders & WORKBENCH_FOLDERS


def test_import_checker_finds_every_kind_of_forbidden_import(tmp_path: Path) -> None:
    # Given a library whose modules reach moto, the workbench and the handlers in each way Python allows
    library = tmp_path / "carbonmeter"
    (library / "sub").mkdir(parents=True)
    (library / "a.py").write_text("import moto.server\nfrom . import b\n")
    (library / "b.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    from devtools.aws import x\n")
    (library / "sub" / "c.py").write_text("import importlib\n\nhandler = importlib.import_module('functions.x')\n")
    (library / "sub" / "d.py").write_text("from .. import a\nimport json\nfunctions = __import__('json')\n")

    # Then each is named, and relative imports and look-alike names are not
    assert _forbidden_imports(library) == [
        "a.py imports moto.server",
        "b.py imports devtools.aws",
        "sub/c.py imports functions.x",
    ]


def test_layer_installs_exactly_the_pinned_dependencies(layer_dir: Path) -> None:
    installed = {
        canonicalize_name(email.message_from_string((d / "METADATA").read_text())["Name"])
        for d in (layer_dir / "python").glob("*.dist-info")
    }

    assert installed == _pinned_names()
    assert not installed & RUNTIME_PROVIDED


def test_pinned_dependencies_are_a_complete_set(layer_dir: Path) -> None:
    # Given the Lambda interpreter's environment markers
    environment: dict[str, str] = {
        **{key: str(value) for key, value in default_environment().items()},
        "python_version": TARGET.python_version,
        "python_full_version": f"{TARGET.python_version}.0",
        "platform_machine": TARGET.machine,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "implementation_name": "cpython",
        "extra": "",
    }
    available = _pinned_names() | RUNTIME_PROVIDED
    missing = []
    # When every installed distribution's requirements are evaluated
    for dist_info in (layer_dir / "python").glob("*.dist-info"):
        metadata = email.message_from_string((dist_info / "METADATA").read_text())
        for line in metadata.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            needed = requirement.marker is None or requirement.marker.evaluate(environment)
            if needed and canonicalize_name(requirement.name) not in available:
                missing.append(f"{metadata['Name']} needs {requirement}")
    # Then none is left out of requirements.txt (it is installed with --no-deps)
    assert missing == []


def test_checker_rejects_an_extension_built_for_the_workstation(tmp_path: Path) -> None:
    # Given a layer built with a CPython 3.11 on x86-64 by mistake
    _fake_shared_object(tmp_path / "pydantic_core" / "_pydantic_core.cpython-311-x86_64-linux-gnu.so", "x86_64")
    _fake_dist_info(tmp_path, "pydantic_core-2.50.4", "cp311-cp311-manylinux_2_17_x86_64")

    # When it is checked against the Lambda target
    problems = layer_problems(tmp_path, TARGET)

    # Then the file name, the ELF machine and the wheel tag are all reported
    assert len(problems) == 3
    assert any("not tagged .cpython-314-aarch64-linux-gnu.so" in problem for problem in problems)
    assert any("ELF machine 62" in problem for problem in problems)
    assert any("pydantic_core-2.50.4.dist-info" in problem for problem in problems)


def test_checker_rejects_a_right_name_on_a_wrong_binary(tmp_path: Path) -> None:
    _fake_shared_object(tmp_path / f"_speedups{TARGET.extension_suffix}", "x86_64")
    (tmp_path / "libbroken.so.1").write_bytes(b"not an ELF file at all")

    problems = extension_problems(tmp_path, TARGET)

    assert len(problems) == 2


def test_checker_accepts_a_matching_extension(tmp_path: Path) -> None:
    _fake_shared_object(tmp_path / "pydantic_core" / f"_pydantic_core{TARGET.extension_suffix}", "aarch64")
    _fake_shared_object(tmp_path / "wrapt.libs" / "libgcc-123.so.1", "aarch64")
    _fake_dist_info(tmp_path, "pydantic_core-2.50.4", "cp314-cp314-manylinux_2_17_aarch64")

    assert layer_problems(tmp_path, TARGET) == []
    assert wheel_tag_problems(tmp_path, TARGET) == []


@pytest.mark.parametrize(
    ("tag", "compatible"),
    [
        ("cp314-cp314-manylinux_2_17_aarch64", True),
        ("cp314-cp314-manylinux2014_aarch64", True),
        ("py3-none-any", True),
        ("py2.py3-none-any", True),
        ("cp39-abi3-manylinux2014_aarch64", True),
        ("cp311-cp311-manylinux_2_17_x86_64", False),
        ("cp314-cp314-manylinux_2_17_x86_64", False),
        ("cp311-cp311-manylinux_2_17_aarch64", False),
        ("cp314-cp314-macosx_11_0_arm64", False),
        ("cp315-abi3-manylinux2014_aarch64", False),
        ("cp314-cp314-musllinux_1_2_aarch64", False),
    ],
)
def test_wheel_tags(tag: str, compatible: bool) -> None:
    assert tag_is_compatible(tag, TARGET) is compatible


def test_missing_wheelhouse_tells_the_user_what_to_run() -> None:
    absent = PythonTarget(python_version="3.99", machine="aarch64")

    with pytest.raises(WheelhouseMissingError, match="make layer-wheels"):
        require_wheelhouse(absent)
