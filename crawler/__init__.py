"""The crawler: Scrapy spiders per source kind, politeness, and running crawls into the archive."""
