-- orderpay schema v21: how long the inbox keeps what it no longer needs. Every notification is
-- stored raw before it is judged, forged ones too, so one client could fill the disk with them
-- (nginx's limit slows that, it does not bound it). `orderpay expire` (every minute) now drops
-- rows decided long ago (notify.keep_rejected_days for 'rejected', notify.keep_days for the
-- other verdicts; `orderpay inbox prune` on demand), oldest first, a batch at a time, through this
-- index: a run costs what is due, not the inbox's history. Undecided rows ('received', 'error')
-- are never in it, and the reports reconcile lists (mismatch, paid again, outside refund, refund
-- conflict) are kept by the statement whatever their age.
CREATE INDEX notifications_decided ON notifications (verdict, ct)
    WHERE verdict IN ('settled', 'duplicate', 'ignored', 'rejected');
