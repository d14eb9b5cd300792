"""The worker entry point: `celery -A worker.celery worker`.

The Flask app is created first so the holder is configured before Celery imports the task modules
(listed in celery_holder's `include`) and every task runs inside the app context.
"""

from application import app
from celery_holder import celery

__all__ = ["app", "celery"]
