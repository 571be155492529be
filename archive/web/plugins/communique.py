"""Loaded by `datasette --plugins-dir archive/web/plugins`: the hooks live in archive.web.plugin."""

from archive.web.plugin import (  # noqa: F401
    asgi_wrapper,
    canned_queries,
    extra_body_script,
    extra_css_urls,
    extra_template_vars,
    filters_from_request,
    menu_links,
    prepare_connection,
    register_routes,
    render_cell,
)
