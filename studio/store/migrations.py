"""Numbered schema migrations, applied in order when the store opens.

Each migration is a function that takes the connection; its number is its position in MIGRATIONS,
counting from 1. Applied numbers are recorded in `schema_migrations`. Never edit a migration that
has shipped: add a new one.
"""

from __future__ import annotations


def m001_initial(con) -> None:
    con.execute("CREATE SEQUENCE examples_id_seq START 1")
    con.execute("CREATE SEQUENCE reviews_id_seq START 1")
    con.execute(
        """
        CREATE TABLE tasks (
            name TEXT PRIMARY KEY,
            instruction TEXT NOT NULL,
            input_meaning TEXT NOT NULL,
            output_meaning TEXT NOT NULL,
            labels TEXT NOT NULL,            -- JSON list, empty for free text
            builtin BOOLEAN NOT NULL,
            created_at TIMESTAMP NOT NULL
        )"""
    )
    con.execute(
        """
        CREATE TABLE examples (
            id BIGINT PRIMARY KEY,
            task TEXT NOT NULL,
            input TEXT NOT NULL,
            output TEXT,                     -- NULL: input-only, waiting for a label
            source TEXT NOT NULL,            -- imported | teacher | corrupted
            parent_id BIGINT,
            status TEXT NOT NULL,            -- pending | approved | rejected
            duplicate_of BIGINT,
            similarity DOUBLE,
            cluster_id BIGINT,
            split TEXT,
            content_hash TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            meta TEXT NOT NULL               -- JSON object
        )"""
    )
    con.execute(
        """
        CREATE TABLE reviews (
            id BIGINT PRIMARY KEY,
            example_id BIGINT NOT NULL,
            reviewer TEXT NOT NULL,
            action TEXT NOT NULL,            -- approve | reject | edit | delete | undo
            before TEXT,                     -- JSON: the fields the action changed, as they were
            after TEXT,                      -- JSON: the same fields after it
            undoes BIGINT,                   -- for action 'undo': the review it reverted
            acted_at TIMESTAMP NOT NULL
        )"""
    )
    con.execute(
        """
        CREATE TABLE scores (
            example_id BIGINT NOT NULL,
            name TEXT NOT NULL,
            value DOUBLE,
            PRIMARY KEY (example_id, name)
        )"""
    )


def m002_batches_and_settings(con) -> None:
    # Bulk actions share a batch id so that one undo reverts the whole batch.
    con.execute("ALTER TABLE reviews ADD COLUMN batch_id BIGINT")
    con.execute("CREATE SEQUENCE batch_id_seq START 1")
    con.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


MIGRATIONS = [m001_initial, m002_batches_and_settings]
