"""Find reprints: near-identical statements on other sources, by MinHash + LSH banding.

datasketch computes the signatures and chooses the bands; the LSH buckets live in the
archive itself (an indexed table), so adding a statement costs a few indexed lookups
however large the archive is, and nothing has to be rebuilt in memory at start-up.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import sqlite_utils

if TYPE_CHECKING:
    from datasketch import MinHash
from archive.identity import normalise_text
from archive.schema import MINHASH_BANDS, MINHASHES

NUM_PERM = 128
SHINGLE = 5  # characters: works for Chinese (no spaces) and English alike
# datasketch's hash values (32-bit) as stored in `minhashes.signature`. datasketch itself
# (with scipy) is imported only where signatures are made: a `crawl --due` with nothing
# due should not pay for it.
SIGNATURE_DTYPE = np.dtype(np.uint32)


@cache
def bands(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) that datasketch finds best for this threshold."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return lsh.b, lsh.r


def signature(text: str) -> MinHash:
    """MinHash of the text's 5-character shingles (whitespace and width folded away)."""
    from datasketch import MinHash

    compact = normalise_text(text).replace(" ", "")
    shingles = {compact[i : i + SHINGLE] for i in range(max(1, len(compact) - SHINGLE + 1))}
    minhash = MinHash(num_perm=NUM_PERM)
    minhash.update_batch([shingle.encode("utf-8") for shingle in shingles])
    return minhash


def _bucket_keys(values: np.ndarray, threshold: float) -> list[tuple[int, str]]:
    band_count, rows = bands(threshold)
    return [
        (
            band,
            hashlib.blake2b(
                values[band * rows : (band + 1) * rows].tobytes(), digest_size=8
            ).hexdigest(),
        )
        for band in range(band_count)
    ]


def signature_of(text: str) -> bytes:
    """The text's signature as `index_statement` takes it (and `minhashes` stores it)."""
    return signature(text).hashvalues.astype(SIGNATURE_DTYPE).tobytes()


def index_statement(
    db: sqlite_utils.Database,
    statement_id: str,
    text: str,
    threshold: float,
    signed_text: bytes | None = None,
) -> list[tuple[str, float]]:
    """(Re)index one statement; return the statements of other sources it is a reprint of.

    Candidates come from shared LSH buckets, then are kept only if the estimated
    Jaccard similarity of the two signatures reaches the threshold. `signed_text` is the
    text's signature when a worker already computed it.
    """
    if signed_text is None:
        values = signature(text).hashvalues.astype(SIGNATURE_DTYPE)
    else:
        values = np.frombuffer(signed_text, dtype=SIGNATURE_DTYPE)
    keys = _bucket_keys(values, threshold)
    db.execute(f"delete from {MINHASH_BANDS} where statement_id = ?", [statement_id])
    db.execute(
        f"insert or replace into {MINHASHES} (statement_id, signature) values (?, ?)",
        [statement_id, values.tobytes()],
    )
    db.conn.executemany(
        f"insert into {MINHASH_BANDS} (band, bucket, statement_id) values (?, ?, ?)",
        [(band, bucket, statement_id) for band, bucket in keys],
    )
    clauses = " or ".join("(b.band = ? and b.bucket = ?)" for _ in keys)
    params: list[object] = [value for key in keys for value in key]
    candidates = db.execute(
        f"select distinct m.statement_id, m.signature from {MINHASH_BANDS} b "
        f"join {MINHASHES} m on m.statement_id = b.statement_id "
        f"join statements s on s.id = b.statement_id "
        f"where ({clauses}) and b.statement_id != ? "
        "and s.source_id != (select source_id from statements where id = ?)",
        [*params, statement_id, statement_id],
    ).fetchall()
    found = []
    for other_id, blob in candidates:
        other = np.frombuffer(blob, dtype=SIGNATURE_DTYPE)
        similarity = float(np.count_nonzero(other == values)) / NUM_PERM
        if similarity >= threshold:
            found.append((other_id, round(similarity, 3)))
    return found
