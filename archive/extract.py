"""`communique extract`: run the cleaning step on saved files, one record per file."""

from __future__ import annotations

import gzip
import mimetypes
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from archive.clean import Hints, clean_page

_HEADER_FIELDS = (
    ("Title", "title"),
    ("Published", "published"),
    ("Issuer", "issuer"),
    ("Language", "language"),
    ("Status", "status"),
    ("URL", "url"),
)


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    return data


def _content_type(path: Path) -> str | None:
    """A Content-Type guessed from the file name (without `.gz`), as a server would send."""
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    guessed, _encoding = mimetypes.guess_type(name, strict=False)
    return guessed


def extract_files(
    paths: list[Path], url: str | None = None, hints: Hints | None = None
) -> Iterator[dict[str, Any]]:
    """Clean each file as if fetched from `url` (default: its file:// URI) for a source
    described by `hints` (its configured issuer, language, time zone).

    A file that cannot be read yields an error record and the rest still come out.
    """
    for path in paths:
        try:
            body = _read(path)
        except OSError as err:
            # gzip.BadGzipFile is an OSError too; it has no strerror, so fall back to str().
            detail = err.strerror or str(err)
            yield {"file": str(path), "status": "error", "reason": f"{path}: {detail}"}
            continue
        except (EOFError, zlib.error) as err:
            yield {"file": str(path), "status": "error", "reason": f"{path}: {err}"}
            continue
        page_url = url if url is not None else path.resolve().as_uri()
        record = clean_page(body, page_url, _content_type(path), hints).to_dict()
        record["file"] = str(path)
        yield record


def format_text(record: dict[str, Any]) -> str:
    """A record as a person would read it: header lines, a blank line, then the text.

    No trailing newline, so `click.echo` output ends cleanly.
    """
    lines = []
    for label, key in _HEADER_FIELDS:
        value = record.get(key)
        lines.append(f"{label}: {value if value not in (None, '') else '-'}")
    if record.get("reason"):
        lines.append(f"Reason: {record['reason']}")
    header = "\n".join(lines)
    text = record.get("text")
    return f"{header}\n\n{text}" if text else header
