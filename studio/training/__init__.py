"""Training runs from the studio's side: export the approved set into a run folder, start
`python -m trainer` on it as a subprocess, fold its metrics.jsonl into the store's `runs`, and
cancel, resume or evaluate it. The trainer itself lives in the top-level `trainer` package."""
