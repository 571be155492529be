"""The `communique` command: each command parses its options, calls one library function
of crawler/ or archive/, and prints what it returned. Imports are inside the commands, so
that `--help` and a `crawl --due` with nothing due load neither Scrapy nor trafilatura."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

DEFAULT_CONFIG = "config/sources.yaml"
DEFAULT_DB = "data/archive.db"


class UsageProblem(click.ClickException):
    """Bad input from the user (config, database, arguments): exit status 2."""

    exit_code = 2


class Busy(click.ClickException):
    """Another process writes the archive: try again later."""

    exit_code = 75  # EX_TEMPFAIL


EXIT_NOTHING_FETCHED = 1  # the crawl ran but reached nothing: a failed systemd unit


@contextmanager
def library_errors() -> Iterator[None]:
    """The library's errors as one line naming the culprit, with the exit status scripts
    expect: 2 for bad input (config, database, link), 75 when the archive is busy."""
    from archive.lock import ArchiveBusy
    from archive.schema import UnusableDatabase
    from communique.config import ConfigError

    try:
        yield
    except (ConfigError, UnusableDatabase, FileNotFoundError) as error:
        raise UsageProblem(str(error)) from None
    except ArchiveBusy as error:
        raise Busy(str(error)) from None


@contextmanager
def frontier_errors() -> Iterator[None]:
    """A frontier that cannot be used, as one line naming its URL: exit 2 for a URL that
    is not Redis's, 1 when Redis does not answer."""
    from crawler.frontier import BadFrontierURL, FrontierError

    try:
        yield
    except BadFrontierURL as error:
        raise UsageProblem(str(error)) from None
    except FrontierError as error:
        raise click.ClickException(str(error)) from None


frontier_option = click.option(
    "--frontier",
    "frontier_url",
    required=True,
    metavar="URL",
    envvar="COMMUNIQUE_FRONTIER",
    help="The Redis frontier: redis://HOST:PORT/DB (or $COMMUNIQUE_FRONTIER).",
)

config_option = click.option(
    "--config",
    "config_path",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The sources file.",
)
sources_option = click.option(
    "--source",
    "source_ids",
    multiple=True,
    metavar="ID",
    help="Only this source (repeatable; default: all).",
)
progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help="Live progress on stderr (default: when stderr is a terminal; otherwise a line a minute).",
)
# Crawl processes (`crawl`, `worker`) log alike.
log_file_option = click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also log to this file, rotated at 5 MB (for unattended runs).",
)


def log_level_option(default: str) -> Any:
    return click.option(
        "--log-level",
        default=default,
        show_default=True,
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    )


host_option = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; 0.0.0.0 to be reachable from other machines.",
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
    from communique.config import load_config

    with library_errors():
        return load_config(config_path)


