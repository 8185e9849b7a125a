-- A test knob on paysim's PayPal orders: the amount value its answers report for the order's
-- capture (capture calls and GET of the order) instead of what was captured, so a test can make
-- PayPal answer a repeated capture with another amount. NULL: the truth.
ALTER TABLE paysim.pp_orders ADD COLUMN capture_value text;
