-- orderpay schema v4: what the operator put on the shelf, so stock can be audited:
-- stock_initial = stock (available) + what orders holding stock took (`orderpay audit`).
ALTER TABLE products ADD COLUMN stock_initial bigint CHECK (stock_initial >= 0);

UPDATE products p SET stock_initial = p.stock + coalesce((
    SELECT sum(i.amount) FROM order_items i JOIN orders o ON o.id = i.order_id
    WHERE o.site_id = p.site_id AND i.product_id = p.id AND o.stock_held), 0)
WHERE p.stock IS NOT NULL;
