"""Insights over a connection's stored figures: trends, cost, anomalies, recommendations, reconciliation, export.

One module per insight, each a use case that the CLI presents today and the HTTP API will present next
(``docs/insights.md`` gives each method and its limits).
"""
