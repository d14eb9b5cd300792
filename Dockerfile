# syntax=docker/dockerfile:1
# The DMS worker image (also runs the web tier and localorg in docker-compose.yml).
# Python 3.12 on purpose: the same interpreter as the Lambda runtime (zappa_settings.json), so the web tier
# and the workers run the same code on the same Python.
# The base is pinned by digest, so a rebuild gets the same base until the pin is moved on purpose: this is the
# multi-platform index of the tag python:3.12-slim-bookworm (Python 3.12.15) as of 2026-10-02. To move it (for
# Debian or Python fixes), read the tag's current digest on a machine with Docker:
#     docker buildx imagetools inspect python:3.12-slim-bookworm    (the "Digest:" line)
# put it after the @ below, rebuild, and run the tests.
FROM python:3.12-slim-bookworm@sha256:54c85f3c47607a77f32adec749d3c81d1348bf25833671f512b26a9b6d778cb3

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# Dependencies first (their own layer: rebuilt only when the lock changes), exactly as locked: every file must
# match a hash in requirements.lock (`make lock` makes it from pyproject.toml), nothing unlisted comes in
# (--no-deps: the lock is complete), and only wheels (pycurl, pandas and pyarrow have manylinux ones), so no
# compiler and no unpinned build tool is needed in the image.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps --only-binary=:all: --requirement requirements.lock \
    && rm requirements.lock

# The code is used from /app, not installed, so templates/ and static/ stay beside it.
COPY application.py worker.py celery_holder.py config_dev.py ./
COPY factories ./factories
COPY blueprints ./blueprints
COPY tasks ./tasks
COPY dms ./dms
COPY deploy ./deploy
COPY localorg ./localorg
COPY templates ./templates
COPY static ./static
# The bundled example plan, offered by /plans/new.
COPY examples/legacy-crm ./examples/legacy-crm
# The pages' languages: the committed .po files, compiled here (the .mo files are build output).
COPY translations ./translations
RUN python -m deploy.translations

# A user of its own; it writes only to /data (named volumes start with this ownership) and /tmp.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home dms \
    && mkdir -p /data/blobs /data/localorg && chown -R dms:dms /data
USER dms

ENV PYTHONPATH=/app

# Celery's remote control is off on SQS (no `inspect ping`): the worker's consumer loop touches a file that
# deploy.worker_health checks.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "deploy.worker_health"]

# Concurrency 2 per container (a 2 vCPU / 4 GB task): plan is pandas-heavy, loads mostly wait on Salesforce;
# scale by running more containers. Prefetch 1 and late acks come from the Celery settings. Children are
# recycled so a pandas-heavy task cannot grow a process forever.
CMD ["celery", "-A", "worker.celery", "worker", "--loglevel", "INFO", "--concurrency", "2", \
     "--without-heartbeat", "--without-gossip", "--without-mingle", \
     "--max-tasks-per-child", "100", "--max-memory-per-child", "1500000", \
     "--include", "deploy.worker_health"]
