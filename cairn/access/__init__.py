"""Identity and access: users, password hashing, API tokens, sessions, grants and roles, and
the one decision of what a caller may do (:mod:`cairn.access.service`)."""
