"""CarbonMeter: hourly energy and carbon accounting for AWS accounts."""

__version__ = "0.1.0"