def _existing_archive(db_path: Path) -> None:
    """Fail with exit 2 unless db_path is an existing archive (checked read-only)."""
    from archive.serve import check_archive

    with library_errors():
        check_archive(db_path)


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
@sources_option
@click.option(
    "--due",
    is_flag=True,
    help="Only sources whose schedule says a crawl is due, and statements due for a recheck. "
    "Safe to run from cron every minute.",
)
@click.option(
    "--refetch",
    is_flag=True,
    help="Fetch known statements found on entry pages even when no recheck is due.",
)
@log_file_option
@click.option(
    "--notify-command",
    metavar="CMD",
    help="Run CMD (through the shell) with each unhealthy source's problem as JSON on stdin.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Live progress table (default: when stderr is a terminal).",
)
@log_level_option("INFO")
@click.option(
    "--frontier",
    metavar="URL",
    help="Crawl on several machines: seed this Redis frontier (redis://HOST:PORT/DB) and "
    "write what `communique worker`s fetch, until it is empty (README: Several machines).",
)
def crawl(
    config_path: str,
    db_path: Path,
    source_ids: tuple[str, ...],
    due: bool,
    refetch: bool,
    log_file: Path | None,
    notify_command: str | None,
    progress: bool | None,
    log_level: str,
    frontier: str | None,
) -> None:
    """Crawl the configured sources into the archive and print a summary per source.

    Known statements are fetched again only when their recheck is due (often while new,
    rarely when old: `archive.recheck` in the config), with conditional requests; entry
    pages unchanged since the last complete crawl are not followed again. One crawl at a
    time per archive: a second one exits at once with status 75. A crawl that is killed
    resumes where it stopped on the next run.

    Exits 0 when the crawl ran, even if some pages failed (each failure is recorded in
    the crawl_errors table with its URL and reason); 1 when not one page could be
    fetched from any source (network down, every host unreachable); 2 on a bad config or
    database; 75 when another crawl holds the archive.

    With --frontier, this process seeds a Redis frontier and is the one writer of the
    archive, while `communique worker`s on any machine fetch and clean; it exits when
    no request is left and every result is written.

    \b
    Examples:
        communique crawl --source mfa-en --source mfa-zh
        communique crawl --due --log-file data/logs/crawl.log   # from cron or systemd
        communique crawl --frontier redis://10.0.0.5:6379/0     # with workers elsewhere
    """
    from archive.linker import LinkerFailed
    from crawler.run import DiskFull, notify
    from crawler.run import crawl as run_crawl

    config = _load(config_path)
    interactive = sys.stderr.isatty() if progress is None else progress
    try:
        with library_errors(), frontier_errors():
            if frontier:
                from crawler.writer import crawl as write_crawl

                report = write_crawl(
                    config,
                    source_ids,
                    db_path,
                    frontier,
                    due=due,
                    refetch=refetch,
                    log_level=log_level,
                    log_file=log_file,
                )
            else:
                report = run_crawl(
                    config,
                    source_ids,
                    db_path,
                    due=due,
                    refetch=refetch,
                    log_level=log_level,
                    log_file=log_file,
                    progress=interactive,
                )
    except (DiskFull, LinkerFailed) as error:
        raise click.ClickException(str(error)) from None
    if report.nothing_due:
        click.echo("Nothing is due.")
        return
    summaries = report.summaries
    width = max([len("source"), *(len(s.source_id) for s in summaries)])
    columns = ("pages", "new", "changed", "unchanged", "errors")
    click.echo(f"{'source':<{width}} " + " ".join(f"{c:>{max(len(c), 5)}}" for c in columns))
    for s in summaries:
        click.echo(
            f"{s.source_id:<{width}} {s.pages_fetched:>5} {s.statements_new:>5} "
            f"{s.statements_changed:>7} {s.statements_unchanged:>9} {s.errors:>6}"
        )
    click.echo(
        f"{len(summaries)} source(s) crawled into {db_path}"
        + (f"; {report.errors} error(s): see the crawl_errors table" if report.errors else "")
    )
    if report.relinked:
        click.echo(
            f"The archive at least doubled: its {report.relinked.linked} statement(s) were "
            f"linked across languages again, in date order ({report.relinked.translations} "
            f"translation and {report.relinked.reports} report link(s))"
        )
    for row in report.unhealthy:
        click.echo(f"unhealthy: {row['id']}: {row['health_reason']}", err=True)
    for failure in notify(notify_command, report) if notify_command else []:
        click.echo(failure, err=True)
    if report.nothing_fetched:
        click.echo(
            f"Error: no page could be fetched from any source ({report.errors} error(s)): "
            "see the crawl_errors table",
            err=True,
        )
        sys.exit(EXIT_NOTHING_FETCHED)


