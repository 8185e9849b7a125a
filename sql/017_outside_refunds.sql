-- orderpay schema v17: a refund made outside orderpay (the provider's own console) reaches us as
-- a signed refund notification naming no refund of ours; it is acknowledged and kept in the inbox
-- as 'ignored', and the order still counts the payment. `orderpay reconcile` names its slip for a
-- week (kind OUTSIDE) from this index, as it does payments reported twice (migration 014); the
-- statement repeats its condition exactly, so the planner can prove it.
CREATE INDEX notifications_outside_refund ON notifications (ct)
    WHERE verdict = 'ignored' AND reason ~ '^no refund of ours named ';
