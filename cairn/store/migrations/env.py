"""Alembic environment: runs on the connection handed over by :mod:`cairn.store.migrate`."""

from __future__ import annotations

from alembic import context

from cairn.store.sql import mysql_collation

connection = context.config.attributes["connection"]
if connection.dialect.name == "mysql":
    # every table Cairn creates compares strings case-sensitively, as on SQLite and PostgreSQL
    collation = mysql_collation(connection)
    connection.exec_driver_sql(f"ALTER DATABASE CHARACTER SET utf8mb4 COLLATE {collation}")
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
