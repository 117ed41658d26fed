"""The change-event log's use cases: reading the audit trail, verifying its chain, exporting
and pruning it. Appending happens in the store, inside each writer's transaction
(:mod:`cairn.store.events`)."""
