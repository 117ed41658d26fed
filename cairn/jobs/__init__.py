"""The job engine: Huey-backed workers over Cairn's jobs table (see cairn.jobs.engine)."""
