"""The sources file: what is accepted, and the one-line errors for what is not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from communique.config import ConfigError, load_config, parse_config
from tests.helpers import COMMUNIQUE

GOOD = """\
crawl:
  download_delay: 0
sources:
  - id: mfa-en
    name: MFA press releases
    issuer: Ministry of Foreign Affairs
    kind: feed
    start_urls: [https://www.example.gov/rss.xml]
  - id: mfa-zh
    name: 外交部发言人表态
    issuer: 外交部
    kind: listing
    language: zh
    start_urls: [https://www.example.gov.cn/list/]
    article_links: "ul.list li a"
    next_page: "a.next"
    max_pages: 3
  - id: cac
    name: CAC notices
    issuer: Cyberspace Administration
    kind: urls
    urls: [https://www.example.cn/a.htm, https://www.example.cn/b.htm]
"""


def test_valid_file_gives_typed_sources() -> None:
    config = parse_config(GOOD, "config/sources.yaml")
    assert [s.id for s in config.sources] == ["mfa-en", "mfa-zh", "cac"]
    listing = config.sources[1]
    assert (listing.article_links, listing.next_page, listing.max_pages) == (
        "ul.list li a",
        "a.next",
        3,
    )
    assert listing.domains == ["www.example.gov.cn"]
    assert config.sources[2].entry_urls == [
        "https://www.example.cn/a.htm",
        "https://www.example.cn/b.htm",
    ]
    assert config.crawl.download_delay == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("kind: listing", "kind: html"),
            "config/sources.yaml: sources[1] (mfa-zh): kind: must be one of feed, sitemap, listing, urls, wechat (line 12)",
        ),
        (
            ("    max_pages: 3\n", "    max_pages: 3\n    colour: red\n"),
            "config/sources.yaml: sources[1] (mfa-zh): colour: unknown key (line 18)",
        ),
        (
            ("    issuer: 外交部\n", ""),
            "config/sources.yaml: sources[1] (mfa-zh): issuer: required key is missing (line 9)",
        ),
        (
            ('article_links: "ul.list li a"', 'article_links: "ul[[li"'),
            "config/sources.yaml: sources[1] (mfa-zh): article_links: not a valid CSS selector",
        ),
        (
            ("start_urls: [https://www.example.gov/rss.xml]", "start_urls: [ftp://example.gov/x]"),
            "config/sources.yaml: sources[0] (mfa-en): start_urls: not an http(s) URL: 'ftp://example.gov/x'",
        ),
        (
            ("id: cac", "id: mfa-en"),
            "config/sources.yaml: sources[2] (mfa-en): id: duplicate of sources[0] (line 18)",
        ),
        (
            ('    article_links: "ul.list li a"\n', ""),
            "config/sources.yaml: sources[1] (mfa-zh): article_links: a listing source needs a CSS selector",
        ),
        (
            ("download_delay: 0", "download_delay: -1"),
            "config/sources.yaml: crawl: download_delay: Input should be greater than or equal to 0 (line 2)",
        ),
        (
            ("    name: MFA press releases\n", "    name: MFA press releases\n   bad: indent\n"),
            "config/sources.yaml: line 6: invalid YAML",
        ),
    ],
)
def test_bad_config_is_one_line_naming_file_source_and_field(
    change: tuple[str, str], message: str
) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "config/sources.yaml")
    error = str(raised.value)
    assert "\n" not in error
    assert error.startswith(message), error


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: no such file"):
        load_config(tmp_path / "nowhere.yaml")


def test_sources_check_lists_sources(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD, encoding="utf-8")
    result = subprocess.run(
        [COMMUNIQUE, "sources", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "mfa-zh" in result.stdout and "listing" in result.stdout
    assert "3 source(s), all valid" in result.stdout


def test_sources_check_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD.replace("kind: feed", "kind: rss"), encoding="utf-8")
    result = subprocess.run(
        [COMMUNIQUE, "sources", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Error: {path}: sources[0] (mfa-en): kind: must be one of feed, sitemap, listing, urls, wechat (line 7)"
    )
