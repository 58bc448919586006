"""Curation: embeddings (cached in the store), near-duplicate search and dedupe."""
