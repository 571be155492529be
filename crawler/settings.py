"""Scrapy settings: polite by default. The sources file's `crawl:` block overrides per run."""

from __future__ import annotations

import os

BOT_NAME = "communique"

# Spiders come from the sources file, not from modules (see crawler/loader.py).
SPIDER_MODULES: list[str] = []
SPIDER_LOADER_CLASS = "crawler.loader.SourceSpiderLoader"
# Environment variables let Scrapyd (which runs spiders from an egg in its own folder)
# and containers point at the files without changing code.
COMMUNIQUE_CONFIG = os.environ.get("COMMUNIQUE_CONFIG", "config/sources.yaml")
COMMUNIQUE_DB = os.environ.get("COMMUNIQUE_DB", "data/archive.db")
COMMUNIQUE_RECHECK_ONLY: list[str] = []  # sources crawled for their due rechecks only
COMMUNIQUE_REFETCH = False  # True: fetch known statements found on entry pages even if not due
COMMUNIQUE_EXTRACT_WORKERS = 0  # processes cleaning pages off the reactor; 0 = one per core

# A callback that raises on a page is a crawl_errors row, like every other failure.
SPIDER_MIDDLEWARES = {"crawler.middlewares.FailuresAsRows": 950}

DUPEFILTER_CLASS = "crawler.dupefilter.RunDupeFilter"
ITEM_PIPELINES = {"crawler.pipelines.ArchivePipeline": 300}

# Politeness.
ROBOTSTXT_OBEY = True
USER_AGENT = "Communique/0.1 (+https://github.com/communique-archive/communique)"
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening ports beyond what a crawl needs

# Limits: a statement page is never this big; a bigger body is recorded as an error.
DOWNLOAD_MAXSIZE = 10_000_000
DOWNLOAD_WARNSIZE = 2_000_000
DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 5
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE = 2.0  # seconds before the first retry; doubles each time
RETRY_BACKOFF_MAX = 60.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.RecordedRedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.RecordedMetaRefreshMiddleware": 580,
    # After decompression and redirects, before retries: WeChat walls are not retried.
    "crawler.middlewares.WechatMiddleware": 585,
}
# WeChat hosts: their own throttle (see WechatMiddleware); the sources file's crawl: block
# sets these, and DOWNLOAD_SLOTS for each host.
COMMUNIQUE_WECHAT_HOSTS = ["mp.weixin.qq.com", "weixin.sogou.com"]
COMMUNIQUE_WECHAT_DELAY = 5.0
COMMUNIQUE_WECHAT_BACKOFF = 60.0
COMMUNIQUE_WECHAT_MAX_WALLS = 3

# One item per page, so Scrapy's default of 100 concurrent items per response buys
# nothing (upstream issue #5182 measured it slower); `make bench` found no difference
# beyond run-to-run noise on 2 cores.
CONCURRENT_ITEMS = 1

LOG_LEVEL = "INFO"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
