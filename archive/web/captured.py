"""'View as captured' links: a statement's and each version's capture in a pywb replay."""

from __future__ import annotations

from typing import Any

from archive.replay import replay_link

PLUGIN = "communique"


def replay_base(datasette: Any) -> str | None:
    """The replay's collection URL from the plugin config (`serve --replay-url`), if any."""
    config = datasette.plugin_config(PLUGIN) or {}
    base = config.get("replay_url")
    return base if isinstance(base, str) and base else None


async def add_replay_links(
    datasette: Any, db: Any, statement: dict[str, Any], versions: list[dict[str, Any]]
) -> None:
    """Set `replay_href`/`replay_at` on the statement (its newest capture served with a
    body and no HTTP error) and on each version (the capture its text first came from).

    Only captures with a stored body are linked: a 304 or a failed fetch has nothing to
    replay. Nothing is set without a replay URL or for a URL that is not http(s).
    """
    base = replay_base(datasette)
    if base is None:
        return
    newest = (
        await db.execute(
            "select url, fetched_at from captures where statement_id = :id "
            "and body_sha256 is not null and http_status < 400 "
            "order by fetched_at desc, id desc limit 1",
            {"id": statement["id"]},
        )
    ).first()
    if newest is not None:
        statement["replay_href"] = replay_link(base, newest["url"], newest["fetched_at"])
        statement["replay_at"] = newest["fetched_at"]
    ids = [v["capture_id"] for v in versions if isinstance(v.get("capture_id"), int)]
    if not ids:
        return
    marks = ", ".join(f":c{i}" for i in range(len(ids)))
    found = await db.execute(
        f"select id, url, fetched_at from captures where id in ({marks}) "
        "and body_sha256 is not null",
        {f"c{i}": capture_id for i, capture_id in enumerate(ids)},
    )
    by_id = {row["id"]: row for row in found.rows}
    for version in versions:
        capture = by_id.get(version.get("capture_id"))
        if capture is not None:
            version["replay_href"] = replay_link(base, capture["url"], capture["fetched_at"])
