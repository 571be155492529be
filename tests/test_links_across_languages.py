"""Originals, translations and reports linked across languages, as an archivist meets them:
the `related` rows a crawl leaves, `communique link` on an archive, the statement page,
its JSON and the `translations` query.

The chain of `tests/sites/chain` (invented text in the style of a Ministry of State Security
statement, its full English text on a Xinhua-like site, a Global-Times-like report) is
crawled end to end; smaller archives are built through `archive.ingest` (tests/builders.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from archive.ingest import Session
from archive.links.prepared import prepare
from archive.links.reprints import signature_of
from archive.relink import relink_if_outgrown
from archive.schema import SCHEMA_VERSION, open_archive
from tests.browser import dom, needs_browser, text_of
from tests.builders import SETTINGS, crawl, source
from tests.helpers import communique, datasette_app, get, rows, served_archive
from tests.sites.server import SiteServer

CHAIN = Path(__file__).resolve().parent / "sites" / "chain"
ORIGINAL_PATH = "/mss/gzdt/202503/t20250314_1107.html"
ORIGINAL_TITLE = "国家安全部披露：境外间谍情报机关借“海洋数据众包”窃取我近海敏感数据"
TRANSLATION_TITLE = (
    'Full text: Ministry of State Security statement on foreign espionage through "ocean data '
    'crowdsourcing"'
)
REPORT_TITLE = (
    "Foreign spy agency used 'ocean data crowdsourcing' platform to steal China's coastal data: MSS"
)

# -- an archive of a few statements, built through ingest ------------------------------------

DAY, NEXT_DAY, DAY_BEFORE = "2031-11-03", "2031-11-04", "2031-11-02"
SHIP_ZH = (
    "问：据报道，11月3日，一艘载有27名中国船员的货轮在南太平洋沉没。中方有何回应？\n"
    "答：中方对此高度关注。事故发生后，中国驻斐济使馆立即启动应急机制，协调当地救援力量"
    "开展搜救。截至目前，已有19名船员获救，8人仍下落不明。\n"
    "我们向遇难者家属表示深切慰问，并要求有关船运公司全力配合调查，妥善处理善后事宜。"
    "中方感谢斐济政府和新西兰海军提供的帮助。"
)
SHIP_EN = (
    "Q: It is reported that on November 3, a cargo ship carrying 27 Chinese crew members "
    "sank in the South Pacific. What is China's response?\n"
    "A: China is highly concerned about this. After the accident, the Chinese Embassy in "
    "Fiji immediately activated its emergency mechanism and coordinated local rescue "
    "forces in the search and rescue operation. So far, 19 crew members have been rescued "
    "and 8 remain missing.\n"
    "We express our deep condolences to the families of the victims, and ask the shipping "
    "company concerned to fully cooperate with the investigation and properly handle the "
    "aftermath. China thanks the government of Fiji and the New Zealand navy for their help."
)
SHIP_REPORT = (
    "BEIJING, Nov. 4 -- China's foreign ministry said it was highly concerned about the "
    "sinking of a cargo ship carrying 27 Chinese crew members in the South Pacific.\n"
    "Nineteen crew members have been rescued and eight remain missing, a ministry "
    "spokesperson told reporters, adding that the Chinese embassy in Fiji had activated "
    "its emergency mechanism.\n"
    "The spokesperson said China thanked Fiji and the New Zealand navy for their help and "
    "asked the shipping company to cooperate with the investigation, according to a "
    "transcript.\n"
    "Maritime officials said search operations would continue, and insurers said the "
    "vessel had passed an inspection earlier this year."
)
# The day before: a first, shorter answer on the same ship, which the report matches best
# until the statement it really reports arrives.
SHIP_FIRST_ZH = (
    "问：有消息说，一艘中国货轮在南太平洋失去联系，船上有27名中国船员。外交部能否证实？\n"
    "答：我们正在核实有关情况，将及时发布消息。"
)


def zh_source() -> Any:
    return source("mfa-zh", name="外交部", language="zh", urls=["https://zh.example/"])


def en_source() -> Any:
    return source("mfa-en", name="MFA English", language="en", urls=["https://en.example/"])


def news_source() -> Any:
    return source("wire", name="A news wire", language="en", urls=["https://wire.example/"])


def cross_links(db: Path) -> set[tuple[str, str, str]]:
    """(original URL, other URL, relation) of the archive's cross-language `related` rows."""
    found = rows(
        db,
        "select a.url as original, b.url as other, r.relation from related r "
        "join statements a on a.id = r.statement_id join statements b on b.id = r.related_id "
        "where r.relation in ('translation', 'report')",
    )
    return {(r["original"], r["other"], r["relation"]) for r in found}


