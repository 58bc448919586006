"""SQL for embeddings and dedupe: the vector cache, the rows dedupe ranks, and its results."""

from __future__ import annotations

from typing import cast

import numpy as np

from studio.records import ClusterMember, ClusterSummary
from studio.store.base import StoreBase, iso, utcnow

# The normalised text that exact duplicates share: case, punctuation and spacing do not count.
EXACT_KEY = ("md5(trim(regexp_replace(regexp_replace(lower(nfc_normalize(input)), '\\pP', '', "
             "'g'), '\\s+', ' ', 'g')))")
READ_BLOCK = 65_536


class VectorsMixin(StoreBase):
    # -- the vector cache ------------------------------------------------------------------

    def embedding_dim(self, model: str) -> int | None:
        row = self._one("SELECT dim FROM embedding_models WHERE name = ?", [model])
        return row[0] if row else None

    def embedding_models(self) -> list[dict]:
        return [dict(r, created_at=iso(r["created_at"])) for r in self._all(
            "SELECT m.name, m.dim, m.created_at, count(e.text_hash) AS vectors "
            "FROM embedding_models m LEFT JOIN embeddings e ON e.model = m.name "
            "GROUP BY ALL ORDER BY m.name")]

    def texts_to_embed(self, model: str, task: str | None = None) -> list[str]:
        """Distinct inputs and outputs (of one task, or all) with no vector for `model` yet."""
        where = "WHERE task = ?" if task else ""
        params = [task] if task else []
        rows = self._run(
            f"WITH t AS (SELECT input AS text FROM examples {where} UNION "
            f"SELECT output FROM examples {where} {'AND' if task else 'WHERE'} output IS NOT NULL) "
            "SELECT text FROM t WHERE sha256(text) NOT IN "
            "(SELECT text_hash FROM embeddings WHERE model = ?) ORDER BY text",
            params + params + [model]).fetchall()
        return [r[0] for r in rows]

    def save_embeddings(self, model: str, hashes: list[str], vectors: np.ndarray) -> int:
        """Store vectors (one row per hash); the first save of a model fixes its dimension.
        Returns how many were new."""
        import pyarrow as pa

        from studio.errors import Conflict

        if not len(hashes):
            return 0
        dim = int(vectors.shape[1])
        with self.transaction():
            known = self.embedding_dim(model)
            if known is None:
                self._run("INSERT INTO embedding_models VALUES (?, ?, ?)", [model, dim, utcnow()])
            elif known != dim:
                raise Conflict(f"model {model!r} gave {dim}-dimensional vectors, but the store "
                               f"holds {known}-dimensional ones under that name")
            flat = pa.array(np.ascontiguousarray(vectors, np.float32).ravel())
            table = pa.table({"h": pa.array(hashes, pa.string()),
                              "v": pa.ListArray.from_arrays(
                                  pa.array(np.arange(0, len(flat) + 1, dim, dtype=np.int32)),
                                  flat)})
            before = self._one("SELECT count(*) FROM embeddings WHERE model = ?", [model])[0]
            self._scan("_incoming_vectors", table,
                       "INSERT INTO embeddings SELECT ?, h, v FROM _incoming_vectors "
                       "ON CONFLICT DO NOTHING", [model])
            after = self._one("SELECT count(*) FROM embeddings WHERE model = ?", [model])[0]
        return after - before

    def text_vectors(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        rows = self._run("SELECT text_hash, vector FROM embeddings WHERE model = ? AND "
                         "list_contains(?, text_hash)", [model, list(hashes)]).fetchall()
        return {h: np.asarray(v, np.float32) for h, v in rows}

    def example_vectors(self, model: str, task: str, ids: list[int] | None = None, *,
                        column: str = "input") -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix): the vectors of the inputs (or outputs) of a task's rows (or of `ids`)
        that have one, read in Arrow blocks straight into one float32 matrix, ordered by id."""
        if column not in ("input", "output"):
            raise ValueError(f"no vectors for column {column!r}")
        dim = self.embedding_dim(model)
        if dim is None:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        clause = " AND list_contains(?, x.id)" if ids is not None else ""
        params = [model, task] + ([list(ids)] if ids is not None else [])
        join = f"JOIN embeddings e ON e.model = ? AND e.text_hash = sha256(x.{column})"
        with self._lock:
            n = self._one(f"SELECT count(*) FROM examples x {join} WHERE x.task = ?{clause}",
                          params)[0]
            out_ids = np.empty(n, np.int64)
            out = np.empty((n, dim), np.float32)
            reader = self._db.sql(
                f"SELECT x.id, e.vector FROM examples x {join.replace('?', '$1')} "
                f"WHERE x.task = $2{clause.replace('?', '$3')} ORDER BY x.id",
                params=params).to_arrow_reader(READ_BLOCK)
            at = 0
            for batch in reader:
                m = len(batch)
                out_ids[at:at + m] = batch.column(0).to_numpy()
                out[at:at + m] = batch.column(1).values.to_numpy().reshape(m, dim)
                at += m
        return out_ids[:at], out[:at]

    # -- dedupe ----------------------------------------------------------------------------

    def dedupe_rows(self, task: str) -> dict[str, np.ndarray]:
        """Everything dedupe ranks rows by, one array per column, ordered by id."""
        with self._lock:
            table = self._db.sql(
                f"SELECT x.id, coalesce(x.parent_id, -1) AS parent_id, x.status, "
                f"x.output IS NOT NULL AS has_output, epoch_us(x.created_at) AS created, "
                f"x.source = 'imported' AS real, "
                f"coalesce(s.value, 'NaN'::DOUBLE) AS score, "
                f"p.example_id IS NOT NULL AS pinned, {EXACT_KEY} AS exact_key, "
                f"sha256(x.input) AS text_hash, coalesce(x.duplicate_of, -1) AS duplicate_of "
                f"FROM examples x LEFT JOIN scores s ON s.example_id = x.id AND s.name = 'quality' "
                f"LEFT JOIN canonical_pins p ON p.example_id = x.id WHERE x.task = $1 "
                f"ORDER BY x.id", params=[task]).to_arrow_table()
        return {name: table.column(name).to_numpy(zero_copy_only=False)
                for name in table.column_names}

    def write_dedupe(self, task: str, result: dict[str, np.ndarray], run: dict) -> int:
        """Replace the task's duplicate marks with `result` (arrays id, duplicate_of, similarity,
        cluster_id, kind, for the rows that have one) in one transaction; record the run.
        Statuses are never touched."""
        import pyarrow as pa

        table = pa.table({
            "id": pa.array(result["id"], pa.int64()),
            "dup": pa.array(result["duplicate_of"], pa.int64(),
                            mask=result["duplicate_of"] < 0),
            "sim": pa.array(result["similarity"], pa.float64(),
                            mask=np.isnan(result["similarity"])),
            "cluster": pa.array(result["cluster_id"], pa.int64()),
            "kind": pa.array(result["kind"], pa.string()),
        })
        now = utcnow()
        with self.transaction():
            self._run("UPDATE examples SET duplicate_of = NULL, similarity = NULL, "
                      "cluster_id = NULL, duplicate_kind = NULL WHERE task = ? AND "
                      "(cluster_id IS NOT NULL OR duplicate_of IS NOT NULL)", [task])
            self._scan("_dedupe", table,
                       "UPDATE examples SET duplicate_of = d.dup, similarity = d.sim, "
                       "cluster_id = d.cluster, duplicate_kind = d.kind FROM _dedupe d "
                       "WHERE examples.id = d.id")
            run_id = self._one("SELECT nextval('dedupe_runs_id_seq')")[0]
            self._run("INSERT INTO dedupe_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [run_id, task, run["model"], run["threshold"], run["max_variants"],
                       run["rows"], run["exact"], run["semantic"], run["variants"],
                       run["clusters"], run["method"], run["seconds"], now])
        return run_id

    def last_dedupe_run(self, task: str) -> dict | None:
        rows = self._all("SELECT * FROM dedupe_runs WHERE task = ? ORDER BY id DESC LIMIT 1",
                         [task])
        return dict(rows[0], created_at=iso(rows[0]["created_at"])) if rows else None

    def cluster_rows(self, cluster_id: int) -> list[ClusterMember]:
        return [cast(ClusterMember, dict(r, created_at=iso(r["created_at"]))) for r in self._all(
            "SELECT id, input, output, status, source, parent_id, duplicate_of, similarity, "
            "duplicate_kind, cluster_id, created_at FROM examples WHERE cluster_id = ? "
            "ORDER BY duplicate_of IS NOT NULL, similarity DESC, id", [cluster_id])]

    def clusters(self, task: str, limit: int = 100,
                 offset: int = 0) -> tuple[int, list[ClusterSummary]]:
        """The task's duplicate clusters, biggest first: canonical row and member count."""
        with self._lock:
            total = self._one("SELECT count(DISTINCT cluster_id) FROM examples "
                              "WHERE task = ? AND cluster_id IS NOT NULL", [task])[0]
            rows = self._all(
                "SELECT c.cluster_id, count(*) AS size, min(c.similarity) AS min_similarity, "
                "string_agg(DISTINCT c.duplicate_kind, ', ') AS kinds, any_value(k.input) AS "
                "canonical_input, any_value(k.status) AS canonical_status "
                "FROM examples c JOIN examples k ON k.id = c.cluster_id "
                "WHERE c.task = ? AND c.cluster_id IS NOT NULL GROUP BY c.cluster_id "
                "ORDER BY size DESC, c.cluster_id LIMIT ? OFFSET ?", [task, limit, offset])
        return total, cast(list[ClusterSummary], rows)

    def set_canonical(self, cluster: list[ClusterMember], new_id: int,
                      similarity: dict[int, float | None],
                      kind: dict[int, str], reviewer: str) -> None:
        """Make `new_id` its cluster's canonical row and pin it there (unpinning the others)."""
        ids = [r["id"] for r in cluster]
        now = utcnow()
        with self.transaction():
            self._run("DELETE FROM canonical_pins WHERE list_contains(?, example_id)", [ids])
            self._run("INSERT INTO canonical_pins VALUES (?, ?, ?)", [new_id, reviewer, now])
            for rid in ids:
                if rid == new_id:
                    self._run("UPDATE examples SET duplicate_of = NULL, similarity = NULL, "
                              "duplicate_kind = NULL, cluster_id = ?, updated_at = ? "
                              "WHERE id = ?", [new_id, now, rid])
                else:
                    self._run("UPDATE examples SET duplicate_of = ?, similarity = ?, "
                              "duplicate_kind = ?, cluster_id = ?, updated_at = ? WHERE id = ?",
                              [new_id, similarity[rid], kind[rid], new_id, now, rid])

    def exact_keys(self, ids: list[int]) -> dict[int, str]:
        return dict(self._run(f"SELECT id, {EXACT_KEY} FROM examples WHERE list_contains(?, id)",
                              [list(ids)]).fetchall())
