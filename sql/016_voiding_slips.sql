-- orderpay schema v16: a slip is marked `voiding_at` just before orderpay asks its provider to
-- void it (close or cancel it at expiry, when the buyer switches pay type, or when reconcile
-- closes a failed slip again; cancel or reverse an unconfirmed scan payment). Alipay's cancel
-- refunds a trade the buyer paid meanwhile, and its paid notification may have settled the slip
-- already: a crash before that refund was recorded (store::RecordReversal) left the order paid
-- while the buyer had his money back. `orderpay reconcile` asks the provider about every paid,
-- not reversed slip that carries the mark: closed means the void refunded it (a paid Alipay trade
-- is TRADE_CLOSED only once all of it went back), paid means the payment stands and the mark is
-- dropped; any other answer leaves it for the next run, behind the others (queried_at), so slips
-- a provider cannot answer for never starve the rest. The index holds only those slips, in the
-- queue's order, so a run costs what the queue holds.
ALTER TABLE pay_slips ADD COLUMN voiding_at timestamptz;

CREATE INDEX pay_slips_voided_paid ON pay_slips (queried_at NULLS FIRST, voiding_at)
    WHERE voiding_at IS NOT NULL AND st = 'OK' AND NOT reversed;
