"""AWS on a workstation: moto's server in-process (``server``), CarbonMeter's tables and queues on it
(``resources``), the events Lambda would deliver (``lambda_events``), the real handlers run on them
(``pipeline``) under the deployed IAM policies (``iam``)."""
