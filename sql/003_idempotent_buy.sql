-- orderpay schema v3: idempotent pay/buy. A buyer's Idempotency-Key names one order for 24 hours;
-- the SHA-256 of the request body tells a retry (same body: the same order) from a mistake
-- (another body: 409). The unique index makes concurrent requests with one key create one order.
ALTER TABLE orders
    ADD COLUMN idem_key  text CHECK (idem_key ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    ADD COLUMN idem_hash bytea CHECK (idem_hash IS NULL OR length(idem_hash) = 32),
    ADD CONSTRAINT orders_idem_pair CHECK ((idem_key IS NULL) = (idem_hash IS NULL));

CREATE UNIQUE INDEX orders_idem ON orders (site_id, buyer_store, buyer_id, idem_key) WHERE idem_key IS NOT NULL;
