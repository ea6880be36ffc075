"""The targets, checked against one run's results, and the table printed at the end."""

from __future__ import annotations

from typing import Any


def dig(results: dict[str, Any], *path: str) -> Any:
    """``results[path[0]][path[1]]...``, or None where a key is missing."""
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """The ratios the issue asks for, each against a baseline measured in the same run."""

    def ratio(a: Any, b: Any) -> float | None:
        return round(a / b, 3) if isinstance(a, int | float) and b else None

    slow, fast = dig(results, "latency", "slow"), dig(results, "latency", "fast")
    down = dig(results, "latency", "down")
    sweep = {
        f"relay_intake_to_bare_at_{c}_connections": ratio(
            dig(results, "relay_intake", "by_connections", c, "rps"),
            dig(results, "bare_intake", "by_connections", c, "rps"),
        )
        for c in (dig(results, "relay_intake", "by_connections") or {})
    }
    return {
        # each system's ceiling: its best median over the connection counts measured
        "relay_intake_to_bare": ratio(
            dig(results, "relay_intake", "rps"), dig(results, "bare_intake", "rps")
        ),
        # the same comparison in CPU per request (bare ÷ relay): steadier on a busy machine
        "relay_intake_cpu_efficiency_to_bare": ratio(
            dig(results, "bare_intake", "cpu_us_per_request"),
            dig(results, "relay_intake", "cpu_us_per_request"),
        ),
        **sweep,
        # the floor of any durable intake here: bare, plus one row stored through the relay's
        # group-commit writer before the 202; and the relay against that floor
        "durable_floor_to_bare": ratio(
            dig(results, "durable_intake", "rps"), dig(results, "bare_intake", "rps")
        ),
        "relay_intake_to_durable_floor": ratio(
            dig(results, "relay_intake", "rps"), dig(results, "durable_intake", "rps")
        ),
        "relay_intake_forwarding_to_bare": ratio(
            dig(results, "relay_intake_forwarding", "rps"), dig(results, "bare_intake", "rps")
        ),
        "drain_to_client_ceiling": dig(results, "forward_drain", "ratio_to_client_ceiling"),
        # issue 22: the drain against raw aiohttp posting the same body to the same sink
        "drain_to_aiohttp": dig(results, "forward_drain", "ratio_to_aiohttp"),
        "drain_from_backfill_to_aiohttp": dig(
            results, "forward_drain", "from_backfill", "ratio_to_aiohttp"
        ),
        "drain_from_intake_to_aiohttp": dig(
            results, "forward_drain", "from_intake", "ratio_to_aiohttp"
        ),
        # the same in CPU per dial (aiohttp's CPU per POST ÷ the relay's per dial)
        "drain_cpu_efficiency_to_aiohttp": dig(
            results, "forward_drain", "cpu_efficiency_to_aiohttp"
        ),
        "drain_from_backfill_cpu_efficiency_to_aiohttp": dig(
            results, "forward_drain", "from_backfill", "cpu_efficiency_to_aiohttp"
        ),
        "drain_from_intake_cpu_efficiency_to_aiohttp": dig(
            results, "forward_drain", "from_intake", "cpu_efficiency_to_aiohttp"
        ),
        "relay_to_naive_rps_slow_destination": ratio(
            dig(results, "naive_vs_relay", "relay", "rps"),
            dig(results, "naive_vs_relay", "naive", "rps"),
        ),
        "p99_slow_to_fast": ratio(slow and slow["p99_ms"], fast and fast["p99_ms"]),
        "p99_down_to_fast": ratio(down and down["p99_ms"], fast and fast["p99_ms"]),
        # dial history on ÷ off, same run, same backend
        **{
            f"history_{what}_on_to_off_{backend}": dig(
                results, "dial_history", backend, f"{what}_on_to_off"
            )
            for backend in ("sqlite", "redis")
            for what in ("intake", "drain")
        },
        # intake with the console open (overview polled, live stream read) ÷ closed, same run
        "console_open_to_closed": dig(results, "console_open", "console_open_to_closed"),
        "console_fixed_rate_cpu_open_to_closed": dig(
            results, "console_open", "fixed_rate_cpu_open_to_closed"
        ),
        # the same with a ``relay tail`` (every event, no rate limit) instead of the console
        "tail_open_to_closed": dig(results, "console_open", "tail_to_closed"),
        "tail_cpu_open_to_closed": dig(results, "console_open", "cpu_tail_to_closed"),
        # intake over Redis (one replica) ÷ bare Starlette, same run
        "redis_intake_to_bare": dig(results, "redis_intake", "relay_to_bare"),
        "redis_round_trips_per_dial": dig(results, "redis_intake", "relay", "round_trips_per_dial"),
        # the drain over Redis: one replica ÷ raw aiohttp, and three replicas ÷ one (same core)
        "redis_drain_to_aiohttp": dig(results, "redis_drain", "1", "to_aiohttp"),
        "redis_drain_three_to_one": dig(results, "redis_drain", "three_to_one"),
        "redis_drain_round_trips_per_dial": dig(
            results, "redis_drain", "1", "round_trips_per_dial"
        ),
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    r = ratios(results)
    fast_p99 = dig(results, "latency", "fast", "p99_ms")
    drains = [
        r["drain_to_aiohttp"],
        r["drain_from_backfill_to_aiohttp"],
        r["drain_from_intake_to_aiohttp"],
    ]
    rows: list[tuple[str, str, Any, bool | None]] = [
        (
            "relay intake vs bare Starlette, best concurrency",
            ">= 0.7 and every 202 durable",
            r["relay_intake_to_bare"],
            None
            if r["relay_intake_to_bare"] is None
            else r["relay_intake_to_bare"] >= 0.7 and bool(dig(results, "relay_intake", "durable")),
        ),
        (
            "relay intake vs bare Starlette at 32 connections",
            ">= 0.6",
            r.get("relay_intake_to_bare_at_32_connections"),
            _at_least(r.get("relay_intake_to_bare_at_32_connections"), 0.6),
        ),
        (
            "forward drain, one process (dials/s)",
            ">= 3000",
            dig(results, "forward_drain", "dials_per_s"),
            _at_least(dig(results, "forward_drain", "dials_per_s"), 3000),
        ),
        (
            "forward drain vs raw aiohttp (queue file, backfill, intake)",
            ">= 0.7 each",
            drains,
            None if None in drains else min(drains) >= 0.7,
        ),
        (
            "intake while forwarding every dial vs bare Starlette",
            ">= 0.35",
            r["relay_intake_forwarding_to_bare"],
            _at_least(r["relay_intake_forwarding_to_bare"], 0.35),
        ),
        (
            "p99 webhook latency at the fixed rate (ms)",
            "<= 10",
            fast_p99,
            None if fast_p99 is None else fast_p99 <= 10,
        ),
        (
            "intake p99, destination slow / fast",
            "<= 2",
            r["p99_slow_to_fast"],
            None if r["p99_slow_to_fast"] is None else r["p99_slow_to_fast"] <= 2,
        ),
        (
            "intake p99, destination down / fast",
            "<= 2",
            r["p99_down_to_fast"],
            None if r["p99_down_to_fast"] is None else r["p99_down_to_fast"] <= 2,
        ),
        (
            "peak RSS with the backlog (MB)",
            "<= 150",
            dig(results, "backlog_rss", "peak_rss_mb"),
            None
            if dig(results, "backlog_rss", "peak_rss_mb") is None
            else dig(results, "backlog_rss", "peak_rss_mb") <= 150,
        ),
        (
            "console open vs closed, intake (closed loop)",
            ">= 0.95",
            r["console_open_to_closed"],
            _at_least(r["console_open_to_closed"], 0.95),
        ),
        (
            "Redis intake, one replica, vs bare Starlette",
            ">= 0.5",
            r["redis_intake_to_bare"],
            _at_least(r["redis_intake_to_bare"], 0.5),
        ),
    ]
    return [{"target": t, "wanted": w, "measured": m, "met": ok} for t, w, m, ok in rows]


def _at_least(value: Any, floor: float) -> bool | None:
    return None if value is None else value >= floor


def _at(data: dict[str, Any] | None) -> str:
    return f" @{data['connections']}" if data and "connections" in data else ""


def table(results: dict[str, Any]) -> str:
    lines = [f"{'scenario':44} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>7}"]

    def row(name: str, data: dict[str, Any] | None, rate_key: str = "rps") -> None:
        if not data:
            return
        rss = data.get("peak_rss_mb")
        lines.append(
            f"{name:44} {data.get(rate_key, 0):>10,.0f} {data.get('p50_ms', float('nan')):>8.2f} "
            f"{data.get('p99_ms', float('nan')):>8.2f} {'' if rss is None else f'{rss:.0f}':>7}"
        )

    row("disk: one 4 KiB write + fsync", results.get("disk_fsync"), "fsyncs")
    row("load generator vs instant sink", results.get("generator"))
    bare, relay = results.get("bare_intake"), results.get("relay_intake")
    row(f"1 bare Starlette (ceiling){_at(bare)}", bare)
    durable = results.get("durable_intake")
    row(f"1b durable floor (bare + one stored row){_at(durable)}", durable)
    row(f"2 relay intake (durable){_at(relay)}", relay)
    bare_sweep = dig(results, "bare_intake", "by_connections") or {}
    relay_sweep = dig(results, "relay_intake", "by_connections") or {}
    floor_sweep = dig(results, "durable_intake", "by_connections") or {}
    sweep_ratios = ratios(results)
    for c in sorted(set(bare_sweep) & set(relay_sweep), key=int):
        b, r, f = bare_sweep[c], relay_sweep[c], floor_sweep.get(c)
        floor = "" if f is None else f"durable floor {f['rps']:,.0f}/s, "
        line = (
            f"  {c:>4} connections: bare {b['rps']:,.0f}/s, {floor}relay {r['rps']:,.0f}/s, "
            f"ratio {sweep_ratios[f'relay_intake_to_bare_at_{c}_connections']}"
        )
        if len(b["round_rps"]) > 1:
            systems = (("bare", b), ("floor", f), ("relay", r))
            rounds = "; ".join(
                f"{k} " + ", ".join(f"{x:,.0f}" for x in d["round_rps"])
                for k, d in systems
                if d is not None
            )
            line += f" (rounds: {rounds})"
        lines.append(line)
    row("2 relay intake (durable), forwarding too", results.get("relay_intake_forwarding"))
    for name in ("fast", "slow", "down"):
        row(f"  relay at fixed rate, destination {name}", dig(results, "latency", name))
        cpu = dig(results, "latency", name, "cpu_us_per_webhook")
        if cpu is not None:
            round_p99 = dig(results, "latency", name, "round_p99_ms") or []
            lines.append(
                f"      relay CPU {cpu:,.0f} µs per webhook; p99 of each round "
                + ", ".join(f"{x:.1f}" for x in round_p99)
                + " ms"
            )
    drain = results.get("forward_drain")
    if drain:
        for transport, data in drain["client_ceiling"].items():
            row(f"  client ceiling: {transport}", data)
        row(f"3 forward drain ({drain['dials']:,} dials)", drain, "dials_per_s")
        lines.extend(_drain_rounds(drain))
        for fill in ("from_backfill", "from_intake"):
            if fill in drain:
                one = drain[fill]
                row(f"  drain {fill} ({one['dials']:,} dials)", one, "dials_per_s")
                lines.extend(_drain_rounds(one))
    row("4 naive relay, destination +100 ms", dig(results, "naive_vs_relay", "naive"))
    row("4 relay, destination +100 ms", dig(results, "naive_vs_relay", "relay"))
    backlog = results.get("backlog_rss")
    if backlog:
        lines.append(
            f"5 backlog of {backlog['backlog']:,} dials: peak RSS {backlog['peak_rss_mb']:.0f} MB, "
            f"queue file {backlog['queue_file_mb']:.0f} MB"
        )
    if drain:
        lines.append(
            f"  queue file per 100,000 dials: {drain['queue_bytes_per_100k'] / 2**20:.1f} MB"
        )
    for backend, data in (results.get("dial_history") or {}).items():
        if "on" not in data:
            lines.append(f"6 dial history, {backend}: {data.get('skipped', 'not run')}")
            continue
        on, off = data["on"], data["off"]

        def rate(value: float | None) -> str:
            return "-" if value is None else f"{value:,.0f}"

        lines.append(
            f"6 dial history, {backend}: {data['history_bytes_per_delivered_dial']} bytes per "
            f"delivered dial; on/off intake {data['intake_on_to_off']} "
            f"({rate(on['intake_rps'])} / {rate(off['intake_rps'])} /s), drain "
            f"{data['drain_on_to_off']} ({rate(on['drain_dials_per_s'])} / "
            f"{rate(off['drain_dials_per_s'])} /s)"
        )
        alone = data["queue_alone"]
        lines.append(
            f"  the queue alone, CPU µs per dial on / off: store {alone['on']['enqueue_cpu_us']} "
            f"/ {alone['off']['enqueue_cpu_us']}, deliver {alone['on']['drain_cpu_us']} / "
            f"{alone['off']['drain_cpu_us']}"
        )
    console = results.get("console_open")
    if console:
        on, off = console["on"], console["off"]
        lines.append(
            f"7 console open / closed: intake {console['console_open_to_closed']} "
            f"({on['rps']:,.0f} / {off['rps']:,.0f} /s), CPU per webhook "
            f"{console['cpu_open_to_closed']}, at {on['fixed_rate']:,.0f}/s "
            f"{console['fixed_rate_cpu_open_to_closed']} "
            f"({console['fixed_rate_cpu_us_per_request']['on']} / "
            f"{console['fixed_rate_cpu_us_per_request']['off']} µs); "
            f"{on['overview_polls']} overview polls, "
            f"{on['streamed_events']:,} events streamed ({on['stream_missed_events']} missed, "
            f"{on['stream_skipped_events']:,} skipped)"
        )
        tail = console["tail"]
        lines.append(
            f"7 relay tail / none: intake {console['tail_to_closed']} "
            f"({tail['rps']:,.0f} / {off['rps']:,.0f} /s), CPU per webhook "
            f"{console['cpu_tail_to_closed']}, at {tail['fixed_rate']:,.0f}/s "
            f"{console['fixed_rate_cpu_tail_to_closed']}; "
            f"{tail['streamed_events']:,} events streamed ({tail['stream_missed_events']} missed)"
        )
    redis_run = results.get("redis_intake")
    if redis_run and "relay" in redis_run:
        relay = redis_run["relay"]
        lines.append(
            f"8 intake over Redis / bare at {redis_run['connections']} connections: "
            f"{redis_run['relay_to_bare']} ({relay['rps']:,.0f} / "
            f"{redis_run['bare']['rps']:,.0f} /s), {relay['cpu_us_per_request']} µs relay CPU, "
            f"{relay['redis_cpu_us_per_dial']} µs Redis CPU per dial; "
            f"{relay.get('scripts_per_dial')} scripts, {relay['commands_per_dial']} commands "
            f"and {relay['round_trips_per_dial']} round trips per dial; "
            f"durable {redis_run['durable']}"
        )
    for replicas, one in sorted((dig(results, "redis_drain") or {}).items()):
        if not isinstance(one, dict) or "dials_per_s" not in one:
            continue
        lines.append(
            f"9 drain over Redis, {replicas} replica(s) on one core: "
            f"{one['dials_per_s'] or 0:,.0f} dials/s ({one['measured_dials']:,} dials), "
            f"{one['cpu_us_per_dial']} µs relay CPU and {one['redis_cpu_us_per_dial']} µs Redis "
            f"CPU per dial; {one['scripts_per_dial']} scripts, {one['commands_per_dial']} "
            f"commands and {one['round_trips_per_dial']} round trips per dial; "
            f"÷ raw aiohttp {one['to_aiohttp']} (CPU {one['cpu_efficiency_to_aiohttp']})"
        )
    lines.append("")
    lines.append("ratios: " + ", ".join(f"{k}={v}" for k, v in ratios(results).items()))
    lines.append("targets:")
    for t in targets(results):
        mark = {True: "MET ", False: "MISS", None: "n/a "}[t["met"]]
        lines.append(f"  [{mark}] {t['target']}: {t['measured']} (wanted {t['wanted']})")
    return "\n".join(lines)


def _drain_rounds(drain: dict[str, Any]) -> list[str]:
    """A drain's rounds, each against raw aiohttp just before it (the median round is the
    row above)."""
    rounds = drain.get("rounds") or []
    if not rounds:
        return []
    parts = []
    for r in rounds:
        ratio, cpu = r.get("ratio_to_aiohttp"), r.get("cpu_efficiency_to_aiohttp")
        versus = [f"{ratio:.3f} of aiohttp"] if ratio is not None else []
        versus += [f"CPU {cpu:.3f}"] if cpu is not None else []
        parts.append(f"{r['dials_per_s']:,.0f}/s" + (f" ({', '.join(versus)})" if versus else ""))
    return ["      rounds: " + "; ".join(parts)]
