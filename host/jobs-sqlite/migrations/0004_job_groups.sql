-- Job groups: one sweep (a submission over several platforms, profiles,
-- engines, devices or thread counts) and its cells, in the order asked, as
-- JSON: each cell's platform, profile, engine, device and threads, with
-- its job's id or why it was refused at submission. The jobs themselves
-- are ordinary rows of `jobs`.
CREATE TABLE job_groups (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created BIGINT NOT NULL,
    cells TEXT NOT NULL
);
