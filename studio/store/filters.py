"""The WHERE clause for the example filters every listing shares (task, status, source, text,
input-only, ids): one definition for the examples and the scores."""

from __future__ import annotations


def where_clause(task=None, status=None, source=None, text=None, input_only=None, ids=None):
    clauses, params = [], []
    for col, value in (("task", task), ("status", status), ("source", source)):
        if value:
            clauses.append(f"{col} = ?")
            params.append(value)
    if text:
        clauses.append("(contains(lower(input), ?) OR contains(lower(coalesce(output, '')), ?))")
        params += [text.lower(), text.lower()]
    if input_only is not None:
        clauses.append("output IS NULL" if input_only else "output IS NOT NULL")
    if ids is not None:
        clauses.append("list_contains(?, id)")
        params.append(list(ids))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
