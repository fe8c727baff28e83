"""The deployed IAM policies, enforced on the local pipeline's calls (the embedded AWS enforces none)."""

from devtools.aws.iam.deployed import DeployedPolicies, synthesized_templates
from devtools.aws.iam.guard import Denial, IamGuard

__all__ = ["Denial", "DeployedPolicies", "IamGuard", "synthesized_templates"]
