-- 0010: file bytes for attachments (server/store/blobs/postgres.py), so that every node serves what any node stored.
-- A blob is named by the SHA-256 of its content; its bytes are chunks of at most 256 KiB.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE blob_chunks (
    sha256 TEXT NOT NULL,
    idx    INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (sha256, idx)
);
