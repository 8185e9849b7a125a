-- paysim schema v9: a PayPal capture can be REVERSED (a chargeback the buyer won), as PayPal's
-- order shows it; tests set it to see what orderpay makes of an order whose money went back.
ALTER TABLE paysim.pp_orders DROP CONSTRAINT pp_orders_capture_status_check,
    ADD CONSTRAINT pp_orders_capture_status_check
        CHECK (capture_status IN ('COMPLETED', 'PENDING', 'DECLINED', 'REVERSED'));
