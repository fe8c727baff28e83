#!/usr/bin/env python3
"""Entry point of `cdk synth` / `cdk deploy` (see cdk.json)."""

# The stacks read setting names and IAM actions from the carbonmeter library itself, which `make install` installs
# into .venv (editable, see pyproject.toml) along with infra.
from aws_cdk import App

from infra.application import build_app
from infra.nag import annotate_findings, nag_findings

app = App()
build_app(app)
# Unacknowledged AWS Solutions findings become errors on their constructs, which fail `cdk synth`.
annotate_findings(app, nag_findings(app))
app.synth()
