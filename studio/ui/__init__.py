"""The Gradio app. `build_app` makes the Blocks; `serve` checks host and auth and launches."""

from studio.ui.serve import check_host, load_auth, serve

__all__ = ["build_app", "check_host", "load_auth", "serve"]


def build_app(settings, studio):
    from studio.ui.app import build_app as _build

    return _build(settings, studio)
