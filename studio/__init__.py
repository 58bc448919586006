"""SFT Studio: turn a handful of real examples into a curated fine-tuning set and a better model.

The public Python API is `studio.Studio` (see studio/service.py). Heavy libraries are imported
lazily, so `import studio` stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["Studio", "__version__"]


def __getattr__(name):
    if name == "Studio":
        from studio.service import Studio

        return Studio
    raise AttributeError(f"module 'studio' has no attribute {name!r}")
