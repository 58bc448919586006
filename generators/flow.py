"""Flow control for one endpoint: how many requests it gets at once, and when to stop asking.

`AdaptiveLimit` finds the concurrency a server can take instead of trusting a fixed number.
Local servers (llama.cpp, vLLM, Ollama) queue requests rather than refuse them, so sending more
than their slots only makes every answer slower until requests time out. The limit starts low and
triples each round trip while answers come back at the speed of an idle server (slow start), then
grows by one a round trip (additive increase). It is cut when the server shows it is full: halved
on 429, 503, an overload 500 or a timeout, and scaled down when answers take much longer per token
than the fastest seen (the requests are queueing). At most one cut per round trip, so a burst of
refusals from one moment counts once. `--concurrency` is its ceiling.

`Breaker` stops sending to an endpoint that fails every request (connection refused, 5xx,
timeouts) with no answer in between: after `after` failures in a row it opens for a cooldown,
then lets one probe through; a probe that fails doubles the cooldown, and `probes` failed probes
take the endpoint out of the job.

Both are plain state machines driven by the Teacher (no I/O of their own): `now` is passed in.
"""

from __future__ import annotations

import asyncio

START = 4              # requests in flight to begin with (at most the ceiling)
QUEUEING = 1.8         # per-token latency this many times the fastest seen: requests queue
TOKENS_OFFSET = 20     # latency is compared per (answer tokens + this): prompts cost too
BASE_DRIFT = 1.02      # the fastest-seen latency creeps up by this per answer (forgets flukes)
SLOW_START_GROWTH = 2  # added per fast answer in slow start: the limit triples each round trip


class AdaptiveLimit:
    def __init__(self, ceiling: int, adaptive: bool = True):
        self.ceiling, self.adaptive = ceiling, adaptive
        self.limit = float(min(START, ceiling) if adaptive else ceiling)
        self.slow_start = adaptive
        self.in_flight = 0
        self.base: float | None = None     # fastest per-token latency (ms), slowly forgotten
        self.recent: float | None = None   # moving average of per-token latency (ms)
        self.fastest_s: float | None = None  # fastest whole request (s), for queue allowance
        self.cuts = 0
        self._last_cut = -1e9
        self._freed: asyncio.Event | None = None

    @property
    def allowed(self) -> int:
        return max(1, min(self.ceiling, int(self.limit)))

    @property
    def free(self) -> int:
        return self.allowed - self.in_flight

    async def acquire(self) -> None:
        while self.in_flight >= self.allowed:
            if self._freed is None:
                self._freed = asyncio.Event()
            await self._freed.wait()
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1
        if self._freed is not None:
            self._freed.set()
            self._freed = None

    def queue_allowance(self, in_flight: int) -> float:
        """Seconds a request sent behind `in_flight` others may wait in the server's queue on
        top of its own time: added to its timeout, so work that is merely queued at a busy local
        server is not failed by a timeout."""
        return (self.fastest_s or 0.0) * max(0, in_flight - 1)

    def answered(self, latency_s: float, tokens_out: int, now: float) -> None:
        self.fastest_s = latency_s if self.fastest_s is None else min(self.fastest_s, latency_s)
        if not self.adaptive:
            return
        per_token = latency_s * 1000 / (max(0, tokens_out) + TOKENS_OFFSET)
        self.base = per_token if self.base is None else min(self.base * BASE_DRIFT, per_token)
        self.recent = per_token if self.recent is None else 0.7 * self.recent + 0.3 * per_token
        # In slow start one slow answer is enough to stop doubling; after it, the average.
        seen = max(self.recent, per_token) if self.slow_start else self.recent
        if seen > QUEUEING * self.base:
            # answers come back slower than the server can make them: they queue
            self._cut(max(0.5, min(0.9, QUEUEING * self.base / seen)), now, latency_s)
        elif self.slow_start:
            self.limit = min(self.ceiling, self.limit + SLOW_START_GROWTH)
        else:
            self.limit = min(self.ceiling, self.limit + 1 / self.limit)

    def overloaded(self, now: float, latency_s: float | None = None) -> None:
        """429, 503, an overload 500 or a timeout: halve (once a round trip)."""
        if self.adaptive:
            self._cut(0.5, now, latency_s)

    def _cut(self, factor: float, now: float, latency_s: float | None) -> None:
        round_trip = latency_s or self.fastest_s or 0.1
        if now - self._last_cut < round_trip:
            return
        self._last_cut = now
        self.slow_start = False
        self.limit = max(1.0, self.limit * factor)
        self.cuts += 1


class Breaker:
    def __init__(self, after: int = 5, cooldown: float = 1.0, probes: int = 3,
                 quiet: float = 2.0):
        self.after, self.cooldown0, self.probes, self.quiet = after, cooldown, probes, quiet
        self.failures = 0            # in a row, with no answer in between
        self.last_ok: float | None = None
        self.open_until: float | None = None
        self.cooldown = cooldown
        self.failed_probes = 0
        self.probing = False
        self.last_reason = ""

    @property
    def is_open(self) -> bool:
        return self.open_until is not None

    def ready(self, now: float) -> bool:
        """Whether a request may go now: always when closed; one probe at a time when the
        cooldown of an open breaker is over."""
        if self.open_until is None:
            return True
        return not self.probing and now >= self.open_until

    def sending(self) -> bool:
        """Called when a request goes; True when it is the open breaker's probe."""
        if self.open_until is None:
            return False
        self.probing = True
        return True

    def ok(self, now: float) -> None:
        self.failures, self.failed_probes, self.probing = 0, 0, False
        self.open_until, self.cooldown, self.last_ok = None, self.cooldown0, now

    def failed(self, reason: str, now: float, probe: bool) -> bool:
        """A request failed as a down server fails. True when the endpoint should be taken out
        of the job (its probes kept failing)."""
        self.failures += 1
        self.last_reason = reason
        if probe:
            self.probing = False
            self.failed_probes += 1
            if self.failed_probes >= self.probes:
                return True
            self.cooldown *= 2
            self.open_until = now + self.cooldown
            return False
        answered_lately = self.last_ok is not None and now - self.last_ok < self.quiet
        if self.open_until is None and self.failures >= self.after and not answered_lately:
            self.open_until = now + self.cooldown
        return False

    def describe(self) -> str:
        return (f"{self.failures} failures in a row, {self.failed_probes} failed probes; the "
                f"last: {self.last_reason}")
