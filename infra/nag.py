"""cdk-nag (AWS Solutions rules) for the whole app, and the one way to acknowledge a finding."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Annotations, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    construct_path: str
    description: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.rule} at {self.construct_path}: {self.description}"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept one cdk-nag finding on ``construct`` (e.g. ``AwsSolutions-IAM5[Resource::*]``), saying why."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def nag_findings(app: App) -> list[Finding]:
    """Unacknowledged AWS Solutions findings of every stack in ``app``."""
    report = AwsSolutionsChecks().validate_scope(app)
    return [
        Finding(
            rule=violation.rule_name,
            severity=str(violation.severity),
            construct_path=resource.construct_path or "",
            description=violation.description,
        )
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def annotate_findings(app: App, findings: list[Finding]) -> None:
    """Attach findings to their constructs, so that ``cdk synth`` lists them and fails on errors."""
    for finding in findings:
        target = _find(app, finding.construct_path) or app
        if finding.severity == "error":
            Annotations.of(target).add_error(str(finding))
        else:
            Annotations.of(target).add_warning(str(finding))


def _find(app: App, path: str) -> IConstruct | None:
    node: IConstruct | None = app
    for part in filter(None, path.split("/")):
        node = node.node.try_find_child(part) if node else None
    return node
