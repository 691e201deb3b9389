-- Each run of a job: a worker's lease from its claim to its end. `outcome`
-- is passed, failed (with `failure`), lapsed (its worker stopped
-- answering) or cancelled; NULL while it runs.
CREATE TABLE runs (
    job TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    worker TEXT NOT NULL,
    started BIGINT NOT NULL,
    ended BIGINT,
    outcome TEXT,
    failure TEXT,
    PRIMARY KEY (job, attempt)
);

-- Uploaded files by SHA-256 (their bytes are in the content store or the
-- queue's object store, never here): size, first upload, last use.
CREATE TABLE uploads (
    sha256 TEXT PRIMARY KEY,
    bytes BIGINT NOT NULL,
    created BIGINT NOT NULL,
    used BIGINT NOT NULL
);
