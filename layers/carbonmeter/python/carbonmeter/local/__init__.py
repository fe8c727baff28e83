"""Workstation tooling: an embedded AWS, a demo account on it, and the pipeline run locally.

Nothing here ships in the Lambda layer; it may depend on development packages such as moto.
"""