def engine_links(db: Path) -> set[tuple[str, str, str]]:
    found = rows(
        db,
        "select a.url as original, b.url as other, x.relation from xlang_links x "
        "join statements a on a.id = x.original_id join statements b on b.id = x.other_id",
    )
    return {(r["original"], r["other"], r["relation"]) for r in found}


def build_ship_archive(db: Path, english_first: bool = False) -> None:
    def chinese() -> None:
        with crawl(db, zh_source()) as c:
            c.statement("https://zh.example/ship", "外交部发言人就中国船员遇险事答记者问",
                        SHIP_ZH, language="zh", published=DAY)  # fmt: skip

    def english() -> None:
        with crawl(db, en_source()) as c:
            c.statement("https://en.example/ship", "Remarks on the Chinese Crew in Distress",
                        SHIP_EN, language="en", published=DAY)  # fmt: skip
        with crawl(db, news_source()) as c:
            c.statement("https://wire.example/ship", "China urges shipping firm to cooperate",
                        SHIP_REPORT, language="en", published=NEXT_DAY)  # fmt: skip

    for step in (english, chinese) if english_first else (chinese, english):
        step()


SHIP_LINKS = {
    ("https://zh.example/ship", "https://en.example/ship", "translation"),
    ("https://zh.example/ship", "https://wire.example/ship", "report"),
}


@pytest.mark.parametrize("english_first", [False, True], ids=["original-first", "english-first"])
def test_a_crawl_links_the_original_to_its_translation_and_report(
    tmp_path: Path, english_first: bool
) -> None:
    db = tmp_path / "archive.db"
    build_ship_archive(db, english_first)

    assert cross_links(db) == SHIP_LINKS
    [translation] = rows(db, "select * from related where relation = 'translation'")
    # The evidence says why, for an archivist to judge.
    assert translation["evidence"].startswith("translation (score ")
    for part in ("shared numbers/dates (", "27", "dictionary-matched terms", "same day"):
        assert part in translation["evidence"]
    assert translation["similarity"] > 0.1
    [report] = rows(db, "select * from related where relation = 'report'")
    assert "1 day later" in report["evidence"]


def test_related_follows_a_report_to_the_statement_it_really_reports(tmp_path: Path) -> None:
    """The report first matches the day-before answer; when the statement it reports
    arrives, the link moves, and `related` moves with it (not only the new statement's)."""
    db = tmp_path / "archive.db"
    with crawl(db, zh_source()) as c:
        c.statement("https://zh.example/ship-first", "外交部发言人就中国货轮失联答记者问",
                    SHIP_FIRST_ZH, language="zh", published=DAY_BEFORE)  # fmt: skip
    with crawl(db, news_source()) as c:
        c.statement("https://wire.example/ship", "China urges shipping firm to cooperate",
                    SHIP_REPORT, language="en", published=NEXT_DAY)  # fmt: skip
    assert cross_links(db) == {
        ("https://zh.example/ship-first", "https://wire.example/ship", "report")
    }

    with crawl(db, zh_source()) as c:
        c.statement("https://zh.example/ship", "外交部发言人就中国船员遇险事答记者问",
                    SHIP_ZH, language="zh", published=DAY)  # fmt: skip

    assert cross_links(db) == {("https://zh.example/ship", "https://wire.example/ship", "report")}
    assert cross_links(db) == engine_links(db)
    [report] = rows(db, "select evidence from related where relation = 'report'")
    assert "next best" in report["evidence"]


