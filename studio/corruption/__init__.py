"""Corruption: noise profiles and corrupt batches (service.py: the verbs; rows.py: the row work)."""
