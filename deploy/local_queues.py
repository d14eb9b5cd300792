"""Create the configured SQS queues (with the dead-letter redrive) on a local SQS stand-in, then exit.

docker-compose runs it once before the web and worker start: `python -m deploy.local_queues`.
On AWS use `python -m deploy.aws_setup`, which also sets long polling, encryption and IAM.
"""

from __future__ import annotations

import json
import sys

from dms.clients.sqs import ensure_queues
from dms.settings import load_settings


def main() -> int:
    sys.stdout.write(json.dumps(ensure_queues(load_settings())) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
