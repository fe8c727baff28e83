"""Checks that a built layer only contains binaries the Lambda runtime can load.

A layer built with the workstation's interpreter deploys fine and then fails on the
first import of a compiled module; these checks catch that at synth and test time.
"""

from __future__ import annotations

from pathlib import Path

from infra.python_target import ELF_MACHINES, PythonTarget

_ELF_MAGIC = b"\x7fELF"
_ELF_HEADER_PREFIX = 20
_ELF_LITTLE_ENDIAN = 1


def elf_machine(path: Path) -> int | None:
    """The ELF ``e_machine`` of ``path``, or None if it is not an ELF file."""
    with path.open("rb") as handle:
        header = handle.read(_ELF_HEADER_PREFIX)
    if len(header) < _ELF_HEADER_PREFIX or not header.startswith(_ELF_MAGIC):
        return None
    if header[5] == _ELF_LITTLE_ENDIAN:
        return int.from_bytes(header[18:20], "little")
    return int.from_bytes(header[18:20], "big")


def is_shared_object(path: Path) -> bool:
    return path.is_file() and (path.suffix == ".so" or ".so." in path.name)


def extension_problems(root: Path, target: PythonTarget) -> list[str]:
    """Shared objects under ``root`` built for another CPython or CPU than ``target``."""
    problems = []
    expected_machine = ELF_MACHINES[target.machine]
    for path in sorted(p for p in root.rglob("*.so*") if is_shared_object(p)):
        relative = path.relative_to(root)
        if ".cpython-" in path.name and not path.name.endswith(target.extension_suffix):
            problems.append(f"{relative}: extension module is not tagged {target.extension_suffix}")
        machine = elf_machine(path)
        if machine is None:
            problems.append(f"{relative}: not an ELF shared object")
        elif machine != expected_machine:
            problems.append(f"{relative}: ELF machine {machine}, expected {expected_machine} ({target.machine})")
    return problems


def tag_is_compatible(tag: str, target: PythonTarget) -> bool:
    """Whether a wheel tag such as ``cp314-cp314-manylinux_2_17_aarch64`` installs on ``target``."""
    interpreters, abis, platforms = (part.split(".") for part in tag.split("-"))
    major, minor = target.python_version.split(".")
    cpython = target.cpython_tag

    def interpreter_ok(interpreter: str, abi: str) -> bool:
        if interpreter in {f"py{major}", f"py{major}{minor}", cpython}:
            return True
        # Stable-ABI wheels built for an older CPython 3 keep working on newer ones.
        older_minor = interpreter.removeprefix(f"cp{major}")
        older_cpython = (
            interpreter.startswith(f"cp{major}") and older_minor.isdigit() and int(older_minor) <= int(minor)
        )
        return abi == "abi3" and older_cpython

    def platform_ok(platform: str) -> bool:
        return platform == "any" or (platform.startswith(("manylinux", "linux")) and platform.endswith(target.machine))

    return any(
        interpreter_ok(interpreter, abi) and abi in {"none", "abi3", cpython} and platform_ok(platform)
        for interpreter in interpreters
        for abi in abis
        for platform in platforms
    )


def wheel_tag_problems(root: Path, target: PythonTarget) -> list[str]:
    """Installed distributions under ``root`` whose wheel tags do not match ``target``."""
    problems = []
    for wheel_file in sorted(root.rglob("*.dist-info/WHEEL")):
        tags = [
            line.split(":", 1)[1].strip() for line in wheel_file.read_text().splitlines() if line.startswith("Tag:")
        ]
        if not any(tag_is_compatible(tag, target) for tag in tags):
            problems.append(f"{wheel_file.parent.relative_to(root)}: wheel tags {tags} do not fit {target.label}")
    return problems


def layer_problems(root: Path, target: PythonTarget) -> list[str]:
    return extension_problems(root, target) + wheel_tag_problems(root, target)
