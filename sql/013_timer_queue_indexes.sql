-- orderpay schema v13: the timers' queues are read by index. `orderpay reconcile`
-- (slips_waiting_due) read every pay slip ever made to find the few still waiting, and
-- `orderpay inbox replay --verdict error` (notify_received) every notification ever stored:
-- both run every five minutes for the life of the shop, so their cost grew with its history
-- instead of with the queue. The waiting index is in the statement's own order, so the timer
-- reads its LIMIT and stops.
CREATE INDEX pay_slips_waiting ON pay_slips (queried_at NULLS FIRST, ct)
    WHERE st IN ('NEW', 'WAIT') AND NOT superseded;

-- Both verdicts the replay takes; the statement repeats the list so that a generic plan, which
-- does not know $3, can still prove the index covers its rows.
CREATE INDEX notifications_undecided ON notifications (verdict, ct) WHERE verdict IN ('received', 'error');
DROP INDEX notifications_received;
