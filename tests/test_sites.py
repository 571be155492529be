"""Tests of the fixture site server, the fixture government web and the source configs."""

from __future__ import annotations

import hashlib
import html
import http.client
import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import pytest
import trafilatura
import yaml
from parsel import Selector

from communique.config import load_config
from tests.conftest import DEMO_CONFIG, GOV_ROOT, REPO_ROOT, MakeConfig
from tests.sites.server import SiteServer

DEFAULT_CONFIG = REPO_ROOT / "config" / "sources.yaml"
KINDS = {"feed", "sitemap", "listing", "urls"}
ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# The statements a correct crawler archives, per source: (URL path as listed, title, date, lang).
# Keep in sync with tests/sites/README.md.
EMBASSY_ZH_SLUG = (
    "%e9%a9%bb%e5%8d%a1%e5%b0%94%e7%bb%b4%e6%8b%89%e4%bd%bf%e9%a6%86%e6%8f%90%e9%86%92"
    "%e9%98%b2%e8%8c%83%e6%b4%aa%e6%b6%9d%e7%81%be%e5%ae%b3"
)
STATEMENTS: dict[str, list[tuple[str, str, str, str]]] = {
    "mfa-en": [
        (
            "/mfa-en/xw/fyrbt/202408/t20240802_11100101.html",
            "Foreign Ministry Spokesperson Chen Ruoyu's Remarks on the Flood Disaster in Calvera",
            "2024-08-02",
            "en",
        ),
        (
            "/mfa-en/xw/wjbxw/202407/t20240730_11100087.html",
            "Foreign Minister Song Liwei Holds Talks with Estmark Foreign Minister Ilse Varga",
            "2024-07-30",
            "en",
        ),
        (
            "/mfa-en/xw/fyrbt/202407/t20240726_11100075.html",
            "Foreign Ministry Spokesperson's Remarks on the Entry into Force of the Northern Rivers"
            " Navigation Agreement",
            "2024-07-26",
            "en",
        ),
        (
            "/mfa-en/xw/fyrbt/lxjzh/202407/t20240722_11100063.html",
            "Foreign Ministry Spokesperson Chen Ruoyu's Regular Press Conference on July 22, 2024",
            "2024-07-22",
            "en",
        ),
        (
            "/mfa-en/zwbd/202407/t20240718_11100052.html",
            "Consular Reminder: Safety Advice for Chinese Citizens Travelling Abroad This Summer",
            "2024-07-18",
            "en",
        ),
    ],
    "mfa-zh": [
        (
            "/mfa-zh/content/202407/t20240725_11200031.html",
            "外交部发言人宣布埃斯特马克王国外交大臣瓦尔加将访华",
            "2024-07-25",
            "zh",
        ),
        (
            "/mfa-zh/content/202407/t20240723_11200024.html",
            "外交部发言人就第二届北河流域可持续发展部长级会议答记者问",
            "2024-07-23",
            "zh",
        ),
        (
            "/mfa-zh/content/202407/t20240719_11200017.html",
            "何镕副部长会见卡尔维拉共和国驻华大使阿尔梅达",
            "2024-07-19",
            "zh",
        ),
        (
            "/mfa-zh/content/202407/t20240716_11200009.html",
            "外交部举办“数字海关与跨境贸易便利化”国际研讨会",
            "2024-07-16",
            "zh",
        ),
        (
            "/mfa-zh/content/202407/t20240710_11200003.html",
            "外交部召开2024年驻外使领馆领事保护工作视频会议",
            "2024-07-10",
            "zh",
        ),
        (
            "/mfa-zh/content/202407/t20240705_11200001.html",
            "外交部举办2024年度公众开放日活动",
            "2024-07-05",
            "zh",
        ),
    ],
    "mss-atom": [
        (
            "/mss/en/notices/202408/t20240801_3001.html",
            "Public Notice on Fraudulent Calls and Messages Impersonating State Security Officers",
            "2024-08-01",
            "en",
        ),
        (
            "/mss/en/notices/202407/t20240729_2987.html",
            "Warning to the Public: Fake Overseas Recruitment Offers Seeking Sensitive Information",
            "2024-07-29",
            "en",
        ),
        (
            "/mss/zh/tzgg/202407/t20240726_2975.html",
            "国家安全机关提示：警惕以“兼职调研”为名窃取敏感信息",
            "2024-07-26",
            "zh",
        ),
        (
            "/mss/zh/aqts/202407/t20240720_2961.html",
            "关于无人机在重要设施周边飞行拍摄的安全提示",
            "2024-07-20",
            "zh",
        ),
    ],
    "embassy-sitemap": [
        (
            "/embassy/2024/08/statement-on-flood-relief-assistance/",
            "Statement by the Embassy Spokesperson on Flood Relief Assistance to Calvera",
            "2024-08-03",
            "en",
        ),
        (
            "/embassy/2024/07/ambassador-zhou-heng-remarks-at-cultural-week-opening/",
            "Remarks by Ambassador Zhou Heng at the Opening of the Chinese Culture Week in"
            " Port Aldana",
            "2024-07-28",
            "en",
        ),
        (
            "/embassy/2024/07/notice-on-adjusted-consular-service-hours/",
            "Notice on Adjusted Consular Service Hours During the Rainy Season",
            "2024-07-15",
            "en",
        ),
        (
            f"/embassy/2024/07/{EMBASSY_ZH_SLUG}/",
            "驻卡尔维拉共和国大使馆提醒在卡中国公民防范洪涝灾害",
            "2024-07-31",
            "zh",
        ),
        (
            "/embassy/2024/06/ambassador-zhou-heng-signed-article-calvera-daily/",
            "周珩大使在《卡尔维拉日报》发表署名文章《携手共建更加美好的未来》",
            "2024-06-20",
            "zh",
        ),
    ],
    "cac-urls": [
        (
            "/cac/2024-07/12/c_1722483160718842.htm",
            "关于开展2024年“护苗·暑期”网络环境专项整治行动的通知",
            "2024-07-12",
            "zh",
        ),
        (
            "/cac/2024-07/30/c_1723905478218641.htm",
            "关于公开征求《网络数据标注安全管理规定（征求意见稿）》意见的通知",
            "2024-07-30",
            "zh",
        ),
        (
            "/cac/2024-08/05/c_1724516284771035.htm",
            "国家互联网信息办公室有关负责人就《移动互联网应用程序信息服务备案管理办法》答记者问",
            "2024-08-05",
            "zh",
        ),
    ],
}
DUPLICATE_URL = "/embassy/p/123.html"  # same bytes as the first embassy statement
PDF_URL = "/cac/files/notice.pdf"
DEAD_URLS = {"/mfa-zh/content/202407/t20240701_11200099.html"}
DISALLOWED_URLS = {"/private/secret.html"}
GB_PAGES = [p for p, *_ in STATEMENTS["mfa-zh"]] + [
    "/mfa-zh/list/index.html",
    "/mfa-zh/list/index_1.html",
    "/mfa-zh/list/index_2.html",
]
GBK_UNDECLARED = "/cac/2024-08/05/c_1724516284771035.htm"