@main.command()
@click.argument("links", nargs=-1, metavar="URL...")
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also take the links in this file, one a line (# starts a comment).",
)
@click.option(
    "--source",
    "source_id",
    default=None,
    metavar="ID",
    help="Archive them as this configured source (default: the built-in source `manual`).",
)
@config_option
@db_option
@log_level_option("WARNING")
def add(
    links: tuple[str, ...],
    from_file: Path | None,
    source_id: str | None,
    config_path: str,
    db_path: Path,
    log_level: str,
) -> None:
    """Archive the given links now: any web page, or WeChat articles in any link form.

    The links are crawled exactly as a source's pages are (robots.txt, throttles, WeChat
    walls, cleaning), fetched even when already archived, and each is printed with what
    became of it: new, changed, unchanged or failed, statement id, status and title.
    Without --source they belong to the built-in source `manual` ("Added by hand"), whose
    statements take their issuer from the page; a `manual` source in the config is used
    instead if there is one.

    Exits 1 if any link could not be archived (each failure is in crawl_errors), 2 on a
    bad link, config or database, 75 when a crawl holds the archive.

    \b
    Examples:
        communique add https://mp.weixin.qq.com/s/AbCdEf https://www.mfa.gov.cn/...
        communique add --from-file links.txt --source mss-wechat
    """
    from crawler.add import FAILED, add_links
    from crawler.spiders.wechat import read_links

    wanted = list(links)
    if from_file is not None:
        try:
            wanted += read_links(from_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise UsageProblem(f"{from_file}: cannot read ({error})") from None
    if not wanted:
        raise UsageProblem("add: give at least one URL, or --from-file FILE")
    config = _load(config_path)
    with library_errors():
        report = add_links(config, wanted, db_path, source_id, log_level)
    for link in report.links:
        if link.outcome == FAILED:
            click.echo(f"{'failed':<9} {'-':<16}  {'-':<7} {link.reason}  {link.link}")
        else:
            click.echo(
                f"{link.outcome:<9} {link.statement_id}  {link.status:<7} {link.title}  {link.link}"
            )
    failed = report.count(FAILED)
    click.echo(
        f"{report.stored} link(s) archived into {db_path} as source {report.source_id} "
        f"({report.count('new')} new, {report.count('changed')} changed, "
        f"{report.count('unchanged')} unchanged)"
        + (f"; {failed} failed: see the crawl_errors table" if failed else "")
    )
    if failed:
        sys.exit(1)


@main.group()
def sources() -> None:
    """Inspect the configured sources."""


@sources.command("status")
@config_option
@db_option
def sources_status(config_path: str, db_path: Path) -> None:
    """Each source's health, last crawl and when it is next due.

    Exits 1 if any source is unhealthy, so scripts can alert on it.

    \b
    Example:
        communique sources status
    """
    from crawler.due import status

    config = _load(config_path)
    _existing_archive(db_path)
    rows = status(config.sources, db_path)
    width = max(len(row.source.id) for row in rows)
    click.echo(f"{'source':<{width}}  {'health':<9} {'last crawl':<20} {'next due':<20} rechecks")
    for row in rows:
        last = row.last_crawl.strftime("%Y-%m-%d %H:%M") if row.last_crawl else "never"
        click.echo(
            f"{row.source.id:<{width}}  {row.health:<9} {last:<20} "
            f"{row.next_due.strftime('%Y-%m-%d %H:%M'):<20} {row.rechecks_due}"
        )
        if row.health_reason:
            click.echo(f"{'':<{width}}  ↳ {row.health_reason}")
    if any(row.health == "unhealthy" for row in rows):
        sys.exit(1)


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
        from archive.cleaned import hints_for

        with library_errors():
            [source] = _load(config_path).select([source_id])
        hints = hints_for(source)
    failed = False
    records = list(extract_files(list(files), url, hints)) if output_format == "json" else None
    if output_format == "json":
        assert records is not None
        payload: Any = records[0] if len(records) == 1 else records
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        for record in records:
            failed = _report_unreadable(record) or failed
    else:
        printed = 0
        for record in extract_files(list(files), url, hints):
            failed = _report_unreadable(record) or failed
            if output_format == "jsonl":
                click.echo(json.dumps(record, ensure_ascii=False))
            elif record.get("status") != "error":  # the error line said all there is
                if printed:
                    click.echo("\n" + "-" * 72 + "\n")
                click.echo(format_text(record))
                printed += 1
    if failed:
        sys.exit(1)


def _report_unreadable(record: dict[str, Any]) -> bool:
    """One `Error:` line on stderr for a file that could not be read (JSON keeps its record)."""
    if record.get("status") != "error":
        return False
    click.echo(f"Error: {record.get('reason')}", err=True)
    return True


@main.command()
@db_option
@host_option
@click.option("--port", default=8001, show_default=True, type=int)
@click.option(
    "--public",
    is_flag=True,
    help="Safe to publish: read-only, no arbitrary SQL, shorter query time limit.",
)
@click.option(
    "--replay-url",
    metavar="URL",
    help="A replay of the captures (what `communique replay` prints): statement pages and "
    "versions link to their capture there ('View as captured').",
)
def serve(db_path: Path, host: str, port: int, public: bool, replay_url: str | None) -> None:
    """Serve the archive with Datasette: statement pages, search, facets, CSV downloads.

    \b
    Examples:
        communique serve --db data/archive.db --port 8001
        communique serve --db data/archive.db --public --host 0.0.0.0
        communique serve --replay-url http://127.0.0.1:8002/communique
    """
    from archive.replay import check_replay_url
    from archive.serve import serve as run_datasette

    _existing_archive(db_path)
    if replay_url is not None:
        try:
            replay_url = check_replay_url(replay_url)
        except ValueError as error:
            raise UsageProblem(f"--replay-url {error}") from None
    mode = " read-only, for the public," if public else ""
    click.echo(f"Serving {db_path}{mode} at http://{host}:{port}/ (Ctrl-C to stop)")
    sys.exit(run_datasette(db_path, host, port, public=public, replay_url=replay_url))


@main.command()
@db_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the snapshot.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only what is new or changed on or after this date (YYYY-MM-DD, UTC).",
)
def export(db_path: Path, out_dir: Path, since: Any) -> None:
    """Write a dated snapshot: statements, versions and statement URLs as CSV, and a manifest.

    Files: statements-, versions-, statement_urls-YYYY-MM-DD.csv (UTF-8 with BOM) and
    manifest.json (rows, bytes and SHA-256 of each file). With --since, an incremental
    snapshot: statements first seen or changed since DATE, versions and URLs first seen
    since DATE.

    \b
    Examples:
        communique export --db data/archive.db --out snapshots/2024-06-01/
        communique export --db data/archive.db --out snapshots/week-23/ --since 2024-06-01
    """
    from archive.export import export_snapshot

    _existing_archive(db_path)
    result = export_snapshot(db_path, out_dir, since=since.date() if since else None)
    for file in result.files:
        click.echo(f"{file.path}: {file.rows} row(s)")
    click.echo(f"{result.manifest}: manifest")


