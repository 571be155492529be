"""The frontier's queue class for scrapy-redis: each source's requests on a Redis stream,
read through the consumer group `workers`, as JSON.

`StreamQueue.pop` takes a request for this worker (new ones first, else ones a dead
worker left pending past --reclaim-after: XAUTOCLAIM); it stays pending in the group
until `ack`. Requests are JSON, never pickles, and name only our callbacks: anyone who
can write to Redis must not be able to run code on the workers. An entry that is not
such a request is handed back as a problem, to be dropped and logged.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import redis
import scrapy
from scrapy import Request
from scrapy_redis.queue import Base as RedisQueue

from crawler import frontier
from crawler.throttle import LEASE_META

logger = logging.getLogger(__name__)

FRONTIER_META = "communique_frontier"  # the stream entry a request came from
CALLBACKS = frozenset({"parse_entry", "parse_statement", "on_error"})
# Meta keys that describe one attempt in one process, never carried into the frontier.
TRANSIENT_META = (FRONTIER_META, LEASE_META, "download_slot", "download_latency")
# The meta keys a request read from the frontier may carry: those our spiders and Scrapy's
# redirect, retry and depth middlewares set. Others (`proxy`, `download_maxsize`, …) would
# let whoever writes to Redis steer a worker.
KNOWN_META = frozenset(
    {
        "handle_httpstatus_list",
        "wechat_route",
        "wechat_walls",
        "album_page",
        "listing_page",
        "redirect_urls",
        "redirect_reasons",
        "redirect_times",
        "redirect_ttl",
        "retry_times",
        "depth",
    }
)
# A request taken this many times by workers that died before finishing it is given up
# (recorded as an error): it is likely what kills them.
MAX_DELIVERIES = 5
RECLAIM_EVERY_S = 1.0  # how often a worker with nothing new looks for dead workers' requests
RECLAIM_COUNT = 16


class BadRequest(Exception):
    """A stream entry that is not a request of ours."""


_MISSING = object()


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: bytes and non-text keys tagged; _MISSING if impossible."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return _MISSING if any(i is _MISSING for i in items) else items
    if isinstance(value, dict):
        pairs = [(_plain(k), _plain(v)) for k, v in value.items()]
        if any(k is _MISSING or v is _MISSING for k, v in pairs):
            return _MISSING
        if all(isinstance(k, str) and not k.startswith("$") for k, _ in pairs):
            return dict(pairs)
        return {"$d": [list(pair) for pair in pairs]}
    return _MISSING


def _unplain(value: Any) -> Any:
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$b"}:
            return base64.b64decode(value["$b"], validate=True)
        if set(value) == {"$d"}:
            return {_key(_unplain(k)): _unplain(v) for k, v in value["$d"]}
        return {k: _unplain(v) for k, v in value.items()}
    return value


def _key(value: Any) -> Any:
    if isinstance(value, list):
        raise BadRequest("a list as a mapping key")
    return value


def request_to_json(request: Request, spider: scrapy.Spider) -> bytes:
    """A request of a source spider as stored in the frontier."""
    meta = {}
    for name, value in request.meta.items():
        plain = _plain(value)
        if name not in TRANSIENT_META and plain is not _MISSING:
            meta[name] = plain
    data = {
        "url": request.url,
        "callback": _method_name(request.callback, spider),
        "errback": _method_name(request.errback, spider),
        "method": request.method,
        "headers": _plain(dict(request.headers)),
        "body": _plain(request.body),
        "meta": meta,
        "priority": request.priority,
        "dont_filter": request.dont_filter,
        "flags": list(request.flags),
    }
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _method_name(method: Any, spider: scrapy.Spider) -> str | None:
    if method is None:
        return None
    name = getattr(method, "__name__", None)
    if getattr(method, "__self__", None) is not spider or name not in CALLBACKS:
        raise ValueError(f"{method!r} is not a callback a frontier request may name")
    return name


def request_from_json(raw: bytes, spider: scrapy.Spider) -> Request:
    """A request read back from the frontier; BadRequest for anything else (pickles, other
    request classes, callbacks that are not ours, URLs that are not http(s))."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("not a JSON request") from None
    if not isinstance(data, dict):
        raise BadRequest("not a JSON request")
    url = data.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise BadRequest(f"not an http(s) URL: {str(url)[:200]!r}")
    callbacks = {}
    for field in ("callback", "errback"):
        name = data.get(field)
        if name is not None and name not in CALLBACKS:
            raise BadRequest(f"{field} {str(name)[:80]!r} is not one of ours")
        callbacks[field] = getattr(spider, name) if name else None
    if data.get("method", "GET") not in ("GET", "HEAD"):
        raise BadRequest(f"method {str(data.get('method'))[:20]!r}")
    try:
        headers = _unplain(data.get("headers") or {})
        body = _unplain(data.get("body")) or b""
        meta = _unplain(data.get("meta") or {})
        if not isinstance(meta, dict) or not isinstance(headers, dict):
            raise BadRequest("meta or headers are not mappings")
        meta = {name: value for name, value in meta.items() if name in KNOWN_META}
        return Request(
            url,
            callback=callbacks["callback"],
            errback=callbacks["errback"],
            method=data.get("method", "GET"),
            headers=headers,
            body=body,
            meta=meta,
            priority=int(data.get("priority") or 0),
            dont_filter=bool(data.get("dont_filter")),
            flags=[str(flag) for flag in data.get("flags") or []],
        )
    except BadRequest:
        raise
    except (TypeError, ValueError, AttributeError) as error:
        raise BadRequest(f"unusable fields ({type(error).__name__}: {error})") from None


