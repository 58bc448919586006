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


def m003_generation(con) -> None:
    # The teacher's answers, keyed by a hash of (model, messages, parameters, sample index) and
    # never of the endpoint or key: a resumed or repeated job never pays for an answer twice.
    con.execute(
        """
        CREATE TABLE teacher_calls (
            request_hash TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            request TEXT NOT NULL,           -- JSON: messages and parameters (no endpoint, no key)
            response TEXT NOT NULL,          -- the answer's text, as received
            finish_reason TEXT,
            tokens_in BIGINT NOT NULL,
            tokens_out BIGINT NOT NULL,
            latency_ms DOUBLE,
            job_id BIGINT,
            created_at TIMESTAMP NOT NULL
        )"""
    )
    con.execute("CREATE SEQUENCE jobs_id_seq START 1")
    con.execute(
        """
        CREATE TABLE jobs (
            id BIGINT PRIMARY KEY,
            kind TEXT NOT NULL,              -- generate
            task TEXT NOT NULL,
            mode TEXT NOT NULL,              -- outputs | inputs | both
            status TEXT NOT NULL,            -- running | completed | failed | cancelled |
                                             -- budget_stopped | interrupted
            model TEXT NOT NULL,
            base_urls TEXT NOT NULL,         -- JSON list
            params TEXT NOT NULL,            -- JSON: everything needed to resume
            requested BIGINT NOT NULL,
            done BIGINT NOT NULL DEFAULT 0,
            failed BIGINT NOT NULL DEFAULT 0,
            requests BIGINT NOT NULL DEFAULT 0,
            cached BIGINT NOT NULL DEFAULT 0,
            tokens_in BIGINT NOT NULL DEFAULT 0,
            tokens_out BIGINT NOT NULL DEFAULT 0,
            cost_usd DOUBLE NOT NULL DEFAULT 0,
            active_seconds DOUBLE NOT NULL DEFAULT 0,
            error TEXT,
            pid BIGINT,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        )"""
    )
    con.execute(
        """
        CREATE TABLE job_items (
            job_id BIGINT NOT NULL,
            idx BIGINT NOT NULL,
            status TEXT NOT NULL,            -- done | failed
            example_id BIGINT,
            error TEXT,                      -- why it failed
            raw TEXT,                        -- the unparseable answer, kept as received
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (job_id, idx)
        )"""
    )


def m004_noise_profiles(con) -> None:
    # Fitted or edited corrupter profiles, by name; built-in ones live in code, not here.
    con.execute(
        """
        CREATE TABLE noise_profiles (
            name TEXT PRIMARY KEY,
            profile TEXT NOT NULL,           -- JSON: every rate, its own lexicon, fit info
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )"""
    )


def m005_embeddings(con) -> None:
    # Vectors keyed by (model name, sha256 of the text): a text is embedded once per model, and
    # an edit only needs the new text's vector. Each model keeps its own dimension.
    con.execute(
        """
        CREATE TABLE embedding_models (
            name TEXT PRIMARY KEY,
            dim INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL
        )"""
    )
    con.execute(
        """
        CREATE TABLE embeddings (
            model TEXT NOT NULL,
            text_hash TEXT NOT NULL,         -- sha256 of the UTF-8 text, hex
            vector FLOAT[] NOT NULL,         -- unit length, embedding_models.dim values
            PRIMARY KEY (model, text_hash)
        )"""
    )
    # How a row duplicates its canonical row: exact | semantic | variant (over the family cap).
    con.execute("ALTER TABLE examples ADD COLUMN duplicate_kind TEXT")
    # Rows a person chose as their cluster's canonical row: dedupe keeps them, always.
    con.execute("CREATE TABLE canonical_pins (example_id BIGINT PRIMARY KEY, "
                "pinned_by TEXT NOT NULL, pinned_at TIMESTAMP NOT NULL)")
    con.execute("CREATE SEQUENCE dedupe_runs_id_seq START 1")
    con.execute(
        """
        CREATE TABLE dedupe_runs (
            id BIGINT PRIMARY KEY,
            task TEXT NOT NULL,
            model TEXT NOT NULL,
            threshold DOUBLE NOT NULL,
            max_variants BIGINT,             -- NULL: no cap on variants per parent
            rows BIGINT NOT NULL,
            exact BIGINT NOT NULL,
            semantic BIGINT NOT NULL,
            variants BIGINT NOT NULL,
            clusters BIGINT NOT NULL,
            method TEXT NOT NULL,            -- exact | kmeans
            seconds DOUBLE NOT NULL,
            created_at TIMESTAMP NOT NULL
        )"""
    )


def m006_score_details(con) -> None:
    # Why a score is what it is: a flagged check's finding, the judge's one-line reason, or why
    # the judge's answer could not be read (its value is then NULL: a failure, never a guess).
    con.execute("ALTER TABLE scores ADD COLUMN detail TEXT")
    con.execute("ALTER TABLE scores ADD COLUMN scored_at TIMESTAMP")