@main.group()
def schedule() -> None:
    """Run `crawl --due` unattended, from cron or systemd timers."""


@schedule.command("install")
@config_option
@db_option
@click.option("--cron", "kind", flag_value="cron", help="Add a line to your crontab.")
@click.option(
    "--systemd", "kind", flag_value="systemd", default=True, help="User units (the default)."
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rotating log of the crawls (default: logs/crawl.log beside the archive).",
)
@click.option(
    "--unit-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the systemd units here and do not enable them (e.g. for system units).",
)
@click.option("--print", "print_only", is_flag=True, help="Print what would be installed.")
def schedule_install(
    config_path: str,
    db_path: Path,
    kind: str,
    log_file: Path | None,
    unit_dir: Path | None,
    print_only: bool,
) -> None:
    """Install a job running `communique crawl --due` every minute.

    Every minute is cheap: the crawl exits at once when no source and no recheck is
    due, and a crawl still running makes the next one exit without waiting. Each
    source's own schedule is its `every:` in the config (30m, 6h, 1d or a cron
    expression; default 6h).

    \b
    Examples:
        communique schedule install --systemd
        communique schedule install --cron --print
    """
    from crawler.schedule import (
        ScheduleError,
        cron_line,
        install_cron,
        install_systemd,
        make_job,
        systemd_units,
    )

    _load(config_path)
    job = make_job(Path(config_path), db_path, log_file)
    if print_only:
        if kind == "cron":
            click.echo(cron_line(job))
        else:
            for name, text in systemd_units(job).items():
                click.echo(f"# {name}\n{text}")
        return
    try:
        if kind == "cron":
            click.echo(f"crontab: {install_cron(job)}")
        else:
            for path in install_systemd(job, unit_dir):
                click.echo(f"wrote {path}")
    except ScheduleError as error:
        raise click.ClickException(str(error)) from None


