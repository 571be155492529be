"""Progress of long archive jobs: a live line in a terminal, a line every so often in a log."""

from __future__ import annotations

import io

from archive.progress import JobProgress


def test_log_mode_writes_whole_lines_with_counts_and_share() -> None:
    stream = io.StringIO()
    with JobProgress("reextract", "statements", live=False, stream=stream, log_every_s=0) as job:
        job.set_total(4)
        for _ in range(4):
            job.advance()
    lines = stream.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "reextract: 1/4 statements (25%)",
        "reextract: 2/4 statements (50%)",
        "reextract: 3/4 statements (75%)",
        "reextract: 4/4 statements (100%)",
    ]
    assert "\r" not in stream.getvalue()


def test_live_mode_redraws_one_line_and_ends_it() -> None:
    stream = io.StringIO()
    with JobProgress("warc import a.warc.gz", "records", live=True, stream=stream) as job:
        job.advance(3)  # no total: a WARC is read as a stream
    assert stream.getvalue().startswith("\r\x1b[K")
    assert stream.getvalue().endswith("\n")
    assert (
        stream.getvalue().removeprefix("\r\x1b[K").startswith("warc import a.warc.gz: 3 records, ")
    )


def test_quiet_when_not_a_terminal_and_quick() -> None:
    stream = io.StringIO()  # isatty() is False
    with JobProgress("reextract", "statements", stream=stream) as job:
        job.set_total(2)
        job.advance(2)
    assert stream.getvalue() == ""
