"""Two synthesized CarbonMeter apps per test session (synth spawns node and bundles the layer, so it is slow):
the default one, and one with ``-c customerManagedKey=true``."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from aws_cdk.cx_api import CloudAssembly

from infra.application import CarbonMeterApp, build_app
from infra.constants import CUSTOMER_MANAGED_KEY_CONTEXT_KEY
from tests.support.templates import DEPLOY_REGION, cli_context, logical_id


@pytest.fixture(scope="session")
def cdk_app(tmp_path_factory: pytest.TempPathFactory) -> CarbonMeterApp:
    app = App(context=cli_context(), outdir=str(tmp_path_factory.mktemp("cdk.out")))
    return build_app(app)


@pytest.fixture(scope="session")
def cmk_app(tmp_path_factory: pytest.TempPathFactory) -> CarbonMeterApp:
    """The app as `cdk synth -c customerManagedKey=true` builds it (context values from -c are strings)."""
    app = App(
        context=cli_context(**{CUSTOMER_MANAGED_KEY_CONTEXT_KEY: "true"}),
        outdir=str(tmp_path_factory.mktemp("cdk.out.cmk")),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDK_DEFAULT_REGION", DEPLOY_REGION)
        return build_app(app)


@pytest.fixture(scope="session")
def assembly(cdk_app: CarbonMeterApp) -> CloudAssembly:
    return cdk_app.app.synth()


@pytest.fixture(scope="session")
def template(cdk_app: CarbonMeterApp, assembly: CloudAssembly) -> Template:
    return Template.from_stack(cdk_app.stack)


@pytest.fixture(scope="session")
def customer_template(cdk_app: CarbonMeterApp, assembly: CloudAssembly) -> Template:
    return Template.from_stack(cdk_app.customer_role_stack)


@pytest.fixture(scope="session")
def cmk_template(cmk_app: CarbonMeterApp) -> Template:
    cmk_app.app.synth()
    return Template.from_stack(cmk_app.stack)


@pytest.fixture(scope="session")
def layer_dir(template: Template, assembly: CloudAssembly) -> Path:
    """The bundled layer as it will be uploaded, found through the layer's asset metadata."""
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    layer = layers[logical_id(layers, "CarbonMeterLayer")]
    return Path(assembly.directory) / layer["Metadata"]["aws:asset:path"]
