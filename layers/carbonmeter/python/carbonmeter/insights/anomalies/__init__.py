"""Anomaly alerts: each calculated hour of each series judged against its history, anomalies stored and published.

``detection`` is the pure method, ``records`` what is stored, ``watch`` the use cases (the calculator's step and
the listing the CLI presents), ``alerts`` the SNS message and the table. ``carbonmeter.store`` reads the models of
``records``, so this package imports nothing at its own import: ``records`` and ``detection`` never import a store.
"""