@dataclass
class Response:
    """A fetched response."""

    status: int
    headers: dict[str, str]
    body: bytes


def fetch(url: str, method: str = "GET") -> Response:
    """Fetch a URL without raising on HTTP errors (redirects are followed)."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return Response(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, dict(err.headers.items()), err.read())


def raw_get(site: SiteServer, target: str) -> tuple[int, dict[str, str], bytes]:
    """Send a request target verbatim (no normalisation, no redirects)."""
    conn = http.client.HTTPConnection(site.host, site.port, timeout=10)
    try:
        conn.request("GET", target)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# ------------------------------------------------------------------ server behaviour


@pytest.fixture
def tiny_site(tmp_path: Path) -> Iterator[SiteServer]:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "index.html").write_bytes(b"<p>dir index</p>")
    (tmp_path / "a.html").write_bytes(b"<a href='{{base}}/b.html'>{{base}}</a>")
    (tmp_path / "feed.rss").write_bytes(b"<rss/>")
    (tmp_path / "feed.atom").write_bytes(b"<feed/>")
    (tmp_path / "data.xml").write_bytes(b"<x/>")
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (tmp_path / "notes.txt").write_bytes(b"hello")
    (tmp_path / "old.htm").write_bytes(b"<p>old</p>")
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "x.html").write_bytes("中文".encode("gb18030"))
    (tmp_path / "zh" / "y.html").write_bytes(b"y")
    headers = {
        "/zh/*": {"Content-Type": "text/html; charset=gb2312", "X-Glob": "1"},
        "/zh/y.html": {"Content-Type": "text/html; charset=utf-8"},
        "/a.html": {"X-Extra": "yes"},
    }
    (tmp_path / "_headers.json").write_text(json.dumps(headers), encoding="utf-8")
    with SiteServer(tmp_path) as site:
        yield site


def test_base_url_and_url_helper(tiny_site: SiteServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", tiny_site.base_url)
    assert tiny_site.port != 0
    assert tiny_site.url("/a.html") == tiny_site.base_url + "/a.html"
    assert tiny_site.url("a.html") == tiny_site.base_url + "/a.html"


def test_placeholder_is_replaced_by_base_url(tiny_site: SiteServer) -> None:
    resp = fetch(tiny_site.url("/a.html"))
    assert resp.status == 200
    expected = f"<a href='{tiny_site.base_url}/b.html'>{tiny_site.base_url}</a>".encode()
    assert resp.body == expected
    assert resp.headers["Content-Length"] == str(len(expected))


def test_query_string_is_ignored_for_lookup(tiny_site: SiteServer) -> None:
    plain = fetch(tiny_site.url("/a.html"))
    tracked = fetch(tiny_site.url("/a.html?utm_source=rss&utm_medium=feed"))
    assert tracked.status == 200
    assert tracked.body == plain.body


def test_directory_index_and_slash_redirect(tiny_site: SiteServer) -> None:
    assert fetch(tiny_site.url("/dir/")).body == b"<p>dir index</p>"
    status, headers, _ = raw_get(tiny_site, "/dir?x=1")
    assert status == 301
    assert headers["Location"] == "/dir/?x=1"


def test_missing_file_is_404_with_html_body(tiny_site: SiteServer) -> None:
    resp = fetch(tiny_site.url("/nope.html"))
    assert resp.status == 404
    assert resp.headers["Content-Type"] == "text/html"
    assert b"404" in resp.body
    assert fetch(tiny_site.url("/empty-dir-without-index/")).status == 404


def test_headers_file_is_not_served_and_traversal_is_refused(tiny_site: SiteServer) -> None:
    assert fetch(tiny_site.url("/_headers.json")).status == 404
    status, _, _ = raw_get(tiny_site, "/../../etc/passwd")
    assert status == 404


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/a.html", "text/html"),
        ("/old.htm", "text/html"),
        ("/dir/", "text/html"),
        ("/data.xml", "application/xml"),
        ("/feed.rss", "application/rss+xml"),
        ("/feed.atom", "application/atom+xml"),
        ("/doc.pdf", "application/pdf"),
        ("/notes.txt", "text/plain"),
    ],
)
def test_content_type_by_extension(tiny_site: SiteServer, path: str, content_type: str) -> None:
    assert fetch(tiny_site.url(path)).headers["Content-Type"] == content_type


def test_headers_json_globs_and_exact_keys(tiny_site: SiteServer) -> None:
    x = fetch(tiny_site.url("/zh/x.html"))
    assert x.headers["Content-Type"] == "text/html; charset=gb2312"
    assert x.headers["X-Glob"] == "1"
    y = fetch(tiny_site.url("/zh/y.html"))
    assert y.headers["Content-Type"] == "text/html; charset=utf-8"  # exact key wins
    assert fetch(tiny_site.url("/a.html")).headers["X-Extra"] == "yes"
    assert "X-Glob" not in fetch(tiny_site.url("/zh/missing.html")).headers


def test_head_request(tiny_site: SiteServer) -> None:
    resp = fetch(tiny_site.url("/notes.txt"), method="HEAD")
    assert resp.status == 200
    assert resp.body == b""
    assert resp.headers["Content-Length"] == "5"


def test_request_log_records_targets_in_order(tiny_site: SiteServer) -> None:
    tiny_site.clear_requests()
    for target in ["/a.html?utm_source=rss", "/nope.html", "/dir/", "/a.html"]:
        fetch(tiny_site.url(target))
    assert tiny_site.requests == ["/a.html?utm_source=rss", "/nope.html", "/dir/", "/a.html"]
    log = tiny_site.requests
    log.append("/mutating-the-copy")
    assert "/mutating-the-copy" not in tiny_site.requests


def test_server_stops_and_refuses_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        SiteServer(tmp_path / "missing")
    site = SiteServer(tmp_path)
    with pytest.raises(RuntimeError):
        _ = site.base_url
    with site:
        port = site.port
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


# ------------------------------------------------------------------ fixture web: special files


def test_robots_txt_disallows_private(gov_site: SiteServer) -> None:
    resp = fetch(gov_site.url("/robots.txt"))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain"
    text = resp.body.decode()
    assert "User-agent: *" in text
    assert "Disallow: /private/" in text
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    assert not parser.can_fetch("communique", gov_site.url("/private/secret.html"))
    assert parser.can_fetch("communique", gov_site.url("/mfa-en/rss.xml"))
    assert parser.site_maps() == [gov_site.url("/embassy/sitemap.xml")]


def test_gb_pages_declare_gb2312_but_need_gb18030(gov_site: SiteServer) -> None:
    for path in GB_PAGES:
        resp = fetch(gov_site.url(path))
        assert resp.status == 200, path
        assert resp.headers["Content-Type"] == "text/html; charset=gb2312", path
        assert b'<meta charset="gb2312">' in resp.body
        with pytest.raises(UnicodeDecodeError):
            resp.body.decode("gb2312")
        resp.body.decode("gb18030")
    article = fetch(gov_site.url(STATEMENTS["mfa-zh"][2][0])).body.decode("gb18030")
    assert "何镕" in article
    everything = "".join(
        (GOV_ROOT / p.lstrip("/")).read_bytes().decode("gb18030") for p in GB_PAGES
    )
    for char in "镕喆堃昇𠮷":
        assert char in everything
    with pytest.raises(UnicodeDecodeError):
        (GOV_ROOT / "mfa-zh/content/202407/t20240705_11200001.html").read_bytes().decode("gbk")


def test_undeclared_gbk_page(gov_site: SiteServer) -> None:
    resp = fetch(gov_site.url(GBK_UNDECLARED))
    assert resp.headers["Content-Type"] == "text/html"
    assert b"charset" not in resp.body.lower()
    with pytest.raises(UnicodeDecodeError):
        resp.body.decode("utf-8")
    assert "备案管理办法" in resp.body.decode("gbk")


def test_pdf_is_valid(gov_site: SiteServer) -> None:
    resp = fetch(gov_site.url(PDF_URL))
    assert resp.headers["Content-Type"] == "application/pdf"
    body = resp.body
    assert body.startswith(b"%PDF-1.4")
    assert body.rstrip().endswith(b"%%EOF")
    startxref = int(body.rsplit(b"startxref", 1)[1].split()[0])
    assert body[startxref:].startswith(b"xref")
    assert b"Explanatory Note on the Filing" in body


def test_empty_and_broken_feeds(gov_site: SiteServer) -> None:
    empty = ET.fromstring(fetch(gov_site.url("/empty/rss.xml")).body)
    assert empty.tag == "rss"
    assert empty.findall("./channel/item") == []
    broken = fetch(gov_site.url("/broken/feed.xml"))
    assert broken.status == 200
    with pytest.raises(ET.ParseError):
        ET.fromstring(broken.body)


def test_every_statement_page_matches_its_metadata(gov_site: SiteServer) -> None:
    for source, statements in STATEMENTS.items():
        for path, title, date, _lang in statements:
            resp = fetch(gov_site.url(path))
            assert resp.status == 200, path
            text = decode(resp.body)
            page = html.unescape(text)
            assert title in page, (source, path)
            y, m, d = date.split("-")
            date_forms = {date, f"{y}年{m}月{d}日", f"{y}年{int(m)}月{int(d)}日"}
            assert any(form in page for form in date_forms), (source, path, date)
            extracted = trafilatura.extract(text) or ""
            assert len(extracted) >= 500, (source, path, len(extracted))


def test_statement_texts_are_distinct(gov_site: SiteServer) -> None:
    digests = set()
    for statements in STATEMENTS.values():
        for path, *_ in statements:
            digests.add(hashlib.sha256(fetch(gov_site.url(path)).body).hexdigest())
    total = sum(len(s) for s in STATEMENTS.values())
    assert len(digests) == total >= 20
    languages = {lang for s in STATEMENTS.values() for *_, lang in s}
    assert languages == {"en", "zh"}


def test_duplicate_url_serves_identical_bytes(gov_site: SiteServer) -> None:
    first = fetch(gov_site.url(STATEMENTS["embassy-sitemap"][0][0])).body
    assert fetch(gov_site.url(DUPLICATE_URL)).body == first
    assert b'rel="canonical"' in first


def decode(body: bytes) -> str:
    """Decode a fixture page: UTF-8 when valid, else GB18030."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("gb18030")


