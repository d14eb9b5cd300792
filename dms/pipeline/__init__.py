"""The data pipeline: read, map, validate, stage and load one job's rows."""
