"""``make comparison``: CarbonMeter's builtin figures beside the Boavizta API's and Cloud Carbon Footprint's formula.

``python -m devtools.comparison`` (``__main__``) runs it: ``cases`` makes the usage records, ``rows`` sets
their three estimates side by side (``figures``; ``ccf`` is CCF's formula), ``causes`` names why ratios are beyond
2x, ``markdown`` renders the tables and ``document`` puts them between the markers of ``docs/comparison.md``.
"""