def m007_exports(con) -> None:
    # Every export: its options, the card and checks, and a manifest row per example written
    # (which split, the hash of the record as written), so "what left, when, and where" is known.
    con.execute("CREATE SEQUENCE exports_id_seq START 1")
    con.execute(
        """
        CREATE TABLE exports (
            id BIGINT PRIMARY KEY,
            task TEXT NOT NULL,
            out_dir TEXT NOT NULL,
            format TEXT NOT NULL,            -- hf | jsonl | csv
            schema TEXT NOT NULL,            -- messages | prompt-completion | alpaca
            options TEXT NOT NULL,           -- JSON: splits, seed, pii, license, language, ...
            counts TEXT NOT NULL,            -- JSON: rows per split, rows left out and why
            checks TEXT NOT NULL,            -- JSON: leakage and personal-data reports
            files TEXT NOT NULL,             -- JSON: relative path -> sha256 of its bytes
            fingerprint TEXT NOT NULL,       -- sha256 over the manifest, the options and the card
            card TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL
        )"""
    )
    con.execute(
        """
        CREATE TABLE export_rows (
            export_id BIGINT NOT NULL,
            example_id BIGINT NOT NULL,
            split TEXT NOT NULL,
            record_hash TEXT NOT NULL,       -- sha256 of the record's canonical JSON
            PRIMARY KEY (export_id, example_id)
        )"""
    )
    # Pushes to the Hub (never the token): which export went to which repo, and the commit.
    con.execute(
        """
        CREATE TABLE hub_pushes (
            export_id BIGINT,                -- NULL: a folder no export of this store wrote
            folder TEXT NOT NULL,
            repo_id TEXT NOT NULL,
            private BOOLEAN NOT NULL,
            url TEXT NOT NULL,
            commit_url TEXT,
            pushed_at TIMESTAMP NOT NULL
        )"""
    )


def m008_runs(con) -> None:
    # Training runs (a subprocess each) and the metrics folded in from their metrics.jsonl.
    con.execute("CREATE SEQUENCE runs_id_seq START 1")
    con.execute(
        """
        CREATE TABLE runs (
            id BIGINT PRIMARY KEY,
            task TEXT NOT NULL,
            kind TEXT NOT NULL,              -- train | curve
            status TEXT NOT NULL,            -- queued | running | completed | failed | ...
            model TEXT NOT NULL,
            run_dir TEXT NOT NULL,
            config TEXT NOT NULL,            -- JSON: the TrainConfig as asked
            export_id BIGINT,
            pid INTEGER,
            cancel_requested BOOLEAN NOT NULL DEFAULT false,
            step INTEGER,
            max_steps INTEGER,
            progress DOUBLE,
            eta_s DOUBLE,
            tokens_per_s DOUBLE,
            train_loss DOUBLE,
            eval_loss DOUBLE,
            adapter_path TEXT,
            merged_path TEXT,
            eval TEXT,                       -- JSON: metric, base, tuned, delta, n
            curve TEXT,                      -- JSON: the learning curve's points
            error TEXT,
            metrics_offset BIGINT NOT NULL DEFAULT 0,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        )"""
    )
    con.execute(
        """
        CREATE TABLE run_metrics (
            run_id BIGINT NOT NULL,
            part TEXT NOT NULL,              -- '' for a train run; p025, p050, ... for a curve
            step INTEGER NOT NULL,
            epoch DOUBLE,
            loss DOUBLE,
            eval_loss DOUBLE,
            learning_rate DOUBLE,
            tokens_per_s DOUBLE,
            logged_at TIMESTAMP NOT NULL
        )"""
    )


def m009_teacher_provenance(con) -> None:
    # The model a server says answered (llama.cpp answers any name with its loaded model) and
    # the structured-output format it was asked with, beside the model asked for.
    con.execute("ALTER TABLE teacher_calls ADD COLUMN served_model TEXT")
    con.execute("ALTER TABLE teacher_calls ADD COLUMN format TEXT")


def m010_input_facts(con) -> None:
    # Facts about a row's input that outlive edits and labelling:
    # - import_keys: the content hashes of the file rows it was imported (or filled) from, so
    #   importing the same file again finds it even after the user edited or labelled it;
    # - input_style: messy (a real input as users write it, or a corrupted copy) or clean
    #   (text the teacher wrote, or an import marked clean): fitting reads the real messy
    #   inputs, corrupting starts from the clean ones.
    con.execute("ALTER TABLE examples ADD COLUMN import_keys VARCHAR[]")
    con.execute("ALTER TABLE examples ADD COLUMN input_style TEXT")
    # Stores made before: an imported row's key is its hash as it is now (right unless it was
    # edited); an imported row the teacher labelled, or one imported input-only, is messy.
    con.execute("UPDATE examples SET import_keys = [content_hash] WHERE source = 'imported'")
    con.execute(
        "UPDATE examples SET input_style = CASE "
        "WHEN source = 'corrupted' THEN 'messy' "
        "WHEN source = 'teacher' THEN 'clean' "
        "WHEN output IS NULL OR json_extract(meta, '$.output_by') IS NOT NULL THEN 'messy' "
        "ELSE 'clean' END")


def m011_model_exports(con) -> None:
    # What a trained run was exported to (merged, GGUF, an Ollama folder): where, which files,
    # so `serve` finds the newest GGUF of a run and `push-model --gguf` what to push.
    con.execute("CREATE SEQUENCE model_exports_id_seq START 1")
    con.execute(
        """
        CREATE TABLE model_exports (
            id BIGINT PRIMARY KEY,
            run_id BIGINT NOT NULL,
            target TEXT NOT NULL,            -- merged | gguf | ollama
            quant TEXT,                      -- f32 | f16 | q8_0 | q4_k_m (gguf, ollama)
            out_dir TEXT NOT NULL,
            gguf TEXT,                       -- the .gguf file, if one was written
            modelfile TEXT,                  -- the Ollama Modelfile, if one was written
            files TEXT NOT NULL,             -- JSON: paths relative to out_dir
            commands TEXT NOT NULL,          -- JSON: name -> the command that serves it
            bytes BIGINT NOT NULL,
            seconds DOUBLE NOT NULL,
            created_at TIMESTAMP NOT NULL
        )"""
    )


MIGRATIONS = [m001_initial, m002_batches_and_settings, m003_generation, m004_noise_profiles,
              m005_embeddings, m006_score_details, m007_exports, m008_runs,
              m009_teacher_provenance, m010_input_facts, m011_model_exports]
