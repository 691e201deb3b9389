-- The schema of lpdnn-jobs-sqlite's 0001 in PostgreSQL's types: the same
-- tables, columns and indexes, numbered alike (times are milliseconds
-- since the Unix epoch, as BIGINT; counters BIGINT, read as i64 as on
-- SQLite).

CREATE TABLE jobs (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    platform TEXT NOT NULL,
    profile TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    failure TEXT,
    message TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    worker TEXT,
    lease_until BIGINT,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    started BIGINT,
    finished BIGINT,
    retry_of TEXT,
    progress TEXT,
    report TEXT,
    sandbox TEXT
);

-- A platform's queue, oldest first (each claim).
CREATE INDEX jobs_waiting ON jobs (platform, profile, status, seq);
-- The profiling dataset: passed jobs by the time they finished.
CREATE INDEX jobs_finished ON jobs (status, result, finished);
-- The sweeps: lapsed leases, queue time-to-live.
CREATE INDEX jobs_leases ON jobs (status, lease_until);
CREATE INDEX jobs_expiry ON jobs (status, expires);
-- Quotas: an owner's active jobs.
CREATE INDEX jobs_owner ON jobs (owner, status);
-- An owner's jobs, newest first (`GET /v1/jobs`).
CREATE INDEX jobs_owner_seq ON jobs (owner, seq);

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    info TEXT NOT NULL,
    seen BIGINT NOT NULL
);
