"""localorg: a Salesforce-compatible server for development, tests and rehearsal loads."""

__version__ = "0.1.0"
MIN_API_VERSION, MAX_API_VERSION = 20.0, 66.0  # the REST API versions localorg answers
