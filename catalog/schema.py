"""The catalog's schema: a version number and forward migrations."""

from __future__ import annotations

import sqlite3

from catalog.errors import SchemaTooNew

# Each migration takes the catalog from version N-1 to N. Append, never edit:
# a catalog on disk remembers the last version it reached (PRAGMA user_version).
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE synsets (
        wnid TEXT PRIMARY KEY,
        words TEXT,
        gloss TEXT,
        parent TEXT
    );
    CREATE TABLE urls (
        url TEXT PRIMARY KEY,
        source TEXT NOT NULL CHECK (source IN ('imagenet', 'web', 'local')),
        wnid TEXT,
        image_id TEXT,              -- e.g. n07631926_123 from a mapping list
        found_on TEXT,              -- the page a web image was found on
        discovered_at TEXT NOT NULL,
        fetched_at TEXT,            -- NULL until a fetch attempt finished
        http_status INTEGER,
        error TEXT,                 -- network error token; NULL when fetched fine
        content_type TEXT,
        bytes INTEGER,
        final_url TEXT,             -- after redirects
        sha256 TEXT,                -- of the body, when one was stored
        status TEXT,                -- judgment of curate check (dead, ...)
        reason TEXT
    );
    CREATE INDEX urls_sha256 ON urls (sha256);
    CREATE INDEX urls_wnid ON urls (wnid);
    CREATE INDEX urls_fetched_at ON urls (fetched_at);
    CREATE TABLE images (
        sha256 TEXT PRIMARY KEY,
        path TEXT NOT NULL,         -- relative to the data directory
        bytes INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        format TEXT,                -- as decoded by Pillow (JPEG, PNG, ...)
        width INTEGER,
        height INTEGER,
        mode TEXT,
        frames INTEGER,
        pixel_sha256 TEXT,          -- of the decoded pixels: same picture, other encoding
        status TEXT,                -- ok, empty, corrupt, not_image, placeholder, too_small
        reason TEXT,
        phash INTEGER,              -- 64-bit perceptual hashes as signed int64
        dhash INTEGER,
        whash INTEGER,
        duplicate_of TEXT,          -- sha256 of the kept image of its group
        duplicate_reason TEXT,
        checked_at TEXT
    );
    CREATE INDEX images_status ON images (status);
    CREATE INDEX images_duplicate_of ON images (duplicate_of);
    CREATE INDEX images_pixel_sha256 ON images (pixel_sha256);
    CREATE TABLE reviews (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'skip', 'undo')),
        note TEXT,
        decided_at TEXT NOT NULL,
        undoes INTEGER REFERENCES reviews (id)  -- set on 'undo' rows: the row withdrawn
    );
    CREATE INDEX reviews_sha256 ON reviews (sha256, id);
    CREATE INDEX reviews_undoes ON reviews (undoes);
    -- The decision in force per image: its latest accept/reject/skip row not withdrawn by an undo.
    CREATE VIEW decisions AS
        SELECT r.sha256, r.decision, r.note, r.decided_at, r.id AS review_id
        FROM reviews r
        WHERE r.decision != 'undo'
          AND NOT EXISTS (SELECT 1 FROM reviews u WHERE u.undoes = r.id)
          AND r.id = (
              SELECT max(x.id) FROM reviews x
              WHERE x.sha256 = r.sha256 AND x.decision != 'undo'
                AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.undoes = x.id)
          );
    CREATE TABLE placeholders (
        hash INTEGER NOT NULL,      -- pHash of a known placeholder, signed int64
        name TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (hash)
    );
    CREATE TABLE duplicate_log (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        old_duplicate_of TEXT,
        new_duplicate_of TEXT,
        action TEXT NOT NULL,       -- dedup, keeper, break
        decided_at TEXT NOT NULL
    );
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        command TEXT NOT NULL,
        args TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        stats TEXT
    );
    """,
    4: """
    -- Human dedup decisions (curate review --duplicates); `curate dedup` reruns respect them.
    CREATE TABLE not_duplicates (
        sha256_a TEXT NOT NULL,     -- the smaller sha256 of a pair a reviewer said differ
        sha256_b TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        PRIMARY KEY (sha256_a, sha256_b),
        CHECK (sha256_a < sha256_b)
    );
    CREATE TABLE keeper_choices (
        sha256 TEXT PRIMARY KEY,    -- an image a reviewer placed in a duplicate group
        keeper TEXT NOT NULL,       -- the image kept for that group (itself for the keeper)
        decided_at TEXT NOT NULL
    );
    CREATE INDEX keeper_choices_keeper ON keeper_choices (keeper);
    """,
    5: """
    -- Sources that exist today (Wikimedia Commons, Openverse) and per-URL provenance.
    -- SQLite cannot alter a CHECK constraint, so urls is rebuilt with its rows kept.
    CREATE TABLE urls_v5 (
        url TEXT PRIMARY KEY,
        source TEXT NOT NULL
            CHECK (source IN ('imagenet', 'web', 'local', 'commons', 'openverse')),
        wnid TEXT,
        image_id TEXT,
        found_on TEXT,
        discovered_at TEXT NOT NULL,
        fetched_at TEXT,
        http_status INTEGER,
        error TEXT,
        content_type TEXT,
        bytes INTEGER,
        final_url TEXT,
        sha256 TEXT,
        status TEXT,
        reason TEXT,
        license TEXT,               -- short id: cc-by-4.0, cc0-1.0, pdm, ...; NULL = unknown
        license_url TEXT,
        creator TEXT,
        creator_url TEXT,
        landing_url TEXT,           -- the page that describes the image (file page, record)
        title TEXT,
        attribution TEXT,           -- a ready-to-print credit line
        source_id TEXT              -- the source API's own id (Commons title, Openverse id)
    );
    INSERT INTO urls_v5 (url, source, wnid, image_id, found_on, discovered_at, fetched_at,
                         http_status, error, content_type, bytes, final_url, sha256, status, reason)
        SELECT url, source, wnid, image_id, found_on, discovered_at, fetched_at,
               http_status, error, content_type, bytes, final_url, sha256, status, reason
        FROM urls;
    DROP TABLE urls;
    ALTER TABLE urls_v5 RENAME TO urls;
    CREATE INDEX urls_sha256 ON urls (sha256);
    CREATE INDEX urls_wnid ON urls (wnid);
    CREATE INDEX urls_fetched_at ON urls (fetched_at);
    CREATE INDEX urls_license ON urls (license);
    """,
    7: """
    -- pHashes of the central region (5% and 10% cut per side): curate dedup's crop candidates.
    ALTER TABLE images ADD COLUMN centre5_phash INTEGER;
    ALTER TABLE images ADD COLUMN centre10_phash INTEGER;
    """,
    8: """
    -- The method of the stored perceptual hashes (curate.hashing.HASH_VERSION); NULL on a
    -- row hashed before versions were recorded (method 1). Other versions are recomputed.
    ALTER TABLE images ADD COLUMN hash_version INTEGER;
    """,
    9: """
    -- What the sources say beyond licence and creator (docs/sources.md). Commons: Credit is
    -- the file's source ("Own work", a Flickr page), never its author; AttributionRequired,
    -- UsageTerms and Restrictions (personality rights, trademarks...) as extmetadata gives
    -- them. Openverse: its source (the dataset) and provider, and its mature flag.
    ALTER TABLE urls ADD COLUMN credit TEXT;
    ALTER TABLE urls ADD COLUMN attribution_required INTEGER;  -- 1, 0; NULL = not said
    ALTER TABLE urls ADD COLUMN usage_terms TEXT;
    ALTER TABLE urls ADD COLUMN restrictions TEXT;  -- Commons' own words, |-separated
    ALTER TABLE urls ADD COLUMN upstream_source TEXT;  -- Openverse's source (flickr, ...)
    ALTER TABLE urls ADD COLUMN provider TEXT;
    ALTER TABLE urls ADD COLUMN mature INTEGER;  -- 1, 0; NULL = not said
    """,
}

SCHEMA_VERSION = max(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn`` up to :data:`SCHEMA_VERSION`; return the version it started at.

    The version is read and the migrations applied inside one ``BEGIN IMMEDIATE``
    transaction, so two processes opening a new catalog at once cannot both migrate it,
    and a migration is applied whole or not at all.

    :raises SchemaTooNew: if the file was written by a newer synthset.
    """
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return SCHEMA_VERSION  # the common case: no write lock needed
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"catalog schema version {current} is newer than this synthset "
                f"understands ({SCHEMA_VERSION}); upgrade synthset"
            )
        for version in sorted(v for v in MIGRATIONS if v > current):
            for statement in split_statements(MIGRATIONS[version]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return current


def split_statements(script: str) -> list[str]:
    """The complete SQL statements of ``script``, in order."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:60]!r}")
    return statements
