"""The `communique` command: a thin layer over the library functions of crawler/ and archive/."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from archive.schema import UnusableDatabase, open_archive

DEFAULT_CONFIG = "config/sources.yaml"
DEFAULT_DB = "data/archive.db"


class UsageProblem(click.ClickException):
    """Bad input from the user (config, database, arguments): exit status 2."""

    exit_code = 2


config_option = click.option(
    "--config",
    "config_path",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The sources file.",
)
db_option = click.option(
    "--db",
    "db_path",
    default=DEFAULT_DB,
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive (SQLite file).",
)


def _load(config_path: str) -> Any:
    from crawler.sources import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as error:
        raise UsageProblem(str(error)) from None


def _check_db(db_path: Path) -> None:
    """Create or open the archive once before a crawl, so a bad file fails before fetching."""
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        open_archive(str(db_path)).close()
    except UnusableDatabase as error:
        raise UsageProblem(str(error)) from None
    except OSError as error:
        raise UsageProblem(f"{db_path}: cannot open ({error.strerror or error})") from None


def _readable_archive(db_path: Path, check: Any) -> None:
    """Fail with exit 2 unless db_path is an existing archive (checked read-only)."""
    try:
        check(db_path)
    except (FileNotFoundError, UnusableDatabase) as error:
        raise UsageProblem(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="communique")
def main() -> None:
    """Communique: an archive of government statements.

    \b
    Typical use:
        communique sources check
        communique crawl
        communique serve
    """


@main.command()
@config_option
@db_option
@click.option(
    "--source",
    "source_ids",
    multiple=True,
    metavar="ID",
    help="Crawl only this source (repeatable).",
)
@click.option(
    "--refetch",
    is_flag=True,
    help="Fetch known statements found on entry pages even when no recheck is due.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
)
def crawl(
    config_path: str, db_path: Path, source_ids: tuple[str, ...], refetch: bool, log_level: str
) -> None:
    """Crawl the configured sources into the archive and print a summary per source.

    Known statements are fetched again only when their recheck is due (often while
    new, rarely when old: see `archive.recheck` in the config), with conditional
    requests. Exits 0 when the crawl ran, even if some pages failed (each failure is recorded in
    the crawl_errors table with its URL and reason); 2 on a bad config or database.

    \b
    Example:
        communique crawl --source mfa-en --source mfa-zh
    """
    from crawler.run import run_crawl
    from crawler.sources import ConfigError

    config = _load(config_path)
    try:
        sources = config.select(source_ids)
    except ConfigError as error:
        raise UsageProblem(str(error)) from None
    _check_db(db_path)
    summaries = run_crawl(config, sources, db_path, log_level, refetch=refetch)
    header = (
        f"{'source':<24} {'pages':>6} {'new':>5} {'changed':>8} {'unchanged':>10} {'errors':>7}"
    )
    click.echo(header)
    for s in summaries:
        click.echo(
            f"{s.source_id:<24} {s.pages_fetched:>6} {s.statements_new:>5} "
            f"{s.statements_changed:>8} {s.statements_unchanged:>10} {s.errors:>7}"
        )
    total_errors = sum(s.errors for s in summaries)
    click.echo(
        f"{len(summaries)} source(s) crawled into {db_path}"
        + (f"; {total_errors} error(s): see the crawl_errors table" if total_errors else "")
    )


@main.group()
def sources() -> None:
    """Inspect the configured sources."""


@sources.command("check")
@config_option
def sources_check(config_path: str) -> None:
    """Validate the sources file and list its sources.

    \b
    Example:
        communique sources check --config config/sources.yaml
    """
    config = _load(config_path)
    width = max(len(source.id) for source in config.sources)
    for source in config.sources:
        click.echo(
            f"{source.id:<{width}}  {source.kind:<8} {source.language or '--':<3} {source.name}"
        )
    click.echo(f"{config_path}: {len(config.sources)} source(s), all valid")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--url", default=None, help="The URL the page was fetched from (default: file:// URL)."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "jsonl"]),
    default="text",
    show_default=True,
    help="text for reading, json for one file, jsonl for one object per line.",
)
@click.option(
    "--source",
    "source_id",
    default=None,
    metavar="ID",
    help="Clean as for this source of --config (its issuer, language, time zone).",
)
@config_option
def extract(
    files: tuple[Path, ...],
    url: str | None,
    output_format: str,
    source_id: str | None,
    config_path: str,
) -> None:
    """Clean saved pages exactly as the crawler would and print what would be stored.

    Exits 1 if any file could not be read (the others are still printed).

    \b
    Example:
        communique extract saved/page.html --url https://www.mfa.gov.cn/... --format json
        communique extract saved/*.html --source mfa-zh --format jsonl
    """
    from archive.extract import extract_files, format_text

    hints = None
    if source_id:
        from crawler.sources import ConfigError

        try:
            [source] = _load(config_path).select([source_id])
        except ConfigError as error:
            raise UsageProblem(str(error)) from None
        hints = source.hints
    failed = False
    records = list(extract_files(list(files), url, hints)) if output_format == "json" else None
    if output_format == "json":
        assert records is not None
        payload: Any = records[0] if len(records) == 1 else records
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        failed = any(record.get("status") == "error" for record in records)
    else:
        for index, record in enumerate(extract_files(list(files), url, hints)):
            failed = failed or record.get("status") == "error"
            if output_format == "jsonl":
                click.echo(json.dumps(record, ensure_ascii=False))
            else:
                if index:
                    click.echo("\n" + "-" * 72 + "\n")
                click.echo(format_text(record))
    if failed:
        sys.exit(1)


@main.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=int)
def serve(db_path: Path, host: str, port: int) -> None:
    """Serve the archive with Datasette: search, facets, CSV downloads.

    \b
    Example:
        communique serve --db data/archive.db --port 8001
    """
    from archive.serve import check_archive
    from archive.serve import serve as run_datasette

    _readable_archive(db_path, check_archive)
    click.echo(f"Serving {db_path} at http://{host}:{port}/ (Ctrl-C to stop)")
    sys.exit(run_datasette(db_path, host, port))


@main.command()
@db_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the snapshot.",
)
def export(db_path: Path, out_dir: Path) -> None:
    """Write a dated CSV snapshot of the statements (statements-YYYY-MM-DD.csv).

    \b
    Example:
        communique export --db data/archive.db --out snapshots/
    """
    from archive.export import export_statements
    from archive.serve import check_archive

    _readable_archive(db_path, check_archive)
    result = export_statements(db_path, out_dir)
    click.echo(f"{result.path}: {result.row_count} statement(s)")


@main.command()
@config_option
@db_option
@click.option(
    "--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable)."
)
def reextract(config_path: str, db_path: Path, source_ids: tuple[str, ...]) -> None:
    """Re-run the cleaner over the stored raw captures of statements.

    A new version is created only where the cleaned text really changed; prints counts.

    \b
    Example:
        communique reextract --source mfa-zh
    """
    from archive.reextract import reextract as run_reextract

    _readable_archive(db_path, _check_archive())
    config = _load(config_path)
    hints = {source.id: source.hints for source in config.sources}
    result = run_reextract(db_path, list(source_ids), hints)
    click.echo(
        f"{result.statements} statement(s) re-extracted: {result.changed} changed, "
        f"{result.unchanged} unchanged, {result.failed} failed"
    )


@main.group()
def warc() -> None:
    """Exchange captures with other crawlers and replay tools as WARC files."""


@warc.command("export")
@db_option
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .warc.gz file to write.",
)
@click.option(
    "--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable)."
)
def warc_export(db_path: Path, out_path: Path, source_ids: tuple[str, ...]) -> None:
    """Write the archive's captures as WARC request/response/revisit records.

    \b
    Example:
        communique warc export --out captures.warc.gz
    """
    from archive.warc import export_warc

    _readable_archive(db_path, _check_archive())
    result = export_warc(db_path, out_path, list(source_ids))
    click.echo(f"{out_path}: {result.records} record(s) from {result.captures} capture(s)")


@warc.command("import")
@config_option
@db_option
@click.argument("warc_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source",
    "source_id",
    required=True,
    metavar="ID",
    help="The configured source the pages belong to.",
)
def warc_import(config_path: str, db_path: Path, warc_path: Path, source_id: str) -> None:
    """Ingest a WARC from another crawler (Browsertrix, Heritrix, wget) as if crawled.

    \b
    Example:
        communique warc import crawl.warc.gz --source mfa-en
    """
    from archive.warc import import_warc
    from crawler.sources import ConfigError

    try:
        [source] = _load(config_path).select([source_id])
    except ConfigError as error:
        raise UsageProblem(str(error)) from None
    _check_db(db_path)
    summary = import_warc(db_path, warc_path, source)
    click.echo(
        f"{warc_path}: {summary.pages_fetched} page(s): {summary.statements_new} new, "
        f"{summary.statements_changed} changed, {summary.statements_unchanged} unchanged, "
        f"{summary.errors} error(s)"
    )


def _check_archive() -> Any:
    from archive.serve import check_archive

    return check_archive


@main.command("eval")
@click.argument(
    "eval_dir",
    default="../shared/eval",
    type=click.Path(file_okay=False, path_type=Path),
)
def eval_command(eval_dir: Path) -> None:
    """Score the cleaner on evaluation pages beside plain trafilatura, and print a table.

    EVAL_DIR holds aeb/, cjk/, real/ and wechat/ as described in its README.

    \b
    Example:
        communique eval ../shared/eval
    """
    from archive.evaluate import evaluate, format_report

    if not eval_dir.is_dir():
        raise UsageProblem(f"{eval_dir}: no such folder of evaluation data")
    click.echo(format_report(evaluate(eval_dir)))


if __name__ == "__main__":
    main()