# ------------------------------------------------------------------ fixture web: link check

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def feed_links(body: bytes) -> list[str]:
    root = ET.fromstring(body)
    if root.tag == "rss":
        return [(item.findtext("link") or "").strip() for item in root.iter("item")]
    assert root.tag == f"{ATOM}feed"
    links = []
    for entry in root.iter(f"{ATOM}entry"):
        for link in entry.iter(f"{ATOM}link"):
            if link.get("rel", "alternate") == "alternate":
                links.append(link.get("href", ""))
    return links


def sitemap_links(url: str, seen: set[str] | None = None) -> list[str]:
    seen = set() if seen is None else seen
    seen.add(url)
    root = ET.fromstring(fetch(url).body)
    locs = [(loc.text or "").strip() for loc in root.iter(f"{SITEMAP}loc")]
    if root.tag == f"{SITEMAP}sitemapindex":
        out: list[str] = []
        for loc in locs:
            if loc not in seen:
                out += sitemap_links(loc, seen)
        return out
    assert root.tag == f"{SITEMAP}urlset"
    return locs


def listing_links(source: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Follow a listing source: returns (listing pages visited, article links found)."""
    pages: list[str] = []
    articles: list[str] = []
    queue = list(source["start_urls"])
    while queue and len(pages) < source.get("max_pages", 10):
        url = queue.pop(0)
        if url in pages:
            continue
        pages.append(url)
        sel = Selector(text=decode(fetch(url).body))
        for href in sel.css(source["article_links"]).xpath("@href").getall():
            articles.append(urljoin(url, href))
        if source.get("next_page"):
            queue += [urljoin(url, h) for h in sel.css(source["next_page"]).xpath("@href").getall()]
    return pages, articles


def source_links(source: dict[str, Any]) -> list[str]:
    kind = source["kind"]
    if kind == "feed":
        return [link for url in source["start_urls"] for link in feed_links(fetch(url).body)]
    if kind == "sitemap":
        links = [link for url in source["start_urls"] for link in sitemap_links(url)]
        pattern = source.get("url_pattern")
        return [link for link in links if not pattern or re.search(pattern, link)]
    if kind == "listing":
        return listing_links(source)[1]
    assert kind == "urls"
    return list(source["urls"])


def test_every_link_of_every_source_resolves(gov_site: SiteServer, make_config: MakeConfig) -> None:
    config = load_yaml(make_config())
    robots = RobotFileParser()
    robots.parse(fetch(gov_site.url("/robots.txt")).body.decode().splitlines())
    start = len(gov_site.requests)
    dead: set[str] = set()
    disallowed: set[str] = set()
    for source in config["sources"]:
        links = source_links(source)
        assert links, source["id"]
        paths = []
        for link in links:
            assert link.startswith(gov_site.base_url), link
            url = urldefrag(link)[0]
            path = urlsplit(url).path
            if not robots.can_fetch("communique", url):
                disallowed.add(path)
                continue
            status = fetch(url).status
            if status == 404:
                dead.add(path)
                continue
            assert status == 200, link
            paths.append(path)
        expected = {p for p, *_ in STATEMENTS[source["id"]]}
        if source["id"] == "embassy-sitemap":
            expected.add(DUPLICATE_URL)
        if source["id"] == "cac-urls":
            expected.add(PDF_URL)
        assert set(paths) == expected, source["id"]
    assert dead == DEAD_URLS
    assert disallowed == DISALLOWED_URLS
    fetched = {urlsplit(t).path for t in gov_site.requests[start:]}
    assert not fetched & DISALLOWED_URLS


def test_feed_links_carry_tracking_parameters_and_fragments(gov_site: SiteServer) -> None:
    links = feed_links(fetch(gov_site.url("/mfa-en/rss.xml")).body)
    assert len(links) == 5
    assert [link for link in links if "?" in link] == [
        gov_site.url(STATEMENTS["mfa-en"][2][0]) + "?utm_source=rss&utm_medium=feed"
    ]
    assert [link for link in links if "#" in link] == [
        gov_site.url(STATEMENTS["mfa-en"][4][0]) + "#top"
    ]


def test_listing_has_three_pages(gov_site: SiteServer, make_config: MakeConfig) -> None:
    source = load_yaml(make_config("mfa-zh"))["sources"][0]
    pages, articles = listing_links(source)
    assert [urlsplit(p).path for p in pages] == [
        "/mfa-zh/list/index.html",
        "/mfa-zh/list/index_1.html",
        "/mfa-zh/list/index_2.html",
    ]
    assert len(articles) == 8  # 6 statements + 1 robots-disallowed + 1 dead link


def test_sitemap_pages_are_excluded_by_url_pattern(gov_site: SiteServer) -> None:
    everything = sitemap_links(gov_site.url("/embassy/sitemap.xml"))
    assert len(everything) == 6 + 3
    source = load_yaml(DEMO_CONFIG)["sources"]
    pattern = next(s for s in source if s["id"] == "embassy-sitemap")["url_pattern"]
    kept = [u for u in everything if re.search(pattern, u)]
    assert len(kept) == 6
    assert {urlsplit(u).path for u in everything if u not in kept} == {
        "/embassy/",
        "/embassy/about/",
        "/embassy/consular/",
    }


# ------------------------------------------------------------------ configs


def test_demo_config_schema() -> None:
    config = load_config(DEMO_CONFIG)  # the crawler's own validation
    assert [s.id for s in config.sources] == list(STATEMENTS)
    assert config.crawl.download_delay == 0
    for source in config.sources:
        for url in source.entry_urls:
            assert url.startswith("http://127.0.0.1:8780/"), url


def test_default_config_schema() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert config.crawl.download_delay == 2
    assert len(config.sources) >= 8
    assert {s.kind for s in config.sources} == KINDS | {"wechat"}  # the MSS account
    hosts = {urlsplit(u).hostname for s in config.sources for u in s.entry_urls}
    assert any(h and h.endswith(".cn") for h in hosts)
    assert len(hosts) >= 8
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    assert text.count("NOT checked") >= len(config.sources)


def test_make_config_rewrites_base_url_and_filters(
    gov_site: SiteServer, make_config: MakeConfig
) -> None:
    path = make_config("cac-urls", "mfa-en", crawl={"download_delay": 0.5})
    data = load_yaml(path)
    assert [s["id"] for s in data["sources"]] == ["cac-urls", "mfa-en"]
    assert data["crawl"]["download_delay"] == 0.5
    assert data["crawl"]["contact"]
    assert "127.0.0.1:8780" not in path.read_text(encoding="utf-8")
    assert data["sources"][1]["start_urls"] == [gov_site.url("/mfa-en/rss.xml")]
    assert len(load_yaml(make_config(name="all.yaml"))["sources"]) == 5
    with pytest.raises(KeyError):
        make_config("no-such-source")


@pytest.mark.parametrize("path", [DEMO_CONFIG, DEFAULT_CONFIG], ids=["demo", "default"])
def test_configs_load_with_the_project_loader(path: Path) -> None:
    sources_module = pytest.importorskip("communique.config")
    config = sources_module.load_config(str(path))
    assert [s.id for s in config.sources] == [s["id"] for s in load_yaml(path)["sources"]]
