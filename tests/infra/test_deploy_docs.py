"""docs/deploy.md, docs/operations.md and the example events say what the synthesized stacks hold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from devtools import costs
from infra.customer_template import COMMITTED
from infra.customer_template import customer_template as export_customer_template

ROOT = Path(__file__).parents[2]
DEPLOY = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def test_deploy_md_lists_every_output_of_the_stack(template: Template):
    outputs = set(template.to_json()["Outputs"])
    section = DEPLOY.split("### Stack outputs")[1].split("\n## ")[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert listed == outputs


def test_the_scheduled_example_and_the_runbook_name_the_stacks_rule(template: Template):
    # CloudFormation names a rule <stack>-<logical id without its hash><suffix>
    # The hourly rule (the insights' rules have their own test, tests/infra/test_insight_schedules.py).
    (rule_id,) = template.find_resources("AWS::Events::Rule", {"Properties": {"ScheduleExpression": "rate(1 hour)"}})
    construct_id = re.sub(r"[0-9A-F]{8}$", "", rule_id)
    (rule_arn,) = json.loads((ROOT / "events" / "scheduled-hour.json").read_text())["resources"]
    assert rule_arn.split(":rule/")[1].startswith(f"CarbonMeterStack-{construct_id}")
    assert f"`{construct_id}`" in (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("stack", ["template", "cmk_template"])
def test_either_way_the_stack_has_one_customer_managed_key_and_the_alarm_topic_uses_it(
    stack: str, request: pytest.FixtureRequest
):
    # CloudWatch cannot publish to a topic under the AWS managed SNS key: the topic needs a key of its own
    found: Template = request.getfixturevalue(stack)
    (key,) = found.find_resources("AWS::KMS::Key")
    # The alarm topic and the anomaly topic share it
    topics = found.find_resources("AWS::SNS::Topic").values()
    assert len(topics) == 2
    assert all(topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0] == key for topic in topics)
    documented = " ".join(DEPLOY.split())
    assert "the alarm topic always has a customer-managed KMS key" in documented
    assert "either way the stack has exactly one key" in documented


def test_the_committed_customer_role_template_is_what_the_stack_synthesizes():
    # Customers deploy the committed file without the repository's install (`python -m infra.customer_template`
    # writes it again after a change to the role)
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == export_customer_template()
    assert f"--template-file {COMMITTED.relative_to(ROOT)}" in DEPLOY


def test_deploy_md_has_the_cost_table_the_stack_and_the_prices_give(template: Template):
    # `python -m devtools.costs --write docs/deploy.md` writes it again after a change to the stack or prices
    assert costs.table_in(DEPLOY) == costs.markdown(template.to_json())


def test_the_cost_of_a_connection_grows_with_its_resources_and_metrics_go_to_the_customer(template: Template):
    facts = costs.StackFacts.of(template.to_json())
    small, large = costs.connection_month(10, facts), costs.connection_month(1000, facts)
    assert small.keys() == large.keys()
    for item, (_, usd) in small.items():
        assert 0 < usd <= large[item][1], item
    # GetMetricData alone is the customer's: USD 0.01 per 1,000 metrics, 1.214 metrics a resource, 730 hours
    (customer,) = [usd for who, usd in large.values() if who == costs.CUSTOMER]
    assert customer == pytest.approx(1000 * 1.214 * 730 * 0.01 / 1000)
    # And the stack's own settings are read from the template: every table has PITR, CarbonMeter's 4 functions are
    # traced (the web page deployment's is the CDK's)
    assert (facts.tables_with_pitr, facts.traced_functions, facts.kms_keys, facts.dashboards) == (4, 4, 1, 1)
    assert facts.alarm_metrics > facts.alarms > 0
