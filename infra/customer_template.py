"""Write the customer role stack as a plain CloudFormation template, for customers who do not use the CDK.

The template is committed (``docs/CarbonMeterCustomerRoleStack.template.json``), so that a customer deploys it
without this repository's install; ``python -m infra.customer_template`` writes it again after a change to the
role (``tests/infra/test_deploy_docs.py`` fails until then). It needs no CDK bootstrap.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from aws_cdk import App

from infra.constants import CUSTOMER_ROLE_STACK_NAME, REPO_ROOT
from infra.customer_role import CarbonMeterCustomerRoleStack

COMMITTED = REPO_ROOT / "docs" / f"{CUSTOMER_ROLE_STACK_NAME}.template.json"


def customer_template() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as outdir:
        app = App(outdir=outdir, analytics_reporting=False)
        stack = CarbonMeterCustomerRoleStack(app, CUSTOMER_ROLE_STACK_NAME)
        assembly = app.synth()
        template: dict[str, object] = assembly.get_stack_artifact(stack.artifact_id).template
        return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.customer_template", description=__doc__)
    parser.add_argument("--output", type=Path, default=COMMITTED, help="template file to write (default: %(default)s)")
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(customer_template(), indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