@schedule.command("show")
@config_option
@db_option
def schedule_show(config_path: str, db_path: Path) -> None:
    """What is installed, and when each source is next due.

    \b
    Example:
        communique schedule show
    """
    from crawler.schedule import ScheduleError, installed_cron_lines, installed_units

    try:
        lines = installed_cron_lines()
    except ScheduleError:
        lines = []
    units = installed_units()
    for line in lines:
        click.echo(f"crontab: {line}")
    for unit in units:
        click.echo(f"systemd: {unit}")
    if not lines and not units:
        click.echo("No unattended crawl is installed (see `communique schedule install`).")
    if db_path.exists():
        click.echo("")
        click.get_current_context().invoke(sources_status, config_path=config_path, db_path=db_path)


@main.command()
@config_option
@db_option
@sources_option
@progress_option
def reextract(
    config_path: str, db_path: Path, source_ids: tuple[str, ...], progress: bool | None
) -> None:
    """Re-run the cleaner over the stored raw captures of statements.

    A new version is created only where the cleaned text really changed; prints counts.

    \b
    Example:
        communique reextract --source mfa-zh
    """
    from archive.cleaned import hints_for
    from archive.ingest import IngestSettings
    from archive.progress import JobProgress
    from archive.reextract import reextract as run_reextract

    _existing_archive(db_path)
    config = _load(config_path)
    with library_errors():
        config.select(source_ids)  # unknown ids are an error, not a silent no-op
        hints = {source.id: hints_for(source) for source in config.sources}
        settings = IngestSettings.from_config(config)
        with JobProgress("reextract", "statements", live=progress) as counter:
            result = run_reextract(db_path, settings, list(source_ids), hints, counter)
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
@sources_option
def warc_export(db_path: Path, out_path: Path, source_ids: tuple[str, ...]) -> None:
    """Write the archive's captures as WARC request/response/revisit records.

    \b
    Example:
        communique warc export --out captures.warc.gz
    """
    from archive.warc import export_warc

    _existing_archive(db_path)
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
@progress_option
def warc_import(
    config_path: str, db_path: Path, warc_path: Path, source_id: str, progress: bool | None
) -> None:
    """Ingest a WARC from another crawler (Browsertrix, Heritrix, wget) as if crawled.

    \b
    Example:
        communique warc import crawl.warc.gz --source mfa-en
    """
    from archive.ingest import IngestSettings
    from archive.progress import JobProgress
    from archive.warc import import_warc

    config = _load(config_path)
    with library_errors():
        [source] = config.select([source_id])
        settings = IngestSettings.from_config(config)
        with JobProgress(f"warc import {warc_path.name}", "records", live=progress) as counter:
            imported = import_warc(
                db_path, warc_path, source, settings, counter, config.crawl.max_page_bytes
            )
    summary = imported.summary
    click.echo(
        f"{warc_path}: {summary.pages_fetched} page(s): {summary.statements_new} new, "
        f"{summary.statements_changed} changed, {summary.statements_unchanged} unchanged, "
        f"{summary.errors} error(s)"
    )
    for why, count in sorted(imported.skipped.items()):
        click.echo(f"{warc_path}: {count} record(s) skipped: {why}")


@main.group()
def wacz() -> None:
    """Package captures as WACZ, for ReplayWeb.page, pywb and other web archive tools."""


