"""localorg: a Salesforce-compatible server for development, tests and rehearsal loads."""

__version__ = "0.1.0"
