"""A live server's persistent gallery (``vcm serve --gallery FILE``): the known identities
(:mod:`vcm.trackers.gallery`) that each session's tracker with appearance starts from and adds
to, so that a restarted session of the same scene keeps the same ids.

One server, several sessions: each session reads the gallery when it starts
(:meth:`LiveGallery.check_out`) and stores its identities in one transaction when it ends
(:meth:`LiveGallery.check_in`); both hold the server's gallery lock, so sessions update the
file one after another. Sessions in a row see each other's identities. Two sessions that
overlap both start from the file as it was when each started: an identity both knew keeps its
id (the later session's embedding is stored last); a new identity of the later one whose id
the earlier one has already stored for another person is stored under the next id neither
the file nor the session uses (its session's tracks keep the id they were sent with; the
session's record says which ids were stored under which, ``gallery.renumbered``), so no
session's identity overwrites another's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcm.trackers.gallery import read_gallery, write_gallery


@dataclass(frozen=True)
class Lease:
    """What a session read at its start: the embedder's description and the largest id the
    gallery held (ids above it are the session's new identities)."""

    embedder: dict
    known_max: int


class LiveGallery:
    """The gallery file of a server and the lock its sessions take to read and write it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def check_out(self, embedder) -> tuple[tuple[np.ndarray, np.ndarray], Lease]:
        """The known identities (ids int64 (K,), embeddings float32 (K, D)) for a tracker
        whose appearance ``embedder`` is given, and the session's lease. Raises
        :class:`vcm.errors.VcmError` for a file that is not a gallery of this embedder."""
        description = embedder.describe()
        with self._lock:
            ids, embeddings = read_gallery(self.path, description)
        if not len(ids):
            embeddings = np.zeros((0, embedder.dimension), dtype=np.float32)
        known_max = int(ids.max()) if len(ids) else 0
        return (ids, embeddings), Lease(description, known_max)

    def check_in(self, ids: np.ndarray, embeddings: np.ndarray, lease: Lease) -> dict[int, int]:
        """Store a session's identities (ids (K,), embeddings (K, D)) under the lock; return
        ``{session id: stored id}`` for the new identities stored under another id (another
        session stored that id since this one started; see the module docstring)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1).copy()
        if not len(ids):
            return {}
        with self._lock:
            stored, _ = read_gallery(self.path, lease.embedder)
            taken = set(int(identity) for identity in stored)
            next_id = max([*taken, *map(int, ids)]) + 1
            renumbered = {}
            for index, identity in enumerate(ids):
                if identity > lease.known_max and int(identity) in taken:
                    renumbered[int(identity)] = next_id
                    ids[index] = next_id
                    next_id += 1
            write_gallery(self.path, ids, embeddings, lease.embedder)
        return renumbered
