"""Non-secret defaults for local development: every service on loopback.

Every name here can be overridden by an environment variable with the `DMS_` prefix (`DMS_REDIS_URL=...`),
cast to the type of the default (see dms/settings.py). Secrets are not here: they come only from the
environment (the names in `SECRETS` below), and are never logged.
"""

# Web tier
SECRET_KEY_REQUIRED = False  # production sets True: refuse to start without a DMS_SECRET_KEY of 32+ bytes
MAX_INLINE_UPLOAD_BYTES = 10 * 1024 * 1024  # API Gateway caps a request body at 10 MB; larger goes via S3
PUBLIC_URL = "http://127.0.0.1:8000"

# Security (see README, "Security"). Production (zappa_settings.json) sets the cookie Secure, HSTS and its hosts.
ALLOWED_HOSTS = "127.0.0.1,localhost"  # Host headers served (DNS rebinding); ".example.com" takes subdomains
SESSION_IDLE_SECONDS = 8 * 3600  # a browser session ends after this long without a request
SESSION_MAX_SECONDS = 24 * 3600  # and after this long in any case
SESSION_COOKIE_SECURE = False  # production: True (HTTPS only)
HSTS_SECONDS = 0  # production: 31536000
MAX_JSON_BODY_BYTES = 1024 * 1024  # JSON and form bodies; files go through the upload routes and their caps
UPLOAD_CONNECT_SRC = (
    ""  # the presigned-upload origin the pages may send files to (CSP connect-src); "" = none
)
# Where an org sends the browser back after the person authorizes DMS (OAuth web server flow); it must be one
# of the connected app's callback URLs. "" = this server's own /connections/callback as the request reached it.
OAUTH_CALLBACK_URL = ""
SIGN_IN_LIMIT = 10  # attempts per 5 minutes per address and per username
TOKEN_FAILURE_LIMIT = 30  # bad API tokens per 5 minutes per address
CONNECTION_TEST_LIMIT = 10  # org logins per 5 minutes per user (a flood could lock the integration user)
UPLOAD_LIMIT = 120  # uploads per 5 minutes per user
JOB_CREATE_LIMIT = 120  # jobs per 5 minutes per user

# Redis: staging chunks, hot counters, describe cache, Celery results
REDIS_URL = "redis://127.0.0.1:6379/0"
STAGING_TTL_SECONDS = 3 * 24 * 3600
# A chunk of wide rows is cut at this much text: Salesforce advises <= 100 MB per Bulk upload.
READ_CHUNK_MAX_BYTES = 48 * 1024 * 1024
STAGING_MAX_CHUNKS_PER_JOB = 8  # staged-but-unloaded chunks per job; past it the planner loads one itself

# SQS (moto_server locally). kombu has no endpoint option, so the endpoint reaches botocore through
# AWS_ENDPOINT_URL_SQS, which factories/celery_instance.py sets from SQS_ENDPOINT_URL.
AWS_REGION = "us-east-1"
AWS_ACCOUNT_ID = "123456789012"  # moto's account; used to build queue URLs without a network call
SQS_ENDPOINT_URL = "http://127.0.0.1:5001"
SQS_QUEUE_NAME = "dms-tasks"
SQS_QUEUE_URL = ""  # empty: built from endpoint/region/account/name
SQS_DEAD_LETTER_QUEUE_NAME = "dms-tasks-dead"
SQS_MAX_RECEIVE_COUNT = 5  # deliveries before a poison message moves to the dead-letter queue
SQS_VISIBILITY_TIMEOUT = 3600  # seconds; must exceed TASK_TIME_LIMIT
SQS_POLLING_INTERVAL = 0.1  # the 1 s default caps a local worker at a few tasks per second
SQS_WAIT_TIME_SECONDS = 10  # long polling
SQS_CREATE_QUEUES = True  # local only: create the queues (and the dead-letter redrive) at start-up
TASK_SOFT_TIME_LIMIT = 3000
TASK_TIME_LIMIT = 3300

# Cloudant / CouchDB API (pouchdb-server locally). Auth: IAM when DMS_CLOUDANT_APIKEY is set, basic when
# DMS_COUCHDB_USERNAME/DMS_COUCHDB_PASSWORD are, none otherwise.
COUCHDB_URL = "http://127.0.0.1:5984"
COUCHDB_USERNAME = ""
COUCHDB_DB_PREFIX = "dms"

# Blob store: raw uploads and result files. file:// (a local directory) or s3://bucket/prefix
BLOB_STORE_URL = "file://var/blobs"
S3_ENDPOINT_URL = ""  # moto in tests; empty = AWS

# Salesforce: the default org (localorg locally). Credentials of real orgs are stored encrypted per connection.
SALESFORCE_LOGIN_URL = "https://127.0.0.1:8443"
SALESFORCE_USERNAME = "dms@localorg.test"
SALESFORCE_CLIENT_ID = "localorg"
SALESFORCE_CA_BUNDLE = "var/localorg/ca.pem"  # empty = the system trust store
SALESFORCE_API_VERSION = "62.0"
SALESFORCE_REQUIRED_FOR_HEALTH = False  # an org outage does not make the web tier unhealthy
# Hosts besides Salesforce's own domains that a connection may log in at and a login may answer as its
# instance_url: comma-separated host[:port] patterns (`*.domain` for every name under it; no port = 443).
# The default org's host (SALESFORCE_LOGIN_URL) is trusted too. Development: the embedded localorg.
SALESFORCE_TRUSTED_HOSTS = ("127.0.0.1:8443", "localhost:8443")

