"""`python -m bench.raw_fetch CONFIG`: fetch a sitemap source's pages and do nothing else.

The crawler's own Scrapy settings and the sources file's politeness settings, with no
item pipeline, no job directory and a spider that only counts responses: the rate at
which Scrapy can fetch the site (R). Prints the count as JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.settings import Settings
from scrapy.utils.sitemap import Sitemap

from communique.config import load_config
from crawler.spiders import politeness_settings


class CountingSpider(scrapy.Spider):
    name = "raw-fetch"
    responses = 0

    def __init__(self, start: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start]

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        for entry in Sitemap(response.body):
            yield scrapy.Request(entry["loc"], callback=self.count)

    def count(self, response: Response) -> None:
        CountingSpider.responses += 1


def main(config_path: str) -> None:
    config = load_config(config_path)
    (source,) = config.sources
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(politeness_settings(config.crawl), priority="cmdline")
    settings.set("ITEM_PIPELINES", {}, priority="cmdline")
    settings.set("SPIDER_LOADER_CLASS", "scrapy.spiderloader.SpiderLoader", priority="cmdline")
    settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    process = CrawlerProcess(settings)
    process.crawl(CountingSpider, start=source.start_urls[0])
    process.start()
    print(json.dumps({"responses": CountingSpider.responses}))


if __name__ == "__main__":
    main(sys.argv[1])
