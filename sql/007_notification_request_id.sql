-- nginx's $request_id of the request that delivered each notification (REQUEST_ID FastCGI
-- param), so a stored notification can be followed to nginx's access log and orderpayd's log.
-- NULL for rows stored before this migration or delivered without one.
ALTER TABLE notifications
    ADD COLUMN request_id text
        CHECK (request_id IS NULL OR request_id ~ '^[A-Za-z0-9._-]{1,64}$');
