"""Makes `scrapy list` and `scrapy crawl ID` see one spider per source in the sources file."""

from __future__ import annotations

import builtins
from typing import Self

from scrapy import Request, Spider
from scrapy.settings import BaseSettings

from communique.config import load_config
from crawler.spiders import spider_for


class SourceSpiderLoader:
    """A Scrapy spider loader whose spiders are the sources of COMMUNIQUE_CONFIG."""

    def __init__(self, settings: BaseSettings) -> None:
        config = load_config(settings.get("COMMUNIQUE_CONFIG"))
        self._spiders = {source.id: spider_for(source, config) for source in config.sources}

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        return cls(settings)

    def load(self, spider_name: str) -> type[Spider]:
        try:
            return self._spiders[spider_name]
        except KeyError:
            raise KeyError(f"Spider not found: {spider_name}") from None

    def list(self) -> list[str]:
        return list(self._spiders)

    def find_by_request(self, request: Request) -> builtins.list[str]:
        return [name for name, spider in self._spiders.items() if spider.handles_request(request)]
