"""Deployment as code: SQS queues, the upload bucket, IAM policies, and the scheduled housekeeping entry."""
