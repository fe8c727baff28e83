"""Helpers the tests share: builders of records, hooks on botocore, checks of the synthesized templates.

Every test module imports what it shares from here, never from another test module or a conftest
(``tests/unit/test_test_layout.py`` holds the rule); conftest files keep the fixtures and import from here too.
"""
