-- orderpay schema v14: `orderpay reconcile` lists the slips an operator must look at (refunds
-- owed, amount/currency mismatches, payments reported twice, slips open or unclosed too long).
-- It read every pay slip ever made and, for each unpaid one, its notifications: every five
-- minutes, a cost that grew with the shop's history. The list is now gathered from indexes,
-- one per reason a slip can be on it; these two cover the rejected notifications it looks for
-- (the statement repeats their conditions exactly, so the planner can prove them).
CREATE INDEX notifications_mismatch ON notifications (slip_id)
    WHERE verdict = 'rejected' AND reason ~ '^(amount|currency) check failed: |amount/currency .* != slip ';
CREATE INDEX notifications_paid_again ON notifications (ct)
    WHERE verdict = 'rejected' AND reason ~ '^slip already OK with transaction ';
