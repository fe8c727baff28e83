"""The workbench: what only runs on a developer's machine, never in Lambda.

An embedded AWS with the real handlers run on it under their deployed IAM policies (``devtools.aws``), a demo
account, the benchmark, the soak, the estimator comparison, fault injection and a local Boavizta API server.
It depends on the library (``carbonmeter``), the handlers (``functions``) and the CDK app (``infra``), and may
use development packages such as moto; nothing of ours depends on it, and none of it ships in the Lambda layer.
"""
