"""Every shell block of the README and docs runs as written in a fresh shell after ``make install``, or is exempted.

A block is run (bash, no activated venv, no PYTHONPATH, an empty HOME) unless one of ``EXEMPT`` matches it, each
with the reason it cannot run here (AWS, the network, minutes of work). Whatever a block does, each ``carbonmeter``
command in it must parse with the CLI's own parser, each ``python -m`` module must exist, and no command may need
an activated venv. A new block is therefore run, or exempted on purpose, by a rule that says why.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from carbonmeter import cli
from devtools.demo import last_hours
from devtools.local import DEFAULT_PORT, LocalCarbonMeter, local_carbonmeter

ROOT = Path(__file__).parents[2]
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<language>[\w-]*)\s*$")
_PLACEHOLDER = re.compile(r"<[^<>\n]+>")

# (pattern found in the block, why it is not run here). The first that matches applies.
EXEMPT: tuple[tuple[str, str], ...] = (
    (r"\bnpx cdk (bootstrap|deploy)\b", "deploys to an AWS account"),
    (r"\baws (iam|sts|sqs|lambda|secretsmanager|cloudformation)\b", "calls AWS with real credentials"),
    (r"\bmake soak\b|devtools\.soak", "about 85 minutes; tests/e2e/test_soak_smoke.py runs a small soak"),
    (r"\bmake benchmark\b|devtools\.benchmark", "minutes long; tests/integration/test_benchmark_smoke.py runs one"),
    (r"\bmake comparison\b|devtools\.comparison", "rewrites docs/comparison.md; tests/integration/test_comparison.py"),
    (r"\bmake (install|synth)\b|\bnpm ci\b", "downloads packages (needs the network)"),
    (r"\bread -rs\b", "reads a secret typed at a terminal"),
    (r"--current-credentials|--role-arn", "reads a real AWS account"),
    (r"\bacme-prod\b", "reads the example connection of a deployed CarbonMeter"),
)
# Programs a fresh shell does not have before the venv is activated.
NEEDS_A_VENV = {"python", "python3", "pip", "pytest", "carbonmeter", "ruff", "mypy", "cdk"}
SEPARATORS = {"|", "||", "&&", ";", "&"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    text: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def exemption(self) -> str | None:
        return next((reason for pattern, reason in EXEMPT if re.search(pattern, self.text)), None)


def shell_blocks() -> list[Block]:
    blocks = []
    for path in DOCUMENTS:
        lines = path.read_text(encoding="utf-8").splitlines()
        index = 0
        while index < len(lines):
            opening = _FENCE.match(lines[index])
            index += 1
            if not opening:
                continue
            start, indent = index, len(opening["indent"])
            while index < len(lines) and not _FENCE.match(lines[index]):
                index += 1
            if opening["language"] in SHELL_LANGUAGES:
                body = "\n".join(line[indent:] for line in lines[start:index])
                blocks.append(Block(path, start, body + "\n"))
            index += 1  # the closing fence
    return blocks


def commands(block: Block) -> Iterator[list[str]]:
    """Each simple command of ``block`` as words, placeholders made single words, comments dropped."""
    for logical in _logical_lines(_PLACEHOLDER.sub("PLACEHOLDER", block.text)):
        words = shlex.split(logical, comments=True)
        command: list[str] = []
        for word in [*words, ";"]:
            if word in SEPARATORS:
                if command:
                    yield command
                command = []
            else:
                command.append(word)
        # A command substitution inside a word ("$(.venv/bin/carbonmeter read-policy)") is a command too.
        for word in words:
            for inner in re.findall(r"\$\(([^()]*)\)", word):
                yield shlex.split(inner)


def _logical_lines(text: str) -> Iterator[str]:
    pending = ""
    for line in text.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quoted string goes on over the next line
            continue
        yield pending
        pending = ""
    assert not pending, f"unterminated: {pending!r}"


def _program(command: list[str]) -> list[str]:
    """The command without leading variable assignments (``NAME=value program ...``)."""
    words = list(command)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    return words


def _carbonmeter_arguments(words: list[str]) -> list[str] | None:
    if words[:1] == [".venv/bin/carbonmeter"]:
        return words[1:]
    if words[:3] == [".venv/bin/python", "-m", "carbonmeter"]:
        return words[3:]
    return None


BLOCKS = shell_blocks()


def test_the_docs_have_shell_blocks_and_every_exemption_still_applies():
    assert len(BLOCKS) > 10
    used = {reason for block in BLOCKS if (reason := block.exemption)}
    # A rule nothing matches any more is stale: remove it, or a block it let through unnoticed would now run
    assert used == {reason for _, reason in EXEMPT}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_every_command_of_a_block_is_runnable_from_a_fresh_shell(block):
    # A block is shell that bash reads as written, once its placeholders are filled in
    filled = _PLACEHOLDER.sub("PLACEHOLDER", block.text)
    syntax = subprocess.run(["bash", "-n", "-c", filled], capture_output=True, text=True, check=False)
    assert syntax.returncode == 0, f"{block.name}: {syntax.stderr}"
    for command in commands(block):
        words = _program(command)
        if not words:
            continue
        # Then nothing needs an activated venv
        assert words[0] not in NEEDS_A_VENV, f"{block.name}: `{words[0]}` needs an activated venv; write .venv/bin/"
        # And a carbonmeter command parses with the CLI's own parser (options and values as the CLI takes them)
        arguments = _carbonmeter_arguments(words)
        if arguments is not None:
            try:
                cli.build_parser().parse_args(arguments)
            except SystemExit as exit_:
                pytest.fail(f"{block.name}: `carbonmeter {' '.join(arguments)}` does not parse (exit {exit_.code})")
        # And a module run with .venv/bin/python -m exists
        if words[:2] == [".venv/bin/python", "-m"]:
            importlib.import_module(words[2])


@pytest.fixture(scope="module")
def local() -> Iterator[LocalCarbonMeter]:
    with local_carbonmeter(("us-east-1",), last_hours(2), port=0) as running:
        yield running


def _fresh_shell(home: Path) -> dict[str, str]:
    # As after `make install` in a new terminal: no venv on PATH, no PYTHONPATH, no AWS configuration of ours.
    venv_bin = str(ROOT / ".venv" / "bin")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_a_block_that_needs_no_aws_runs_as_written(block, request, tmp_path):
    if block.exemption:
        pytest.skip(f"not run: {block.exemption}")
    local: LocalCarbonMeter = request.getfixturevalue("local")
    # A block for the local CarbonMeter exports its default address: here it is the one the test started
    text = block.text
    default = f"http://127.0.0.1:{DEFAULT_PORT}"
    if cli.ENDPOINT_ENV in text:
        assert f"{cli.ENDPOINT_ENV}={default}" in text, f"{block.name}: not the local CarbonMeter's default address"
        text = text.replace(default, local.endpoint)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", text],
        cwd=ROOT,
        env=_fresh_shell(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{block.name}:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
