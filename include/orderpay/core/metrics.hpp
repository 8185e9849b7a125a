// Prometheus metrics summed over every worker: counters and histograms in one shared memory
// region the master maps before it forks, one slot per worker, updated with relaxed atomics.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace orderpay::metrics {

/// What a provider call was: a payment created, a query, a close, a refund, a refund's query.
enum class Op { kCreate, kQuery, kClose, kRefund, kRefundQuery };

/// How a provider call ended: `ok` it answered and we know the state; `failed` a definite
/// refusal; `unknown` an answer we could not use; `timeout` no answer; `error` an exception.
enum class Outcome { kOk, kFailed, kUnknown, kTimeout, kError };

/// The master, once, before forking: maps the region (MAP_SHARED | MAP_ANONYMOUS, so every
/// worker forked afterwards writes into the same pages). Without it every call below is a no-op
/// (paysim, the CLI, unit tests that do not ask for it). False if mmap failed.
bool Init();

/// True after Init.
bool Enabled();

/// Slots available to workers; 0 when not initialised.
int SlotCount();

/// In a worker right after fork: the slot its counters go to. Two processes may share a slot
/// (more workers than slots, a reload's overlap): the atomics stay exact, only contention grows.
void UseSlot(int slot);

/// The current worker is set up and about to take requests: its pid is marked in its slot.
/// WasReady(slot, pid) tells the master, once that worker died, whether it got so far (a worker
/// that cannot start is respawned with backoff, one that was serving at once). A mark another
/// worker of the slot made since (more workers than slots) reads as not ready.
void WorkerReady();
bool WasReady(int slot, pid_t pid);

/// The master: a worker died and is being replaced; its slot is no longer busy, nor marked
/// ready by it.
void WorkerRestarted();
void ClearSlot(int slot, pid_t pid);
void SetWorkersConfigured(int n);

/// The current worker starts / ends a request (the busy-workers gauge).
void BusyBegin();
void BusyEnd();

/// A request answered: its route is derived from the path (a bounded label set; anything
/// else is "other"), its status bucketed into the statuses we answer (else "other").
void Request(std::string_view path, int status, double seconds);

/// A call to a provider's gateway by the app (`provider`: the registry id).
void ProviderCall(std::string_view provider, Op op, Outcome outcome, double seconds);

/// A notification decided with `verdict` (settled, duplicate, ignored, rejected, error), or
/// "paced" (its provider call was left to another message for the slip).
void Notification(std::string_view provider, std::string_view verdict);

/// A notification's verification key (PayPal's certificate URL) was not fetched because this
/// worker's budget of new downloads was spent: many new key URLs are someone probing.
void KeyFetchRefused(std::string_view provider);

/// A database statement failed: `unavailable` (connection lost) or `statement` (the server
/// refused it); `connect` a (re)connection attempt failed. A reconnect succeeded.
void DbError(std::string_view kind);
void DbReconnect();

/// A statement's answer came back from the database (one round trip, BEGIN and COMMIT included).
/// Counted for the request being answered, under its route, when Request() is called: how
/// many round trips each endpoint makes is a property the design promises (one for pay/check).
void DbRoundTrip();

/// The route label metrics give `path` ("pay/check", "healthz", "other"...).
std::string_view RouteLabel(std::string_view path);

/// Every metric in the Prometheus text exposition format (version 0.0.4), summed over slots.
std::string Exposition();

}  // namespace orderpay::metrics
