"""A live table of each source's progress, for crawls run in a terminal."""

from __future__ import annotations

import time

from rich.table import Table
from scrapy.crawler import Crawler


class ProgressTable:
    """Rendered by rich's Live from its own thread; reads each crawler's stats."""

    def __init__(self, crawlers: list[Crawler]) -> None:
        self.crawlers = crawlers
        self.started = time.monotonic()

    def __rich__(self) -> Table:
        table = Table(title="Communique crawl", title_justify="left")
        for column in ("source", "pages", "new", "changed", "unchanged", "errors", "pages/min"):
            table.add_column(column, justify="left" if column == "source" else "right")
        minutes = max((time.monotonic() - self.started) / 60, 1 / 60)
        for crawler in self.crawlers:
            stats = crawler.stats.get_stats() if crawler.stats else {}
            pages = stats.get("response_received_count", 0)
            table.add_row(
                crawler.spidercls.name,
                str(pages),
                str(stats.get("communique/new", 0)),
                str(stats.get("communique/changed", 0)),
                str(stats.get("communique/unchanged", 0)),
                str(stats.get("communique/error", 0)),
                f"{pages / minutes:.0f}",
            )
        return table
