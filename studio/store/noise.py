"""SQL for the corrupter: stored noise profiles and the rows corruption reads."""

from __future__ import annotations

import json

from studio.store.base import StoreBase, dumps, iso, utcnow


class NoiseMixin(StoreBase):
    def save_noise_profile(self, name: str, profile: dict) -> None:
        now = utcnow()
        self._run(
            "INSERT INTO noise_profiles (name, profile, created_at, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET profile = excluded.profile, "
            "updated_at = excluded.updated_at", [name, dumps(profile), now, now])

    def get_noise_profile(self, name: str) -> dict | None:
        row = self._one("SELECT profile FROM noise_profiles WHERE name = ?", [name])
        return json.loads(row[0]) if row else None

    def list_noise_profiles(self) -> list[dict]:
        rows = self._all("SELECT name, profile, created_at, updated_at FROM noise_profiles "
                         "ORDER BY name")
        return [{"name": r["name"], "profile": json.loads(r["profile"]),
                 "created_at": iso(r["created_at"]), "updated_at": iso(r["updated_at"])}
                for r in rows]

    def clean_rows(self, task: str, status: str | None = None, ids: list[int] | None = None,
                   limit: int | None = None, inputs: str = "clean") -> list[dict]:
        """Complete rows to corrupt, never rejected unless asked, never near-duplicates of
        another row. By default only rows whose input is clean (teacher-written, or imported
        as clean); the user's real messy inputs too with `inputs` "any" (or only them with
        "messy"); corrupted rows only when picked by id."""
        clauses = ["task = ?", "output IS NOT NULL", "duplicate_of IS NULL"]
        params: list = [task]
        if status:
            clauses.append("status = ?")
            params.append(status)
        else:
            clauses.append("status <> 'rejected'")
        if ids is not None:
            clauses.append("list_contains(?, id)")
            params.append(list(ids))
        else:
            clauses.append("source <> 'corrupted'")
            if inputs in ("clean", "messy"):
                clauses.append("input_style = ?")
                params.append(inputs)
        sql = f"SELECT id, input, output FROM examples WHERE {' AND '.join(clauses)} ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql, params)

    def messy_texts(self, task: str, status: str | None = None, limit: int = 500) -> list[str]:
        """The task's real messy inputs (imported as messy), with or without an output since:
        what a noise profile is fitted on."""
        clauses = ["task = ?", "source = 'imported'", "input_style = 'messy'"]
        params: list = [task]
        if status:
            clauses.append("status = ?")
            params.append(status)
        rows = self._run(f"SELECT input FROM examples WHERE {' AND '.join(clauses)} "
                         f"ORDER BY id LIMIT ?", params + [limit]).fetchall()
        return [r[0] for r in rows]

    def corrupted_children(self, parent_ids: list[int]) -> dict[int, set[str]]:
        """The inputs already corrupted from each parent, so a second run adds only new ones."""
        rows = self._run("SELECT parent_id, input FROM examples WHERE source = 'corrupted' "
                         "AND list_contains(?, parent_id)", [list(parent_ids)]).fetchall()
        out: dict[int, set[str]] = {}
        for pid, text in rows:
            out.setdefault(pid, set()).add(text)
        return out
