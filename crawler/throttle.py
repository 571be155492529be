"""Politeness across machines: per host, at most `concurrent_requests_per_domain` requests
in flight and `download_delay` seconds between two requests, counted over every worker.

Each host has, in Redis, the time its next request may leave and a set of leases (one
per request in flight, expiring on their own if a worker dies holding them). A worker
takes a lease and a departure time in one atomic script, waits until that time, and
gives the lease back when the response (or the error) arrives. It is the last
downloader middleware before the network, and the workers' own Scrapy delays are off,
so nothing can hold a request back after its departure time was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from typing import Any

import redis
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from archive.identity import in_domains
from crawler.frontier import PREFIX, shared

logger = logging.getLogger(__name__)

LEASE_META = "communique_lease"
# How often a worker asks again while the host's requests in flight are at the limit.
POLL_S = (0.05, 0.25)

# KEYS: leases (sorted set: token → expiry, ms), next departure (ms).
# ARGV: limit, delay ms, lease ms, token. Returns the wait in ms, or -1 when at the limit.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
local slot = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
local delay = tonumber(ARGV[2])
redis.call('SET', KEYS[2], slot + delay, 'PX', delay + 3600000)
redis.call('ZADD', KEYS[1], slot + tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], slot - now + tonumber(ARGV[3]) + 60000)
return slot - now
"""

# KEYS: next departure. ARGV: pause ms. No request leaves before now + pause.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 3600000)
end
return until_ms - now
"""


def host_keys(host: str) -> tuple[str, str]:
    return f"{PREFIX}:host:{host}:leases", f"{PREFIX}:host:{host}:next"


class HostLimiter:
    """The per-host slots and spacing, shared through Redis by every worker."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r
        self._acquire = r.register_script(_ACQUIRE)
        self._pause = r.register_script(_PAUSE)

    def try_acquire(
        self, host: str, delay: float, limit: int, lease_s: float
    ) -> tuple[str, float] | None:
        """(lease token, seconds to wait before sending), or None when the host already
        has `limit` requests in flight."""
        token = secrets.token_hex(8)
        wait_ms = int(
            self._acquire(
                keys=list(host_keys(host)),
                args=[limit, int(delay * 1000), int(lease_s * 1000), token],
            )
        )
        return None if wait_ms < 0 else (token, wait_ms / 1000)

    def release(self, host: str, token: str) -> None:
        self.r.zrem(host_keys(host)[0], token)

    def pause(self, host: str, seconds: float) -> None:
        """No request to the host leaves before `seconds` from now (a wall was hit)."""
        self._pause(keys=[host_keys(host)[1]], args=[int(seconds * 1000)])


class SharedThrottleMiddleware:
    """Holds each request until the host's shared limits let it go (see the module)."""

    def __init__(self, crawler: Crawler, limiter: HostLimiter) -> None:
        settings = crawler.settings
        self.limiter = limiter
        self.delay = settings.getfloat("COMMUNIQUE_HOST_DELAY")
        self.limit = settings.getint("COMMUNIQUE_HOST_CONCURRENCY") or 1
        self.wechat_hosts = settings.getlist("COMMUNIQUE_WECHAT_HOSTS")
        self.wechat_delay = settings.getfloat("COMMUNIQUE_WECHAT_DELAY")
        # A lease outlives the longest a request can take; a dead worker's ones expire.
        self.lease_s = settings.getfloat("DOWNLOAD_TIMEOUT") + 30.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedThrottleMiddleware:
        return cls(crawler, HostLimiter(shared(crawler.settings["COMMUNIQUE_FRONTIER"])))

    def limits(self, request: Request) -> tuple[float, int]:
        if self.wechat_hosts and in_domains(request.url, self.wechat_hosts):
            return self.wechat_delay, 1  # one at a time, as on one machine
        return self.delay, self.limit

    async def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        delay, limit = self.limits(request)
        while True:
            try:
                got = self.limiter.try_acquire(host, delay, limit, self.lease_s)
            except redis.RedisError as error:
                raise IgnoreRequest(
                    f"frontier unreachable for the host throttle: {error}"
                ) from None
            if got is not None:
                break
            await asyncio.sleep(random.uniform(*POLL_S))
        token, wait = got
        request.meta[LEASE_META] = (host, token)
        if wait > 0:
            await asyncio.sleep(wait)

    def _release(self, request: Request) -> None:
        lease = request.meta.pop(LEASE_META, None)
        if lease:
            with contextlib.suppress(redis.RedisError):  # the lease expires on its own
                self.limiter.release(*lease)

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> Any:
        self._release(request)
        return None