def test_an_undated_statement_is_linked_by_the_day_it_was_fetched(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with crawl(db, zh_source()) as c:
        c.page(
            "https://zh.example/ship",
            cleaned=None,
            html="<html lang=zh><h1>外交部发言人答记者问</h1>"
            + "".join(f"<p>{p}</p>" for p in SHIP_ZH.splitlines()),
            at=f"{DAY}T09:00:00+00:00",
        )
    with crawl(db, en_source()) as c:
        c.statement("https://en.example/ship", "Remarks on the Chinese Crew in Distress",
                    SHIP_EN, language="en", published=DAY)  # fmt: skip

    [statement] = rows(db, "select published from statements where url like '%zh.example%'")
    assert statement["published"] is None
    assert cross_links(db) == {
        ("https://zh.example/ship", "https://en.example/ship", "translation")
    }


def test_other_languages_are_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    build_ship_archive(db)
    french = "Le ministère exprime ses condoléances : 27 marins, 19 secourus, 8 disparus."
    with crawl(db, source("fr", language="fr", urls=["https://fr.example/"])) as c:
        c.statement("https://fr.example/ship", "Naufrage", french * 3, language="fr",
                    published=DAY)  # fmt: skip

    assert cross_links(db) == SHIP_LINKS
    assert rows(db, "select count(*) as n from xlang_docs")[0]["n"] == 3


def test_a_worker_prepares_what_the_writer_links(tmp_path: Path) -> None:
    """The cleaning worker's features give the links the writer would have computed."""
    from archive.clean import clean_page
    from archive.fetched import Fetched
    from archive.ingest import ingest

    page = (CHAIN / ORIGINAL_PATH.lstrip("/")).read_bytes()
    url = "https://mss.example" + ORIGINAL_PATH
    prepared = prepare(clean_page, page, url, "text/html", None)
    assert prepared.cleaned.language == "zh"
    assert prepared.signature == signature_of(prepared.cleaned.text or "")
    assert prepared.features is not None and prepared.features.language == "zh"
    assert {"#217", "#46000", "#1300"} <= {"#" + n for n in prepared.features.numbers}
    french_page = (
        "<html lang=fr><body><h1>Déclaration</h1><p>Le ministère des Affaires étrangères "
        "exprime ses profondes condoléances aux familles des marins disparus en mer et "
        "remercie les secours pour leur travail remarquable pendant toute la nuit.</p>"
        "</body></html>"
    ).encode()
    french = prepare(clean_page, french_page, "https://fr.example/", "text/html", None)
    assert (french.cleaned.status, french.cleaned.language) == ("ok", "fr")
    assert french.signature is not None and french.features is None  # nothing we link

    db = tmp_path / "archive.db"
    with Session(db, SETTINGS, source("mss", language="zh", urls=[url])) as session:
        fetched = Fetched("mss", url, 200, page, headers={"Content-Type": "text/html"})
        ingest(session, fetched, prepared.cleaned, prepared.signature, prepared.features)
    xinhua = CHAIN / "xinhua-en/20250314/5c1e9a7d3b2f4e60/c.html"
    with crawl(db, en_source()) as c:
        c.page("https://en.example/full-text", xinhua.read_bytes())

    assert cross_links(db) == {(url, "https://en.example/full-text", "translation")}


# -- communique link --------------------------------------------------------------------------


def forget_links_as_an_older_release(db: Path) -> None:
    """What an archive written before cross-language links looks like: no linker tables,
    no translation or report rows, an older schema version."""
    conn = sqlite3.connect(db)
    with conn:
        for table in ("xlang_links", "xlang_postings", "xlang_df", "xlang_docs"):
            conn.execute(f"drop table {table}")
        conn.execute("delete from related where relation in ('translation', 'report')")
        conn.execute("pragma user_version = 9")
    conn.close()


@pytest.mark.slow
def test_link_command_links_an_archive_made_before_links(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    build_ship_archive(db)
    forget_links_as_an_older_release(db)
    assert cross_links(db) == set()

    done = communique("link", "--db", str(db), "--progress")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "3 statement(s) linked; the archive holds 1 translation link(s) and 1 report link(s)"
    )
    assert "link: 3/3 statements (100%)" in done.stderr
    assert cross_links(db) == SHIP_LINKS
    # Linking again finds nothing left to link; a rebuild links the same again.
    again = communique("link", "--db", str(db))
    assert again.stdout.startswith("0 statement(s) linked;"), again.stdout
    rebuilt = communique("link", "--db", str(db), "--rebuild")
    assert rebuilt.stdout.startswith("3 statement(s) linked;"), rebuilt.stdout
    assert cross_links(db) == SHIP_LINKS


LINK_ROWS = (
    "select statement_id, related_id, relation, similarity, evidence from related "
    "where relation in ('translation', 'report') order by 1, 2"
)


@pytest.mark.slow
def test_a_run_that_doubles_a_young_archive_links_it_again_in_date_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "archive.db"
    # The English statements came first: linked as they came, their words were weighed
    # with the counts of an archive of two.
    build_ship_archive(db, english_first=True)
    as_crawled = rows(db, LINK_ROWS)
    rebuilt = tmp_path / "rebuilt.db"
    with sqlite3.connect(db) as here, sqlite3.connect(rebuilt) as there:
        here.backup(there)
    assert communique("link", "--db", str(rebuilt), "--rebuild").returncode == 0
    assert rows(rebuilt, LINK_ROWS) != as_crawled  # arrival order shows in scores and evidence

    # What a crawl does at its end, its archive having grown from nothing.
    relinked = relink_if_outgrown(db, before=0)

    assert relinked is not None and (relinked.translations, relinked.reports) == (1, 1)
    assert rows(db, LINK_ROWS) == rows(rebuilt, LINK_ROWS)
    # Not doubled in the run, or no longer young: linked as the statements came.
    assert relink_if_outgrown(db, before=2) is None
    with monkeypatch.context() as patch:
        patch.setattr("archive.relink.YOUNG_ARCHIVE", 2)
        assert relink_if_outgrown(db, before=0) is None


@pytest.mark.slow
def test_link_since_links_only_statements_of_those_days(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    build_ship_archive(db)
    forget_links_as_an_older_release(db)

    done = communique("link", "--db", str(db), "--since", NEXT_DAY)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 statement(s) linked;"), done.stdout
    assert cross_links(db) == set()  # the report's original is of the day before
    later = communique("link", "--db", str(db), "--since", DAY)
    assert later.stdout.startswith("2 statement(s) linked;"), later.stdout
    assert cross_links(db) == SHIP_LINKS


@pytest.mark.slow
def test_link_command_refuses_bad_input_and_a_busy_archive(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    build_ship_archive(db)
    before = rows(db, "select * from related order by statement_id, related_id")

    both = communique("link", "--db", str(db), "--since", DAY, "--rebuild")
    assert both.returncode == 2
    assert "--since and --rebuild" in both.stderr
    bad_day = communique("link", "--db", str(db), "--since", "2031-13-45")
    assert bad_day.returncode == 2
    assert "2031-13-45" in bad_day.stderr
    missing = communique("link", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2
    assert "none.db" in missing.stderr
    with Session(db, SETTINGS):  # another writer holds the archive
        busy = communique("link", "--db", str(db), "--rebuild")
    assert busy.returncode == 75, busy.stderr
    assert rows(db, "select * from related order by statement_id, related_id") == before


# -- the web pages ----------------------------------------------------------------------------


def statement_id(db: Path, url: str) -> str:
    return str(rows(db, "select id from statements where url = ?", [url])[0]["id"])


async def fetch(db: Path, *paths: str) -> list[Any]:
    ds = datasette_app(db)
    return [await ds.client.get(path) for path in paths]


def test_statement_json_holds_versions_and_related_links(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    build_ship_archive(db)
    original = statement_id(db, "https://zh.example/ship")
    translation = statement_id(db, "https://en.example/ship")

    mine, theirs = asyncio.run(
        fetch(db, f"/archive/statement/{original}.json", f"/archive/statement/{translation}.json")
    )

    assert mine.status_code == 200
    body = mine.json()
    assert body["id"] == original and body["text"] == SHIP_ZH
    assert [v["version"] for v in body["versions"]] == [1]
    assert body["versions"][0]["text"] == SHIP_ZH
    roles = {(r["role"], r["title"], r["published"]) for r in body["related"]}
    assert roles == {
        ("translation", "Remarks on the Chinese Crew in Distress", DAY),
        ("report", "China urges shipping firm to cooperate", NEXT_DAY),
    }
    assert all(
        r["evidence"] and r["path"].startswith("/archive/statement/") for r in body["related"]
    )
    [original_row] = theirs.json()["related"]
    assert (original_row["role"], original_row["relation"], original_row["id"]) == (
        "original",
        "translation",
        original,
    )


def test_translations_query_lists_pairs_with_titles_and_dates(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    build_ship_archive(db)

    [listed, page] = asyncio.run(
        fetch(db, "/archive/translations.json?_shape=array", "/archive/translations")
    )

    [pair] = listed.json()
    assert pair["original_title"] == "外交部发言人就中国船员遇险事答记者问"
    assert pair["translation_title"] == "Remarks on the Chinese Crew in Distress"
    assert (pair["original_published"], pair["translation_published"]) == (DAY, DAY)
    assert pair["evidence"].startswith("translation")
    # Both titles open their statement pages.
    original = statement_id(db, "https://zh.example/ship")
    assert f'href="/archive/statement/{original}"' in page.text


def test_statement_page_sections_escape_what_the_pages_said(tmp_path: Path) -> None:
    """A translation's title is the web's text: shown, never run."""
    db = tmp_path / "archive.db"
    with crawl(db, zh_source()) as c:
        c.statement("https://zh.example/ship", "外交部发言人就中国船员遇险事答记者问",
                    SHIP_ZH, language="zh", published=DAY)  # fmt: skip
    evil = "Remarks <script>alert(1)</script><img src=x onerror=alert(2)>"
    with crawl(db, en_source()) as c:
        c.statement("https://en.example/ship", evil, SHIP_EN, language="en", published=DAY)
    original = statement_id(db, "https://zh.example/ship")

    [page] = asyncio.run(fetch(db, f"/archive/statement/{original}"))

    assert 'id="other-languages"' in page.text
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    assert "Remarks &lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_an_archive_from_before_links_is_served_as_it_is(tmp_path: Path) -> None:
    """Served read-only, an older archive has no evidence column: the pages still work."""
    db = tmp_path / "archive.db"
    build_ship_archive(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("alter table related drop column evidence")
    conn.close()
    original = statement_id(db, "https://zh.example/ship")

    page, query = asyncio.run(
        fetch(db, f"/archive/statement/{original}", "/archive/translations.json")
    )

    assert page.status_code == 200
    assert "Other languages" in page.text and "Reported by" in page.text
    assert query.status_code == 404


# -- the chain, crawled end to end --------------------------------------------------------------


DEFAULT_SOURCES = Path(__file__).resolve().parent.parent / "config" / "sources.yaml"
# The default sources of the chain, and where their entry pages are on the fixture site.
CHAIN_SOURCES = {
    "cn-mss-website": "/mss/list/",
    "xinhua-english": "/xinhua-en/china/index.htm",
    "global-times": "/globaltimes/rss.xml",
}


def chain_config(path: Path, base: str, mirror: bool = False) -> Path:
    """The default sources of the chain (config/sources.yaml: their kind, selectors, URL
    patterns, language and names), with their entry pages on the fixture site."""
    defaults = yaml.safe_load(DEFAULT_SOURCES.read_text(encoding="utf-8"))["sources"]
    here = ["127.0.0.1"]
    sources: list[dict[str, Any]] = []
    for entry in defaults:
        if entry["id"] in CHAIN_SOURCES:
            start = base + CHAIN_SOURCES[entry["id"]]
            sources.append({**entry, "start_urls": [start], "allowed_domains": here})
    assert sorted(s["id"] for s in sources) == sorted(CHAIN_SOURCES)
    if mirror:
        sources.append(
            {"id": "mirror", "name": "A mirror site", "issuer": "Unknown", "kind": "urls",
             "language": "en", "allowed_domains": here,
             "urls": [f"{base}/mirror/stats.html", f"{base}/mirror/claims-original.html"]}
        )  # fmt: skip
    config = {"crawl": {"download_delay": 0, "concurrent_requests_per_domain": 4}}
    path.write_text(
        yaml.safe_dump({**config, "sources": sources}, allow_unicode=True), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def chain_site() -> Iterator[SiteServer]:
    with SiteServer(CHAIN) as site:
        yield site


@pytest.fixture(scope="module")
def chain_archive(chain_site: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("chain")
    config = chain_config(folder / "sources.yaml", chain_site.base_url)
    db = folder / "archive.db"
    done = communique("crawl", "--config", str(config), "--db", str(db))
    assert done.returncode == 0, done.stderr[-3000:]
    # A first crawl links its statements again at its end, in date order (relink.py).
    assert "3 statement(s) were linked across languages again, in date order" in done.stdout
    return db


@pytest.mark.slow
def test_chain_crawled_three_statements_two_links(
    chain_archive: Path, chain_site: SiteServer
) -> None:
    base = chain_site.base_url
    statements = rows(chain_archive, "select source_id, language, title from statements")
    assert sorted((s["source_id"], s["language"], s["title"]) for s in statements) == [
        ("cn-mss-website", "zh", ORIGINAL_TITLE),
        ("global-times", "en", REPORT_TITLE),
        ("xinhua-english", "en", TRANSLATION_TITLE),
    ]
    assert cross_links(chain_archive) == {
        (base + ORIGINAL_PATH, base + "/xinhua-en/20250314/5c1e9a7d3b2f4e60/c.html", "translation"),
        (base + ORIGINAL_PATH, base + "/globaltimes/page/202503/1330512.shtml", "report"),
    }


@pytest.mark.slow
@needs_browser
def test_chain_on_the_statement_pages_in_chromium(
    chain_archive: Path, chain_site: SiteServer, tmp_path: Path
) -> None:
    original = statement_id(chain_archive, chain_site.base_url + ORIGINAL_PATH)
    translation = statement_id(
        chain_archive, chain_site.base_url + "/xinhua-en/20250314/5c1e9a7d3b2f4e60/c.html"
    )
    with served_archive(chain_archive) as site:
        tree = dom(tmp_path, f"{site}/archive/statement/{original}")
        other = dom(tmp_path, f"{site}/archive/statement/{translation}")
        listed = get(site, "/archive/translations.json?_shape=array").json()

    [languages] = tree.xpath('//section[@id="other-languages"]')
    assert text_of(languages.xpath("h2")[0]) == "Other languages"
    [item] = languages.xpath(".//li")
    assert TRANSLATION_TITLE in text_of(item)
    assert "Xinhua English — China, 2025-03-14T21:30:00" in text_of(item)  # its source and date
    assert item.xpath(".//a/@href")[0] == f"/archive/statement/{translation}"
    [reported] = tree.xpath('//section[@id="reported-by"]')
    [item] = reported.xpath(".//li")
    assert REPORT_TITLE in text_of(item)
    assert "Global Times, 2025-03-15T00:12:00+08:00" in text_of(item)
    assert "Why linked" in text_of(item)  # the evidence, folded
    assert tree.xpath('//nav[@class="statement-toc"]//a[@href="#reported-by"]')
    # The links as data: the statement's JSON, beside Datasette's row.
    [as_data] = tree.xpath('//a[text()="JSON with links"]/@href')
    assert as_data == f"/archive/statement/{original}.json"
    # From the translation, back to the original.
    [back] = other.xpath('//section[@id="original"]')
    assert "This statement is a translation of" in text_of(back)
    assert back.xpath(".//a/@href")[0] == f"/archive/statement/{original}"
    assert not other.xpath('//section[@id="other-languages"]')
    assert [(p["original_title"], p["translation_title"]) for p in listed] == [
        (ORIGINAL_TITLE, TRANSLATION_TITLE)
    ]


@pytest.mark.slow
def test_a_crawl_into_an_archive_never_linked_links_only_what_it_brings(
    chain_site: SiteServer, tmp_path: Path
) -> None:
    """Linking an archive made before cross-language links is `communique link`'s job,
    asked for by the operator (hours on a large archive): a crawl's end does not take it
    on unasked, however few statements the linker held when the crawl began."""
    db = tmp_path / "archive.db"
    build_ship_archive(db)
    forget_links_as_an_older_release(db)  # three statements, none linked
    config = chain_config(tmp_path / "sources.yaml", chain_site.base_url)

    done = communique("crawl", "--config", str(config), "--db", str(db))

    assert done.returncode == 0, done.stderr[-3000:]
    assert "linked across languages again" not in done.stdout
    linked = rows(db, "select s.url from xlang_docs d join statements s on s.id = d.statement_id")
    assert len(linked) == 3  # the crawl's three, linked as they came
    assert not any(".example/" in row["url"] for row in linked)
    assert not any(".example/" in a for a, _, _ in cross_links(db))


@pytest.mark.slow
def test_hostile_pages_neither_pose_as_a_translation_nor_rewrite_the_original(
    chain_site: SiteServer, tmp_path: Path
) -> None:
    """A page stuffed with the original's numbers, shaped like its translation; and a
    report that arrives first and claims, in its markup, to be the original (canonical
    link, og:url, its title and issuer, a Chinese lang attribute)."""
    base = chain_site.base_url
    config = chain_config(tmp_path / "sources.yaml", base, mirror=True)
    db = tmp_path / "archive.db"
    first = communique("crawl", "--config", str(config), "--db", str(db), "--source", "mirror")
    assert first.returncode == 0, first.stderr[-3000:]
    done = communique("crawl", "--config", str(config), "--db", str(db))
    assert done.returncode == 0, done.stderr[-3000:]

    links = cross_links(db)
    stuffed, claims = base + "/mirror/stats.html", base + "/mirror/claims-original.html"
    assert not any(stuffed in (a, b) for a, b, _ in links)
    assert (base + ORIGINAL_PATH, claims, "report") in links
    assert (base + ORIGINAL_PATH, base + "/xinhua-en/20250314/5c1e9a7d3b2f4e60/c.html",
            "translation") in links  # fmt: skip
    [original] = rows(db, "select * from statements where source_id = 'cn-mss-website'")
    assert (original["url"], original["version_count"], original["language"]) == (
        base + ORIGINAL_PATH,
        1,
        "zh",
    )
    assert original["text"].startswith("近期，国家安全机关在工作中发现")
    assert [u["url"] for u in rows(db, "select url from statement_urls where statement_id = ?",
                                   [original["id"]])] == [base + ORIGINAL_PATH]  # fmt: skip
    [claimant] = rows(db, "select * from statements where url = ?", [claims])
    assert (claimant["source_id"], claimant["language"]) == ("mirror", "en")
    # Its links go from the original to it, never from it.
    assert (
        rows(db, "select count(*) as n from related where statement_id = ?", [claimant["id"]])[0][
            "n"
        ]
        == 0
    )


def test_an_archive_of_schema_9_is_upgraded_and_keeps_its_reprints(tmp_path: Path) -> None:
    """Schema 11 adds `related.evidence` and the linker's tables; what the archive held stays."""
    db = tmp_path / "archive.db"
    build_ship_archive(db)
    reprinted = SHIP_EN + "\nReprinted with permission."
    with crawl(db, source("echo", language="en", urls=["https://echo.example/"])) as c:
        c.statement("https://echo.example/ship", "Remarks on the Chinese Crew in Distress",
                    reprinted, language="en", published=DAY)  # fmt: skip
    reprints = rows(db, "select statement_id, related_id from related where relation = 'reprint'")
    assert reprints
    forget_links_as_an_older_release(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("alter table related drop column evidence")
    conn.close()

    open_archive(str(db)).close()

    conn = sqlite3.connect(db)
    assert conn.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION
    columns = {row[1] for row in conn.execute("pragma table_info(related)")}
    tables = {row[0] for row in conn.execute("select name from sqlite_master")}
    conn.close()
    assert "evidence" in columns
    assert {"xlang_docs", "xlang_postings", "xlang_df", "xlang_links"} <= tables
    assert (
        rows(db, "select statement_id, related_id from related where relation = 'reprint'")
        == reprints
    )
    # Linked only when asked: `communique link` (tested above) or new statements.
    assert cross_links(db) == set()
