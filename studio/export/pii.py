"""Personal data in text: e-mail addresses, phone numbers, @handles and URLs that carry a secret
(credentials, or a query parameter named like a token). Found in one pass, then masked, or the
row dropped, or kept, as the person chooses.

    found = scan("mail me at ana@example.com")   # [Finding(kind="email", ...)]
    mask("mail me at ana@example.com")           # "mail me at [EMAIL]"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from studio.export import PII_MODES as MODES

KINDS = ("email", "phone", "handle", "url_token")
WORDS = {"email": ("e-mail address", "e-mail addresses"),
         "phone": ("phone number", "phone numbers"), "handle": ("@handle", "@handles"),
         "url_token": ("URL with a secret", "URLs with secrets")}
MASKS = {"email": "[EMAIL]", "phone": "[PHONE]", "handle": "@user"}
SECRET_PARAMS = re.compile(
    r"^(access_?token|auth|api_?key|apikey|key|token|secret|password|passwd|pwd|sig|signature|"
    r"session|sessionid|sid|code|otp|jwt|x-amz-signature|x-amz-credential)$", re.I)

_URL = r"(?P<url>\bhttps?://[^\s<>\"')\]]+)"
_EMAIL = r"(?P<email>\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)"
_PHONE = (r"(?P<phone>(?<![\w.+/-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?"
          r"\d{2,4}(?:[\s.-]\d{2,5}){1,4}(?![\w/-]|\.\d)|(?<![\w+])\+\d{9,15}\b)")
_HANDLE = r"(?P<handle>(?<![\w@./])@[A-Za-z0-9_]{1,30}\b)"
PATTERN = re.compile("|".join((_URL, _EMAIL, _PHONE, _HANDLE)))
# A cheap first look: text with no "@", no "://" and no run of 9+ digits and separators cannot
# hold any of the above, and most text is like that.
MAYBE = re.compile(r"@|://|\d[\d\s().+-]{7,}\d")


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    replacement: str


def scan(text: str) -> list[Finding]:
    """Every piece of personal data in `text`, left to right, with what masking puts there."""
    found = []
    if not MAYBE.search(text):
        return found
    for m in PATTERN.finditer(text):
        kind = m.lastgroup
        value = m.group()
        if kind == "url":
            masked = _mask_url(value)
            if masked != value:
                found.append(Finding("url_token", m.start(), m.end(), masked))
        elif kind == "phone":
            digits = sum(c.isdigit() for c in value)
            if 9 <= digits <= 15 and not _looks_like_date(value):
                found.append(Finding(kind, m.start(), m.end(), MASKS[kind]))
        else:
            found.append(Finding(kind, m.start(), m.end(), MASKS[kind]))
    return found


def mask(text: str, found: list[Finding] | None = None) -> str:
    found = scan(text) if found is None else found
    out, at = [], 0
    for f in found:
        out.append(text[at:f.start])
        out.append(f.replacement)
        at = f.end
    out.append(text[at:])
    return "".join(out)


def describe(found: dict[str, int]) -> str:
    """{"email": 2, "handle": 1} -> "2 e-mail addresses, 1 @handle" (or "none found")."""
    return ", ".join(f"{n} {WORDS[k][n > 1]}" for k, n in found.items() if n) or "none found"


def outcome(report: dict) -> str:
    """What the export did with the personal data it found, in words."""
    return {"mask": f"masked in {report['masked']} rows",
            "drop": f"{report['dropped']} rows dropped",
            "keep": "kept as written (the exporter chose to keep them)"}[report["mode"]]


def _mask_url(url: str) -> str:
    """The URL with credentials and secret-looking query values replaced by [REDACTED]."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "[REDACTED]@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(SECRET_PARAMS.match(k) and v for k, v in pairs):
            query = "&".join(f"{k}=[REDACTED]" if SECRET_PARAMS.match(k) and v else
                             (f"{k}={v}" if v else k) for k, v in pairs)
    if netloc == parts.netloc and query == parts.query:
        return url
    rebuilt = f"{parts.scheme}://{netloc}{parts.path}"
    rebuilt += f"?{query}" if query else ""
    return rebuilt + (f"#{parts.fragment}" if parts.fragment else "")


def _looks_like_date(value: str) -> bool:
    return bool(re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}",
                             value.strip()))


def apply(rows: list[dict], mode: str, fields=("input", "output")) -> tuple[list[dict], dict]:
    """Rows as they leave under `mode`, and a report: counts by kind, rows affected, rows
    dropped, and a few examples (ids and kinds only, never the values)."""
    if mode not in MODES:
        raise ValueError(f"unknown personal-data mode {mode!r}; use {', '.join(MODES)}")
    counts = dict.fromkeys(KINDS, 0)
    out, affected, examples = [], 0, []
    for row in rows:
        findings = {f: scan(row[f] or "") for f in fields}
        kinds = [x.kind for fs in findings.values() for x in fs]
        for k in kinds:
            counts[k] += 1
        if kinds:
            affected += 1
            if len(examples) < 20:
                examples.append({"id": row["id"], "kinds": sorted(set(kinds))})
        if kinds and mode == "drop":
            continue
        if kinds and mode == "mask":
            row = dict(row, **{f: mask(row[f], fs) for f, fs in findings.items() if fs})
        out.append(row)
    report = {"mode": mode, "found": counts, "rows_with_pii": affected,
              "dropped": len(rows) - len(out), "masked": affected if mode == "mask" else 0,
              "examples": examples}
    return out, report
