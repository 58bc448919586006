"""Turning a trained run into files people run: GGUF, Ollama, serving commands."""