# Uploads
ALLOW_PICKLE_UPLOADS = False  # pickle can execute code; only an allow-list unpickler reads it when enabled

# Loading
COLLECTIONS_THRESHOLD = (
    2000  # rows; smaller update/upsert/delete chunks use sObject Collections (Salesforce's advice)
)
DESCRIBE_CACHE_SECONDS = 900
BULK_WAIT_IN_TASK_SECONDS = (
    2.0  # a load task waits this long for its bulk job, then frees the worker and checks back
)
DIRECT_MAX_BYTES = 256 * 1024  # a job with "direct": true runs in the web request (no queue) up to this size
CRASH_POINTS = False  # tests only: let a test SIGKILL the worker at a named step (dms/crashpoints.py)

# Logging
LOG_LEVEL = "INFO"

# Secrets: environment only (DMS_<NAME>), never in a file, never logged.
SECRETS = (
    "SECRET_KEY",
    "CREDENTIALS_KEY",
    "COUCHDB_PASSWORD",
    "CLOUDANT_APIKEY",
    "SALESFORCE_PASSWORD",
    "SALESFORCE_CLIENT_SECRET",
)

# --- Uploads and deployment (issue 5) -------------------------------------------------------------------
# Presigned uploads (S3 in production; the web tier's own signed endpoint with a local blob store) take files
# up to MAX_UPLOAD_BYTES; inline uploads stay under MAX_INLINE_UPLOAD_BYTES (above).
MAX_UPLOAD_BYTES = 5 * 1024**3
UPLOAD_PRESIGN_EXPIRES_SECONDS = 3600
UPLOAD_PREVIEW_HEAD_BYTES = 4 * 1024 * 1024  # a CSV preview reads this much of the file, never all of it
UPLOAD_PENDING_TTL_HOURS = 24  # housekeeping removes presigned uploads never completed after this long
# Touched by the worker's consumer loop (deploy/worker_health.py); the container health check reads it.
WORKER_LIVENESS_FILE = "/tmp/dms-worker-alive"

# --- Hostile files, bounded -----------------------------------------------------------------------------
# A file that passes the upload size and zip-ratio checks can still inflate while it is read; these cap what
# one file may make a reader hold, each set well above what real exports need.
# .xlsx parts openpyxl parses whole, in memory: the shared strings table (every distinct text of the
# workbook, held at about 3.5 times its XML) may inflate to XLSX_MAX_SHARED_STRINGS_BYTES, and past that to
# XLSX_SHARED_STRINGS_MAX_RATIO times its packed size: distinct texts pack 3 to 10 times, so a 50 MB workbook
# of unique names and e-mails (a table of about 90 MB packed into 22 MB) reads, and 71 MB packed into 541 KB
# does not ...
XLSX_MAX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024
XLSX_SHARED_STRINGS_MAX_RATIO = 16.0
# ... and every other part it reads whole (styles, held at about 25 times their size, workbook, relationships,
# theme, properties) to XLSX_MAX_PART_BYTES. Excel stops at 64,000 cell formats, about 7 MB of styles.xml;
# real ones are well under 1 MB. Worksheets are streamed row by row and only the total (2 GiB) and the ratio
# bound them; pictures and pivot caches are never read.
XLSX_MAX_PART_BYTES = 8 * 1024 * 1024
# A Parquet column chunk (one column of one row group), uncompressed, from the file's metadata before any
# decoding: pyarrow's default row group of 1M rows of 500-byte text is 500 MB.
PARQUET_MAX_COLUMN_CHUNK_BYTES = 1024 * 1024 * 1024
# One Parquet page, inflated, as its header says before pyarrow allocates it. Writers cut pages at 1 MiB
# (pyarrow, Spark, DuckDB, polars), past it only by the values of one write batch; a page that inflates to
# hundreds of MB holds a handful of huge values or lies about itself.
PARQUET_MAX_PAGE_BYTES = 64 * 1024 * 1024
# One cell's value in bytes (Parquet, pickle): Salesforce's longest field holds 131,072 characters (at most
# 512 KB of UTF-8), so no loadable value is larger. Checked on a Parquet dictionary before it is expanded.
READ_MAX_CELL_BYTES = 1024 * 1024
# What one pickle may ask to allocate in a single construction (bytearray(n), an array's shape, a range's
# length): a pickle can say "ten gigabytes" in 37 bytes.
PICKLE_MAX_ALLOC_BYTES = 256 * 1024 * 1024
# A preview shows at most this many characters of a cell, then an ellipsis (the row says `truncated`).
UPLOAD_PREVIEW_MAX_CELL_CHARS = 1000
