-- orderpay schema v23: the inbox no longer keeps a caller's credentials. Rows stored before this
-- release hold every header of the request, so a buyer's return to the shop's own host kept the
-- shop's session cookie (and any Authorization or Proxy-Authorization header) for as long as the
-- row lives; operators read the inbox, and no provider signs with these headers, so a replay
-- judges the row the same without them. New rows never store them (handlers/notify.cpp).
--
-- header_form is what http::EncodeForm writes: `name=value` pairs joined by '&', with '&' and '='
-- percent-escaped inside names and values, and names exactly as nginx passes them (upper case).
-- So a pair is removed when its name is exactly one of the three (HTTP_COOKIE_X stays, and a
-- value that mentions them cannot match), and the rest is joined again in order, with no '&' left
-- dangling where a removed pair was first or last.
UPDATE notifications
SET header_form = coalesce((SELECT string_agg(pair, '&' ORDER BY n)
                            FROM unnest(string_to_array(header_form, '&')) WITH ORDINALITY AS p (pair, n)
                            WHERE split_part(pair, '=', 1)
                                  NOT IN ('HTTP_COOKIE', 'HTTP_AUTHORIZATION', 'HTTP_PROXY_AUTHORIZATION')),
                           '')
WHERE header_form ~ '(^|&)HTTP_(COOKIE|AUTHORIZATION|PROXY_AUTHORIZATION)(=|&|$)';
