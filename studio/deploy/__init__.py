"""Deployment: a trained run exported (merged, GGUF, Ollama), served and pushed (service.py;
the work itself is trainer.export's and trainer.serve_engines')."""
