-- When the job's message for its current run was last published to a
-- dispatching queue (NATS JetStream); NULL while it is to be published.
-- The embedded service, which dispatches nothing, leaves it NULL.
ALTER TABLE jobs ADD COLUMN dispatched BIGINT;
