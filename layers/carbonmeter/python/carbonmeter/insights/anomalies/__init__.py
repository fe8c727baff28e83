"""Anomaly alerts: each calculated hour of each series judged against its history, anomalies stored and published.

``detection`` is the pure method, ``records`` what is stored, ``watch`` the use cases (the calculator's step and
the listing the CLI presents), ``alerts`` the SNS message. This package's own modules never import the stores at
import time of ``records``/``detection``, so ``carbonmeter.store`` can read their models.
"""
