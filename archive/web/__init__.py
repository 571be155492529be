"""The archivists' web interface, a Datasette plugin registered as the `communique` entry point.

Datasette loads this package (pyproject's `[project.entry-points.datasette]`) and finds its
`templates/` and `static/` beside it; the hooks live in plugin.py (pages, search, queries)
and metadata.py (titles, facets, canned queries from datasette.yml), and are all exported
here, so a hook added to either module is registered without being listed anywhere.
"""

from archive.web import metadata as _metadata
from archive.web import plugin as _plugin

# Datasette looks for `templates/` and `static/` beside the registered module, and only a
# package has a "beside" for it (importlib.resources), hence hooks gathered in this package.
globals().update(
    {
        name: value
        for module in (_plugin, _metadata)
        for name, value in vars(module).items()
        if hasattr(value, "datasette_impl")
    }
)
