"""`extract_files` and `format_text`: the library behind `communique extract`."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from archive.extract import extract_files, format_text

PAGES = Path(__file__).parent / "pages"


def test_missing_file_gives_an_error_record_and_the_others_still_come_out(tmp_path: Path) -> None:
    english = tmp_path / "statement.html"
    shutil.copy(PAGES / "en_ministry_statement.html", english)
    missing = tmp_path / "gone.html"
    chinese = tmp_path / "notice.html"
    shutil.copy(PAGES / "zh_ministry_gb2312.html", chinese)

    records = list(extract_files([english, missing, chinese], url=None))

    assert [record["file"] for record in records] == [str(english), str(missing), str(chinese)]
    assert records[1] == {
        "file": str(missing),
        "status": "error",
        "reason": f"{missing}: No such file or directory",
    }
    assert records[0]["status"] == "ok"
    assert records[0]["url"] == english.resolve().as_uri()
    assert "emergency humanitarian assistance" in records[0]["text"]
    assert records[2]["status"] == "ok"
    assert records[2]["encoding"] == "gb18030"
    assert "李镕喆部长" in records[2]["text"]
    # Records go straight to JSON lines.
    assert json.loads(json.dumps(records[2], ensure_ascii=False)) == records[2]


def test_gzipped_file_is_unpacked_first(tmp_path: Path) -> None:
    packed = tmp_path / "reprint.html.gz"
    packed.write_bytes(gzip.compress((PAGES / "wp_reprint_with_comments.html").read_bytes()))

    [record] = extract_files([packed], url="https://example.org/2024/05/14/joint-statement/")

    assert record["status"] == "ok"
    assert record["url"] == "https://example.org/2024/05/14/joint-statement/"
    assert record["title"] == "Joint Statement on Coastal Fisheries Cooperation"
    assert "joint scientific working group" in record["text"]
    assert "Two weeks is not nearly enough" not in record["text"]


def test_corrupt_gzip_is_an_error_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    fine = PAGES / "index_near_empty.html"

    records = list(extract_files([broken, fine], url=None))

    assert records[0]["status"] == "error"
    assert records[0]["reason"].startswith(f"{broken}: ")
    assert "\n" not in records[0]["reason"]
    assert records[1]["status"] == "empty"


def test_pdf_file_comes_out_as_not_html() -> None:
    [record] = extract_files([PAGES / "statement_attachment.pdf"], url=None)
    assert record["status"] == "not_html"
    assert record["reason"] == "not an HTML page (application/pdf)"
    assert record["text"] is None


def test_format_text_reads_like_a_document() -> None:
    [record] = extract_files([PAGES / "zh_ministry_gb2312.html"], url="https://mfa.example.gov/1")
    rendered = format_text(record)
    header, _, body = rendered.partition("\n\n")
    assert header.splitlines() == [
        "Title: 外交部发言人就李镕喆部长出席澜湄合作外长会答记者问",
        "Published: 2024-07-23T15:30:00",
        "Issuer: 外交部",
        "Language: zh",
        "Status: ok",
        "URL: https://mfa.example.gov/1",
    ]
    assert body.startswith("问：据报道，李镕喆部长将出席第九次澜沧江－湄公河合作外长会。")
    assert body.endswith("为地区和平稳定与发展繁荣注入更多正能量。")


def test_format_text_of_an_error_says_why() -> None:
    record = {"file": "x.html", "status": "error", "reason": "x.html: No such file or directory"}
    rendered = format_text(record)
    assert "Status: error" in rendered
    assert "Reason: x.html: No such file or directory" in rendered
    assert "Title: -" in rendered
