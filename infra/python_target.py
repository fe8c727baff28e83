"""The interpreter and CPU that the Lambda layer's wheels must be built for."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_lambda as lambda_

# Lambda architecture name -> the machine name used in wheel and extension tags.
_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# ELF e_machine values of shared objects built for each machine.
ELF_MACHINES = {"aarch64": 183, "x86_64": 62}


@dataclass(frozen=True)
class PythonTarget:
    """A CPython version on Linux for one CPU, e.g. CPython 3.14 on aarch64."""

    python_version: str
    machine: str

    @classmethod
    def for_lambda(cls, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> PythonTarget:
        prefix = "python"
        if not runtime.name.startswith(prefix):
            raise ValueError(f"{runtime.name} is not a Python runtime")
        return cls(python_version=runtime.name.removeprefix(prefix), machine=_MACHINES[architecture.name])

    @property
    def cpython_tag(self) -> str:
        """Wheel interpreter and ABI tag, e.g. ``cp314``."""
        return "cp" + self.python_version.replace(".", "")

    @property
    def extension_suffix(self) -> str:
        """What CPython appends to an extension module's name, e.g. ``.cpython-314-aarch64-linux-gnu.so``."""
        return f".cpython-{self.python_version.replace('.', '')}-{self.machine}-linux-gnu.so"

    @property
    def platform(self) -> str:
        # manylinux2014 (glibc 2.17) wheels run on every Amazon Linux the Python runtimes use.
        return f"manylinux2014_{self.machine}"

    @property
    def label(self) -> str:
        """Directory-friendly name, e.g. ``python3.14-aarch64``."""
        return f"python{self.python_version}-{self.machine}"

    def pip_arguments(self) -> list[str]:
        """pip options that select binary wheels for this target instead of the running interpreter."""
        return [
            "--platform",
            self.platform,
            "--python-version",
            self.python_version,
            "--implementation",
            "cp",
            "--only-binary=:all:",
        ]
