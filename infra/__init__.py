"""The CDK app: CarbonMeter's stack and the customer's role stack, one construct per module."""

import os

# jsii (the CDK's Python bindings) prints Node's end-of-life banner through Python's stderr as bytes literals, a
# dozen lines on every synthesis. The Node versions the docs require (22+) are supported, and the CDK CLI prints
# its own notice as text; here it would only repeat it, unreadably.
# Set before anything imports aws_cdk, whose import starts jsii's Node process.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
