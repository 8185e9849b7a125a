// Pieces of SQL text the store's statement files share.
#pragma once

// A timestamp column as milliseconds since the epoch, as every reply carries times.
#define MS(col) "(extract(epoch from " col ") * 1000)::bigint"
