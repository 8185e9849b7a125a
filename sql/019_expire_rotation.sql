-- orderpay schema v19: `orderpay expire` no longer starves behind orders it cannot close. Each run
-- took the `--limit` (500) orders longest past their expiry; an order whose slip cannot be closed
-- (its provider down, refusing or lying, not configured, its merchant gone) is left open for the
-- next run, and that run took the same orders first. Once 500 were stuck, no order behind them
-- was ever expired again, so their stock stayed held. Now a run marks each order it leaves open
-- (`expire_tried_at`) and takes orders never tried first, in expiry order, then the ones tried
-- longest ago: every due order is tried within a few runs, whatever the others do.
--
-- Only the CLI reads and writes the column; orderpayd never names it, so this build's orderpayd
-- serves a database that has not run this migration yet (the README's upgrade: `dpkg -i`, then
-- `orderpay migrate` while it serves). The index holds only tried, still-open orders: the retry
-- queue, in its own order, so the run reads its LIMIT and stops.
ALTER TABLE orders ADD COLUMN expire_tried_at timestamptz;
CREATE INDEX orders_expire_retry ON orders (expire_tried_at)
    WHERE or_st IN ('NW', 'WT') AND expire_tried_at IS NOT NULL;
