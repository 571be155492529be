"""Builders for tests: archives built through the one way in, configs, saved responses.

An archive built here goes through `archive.ingest` exactly as a crawl's pages do, so a
test that reads it reads what a crawl would have left.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from scrapy.http import HtmlResponse, Request, Response, TextResponse, XmlResponse

from archive.cleaned import Cleaned
from archive.fetched import INDEX, Fetched, FetchFailed
from archive.ingest import IngestSettings, Session, ingest
from archive.statuses import STATUS_OK
from archive.store import HistorySettings
from communique.config import Source

FILES = Path(__file__).resolve().parent / "files"
SETTINGS = IngestSettings(HistorySettings(), ("mp.weixin.qq.com", "weixin.sogou.com"))


# -- archives -------------------------------------------------------------------------------


def source(source_id: str = "gov-en", **fields: Any) -> Source:
    """A configured source (a `urls` source on example hosts unless told otherwise)."""
    data: dict[str, Any] = {
        "id": source_id,
        "name": f"Source {source_id}",
        "issuer": "Ministry of Examples",
        "kind": "urls",
        "urls": [f"https://{source_id}.example/"],
    }
    return Source.model_validate({**data, **fields})


class Crawl:
    """One crawl of one source into an archive; each call is one arrival through `ingest`."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.source_id = session.source_id or ""

    def page(
        self,
        url: str,
        html: str | bytes | None = None,
        *,
        status: int = 200,
        cleaned: Cleaned | None = None,
        at: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """A fetched page: its HTML (cleaned by the real cleaner), or a cleaning given as
        `cleaned` (as a worker or another machine hands it over). Returns the outcome."""
        body = html.encode("utf-8") if isinstance(html, str) else (html or b"")
        fields: dict[str, Any] = {
            "headers": headers or {"Content-Type": "text/html; charset=utf-8"}
        }
        if at:
            fields["fetched_at"] = at
        fetched = Fetched(self.source_id, url, status, body, **fields)
        return ingest(self.session, fetched, cleaned)

    def statement(self, url: str, title: str, text: str, **cleaned: Any) -> str:
        """A page whose cleaning is given: a statement with this title and text."""
        made = Cleaned(status=STATUS_OK, url=url, title=title, text=text, **cleaned)
        return self.page(url, f"<h1>{title}</h1><p>{text}</p>", cleaned=made)

    def gone(self, url: str, status: str, reason: str) -> str:
        """A page that says the statement is gone (`status` is a gone status)."""
        made = Cleaned(status=status, url=url, reason=reason)
        return self.page(url, f"<p>{reason}</p>", cleaned=made)

    def index(self, url: str, body: bytes = b"<rss/>") -> str:
        return ingest(self.session, Fetched(self.source_id, url, 200, body, role=INDEX))

    def failed(self, url: str, reason: str, http_status: int | None = None) -> str:
        return ingest(self.session, FetchFailed(self.source_id, url, reason, http_status))


@contextmanager
def crawl(db_path: Path, configured: Source | None = None, **fields: Any) -> Iterator[Crawl]:
    """`with crawl(db) as c: c.page(...)`: a crawl of a source into the archive at db_path."""
    with Session(db_path, SETTINGS, configured or source(**fields)) as session:
        yield Crawl(session)


# -- configs --------------------------------------------------------------------------------


def write_wechat_config(
    path: Path, sources: list[dict[str, Any]], *, delay: float = 0.3, backoff: float = 0.5
) -> Path:
    """A sources file for the fixture WeChat site (served as `localhost`)."""
    data = {
        "crawl": {
            "download_delay": 0,
            "timeout": 10,
            "wechat_hosts": ["localhost"],
            "wechat_delay": delay,
            "wechat_backoff": backoff,
        },
        "sources": sources,
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def wechat_source(source_id: str, routes: list[dict[str, Any]], biz: str) -> dict[str, Any]:
    return {
        "id": source_id,
        "name": f"江城国家安全 ({source_id})",
        "issuer": "江城市国家安全局",
        "kind": "wechat",
        "account": "江城国家安全",
        "biz": biz,
        "routes": routes,
    }


# -- saved responses, for in-process spider tests -------------------------------------------


def file_response(name: str, url: str, meta: dict[str, Any] | None = None) -> Response:
    """A response built from tests/files/<name>, as if fetched from `url` (City-Bureau's
    `file_response`): the spider's callbacks run on it without a server."""
    body = (FILES / name).read_bytes()
    request = Request(url, meta=meta or {})
    kind: type[TextResponse] = HtmlResponse
    if name.endswith((".xml", ".rss", ".atom")):
        kind = XmlResponse
    elif name.endswith(".json"):
        return TextResponse(
            url,
            body=body,
            request=request,
            encoding="utf-8",
            headers={"Content-Type": "application/json"},
        )
    return kind(url, body=body, request=request, encoding="utf-8")
