-- orderpay schema v24: a back office lists a site's orders in one state, oldest first, a page at
-- a time (admin/orders: the paid orders it must ship). Without this index each page read every
-- order the site ever took; with it, the page's rows in order, after the cursor.
CREATE INDEX orders_site_state ON orders (site_id, or_st, ct, id);
