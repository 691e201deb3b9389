-- The schema as lpdnn-host wrote it before migrations were versioned (stop
-- 22): `IF NOT EXISTS` throughout, so a jobs.db of that time adopts this
-- migration as it is and keeps its jobs. Later migrations are plain.
-- Portable SQL: a PostgreSQL back end follows the same numbering.

CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    platform TEXT NOT NULL,
    profile TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    failure TEXT,
    message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    worker TEXT,
    lease_until INTEGER,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    started INTEGER,
    finished INTEGER,
    retry_of TEXT,
    progress TEXT,
    report TEXT,
    sandbox TEXT
);

-- A platform's queue, oldest first (each claim).
CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (platform, profile, status, seq);
-- The profiling dataset: passed jobs by the time they finished.
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (status, result, finished);
-- The sweeps at each claim: lapsed leases, queue time-to-live.
CREATE INDEX IF NOT EXISTS jobs_leases ON jobs (status, lease_until);
CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (status, expires);
-- Quotas: an owner's active jobs.
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, status);
-- An owner's jobs, newest first (`GET /v1/jobs`).
CREATE INDEX IF NOT EXISTS jobs_owner_seq ON jobs (owner, seq);

CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    info TEXT NOT NULL,
    seen INTEGER NOT NULL
);
