"""The archive: what arrives (fetched, ingest), cleaning (clean/), the store and what reads it."""
