"""Real crawls of a site that changes between them: edits, deletions, returns, reprints."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from archive.diff import apply_ops, version_document
from tests.conftest import GOV_ROOT, write_sources
from tests.helpers import COMMUNIQUE
from tests.sites.server import SiteServer

pytestmark = pytest.mark.slow

PAGES = Path(__file__).parent / "pages"
EDITED = "mfa-en/xw/fyrbt/202408/t20240802_11100101.html"
RESPACED = "mfa-en/xw/wjbxw/202407/t20240730_11100087.html"
REMOVED = "mfa-en/xw/fyrbt/202407/t20240726_11100075.html"
WITHDRAWN = "mfa-en/xw/fyrbt/lxjzh/202407/t20240722_11100063.html"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    root = tmp_path / "site"
    shutil.copytree(GOV_ROOT, root)
    # A news agency reprints the ministry's statement with its own header and footer.
    original = (root / EDITED).read_text(encoding="utf-8")
    body = original[original.index("<p>Q: Severe") : original.index("<p>Next:")]
    (root / "agency").mkdir()
    (root / "agency" / "reprint.html").write_text(
        "<html><head><title>China to send flood aid to Calvera - Global Wire</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article>"
        "<h1>China to send flood aid to Calvera</h1><p>BEIJING, Aug. 2 (Global Wire) --</p>"
        f"{body}<p>Editor: Zhang Wei</p></article><footer>© Global Wire</footer></body></html>",
        encoding="utf-8",
    )
    with SiteServer(root) as server:
        yield server


def crawl(config: Path, db: Path) -> subprocess.CompletedProcess[str]:
    time.sleep(1.1)  # every statement's recheck (every 1s in this config) comes due
    result = subprocess.run(
        [COMMUNIQUE, "crawl", "--config", str(config), "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def statement(db: Path, path: str) -> dict[str, Any]:
    rows = sqlite_utils.Database(db).query(
        "select s.* from statements s join statement_urls u on u.statement_id = s.id "
        "where u.url like ?",
        [f"%{path}"],
    )
    return next(iter(rows))


def test_archive_remembers_edits_deletions_returns_and_reprints(
    site: SiteServer, tmp_path: Path
) -> None:
    extra = [
        {
            "id": "agency",
            "name": "Global Wire",
            "issuer": "Global Wire",
            "kind": "urls",
            "urls": [site.url("/agency/reprint.html")],
        }
    ]
    config = write_sources(site.base_url, tmp_path / "sources.yaml", "mfa-en", extra_sources=extra)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text + "archive:\n  recheck: [{younger_than: 1000w, every: 1s}]\n", encoding="utf-8"
    )
    db = tmp_path / "archive.db"
    root = Path(site.root)
    crawl(config, db)
    archive = sqlite_utils.Database(db)
    assert archive["statements"].count == 6

    removed_text = statement(db, REMOVED)["text"]
    # The reprint is linked to the ministry's statement, both kept.
    ministry, reprint = statement(db, EDITED), statement(db, "/agency/reprint.html")
    links = {(r["statement_id"], r["related_id"]) for r in archive["related"].rows}
    assert links == {(ministry["id"], reprint["id"]), (reprint["id"], ministry["id"])}

    # The ministry edits one statement, re-renders another with different spacing,
    # deletes a third and replaces a fourth with a "deleted by the author" page.
    page = root / EDITED
    page.write_text(
        page.read_text(encoding="utf-8").replace(
            "deeply saddened by the heavy loss", "profoundly saddened by the tragic loss"
        ),
        encoding="utf-8",
    )
    page = root / RESPACED
    page.write_text(
        page.read_text(encoding="utf-8").replace("<p>", "<p>\n   ").replace(". ", ".  "),
        encoding="utf-8",
    )
    (root / REMOVED).unlink()
    shutil.copy(PAGES / "wechat" / "deleted_en.html", root / WITHDRAWN)

    result = crawl(config, db)
    assert "mfa-en" in result.stdout
    edited = statement(db, EDITED)
    assert edited["version_count"] == 2 and "profoundly saddened" in edited["text"]
    [first, second] = list(
        archive["versions"].rows_where("statement_id = ?", [edited["id"]], order_by="version")
    )
    ops = json.loads(second["diff"])
    assert apply_ops(version_document(first["title"], first["text"]), ops) == version_document(
        second["title"], second["text"]
    )
    assert [1, "profoundly"] in ops and [-1, "deeply"] in ops
    assert statement(db, RESPACED)["version_count"] == 1
    # One definitive answer is not enough: it could be a fluke.
    assert statement(db, REMOVED)["status"] == "live"

    crawl(config, db)
    removed, withdrawn = statement(db, REMOVED), statement(db, WITHDRAWN)
    assert (removed["status"], removed["status_reason"]) == ("deleted", "HTTP 404")
    assert removed["gone_since"] and removed["text"] == removed_text  # last text kept
    assert withdrawn["status"] == "deleted"
    assert "deleted" in withdrawn["status_reason"].lower()
    assert withdrawn["version_count"] == 1  # the notice never becomes a version

    # The page comes back.
    shutil.copy(GOV_ROOT / REMOVED, root / REMOVED)
    crawl(config, db)
    removed = statement(db, REMOVED)
    assert (removed["status"], removed["gone_since"]) == ("live", None)
    changes = [
        (c["status"], c["reason"])
        for c in archive["status_changes"].rows_where(
            "statement_id = ?", [removed["id"]], order_by="id"
        )
    ]
    assert changes[0] == ("deleted", "HTTP 404")
    assert changes[1][0] == "live" and changes[1][1].startswith("back after being deleted since")
    assert archive["statements"].count == 6
