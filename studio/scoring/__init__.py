"""Scoring: per-example scores, the quality score, the judge, agreement and auto-review
(service.py: the verbs; scores.py, heuristics.py, agreement.py: the pure parts)."""
