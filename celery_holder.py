"""The placeholder Celery instance: configured later by factories.celery_instance.configure_celery(app).

It imports nothing from Flask or the factories, so task modules can import it without creating an app.
"""

from celery import Celery

celery = Celery("dms", include=["tasks.diagnostics", "tasks.jobs", "tasks.plans", "tasks.housekeeping"])
