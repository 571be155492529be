"""What a worker pushes onto the result stream for the writer: one fetched page (or failed
fetch) with its cleaning, and how it is read back — strictly, since anyone who can write
to Redis can write to the stream.

A message is three fields: `meta` (JSON: the result's id, run, source, URLs, status,
headers, times, cleaning), `body` (the response body, gzipped: the writer keeps these
bytes as the capture's and does not compress the page again) and `signature` (the text's
MinHash, raw bytes; empty when none).
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, fields, replace
from typing import Any

from archive.cleaned import Cleaned
from archive.fetched import INDEX, STATEMENT, Fetched, FetchFailed
from archive.links.features import Features, language_of
from archive.links.reprints import NUM_PERM, SIGNATURE_DTYPE

VERSION = 2  # 2: the body is gzipped, not zlib-compressed
SIGNATURE_BYTES = NUM_PERM * SIGNATURE_DTYPE.itemsize
_CLEANED_FIELDS = {f.name: f for f in fields(Cleaned)}


class BadResult(Exception):
    """A message on the result stream that is not a result we can take."""


class CleaningError(Exception):
    """The worker's cleaning of the page raised (its message names the exception)."""


@dataclass(frozen=True)
class Result:
    """One arrival from a worker: a page or a failed fetch, and what the worker made of it."""

    id: str  # <run>/<request entry id>/<n>: the same page fetched again gives the same id
    run: str
    item: Fetched | FetchFailed
    cleaned: Cleaned | CleaningError | None = None
    signature: bytes | None = None
    links: int = 0  # statement links found on this (entry) page
    worker: str = ""
    # Cross-language features of the cleaned text (archive.links.prepared): the costly part
    # of linking, done on the worker; bounded and type-checked when read back.
    features: Features | None = None

    @property
    def source_id(self) -> str:
        return self.item.source_id


# A stream entry's fields as redis-py takes them (its annotation is invariant).
Fields = dict[Any, Any]


def encode(result: Result) -> Fields:
    item = result.item
    meta: dict[str, Any] = {
        "v": VERSION,
        "id": result.id,
        "run": result.run,
        "source": item.source_id,
        "url": item.url,
        "links": result.links,
        "worker": result.worker,
    }
    body = b""
    if isinstance(item, Fetched):
        meta.update(
            kind="page",
            status=item.http_status,
            headers=dict(item.headers),
            fetched_at=item.fetched_at,
            role=item.role,
            requested_url=item.requested_url,
        )
        body = gzip.compress(item.body, compresslevel=6, mtime=0)
    else:
        meta.update(
            kind="failed", status=item.http_status, reason=item.reason, at=item.at, role=item.role
        )
    if isinstance(result.cleaned, Cleaned):
        meta["cleaned"] = result.cleaned.to_dict()
        if result.features is not None:
            meta["features"] = _features_dict(result.features)
    elif isinstance(result.cleaned, CleaningError):
        meta["cleaning_error"] = str(result.cleaned)
    return {
        "meta": json.dumps(meta, ensure_ascii=False),
        "body": body,
        "signature": result.signature or b"",
    }


def decode(message: dict[bytes, bytes], max_body: int) -> Result:
    """A message read back, every field checked; BadResult says what is wrong with it.

    A body that inflates beyond `max_body` bytes (the crawl's max_page_bytes) is refused
    before it is inflated further.
    """
    try:
        meta = json.loads(message[b"meta"])
    except (KeyError, ValueError, UnicodeDecodeError) as error:
        raise BadResult(f"no readable meta field ({type(error).__name__})") from None
    if not isinstance(meta, dict) or meta.get("v") != VERSION:
        raise BadResult("not a result of this version")
    text = _fields(meta, str, "id", "run", "source", "url", "kind", "worker")
    links = _int(meta, "links", 0)
    if links < 0:
        raise BadResult("links is negative")
    if text["kind"] == "page":
        item: Fetched | FetchFailed = _page(meta, text, message.get(b"body", b""), max_body)
    elif text["kind"] == "failed":
        status = _optional_int(meta, "status")
        # An entry page's failure makes its source unhealthy, as on one machine.
        role = _str(meta, "role") if "role" in meta else STATEMENT
        if role not in (STATEMENT, INDEX):
            raise BadResult(f"unknown role {role!r}")
        item = FetchFailed(text["source"], text["url"], _str(meta, "reason"), status, role=role)
        if "at" in meta:
            item = replace(item, at=_str(meta, "at"))
    else:
        raise BadResult(f"unknown kind {text['kind']!r}")
    cleaned: Cleaned | CleaningError | None = None
    if meta.get("cleaned") is not None:
        cleaned = _cleaned(meta["cleaned"])
    elif meta.get("cleaning_error") is not None:
        cleaned = CleaningError(_str(meta, "cleaning_error"))
    signature = message.get(b"signature") or None
    if signature is not None and len(signature) != SIGNATURE_BYTES:
        raise BadResult(f"signature of {len(signature)} bytes, not {SIGNATURE_BYTES}")
    found = None
    if meta.get("features") is not None and isinstance(cleaned, Cleaned):
        found = _features(meta["features"], cleaned)
    return Result(text["id"], text["run"], item, cleaned, signature, links, text["worker"], found)