def gone(error: redis.ResponseError) -> bool:
    """Whether Redis refused because the stream or its group no longer exists: the writer
    deleted the run (it was complete) or `frontier clear` did."""
    return "NOGROUP" in str(error)


@dataclass
class Entry:
    """A stream entry taken: its request, or the problem that makes it none of ours."""

    id: str
    request: Request | None
    problem: str | None = None
    url: str = ""


class StreamQueue(RedisQueue):
    """scrapy-redis queue class (SCHEDULER_QUEUE_CLASS) over a Redis stream and its
    consumer group; see the module's docstring."""

    def __init__(
        self, server: redis.Redis, spider: scrapy.Spider, key: str, serializer: Any = None
    ) -> None:
        super().__init__(server, spider, key, serializer=json)
        self.group = frontier.WORKERS_GROUP
        self.consumer: str = spider.settings.get("COMMUNIQUE_WORKER") or "seeder"
        self.reclaim_ms = int(spider.settings.getfloat("COMMUNIQUE_RECLAIM_AFTER") * 1000)
        self.next_reclaim = 0.0
        # Taken over from dead workers, not yet handed out.
        self.claimed: deque[tuple[bytes, dict[bytes, bytes]]] = deque()

    def _encode_request(self, request: Request) -> bytes:
        return request_to_json(request, self.spider)

    def _decode_request(self, encoded_request: bytes) -> Request:
        return request_from_json(encoded_request, self.spider)

    def __len__(self) -> int:
        return int(self.server.xlen(self.key))

    def push(self, request: Request) -> None:
        self.server.xadd(self.key, {"request": self._encode_request(request)})

    def pop(self, timeout: int = 0) -> Entry | None:
        try:
            found = self._read_new() or self._reclaim()
        except redis.ResponseError as error:
            if not gone(error):
                raise
            return None  # the run was closed (or cleared) under this worker: nothing to take
        if found is None:
            return None
        entry_id, fields, deliveries = found
        raw = fields.get(b"request") if fields else None
        if raw is None:
            return Entry(entry_id, None, "an entry without a request")
        try:
            request = self._decode_request(raw)
        except BadRequest as error:
            return Entry(entry_id, None, str(error))
        run = (fields.get(b"run") or b"").decode()
        if run != getattr(self.spider, "run_id", run):
            return Entry(entry_id, None, f"a request of another run ({run[:40]!r})", request.url)
        if deliveries > MAX_DELIVERIES:
            reason = (
                f"given up after {deliveries - 1} workers stopped while fetching it "
                "(killed, or crashed on this page)"
            )
            return Entry(entry_id, None, reason, request.url)
        request.meta[FRONTIER_META] = entry_id
        return Entry(entry_id, request)

    def _read_new(self) -> tuple[str, dict[bytes, bytes], int] | None:
        answer: Any = self.server.xreadgroup(self.group, self.consumer, {self.key: ">"}, count=1)
        if not answer:
            return None
        entry_id, fields = answer[0][1][0]
        return entry_id.decode(), fields, 1

    def _reclaim(self) -> tuple[str, dict[bytes, bytes], int] | None:
        """A request a dead worker left pending (idle past --reclaim-after), if any."""
        if not self.claimed and time.monotonic() >= self.next_reclaim:
            self.next_reclaim = time.monotonic() + RECLAIM_EVERY_S
            answer: Any = self.server.xautoclaim(
                self.key,
                self.group,
                self.consumer,
                self.reclaim_ms,
                start_id="0-0",
                count=RECLAIM_COUNT,
            )
            self.claimed.extend((i, f) for i, f in answer[1] if f is not None)
            if self.claimed:
                logger.info(
                    "%s: took over %d request(s) a stopped worker held",
                    self.spider.name,
                    len(self.claimed),
                )
        if not self.claimed:
            return None
        entry_id, fields = self.claimed.popleft()
        detail: Any = self.server.xpending_range(
            self.key, self.group, min=entry_id, max=entry_id, count=1
        )
        deliveries = int(detail[0]["times_delivered"]) if detail else 1
        return entry_id.decode(), fields, deliveries

    def let_go(self) -> None:
        """Requests taken over and not yet started are left for other workers at once
        (marked idle long enough to be taken), not after --reclaim-after."""
        ids = [entry_id for entry_id, _ in self.claimed]
        self.claimed.clear()
        if ids:
            try:
                self.server.xclaim(
                    self.key,
                    self.group,
                    self.consumer,
                    0,
                    ids,
                    idle=self.reclaim_ms + 1,
                    justid=True,
                )
            except redis.ResponseError as error:
                if not gone(error):
                    raise

    def ack(self, entry_id: str) -> None:
        pipe = self.server.pipeline(transaction=True)
        pipe.xack(self.key, self.group, entry_id)
        pipe.xdel(self.key, entry_id)
        pipe.execute()

    def clear(self) -> None:
        self.server.delete(self.key)
