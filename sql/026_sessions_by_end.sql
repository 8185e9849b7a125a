-- orderpay schema v26: ended tickets found by when they ended. Every login (admin/ticket,
-- `orderpay ticket issue`) adds a row to sessions, and a revoke only moves its expiry to the
-- moment it ended, so the table grew with every login for good. `orderpay expire` now drops the
-- rows that ended over ticket.keep_ended_days ago (`orderpay ticket prune` on demand), oldest
-- first through this index, so each run reads only the rows it drops. The prune does not need it
-- to run (a database not yet migrated is read whole); `expire` waits for it.
CREATE INDEX sessions_expiry ON sessions (expires_at);
