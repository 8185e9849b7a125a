-- orderpay schema v22: a buyer's tickets found by their account. admin/ticket_revoke and
-- `orderpay ticket revoke --account` end every ticket of an account (at logout, or when one
-- leaked); sessions are kept after they end, one row per login, and only the ticket's hash was
-- indexed, so each such revoke read every ticket ever issued. The statements do not need it to
-- prepare: a worker on a database without it still runs them, more slowly.
CREATE INDEX sessions_account ON sessions (store_id, account_id);
