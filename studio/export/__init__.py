"""Export: the curated rows leave as a dataset folder (splits, personal-data gate, card) and go
to the Hub. The choices below live here, free of heavy imports, for the CLI's argument parser."""

SCHEMAS = ("messages", "prompt-completion", "alpaca")
FORMATS = ("hf", "jsonl", "csv")
PII_MODES = ("mask", "drop", "keep")
TEST_FROM = ("real", "any")
LICENSES = ("apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc0-1.0",
            "odc-by", "openrail", "other", "unknown")
