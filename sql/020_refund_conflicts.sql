-- orderpay schema v20: a provider's word that contradicts a refund result orderpay recorded (a
-- refund-result notification saying OK of a refund recorded FAIL, on the operator's word or the
-- provider's earlier answer; or a second refund under our id) is acknowledged and kept in the
-- inbox as 'ignored' with a reason starting 'conflict: refund ', and never written over the
-- refund. `orderpay reconcile` names its slip for a week (kind CONFLICT) from this index, as it
-- does refunds made outside orderpay (migration 017); the statement repeats its condition exactly.
CREATE INDEX notifications_refund_conflict ON notifications (ct)
    WHERE verdict = 'ignored' AND reason ~ '^conflict: refund ';
