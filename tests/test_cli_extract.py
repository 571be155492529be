"""`communique extract`: saved pages cleaned exactly as the crawler would, in three formats."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import COMMUNIQUE

PAGES = Path(__file__).parent / "pages"
KEYS = {"url", "title", "text", "published", "issuer", "language", "status"}


def extract(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMUNIQUE, "extract", *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_json_for_one_gb2312_page_has_every_key() -> None:
    url = "http://www.example.gov.cn/web/fyrbt/t20240723.shtml"
    result = extract(str(PAGES / "zh_ministry_gb2312.html"), "--url", url, "--format", "json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert set(record) >= KEYS
    assert record["url"] == url
    assert record["status"] == "ok"
    assert record["language"] == "zh"
    assert "镕" in record["title"] and "\ufffd" not in record["text"]
    assert record["published"].startswith("2024-07-23")


def test_jsonl_gives_one_object_per_file_and_an_error_object_for_a_missing_one(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "gone.html"
    files = [PAGES / "en_ministry_statement.html", missing, PAGES / "statement_attachment.pdf"]
    result = extract(*map(str, files), "--format", "jsonl")
    assert result.returncode == 1  # one file failed; the others still came out
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in records] == [str(f) for f in files]
    assert records[0]["status"] == "ok" and set(records[0]) >= KEYS
    assert records[0]["url"] == (PAGES / "en_ministry_statement.html").resolve().as_uri()
    assert records[1]["status"] == "error" and str(missing) in records[1]["reason"]
    assert records[2]["status"] == "not_html" and not records[2]["text"]
    assert result.stderr == f"Error: {missing}: No such file or directory\n"


def test_text_format_names_an_unreadable_file_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "gone.html"
    result = extract(str(missing))
    assert result.returncode == 1
    assert result.stderr == f"Error: {missing}: No such file or directory\n"
    assert result.stdout == ""


def test_text_format_reads_like_a_document() -> None:
    result = extract(str(PAGES / "wp_reprint_with_comments.html"))
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition("\n\n")
    assert "Title: Joint Statement on Coastal Fisheries Cooperation" in head
    assert "Status: ok" in head
    assert "Leave a Reply" not in body and "Your email address" not in body
    assert len(body) > 300
