"""Per-node health bookkeeping behind /diagnostics, shared by both runtimes.

Counts what every input received, rejected and dropped, times the callbacks, notices
stale inputs and synchronisers that get inputs but emit no sets (the "topics do not
appear to be synchronized" trap), and rate-limits the log lines that go with it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from percept.domain import DiagnosticLevel, DiagnosticStatus
from percept.units import NS_PER_S

__all__ = ["InputStats", "NodeMonitor", "RateLimiter", "SyncStats"]


class RateLimiter:
    """At most one event per key every ``period_ns`` of the runtime clock."""

    def __init__(self, period_ns: int = 5 * NS_PER_S) -> None:
        """Create a limiter that lets one event per key through every ``period_ns``."""
        self.period_ns = period_ns
        self._last: dict[str, int] = {}
        self.suppressed: dict[str, int] = {}

    def allow(self, key: str, now_ns: int) -> bool:
        """True when an event for ``key`` may be logged now."""
        last = self._last.get(key)
        if last is None or now_ns - last >= self.period_ns or now_ns < last:
            self._last[key] = now_ns
            return True
        self.suppressed[key] = self.suppressed.get(key, 0) + 1
        return False

    def take_suppressed(self, key: str) -> int:
        """How many events for ``key`` were held back since the last one logged."""
        return self.suppressed.pop(key, 0)


@dataclass
class InputStats:
    """Counters of one input."""

    received: int = 0
    rejected: int = 0
    dropped: int = 0
    last_reason: str = ""
    last_reject_ns: int | None = None
    last_recv_ns: int | None = None
    last_stamp_ns: int | None = None
    arrivals_ns: deque[int] = field(default_factory=lambda: deque(maxlen=50))

    def rate_hz(self) -> float:
        """Mean arrival rate over the last 50 messages (0 when unknown)."""
        if len(self.arrivals_ns) < 2:
            return 0.0
        span = self.arrivals_ns[-1] - self.arrivals_ns[0]
        return 0.0 if span <= 0 else (len(self.arrivals_ns) - 1) * NS_PER_S / span


@dataclass
class SyncStats:
    """Counters of one synchronised group."""

    inputs: tuple[str, ...]
    slop_ns: int
    approximate: bool
    sets: int = 0
    last_set_ns: int | None = None
    latest_stamps: tuple[int | None, ...] = ()


class NodeMonitor:
    """Bookkeeping for one node; every runtime feeds it the same events.

    Args:
        node_name: fully qualified node name, used as the diagnostic status name.
        inputs: input names.
        logger: where rejection and stall lines go (rate-limited).
        stale_after_ns: an input that delivered before and has been silent this long is
            stale; a sync group whose inputs arrive but that emitted nothing this long
            is stalled.
    """

    def __init__(
        self,
        node_name: str,
        inputs: Sequence[str],
        logger: logging.Logger,
        stale_after_ns: int = 2 * NS_PER_S,
    ) -> None:
        """Create empty counters for each input."""
        self.node_name = node_name
        self.logger = logger
        self.stale_after_ns = stale_after_ns
        self.inputs: dict[str, InputStats] = {name: InputStats() for name in inputs}
        self.syncs: list[SyncStats] = []
        self.latencies_ns: deque[int] = deque(maxlen=1000)
        self.callbacks = 0
        self.errors = 0
        self.time_resets = 0
        self.published: dict[str, int] = {}
        self.limiter = RateLimiter()
        #: Wall and CPU time spent serving this node's inputs and timers (decode, sync,
        #: callback, publish), and how many inputs/timer wake-ups that was.
        self.busy_ns = 0
        self.cpu_ns = 0
        self.work_items = 0
        self.last_drop_ns: int | None = None

    def add_sync(self, inputs: tuple[str, ...], slop_ns: int, approximate: bool) -> int:
        """Register a sync group; returns its index."""
        self.syncs.append(SyncStats(inputs, slop_ns, approximate))
        return len(self.syncs) - 1

    # -- events ------------------------------------------------------------------------
    def received(self, name: str, now_ns: int, stamp_ns: int | None) -> None:
        """An input message arrived (before decoding)."""
        stats = self.inputs[name]
        stats.received += 1
        stats.last_recv_ns = now_ns
        stats.arrivals_ns.append(now_ns)
        if stamp_ns is not None:
            stats.last_stamp_ns = stamp_ns

    def rejected(self, name: str, reason: str, now_ns: int, topic: str = "") -> None:
        """An input message was refused; log it at most once per 5 s per input."""
        stats = self.inputs[name]
        stats.rejected += 1
        stats.last_reason = reason
        stats.last_reject_ns = now_ns
        key = f"reject:{name}"
        if self.limiter.allow(key, now_ns):
            held = self.limiter.take_suppressed(key)
            more = f" ({held} more rejected since last report)" if held else ""
            self.logger.warning("rejected message on %s: %s%s", topic or name, reason, more)

    def dropped(self, name: str, count: int = 1, now_ns: int | None = None) -> None:
        """Messages were dropped from an input queue (queue depth exceeded).

        With ``now_ns`` the drop also raises the status to WARN for the next
        ``stale_after_ns`` (a node slower than its inputs, as in wall-clock replay).
        """
        self.inputs[name].dropped += count
        if now_ns is not None:
            self.last_drop_ns = now_ns

    def account(self, wall_ns: int, cpu_ns: int) -> None:
        """One input or timer wake-up took ``wall_ns`` of wall and ``cpu_ns`` of CPU time."""
        self.busy_ns += wall_ns
        self.cpu_ns += cpu_ns
        self.work_items += 1

    def processed(self, latency_ns: int) -> None:
        """A callback finished in ``latency_ns`` of wall time."""
        self.callbacks += 1
        self.latencies_ns.append(latency_ns)

    def failed(self, where: str, err: BaseException, now_ns: int) -> None:
        """A callback raised something that is not an input rejection."""
        self.errors += 1
        if self.limiter.allow(f"error:{where}", now_ns):
            self.logger.error("%s failed: %s: %s", where, type(err).__name__, err, exc_info=err)

    def published_one(self, output: str) -> None:
        """One message went out on ``output``."""
        self.published[output] = self.published.get(output, 0) + 1

    def sync_emitted(self, index: int, now_ns: int) -> None:
        """A sync group produced a set."""
        group = self.syncs[index]
        group.sets += 1
        group.last_set_ns = now_ns

    def time_reset(self, name: str, now_ns: int, back_ns: int) -> None:
        """Stamps on an input jumped back far enough to be a new timeline."""
        self.time_resets += 1
        if self.limiter.allow(f"reset:{name}", now_ns):
            self.logger.warning(
                "time on %s jumped back %.3f s: resetting synchronisers", name, back_ns / NS_PER_S
            )

    # -- reporting ---------------------------------------------------------------------
    def sync_problem(self, index: int, now_ns: int) -> str | None:
        """Why a sync group looks stuck, with the stamp offsets it sees; None if fine."""
        group = self.syncs[index]
        arrivals = [self.inputs[n].last_recv_ns for n in group.inputs]
        if any(t is None for t in arrivals):
            return None
        since = group.last_set_ns
        first_all = max(t for t in arrivals if t is not None)
        oldest_recent = min(t for t in arrivals if t is not None)
        if now_ns - oldest_recent > self.stale_after_ns:
            return None  # an input went quiet: reported as stale instead
        waited_from = (
            since if since is not None else min(self.inputs[n].arrivals_ns[0] for n in group.inputs)
        )
        if now_ns - waited_from < self.stale_after_ns or first_all - waited_from < 0:
            return None
        stamps = [self.inputs[n].last_stamp_ns for n in group.inputs]
        if any(s is None for s in stamps):
            return None
        ref = stamps[0]
        assert ref is not None
        offsets = ", ".join(
            f"{n} {((s or 0) - ref) / 1e6:+.1f} ms"
            for n, s in zip(group.inputs[1:], stamps[1:], strict=True)
        )
        policy = f"slop {group.slop_ns / 1e6:.1f} ms" if group.approximate else "exact stamps"
        return (
            f"inputs {', '.join(group.inputs)} arrive but produced no set for "
            f"{(now_ns - waited_from) / NS_PER_S:.1f} s; newest stamps relative to "
            f"{group.inputs[0]}: {offsets} ({policy}): check that they are stamped by the "
            "same clock, or use approximate sync / a larger slop"
        )

    def check(self, now_ns: int) -> list[str]:
        """Problems right now; stall problems are also logged (rate-limited)."""
        problems: list[str] = []
        for name, stats in self.inputs.items():
            if stats.last_recv_ns is not None and now_ns - stats.last_recv_ns > self.stale_after_ns:
                silent = (now_ns - stats.last_recv_ns) / NS_PER_S
                problems.append(f"input {name} stale: nothing for {silent:.1f} s")
        for index in range(len(self.syncs)):
            problem = self.sync_problem(index, now_ns)
            if problem is not None:
                problems.append(problem)
                if self.limiter.allow(f"stall:{index}", now_ns):
                    self.logger.warning("%s", problem)
        return problems

    def status(
        self,
        now_ns: int,
        extra: Sequence[tuple[str, str]] = (),
        node_summary: tuple[int, str] | None = None,
    ) -> DiagnosticStatus:
        """The node's diagnostic_msgs/DiagnosticStatus right now.

        ``node_summary`` (level, message) is the node's own verdict
        (``Node.diagnostic_summary``); it sets the status when its level is higher.
        """
        problems = self.check(now_ns)
        values: list[tuple[str, str]] = []
        for name, s in self.inputs.items():
            values += [
                (f"{name}.received", str(s.received)),
                (f"{name}.rate_hz", f"{s.rate_hz():.2f}"),
                (f"{name}.rejected", str(s.rejected)),
                (f"{name}.dropped", str(s.dropped)),
                (f"{name}.last_reject_reason", s.last_reason),
            ]
        for i, group in enumerate(self.syncs):
            values.append((f"sync{i}.sets", str(group.sets)))
        lat = np.asarray(self.latencies_ns, dtype=np.float64) / 1e6
        values += [
            ("callbacks", str(self.callbacks)),
            ("latency_mean_ms", f"{lat.mean():.3f}" if lat.size else "0"),
            ("latency_p95_ms", f"{np.percentile(lat, 95):.3f}" if lat.size else "0"),
            ("latency_max_ms", f"{lat.max():.3f}" if lat.size else "0"),
            ("errors", str(self.errors)),
            ("time_resets", str(self.time_resets)),
            ("busy_s", f"{self.busy_ns / NS_PER_S:.3f}"),
            ("cpu_s", f"{self.cpu_ns / NS_PER_S:.3f}"),
        ]
        values += [(f"{k}.published", str(v)) for k, v in sorted(self.published.items())]
        values += list(extra)
        # Only recent rejections raise the level; the counters keep the history.
        rejected = sum(
            s.rejected
            for s in self.inputs.values()
            if s.last_reject_ns is not None and now_ns - s.last_reject_ns <= self.stale_after_ns
        )
        if self.errors:
            level, message = DiagnosticLevel.ERROR, f"{self.errors} callback errors"
        elif problems:
            level, message = DiagnosticLevel.WARN, "; ".join(problems)
        elif rejected:
            level, message = DiagnosticLevel.WARN, "inputs rejected in the last seconds"
        else:
            level, message = DiagnosticLevel.OK, "ok"
        if node_summary is not None and node_summary[0] > level:
            level, message = node_summary
        recent_drop = (
            self.last_drop_ns is not None and now_ns - self.last_drop_ns <= self.stale_after_ns
        )
        if level == DiagnosticLevel.OK and recent_drop:
            # The node's own verdict (e.g. the detector's "newest frame wins") comes first.
            drops = ", ".join(f"{n} {s.dropped}" for n, s in self.inputs.items() if s.dropped)
            level = DiagnosticLevel.WARN
            message = f"input queues overflowed (node slower than its inputs), dropped: {drops}"
        return DiagnosticStatus(
            level=level,
            name=self.node_name,
            message=message,
            hardware_id="percept",
            values=tuple(values),
        )