def claimed(message: dict[bytes, bytes]) -> tuple[str, str, str]:
    """(source, URL, worker) a message claims, as far as they can be read ("" if not), to
    charge a result that cannot be read to the source it names."""
    try:
        meta = json.loads(message[b"meta"])
    except (KeyError, ValueError, UnicodeDecodeError):
        return "", "", ""
    if not isinstance(meta, dict):
        return "", "", ""
    found = [meta.get(name) for name in ("source", "url", "worker")]
    return tuple(value if isinstance(value, str) else "" for value in found)  # type: ignore[return-value]


def _page(meta: dict[str, Any], text: dict[str, str], packed: bytes, max_body: int) -> Fetched:
    headers = meta.get("headers")
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise BadResult("headers are not a mapping of strings")
    role = _str(meta, "role")
    if role not in (STATEMENT, INDEX):
        raise BadResult(f"unknown role {role!r}")
    status = _int(meta, "status")
    if not 100 <= status <= 599:
        raise BadResult(f"HTTP status {status} out of range")
    requested = meta.get("requested_url")
    if requested is not None and not isinstance(requested, str):
        raise BadResult("requested_url is not a string")
    return Fetched(
        source_id=text["source"],
        url=text["url"],
        http_status=status,
        body=_inflate(packed, max_body),
        body_gz=packed or None,
        headers=headers,
        fetched_at=_str(meta, "fetched_at"),
        role=role,
        requested_url=requested,
    )


def _inflate(packed: bytes, max_body: int) -> bytes:
    """The body in one whole gzip member: stored as sent, it must inflate to exactly what
    the writer checked, so a cut stream or bytes after it are refused."""
    if not packed:
        return b""
    inflater = zlib.decompressobj(wbits=31)  # gzip framing, its CRC checked at the end
    try:
        body = inflater.decompress(packed, max_body + 1)
    except zlib.error as error:
        raise BadResult(f"body is not gzip data ({error})") from None
    if len(body) > max_body or inflater.unconsumed_tail:
        raise BadResult(f"body larger than max_page_bytes ({max_body} bytes)")
    if not inflater.eof or inflater.unused_data:
        raise BadResult("body is not one whole gzip member")
    return body


MAX_FEATURE_TERMS = 20_000  # far more than any statement has; a bigger list is not ours
MAX_TERM_CHARS = 200  # a word, gloss or number longer than this is not one of a statement
_FEATURE_FIELDS = ("language", "length", "numbers", "terms", "concepts")


def _features_dict(found: Features) -> dict[str, Any]:
    return {
        "language": found.language,
        "length": found.length,
        "numbers": sorted(found.numbers),
        "terms": sorted(found.terms),
        "concepts": {word: sorted(glosses) for word, glosses in found.concepts.items()},
    }


def _strings(value: Any, what: str) -> frozenset[str]:
    if not isinstance(value, list) or len(value) > MAX_FEATURE_TERMS:
        raise BadResult(f"features.{what} is not a list of strings")
    if not all(isinstance(item, str) and len(item) <= MAX_TERM_CHARS for item in value):
        raise BadResult(f"features.{what} is not a list of strings")
    return frozenset(value)


def _features(data: Any, cleaned: Cleaned) -> Features:
    """Features as a worker computed them, for the text it cleaned: only for that text's
    language and length, so they cannot be another statement's."""
    if not isinstance(data, dict) or set(data) != set(_FEATURE_FIELDS):
        raise BadResult("features is not a statement's features")
    language, length, concepts = data["language"], data["length"], data["concepts"]
    if language_of(cleaned.language) != language or length != len(cleaned.text or ""):
        raise BadResult("features do not belong to the cleaned text")
    if (
        not isinstance(concepts, dict)
        or len(concepts) > MAX_FEATURE_TERMS
        or not all(isinstance(word, str) and len(word) <= MAX_TERM_CHARS for word in concepts)
    ):
        raise BadResult("features.concepts is not a mapping")
    return Features(
        language=language,
        length=length,
        numbers=_strings(data["numbers"], "numbers"),
        terms=_strings(data["terms"], "terms"),
        concepts={word: _strings(glosses, "concepts") for word, glosses in concepts.items()},
    )


def _cleaned(data: Any) -> Cleaned:
    if not isinstance(data, dict) or set(data) - set(_CLEANED_FIELDS):
        raise BadResult("cleaned is not a cleaning result")
    for name, value in data.items():
        if name == "wechat":
            if value is not None and not (
                isinstance(value, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            ):
                raise BadResult("cleaned.wechat is not a mapping of strings")
        elif value is not None and not isinstance(value, str):
            raise BadResult(f"cleaned.{name} is not a string")
    if not isinstance(data.get("status"), str) or not isinstance(data.get("url"), str):
        raise BadResult("cleaned has no status or url")
    return Cleaned(**data)


def _fields(meta: dict[str, Any], kind: type, *names: str) -> dict[str, Any]:
    found = {}
    for name in names:
        value = meta.get(name)
        if not isinstance(value, kind) or (kind is str and not value and name != "worker"):
            raise BadResult(f"{name} missing or not a {kind.__name__}")
        found[name] = value
    return found


def _str(meta: dict[str, Any], name: str) -> str:
    value = meta.get(name)
    if not isinstance(value, str):
        raise BadResult(f"{name} missing or not a string")
    return value


def _int(meta: dict[str, Any], name: str, default: int | None = None) -> int:
    value = meta.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadResult(f"{name} missing or not a number")
    return value


def _optional_int(meta: dict[str, Any], name: str) -> int | None:
    value = meta.get(name)
    if value is None:
        return None
    return _int(meta, name)