@wacz.command("export")
@db_option
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .wacz file to write.",
)
@sources_option
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only captures fetched on or after this date (YYYY-MM-DD, UTC).",
)
def wacz_export(db_path: Path, out_path: Path, source_ids: tuple[str, ...], since: Any) -> None:
    """Write captures as a WACZ: WARC, CDXJ index, pages.jsonl and datapackage.json.

    Each capture keeps its HTTP status, headers and body as stored; pages.jsonl lists each
    capture of a statement with its title and fetch time; datapackage.json the SHA-256 of
    every file (check it with `wacz validate -f FILE`).

    \b
    Examples:
        communique wacz export --db data/archive.db --out archive.wacz
        communique wacz export --out mfa-june.wacz --source mfa-en --since 2024-06-01
    """
    from archive.wacz import UnknownSource, WaczError, export_wacz

    _existing_archive(db_path)
    try:
        result = export_wacz(
            db_path, out_path, list(source_ids), since=since.date() if since else None
        )
    except UnknownSource as error:
        raise UsageProblem(str(error)) from None
    except WaczError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"{out_path}: {result.captures} capture(s), {result.pages} page(s), {result.bytes:,} bytes"
    )


@main.command()
@db_option
@host_option
@click.option("--port", default=8002, show_default=True, type=int)
@sources_option
def replay(db_path: Path, host: str, port: int, source_ids: tuple[str, ...]) -> None:
    """Replay the captures as they were served, with pywb, under a banner with their date.

    Runs pywb from its own environment (.venv-replay, made by `make replay-env`) on a
    collection of the archive's captures built at start. Pass the URL it prints to
    `communique serve --replay-url` for 'View as captured' links.

    \b
    Examples:
        communique replay --db data/archive.db --port 8002
        communique serve --db data/archive.db --replay-url http://127.0.0.1:8002/communique
    """
    from archive.replay import PortUnavailable, Replay, ReplayEnvMissing
    from archive.replay import replay as run_pywb
    from archive.wacz import UnknownSource

    _existing_archive(db_path)

    def ready(started: Replay) -> None:
        click.echo(
            f"Replaying {started.captures} capture(s) of {db_path} at {started.url}/ "
            "(Ctrl-C to stop)"
        )
        click.echo(f"Link statement pages to it: communique serve --replay-url {started.url}")

    try:
        code = run_pywb(db_path, host, port, list(source_ids), ready=ready)
    except (ReplayEnvMissing, PortUnavailable, UnknownSource) as error:
        raise UsageProblem(str(error)) from None
    sys.exit(code)


@main.command()
@frontier_option
@config_option
@click.option(
    "--until-idle",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Exit once the frontier has been empty this long (default: run until stopped).",
)
@click.option(
    "--reclaim-after",
    type=click.FloatRange(min=0.5),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Take over a request another worker has held this long without a sign of life (it died).",
)
@click.option("--name", metavar="NAME", help="This worker's name (default: host-pid-random).")
@log_file_option
@log_level_option("INFO")
def worker(
    frontier_url: str,
    config_path: str,
    until_idle: float | None,
    reclaim_after: float,
    name: str | None,
    log_file: Path | None,
    log_level: str,
) -> None:
    """Fetch and clean pages for a crawl on several machines.

    Takes requests from the shared frontier (the sources of the run a `communique crawl
    --frontier` started), fetches them politely (robots.txt; per host, the delay and
    concurrency of the sources file counted over all workers), cleans each page and
    pushes it onto the frontier for the writer. Use the same sources file as the writer.
    SIGTERM finishes the requests in flight, then exits 0; a worker killed outright
    loses nothing (another takes its requests over after --reclaim-after).

    \b
    Examples:
        communique worker --frontier redis://10.0.0.5:6379/0 --config config/sources.yaml
        communique worker --frontier redis://127.0.0.1:6379/0 --until-idle 60
    """
    from crawler.worker import run_worker

    config = _load(config_path)
    with frontier_errors():
        failure = run_worker(
            config,
            frontier_url,
            until_idle=until_idle,
            reclaim_after=reclaim_after,
            name=name,
            log_level=log_level,
            log_file=log_file,
        )
    if failure:
        raise click.ClickException(failure)


