"""The persistent gallery: known identities and their appearance embeddings in a local
SQLite file, so that a second video (or a restarted stream) of the same scene gives the same
people the same ids.

A gallery file holds two tables:

* ``meta(key TEXT PRIMARY KEY, value TEXT)``: ``format`` = ``vcm-gallery``, ``version`` = 1,
  ``embedder``: the embedder's :meth:`describe` as JSON (a gallery is only read with the
  same embedder and options: embeddings of another are not comparable), ``dimension``.
* ``identities(id INTEGER PRIMARY KEY, embedding BLOB, runs INTEGER)``: one row per
  identity, its id (1 or more), its L2-normalised embedding as little-endian float32, and the
  number of runs that saw it.

:func:`read_gallery` reads one (a missing file is an empty gallery) within limits;
:func:`write_gallery` stores a run's identities in one transaction at the end of a
successful run, so a failed or interrupted run leaves the file as it was. Nothing but ids
and embeddings is stored: no pixels, no boxes, no times.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from vcm.errors import VcmError

FORMAT = "vcm-gallery"
VERSION = 1
MAX_IDENTITIES = 100_000
"""Most identities a gallery may hold: a shop sees far fewer people a year; reading more is
refused rather than loaded."""
MAX_DIMENSION = 4096
"""Most values per embedding (OSNet gives 512, the histogram default 256)."""
MAX_META_BYTES = 65_536
"""Longest value of the meta table."""
_SQLITE_HEADER = b"SQLite format 3\x00"


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    mode = "ro" if read_only else "rw"
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True,
                           isolation_level=None, timeout=5.0)


def _check_file(path: Path) -> None:
    """A gallery must be a regular file that starts as an SQLite database does."""
    if not path.is_file():
        raise VcmError(f"{path}: not a regular file (a gallery is an SQLite file)")
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            raise VcmError(f"{path}: not a vcm gallery (not an SQLite file)")


def read_gallery(path: str | Path, embedder: dict) -> tuple[np.ndarray, np.ndarray]:
    """The identities of the gallery at ``path``: ids int64 (K,) ascending and embeddings
    float32 (K, D). A missing file is an empty gallery (ids (0,), embeddings (0, 0)).

    Raises :class:`VcmError` naming ``path`` for a file that is not a vcm gallery, one made
    with another embedder than ``embedder`` (its ``describe()``), one over the limits
    (:data:`MAX_IDENTITIES`, :data:`MAX_DIMENSION`) or with a malformed row.
    """
    path = Path(path)
    if not path.exists():
        return np.zeros((0,), dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    _check_file(path)
    try:
        with _connect(path, read_only=True) as connection:
            meta = _read_meta(path, connection)
            if meta.get("embedder") != embedder:
                raise VcmError(f"{path}: gallery of embeddings by {meta.get('embedder')}, not "
                               f"by this tracker's {embedder}")
            dimension = meta["dimension"]
            count = connection.execute("SELECT COUNT(*) FROM identities").fetchone()[0]
            if count > MAX_IDENTITIES:
                raise VcmError(f"{path}: {count} identities, more than the limit of "
                               f"{MAX_IDENTITIES}")
            rows = connection.execute(
                "SELECT id, CASE WHEN length(embedding) = ? THEN embedding END FROM identities "
                "ORDER BY id LIMIT ?", (4 * dimension, MAX_IDENTITIES)).fetchall()
    except sqlite3.Error as error:
        raise VcmError(f"{path}: not a readable vcm gallery ({error})") from None
    ids = np.zeros((len(rows),), dtype=np.int64)
    embeddings = np.zeros((len(rows), dimension), dtype=np.float32)
    for row, (identity, blob) in enumerate(rows):
        if not isinstance(identity, int) or not 1 <= identity <= 2**31 - 1:
            raise VcmError(f"{path}: malformed identity id {identity!r}")
        if not isinstance(blob, bytes):
            raise VcmError(f"{path}: identity {identity}: embedding is not {dimension} float32")
        values = np.frombuffer(blob, dtype="<f4")
        if not np.all(np.isfinite(values)):
            raise VcmError(f"{path}: identity {identity}: embedding is not finite")
        ids[row], embeddings[row] = identity, values
    return ids, embeddings


def _read_meta(path: Path, connection: sqlite3.Connection) -> dict:
    try:
        rows = connection.execute(
            "SELECT key, substr(value, 1, ?) FROM meta LIMIT 16", (MAX_META_BYTES,)).fetchall()
    except sqlite3.Error:
        raise VcmError(f"{path}: not a vcm gallery (no meta table)") from None
    meta = dict(rows)
    if meta.get("format") != FORMAT or meta.get("version") != str(VERSION):
        raise VcmError(f"{path}: not a vcm gallery of version {VERSION} (format "
                       f"{meta.get('format')!r}, version {meta.get('version')!r})")
    try:
        embedder = json.loads(meta["embedder"])
        dimension = int(meta["dimension"])
    except (KeyError, ValueError):
        raise VcmError(f"{path}: malformed gallery meta table") from None
    if not 1 <= dimension <= MAX_DIMENSION:
        raise VcmError(f"{path}: embeddings of {dimension} values (limit {MAX_DIMENSION})")
    return {"embedder": embedder, "dimension": dimension}


def write_gallery(path: str | Path, ids: np.ndarray, embeddings: np.ndarray,
                  embedder: dict) -> None:
    """Store ``ids`` (K,) and their ``embeddings`` (K, D) in the gallery at ``path``,
    creating it if missing: a known id's embedding is replaced and its run count raised, a
    new id is added; identities not given are kept. One transaction: on any failure the file
    is as it was. An existing file must be a vcm gallery of the same ``embedder``."""
    path = Path(path)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    embeddings = np.asarray(embeddings, dtype="<f4")
    if embeddings.ndim != 2 or len(embeddings) != len(ids):
        raise ValueError(f"{len(ids)} ids and embeddings of shape {embeddings.shape}")
    dimension = embeddings.shape[1]
    if not 1 <= dimension <= MAX_DIMENSION:
        raise VcmError(f"{path}: embeddings of {dimension} values (limit {MAX_DIMENSION})")
    existed = path.exists()
    if existed:
        read_gallery(path, embedder)  # refuses a file that is not such a gallery
        connection = _connect(path, read_only=False)
    else:
        connection = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            if not existed:
                connection.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
                connection.execute("CREATE TABLE identities(id INTEGER PRIMARY KEY, "
                                   "embedding BLOB NOT NULL, runs INTEGER NOT NULL)")
                connection.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("version", str(VERSION)),
                    ("embedder", json.dumps(embedder, sort_keys=True)),
                    ("dimension", str(dimension))])
            connection.executemany(
                "INSERT INTO identities(id, embedding, runs) VALUES (?, ?, 1) "
                "ON CONFLICT(id) DO UPDATE SET embedding = excluded.embedding, runs = runs + 1",
                [(int(identity), embedding.tobytes()) for identity, embedding
                 in zip(ids, embeddings)])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    except sqlite3.Error as error:
        raise VcmError(f"{path}: cannot write the gallery ({error})") from None
    finally:
        connection.close()
