"""The teacher's command-line options, shared by generate, score --judge and teacher-check."""

from __future__ import annotations

STRUCTURED_CHOICES = ["auto", "json_schema", "json_object", "off", "on"]
STRUCTURED_HELP = ("structured output (default auto, or $SFT_STUDIO_STRUCTURED): auto tries "
                   "json_schema, then json_object with the schema (llama.cpp), then plain JSON "
                   "mode, then none, moving on when the server refuses; json_schema, json_object "
                   "or off send that alone ('on' is json_schema)")


def add_endpoint_args(sp) -> None:
    """--model, --base-url (repeatable), --timeout and --structured."""
    sp.add_argument("--model", help="teacher model (default $OPENAI_MODEL)")
    sp.add_argument("--base-url", dest="base_urls", action="append", metavar="URL",
                    help="endpoint (default $OPENAI_BASE_URL or OpenAI); repeat to share the work "
                    "over several servers")
    sp.add_argument("--timeout", type=float, help="seconds per request (default 60)")
    sp.add_argument("--structured", choices=STRUCTURED_CHOICES, help=STRUCTURED_HELP)
