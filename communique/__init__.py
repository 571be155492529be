"""The command layer: `communique` (cli.py) and its typed configuration (config.py)."""