@main.group("frontier")
def frontier_group() -> None:
    """Inspect or reset the Redis frontier of a crawl on several machines."""


@frontier_group.command("status")
@frontier_option
def frontier_status(frontier_url: str) -> None:
    """The run in the frontier: requests waiting and held per source and per worker,
    results waiting for the writer, duplicate filter sizes, workers seen in the last
    minute.

    \b
    Example:
        communique frontier status --frontier redis://10.0.0.5:6379/0
    """
    from crawler.frontier import look

    with frontier_errors():
        state = look(frontier_url)
    run = state.run
    if run is None:
        click.echo(f"{state.url}: no run in progress")
    else:
        stage = "seeding" if not run.seeded else run.state
        click.echo(f"{state.url}: run {run.id} ({stage}) into {run.archive}, started {run.started}")
        width = max(len("source"), *(len(q.source_id) for q in state.queues))
        click.echo(f"{'source':<{width}} {'waiting':>8} {'held':>6} {'seen':>7} {'links':>6}")
        for q in state.queues:
            click.echo(
                f"{q.source_id:<{width}} {q.waiting:>8} {q.held:>6} {q.seen:>7} "
                f"{run.links.get(q.source_id, 0):>6}"
            )
    for worker_name, held in sorted(state.held_by.items()):
        click.echo(f"held by {worker_name}: {held}")
    click.echo(
        f"results waiting for the writer: {state.results_waiting}"
        + (f" ({state.results_held} being written)" if state.results_held else "")
    )
    seen = ", ".join(f"{w} ({age:g}s ago)" for w, age in sorted(state.workers.items()))
    click.echo(
        f"workers seen in the last minute: {len(state.workers)}" + (f": {seen}" if seen else "")
    )


@frontier_group.command("clear")
@frontier_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def frontier_clear(frontier_url: str, yes: bool) -> None:
    """Delete the frontier's run: queued requests, duplicate filters, plans and results
    not yet written. Stop the writer first; workers simply go idle.

    \b
    Example:
        communique frontier clear --frontier redis://10.0.0.5:6379/0 --yes
    """
    from crawler.frontier import check_url, redacted, wipe

    with frontier_errors():
        check_url(frontier_url)
        if not yes:
            click.confirm(
                f"Delete the run and everything queued in {redacted(frontier_url)}?", abort=True
            )
        removed = wipe(frontier_url)
    click.echo(f"{redacted(frontier_url)}: cleared ({removed} key(s) deleted)")


@main.command()
@db_option
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only statements dated on or after this day (YYYY-MM-DD; undated: first seen).",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Forget every cross-language link and link the whole archive again.",
)
@progress_option
def link(db_path: Path, since: Any, rebuild: bool, progress: bool | None) -> None:
    """Link statements across languages: a Chinese original to its English translations
    and to English reports about it.

    A crawl links new statements as it stores them; this links those already in the
    archive that are not linked yet (an archive made before links existed, or a run that
    was cut short). Links are the `related` rows with relation translation or report,
    from the original, each with its evidence.

    \b
    Examples:
        communique link --db data/archive.db
        communique link --since 2024-06-01
        communique link --rebuild
    """
    from archive.progress import JobProgress
    from archive.relink import link_archive

    if since and rebuild:
        raise UsageProblem("--since and --rebuild: a rebuild links every statement, drop one")
    _existing_archive(db_path)
    with library_errors(), JobProgress("link", "statements", live=progress) as counter:
        day = since.date().isoformat() if since else None
        result = link_archive(db_path, since=day, rebuild=rebuild, progress=counter)
    click.echo(
        f"{result.linked} statement(s) linked; the archive holds {result.translations} "
        f"translation link(s) and {result.reports} report link(s)"
    )


if __name__ == "__main__":
    main()
