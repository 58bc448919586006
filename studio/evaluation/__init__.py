"""Evaluation beyond the trainer's: the pairwise judge and the store's own slices (service.py)."""
