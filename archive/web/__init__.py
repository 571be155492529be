"""The archivists' web interface: a Datasette plugin (plugin.py) with its templates and CSS.

`archive/serve.py` loads it with `--plugins-dir archive/web/plugins` (a one-line shim that
imports plugin.py), `--template-dir archive/web/templates` and `--static`.
"""
