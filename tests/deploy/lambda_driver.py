"""Play the AWS Lambda runtime for an unpacked zappa handler package (run by tests under python3.12).

Usage: python3.12 lambda_driver.py TASK_DIR. Reads one JSON event per line on stdin, invokes the package's
`handler.lambda_handler` in this one process (warm invocations, as Lambda reuses a sandbox), and writes
one JSON line per event: {"ok": true, "result": ...} or {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import uuid


class Context:
    """The parts of the Lambda context object zappa's handler reads."""

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "dms-ci")
    function_version = "$LATEST"
    memory_limit_in_mb = "2048"
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def main() -> int:
    task_dir = sys.argv[1]
    # Lambda starts the runtime in /var/task with it first on sys.path.
    os.chdir(task_dir)
    sys.path.insert(0, task_dir)
    out = sys.stdout
    sys.stdout = sys.stderr  # zappa and the app print/log; keep the protocol channel clean
    import handler

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = handler.lambda_handler(json.loads(line), Context())
            reply = {"ok": True, "result": result}
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        out.write(json.dumps(reply, default=str) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
