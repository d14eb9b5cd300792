"""Who is calling and what they may do: accounts, roles, sessions, API tokens, rate limits, the audit log.

Plain Python over the services (the document store and Redis); the Flask glue is factories/security.py.
"""
