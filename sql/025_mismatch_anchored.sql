-- orderpay schema v25: `orderpay reconcile` lists a slip MISMATCH (its provider reported another
-- amount or currency paid) on a rejected notification whose reason says so. The pattern was
-- anchored at one of its two branches only, so a refusal quoting a stranger's text (a claimed
-- sign_type, a refund id) could read as such a report (review s28-attack #1, s28b-attack #1).
-- The pattern is now anchored to what writes one (src/store/sql_text.hpp MISMATCH_RE); the
-- statements repeat this condition exactly, so the planner can prove this index serves them.
DROP INDEX notifications_mismatch;
CREATE INDEX notifications_mismatch ON notifications (slip_id)
    WHERE verdict = 'rejected' AND reason ~ '^((amount|currency) check failed: |(completed: |confirmed by query( \(capture [^ ]*, notified [^ ]*\))?: |notified [^ ]*, but paid by query: )?amount/currency [^ ]* [^ ]* != slip )';
