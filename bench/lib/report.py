#!/usr/bin/env python3
"""Report generation for bench/run (standard library only).

  report.py openssl ONE.txt MULTI.txt       -> one JSON record with sign/verify rates (1 process, -multi N)
  report.py report --results F --machine M --out RESULTS.md [--mode full|quick] [--duration S] [--wrk ARGS]
      prints the tables and writes RESULTS.md: machine, baselines, scenarios, ratios, goals (met / missed).
"""

import argparse
import datetime
import json
import re
import sys

ALGS = {"rsa2048": r"^rsa\s+2048 bits", "ecdsap256": r"^\s*256 bits ecdsa \(nistp256\)", "ed25519": r"^\s*253 bits EdDSA \(Ed25519\)"}
JWT_TO_OPENSSL = {"RS256": "rsa2048", "ES256": "ecdsap256", "EdDSA": "ed25519"}


def parse_openssl(text):
    out = {}
    for alg, pat in ALGS.items():
        for line in text.splitlines():
            if re.search(pat, line):
                nums = re.findall(r"[\d.]+", line.split("bits", 1)[1])
                # ... <sign s> <verify s> <sign/s> <verify/s>
                if len(nums) >= 4:
                    out[alg] = {"sign": float(nums[-2]), "verify": float(nums[-1])}
    return out


def cmd_openssl(a):
    rec = {"name": "openssl", "single": parse_openssl(open(a.one).read()), "multi": parse_openssl(open(a.multi).read())}
    print(json.dumps(rec))


def cmd_bracket(a):
    """openssl's RSA-2048 -multi sign rate right before and right after the RS256 client_credentials scenario."""
    rates = [parse_openssl(open(f).read()).get("rsa2048", {}).get("sign") for f in (a.before, a.after)]
    print(json.dumps({"name": "openssl_rsa_around_cc", "before": rates[0], "after": rates[1]}))


# ---------------------------------------------------------------------------------------------------------------

def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, float) and digits:
        return f"{v:,.{digits}f}"
    return f"{v:,.0f}"


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def rx(v):
    return "–" if v is None else f"{v:.2f}×"


class Results:
    def __init__(self, path):
        self.rows = [json.loads(line) for line in open(path) if line.strip()]
        self.by = {}
        for r in self.rows:
            self.by[r["name"]] = r  # the last one wins

    def get(self, name):
        return self.by.get(name)

    def valid(self, name):
        r = self.by.get(name)
        return r if r and r.get("requests") and r.get("error_pct", 100) <= 1.0 else None

    def rate(self, name):
        """req/s, or flows/s for the code flow."""
        r = self.valid(name)
        if not r:
            return None
        if "flows" in r:
            return r["flows"] / (r["duration_ms"] / 1000.0)
        return r["rps"]


SCENARIOS = [
    ("tessera_cc_RS256", "client_credentials, RS256 access token", "POST /token (client_secret_basic)"),
    ("tessera_cc_ES256", "client_credentials, ES256 access token", ""),
    ("tessera_cc_EdDSA", "client_credentials, EdDSA access token", ""),
    ("tessera_introspect", "introspection of a JWT access token", "POST /introspect (Basic)"),
    ("tessera_introspect_alone", "introspection, 1 thread × 4 conns, alone", ""),
    ("tessera_login_storm", "password logins (POST /login, Argon2id), alone", "1 thread × 16 conns"),
    ("tessera_login_storm_beside", "password logins with introspection beside them", ""),
    ("tessera_introspect_during_storm", "introspection during the login storm", "1 thread × 4 conns"),
    ("tessera_flow_sqlite", "full code flow, SQLite (flows/s)", "authorize → token → userinfo"),
    ("tessera_flow_postgres", "full code flow, PostgreSQL (flows/s)", ""),
    ("tessera_refresh_sqlite", "refresh with rotation, SQLite", ""),
    ("tessera_refresh_postgres", "refresh with rotation, PostgreSQL", ""),
    ("node_cc_RS256", "node-oidc-provider client_credentials RS256", "JWT via resource indicator"),
    ("node_cc_ES256", "node-oidc-provider client_credentials ES256", ""),
    ("node_cc_RS256_workers", "node-oidc-provider client_credentials RS256, one process per core", "node:cluster"),
    ("node_cc_ES256_workers", "node-oidc-provider client_credentials ES256, one process per core", "node:cluster"),
    ("node_introspect", "node-oidc-provider introspection (opaque token)", "in-memory store"),
    ("node_refresh", "node-oidc-provider refresh with rotation", "in-memory store"),
]


def scenario_table(res):
    lines = ["| Scenario | req/s | flows/s | p50 ms | p99 ms | server CPU % | wrk CPU % | server peak RSS MiB | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, label, _ in SCENARIOS:
        r = res.get(name)
        if not r:
            continue
        flows = r["flows"] / (r["duration_ms"] / 1000.0) if "flows" in r and r.get("duration_ms") else None
        err = r.get("error_pct", 0)
        errs = "0" if not err else f"**{err}%**"
        lines.append(f"| {label} | {fmt(r.get('rps'))} | {fmt(flows)} | {r.get('p50_ms', 0):.2f} | {r.get('p99_ms', 0):.2f} | "
                     f"{r.get('cpu_pct', 0):.0f} | {r.get('wrk_cpu_pct', 0):.0f} | {r.get('rss_peak_mb', 0):.1f} | {errs} |")
    return lines


def build(res, machine, a):
    out = []
    ossl = res.get("openssl") or {}
    single, multi = ossl.get("single", {}), ossl.get("multi", {})
    argon = res.get("argon2")
    n = machine.get("nproc", 2)

    def limit(alg):
        return multi.get(JWT_TO_OPENSSL[alg], {}).get("sign")

    rate = res.rate
    # This machine's speed drifts within a run, so a limit is measured again around the scenario it bounds
    # when the run did so: the mean of right before and right after.
    def mean(xs):
        return sum(xs) / len(xs) if xs else None

    around = [r for r in res.rows if r.get("name") == "argon2" and r.get("when", "").endswith("the login storm")]
    login_limit = mean([n * 1000.0 / r["verify_ms"] for r in (around or ([argon] if argon else []))])
    bracket = res.get("openssl_rsa_around_cc") or {}
    cc_rsa = [v for v in (bracket.get("before"), bracket.get("after")) if v]
    cc_limit = mean(cc_rsa) or limit("RS256")
    cc_what = (f"openssl RSA-2048 sign, -multi {n}, mean of right before and right after this scenario"
               f" ({' and '.join(fmt(v) for v in cc_rsa)}/s)" if cc_rsa else "openssl RSA-2048 sign, -multi %d" % n)
    loads = [r for r in res.rows if r.get("server") == "tessera" and "requests" in r]
    # VmHWM is the process's high-water mark so far: the first scenario that reached the highest one caused it
    top = max((r.get("vmhwm_mb", 0) for r in loads), default=None)
    peak_row = next((r for r in loads if r.get("vmhwm_mb", 0) >= top - 0.05), None) if top is not None else None
    peak_rss = top
    peak_where = peak_row["name"].replace("tessera_", "") if peak_row else ""
    if peak_where in ("introspect_during_storm", "login_storm_beside"):  # the storms run last, in the same process
        peak_where = "login_storm"
    idle = (res.get("idle_rss") or {}).get("mb")
    ready_restart = (res.get("ready_restart") or {}).get("ms")
    ready_fresh = (res.get("ready_fresh") or {}).get("ms")
    intro_alone = (res.valid("tessera_introspect_alone") or {}).get("p99_ms")
    intro_storm = (res.valid("tessera_introspect_during_storm") or {}).get("p99_ms")

    # ratios ----------------------------------------------------------------------------------------------------
    flow_limit = None
    if limit(a.alg) and limit("RS256"):
        flow_limit = 1.0 / (1.0 / limit(a.alg) + 1.0 / limit("RS256"))
    ratios = [
        ("client_credentials RS256", rate("tessera_cc_RS256"), cc_limit, cc_what,
         rate("node_cc_RS256"), rate("node_cc_RS256_workers")),
        ("client_credentials ES256", rate("tessera_cc_ES256"), limit("ES256"), "openssl ECDSA P-256 sign, -multi %d" % n,
         rate("node_cc_ES256"), rate("node_cc_ES256_workers")),
        ("client_credentials EdDSA", rate("tessera_cc_EdDSA"), limit("EdDSA"), "openssl Ed25519 sign, -multi %d" % n, None, None),
        ("introspection (JWT)", rate("tessera_introspect"), multi.get(JWT_TO_OPENSSL.get(a.alg, "rsa2048"), {}).get("verify"),
         f"openssl {a.alg} verify, -multi {n}", rate("node_introspect"), None),
        ("refresh rotation, SQLite", rate("tessera_refresh_sqlite"), limit(a.alg), f"openssl {a.alg} sign (one JWT per refresh)",
         rate("node_refresh"), None),
        ("refresh rotation, PostgreSQL", rate("tessera_refresh_postgres"), limit(a.alg), f"openssl {a.alg} sign (one JWT per refresh)",
         rate("node_refresh"), None),
        ("password logins", rate("tessera_login_storm"), login_limit, f"{n} cores ÷ one Argon2id verification", None, None),
        ("full code flow, SQLite (flows)", rate("tessera_flow_sqlite"), flow_limit,
         f"openssl signing of one {a.alg} access token + one RS256 ID token", None, None),
        ("full code flow, PostgreSQL (flows)", rate("tessera_flow_postgres"), flow_limit,
         f"openssl signing of one {a.alg} access token + one RS256 ID token", None, None),
    ]
    rtable = ["| Scenario | Tessera /s | limit /s | limit is | Tessera / limit | node-oidc-provider /s (1 process) "
              f"| Tessera / node | node /s ({n} processes) | Tessera / node ({n}) |",
              "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for label, t, lim, what, node, node_n in ratios:
        rtable.append(f"| {label} | {fmt(t)} | {fmt(lim)} | {what} | {rx(ratio(t, lim))} | {fmt(node)} | {rx(ratio(t, node))} "
                      f"| {fmt(node_n)} | {rx(ratio(t, node_n))} |")

    # goals -----------------------------------------------------------------------------------------------------
    def goal(text, value, target, ok):
        if value is None:
            return (text, "not measured", target, "NOT MEASURED")
        return (text, value, target, "met" if ok else "MISSED")

    t_rs, t_es = rate("tessera_cc_RS256"), rate("tessera_cc_ES256")
    n_rs, n_es = rate("node_cc_RS256"), rate("node_cc_ES256")
    goals = []
    r1 = ratio(t_rs, cc_limit)
    goals.append(goal(f"client_credentials RS256 ≥ 80% of the {n}-core openssl RSA-2048 sign rate",
                      None if r1 is None else f"{r1:.1%} ({fmt(t_rs)} of {fmt(cc_limit)}/s)", "≥ 80%", r1 is not None and r1 >= 0.8))
    r2 = ratio(t_rs, n_rs)
    goals.append(goal("client_credentials RS256 ≥ 1.5× node-oidc-provider", None if r2 is None else f"{r2:.2f}×", "≥ 1.5×", r2 is not None and r2 >= 1.5))
    r3 = ratio(t_es, n_es)
    goals.append(goal("client_credentials ES256 ≥ 3× node-oidc-provider ES256", None if r3 is None else f"{r3:.2f}×", "≥ 3×", r3 is not None and r3 >= 3))
    ti = rate("tessera_introspect")
    goals.append(goal("introspection ≥ 30,000 req/s", None if ti is None else f"{fmt(ti)} req/s", "≥ 30,000", ti is not None and ti >= 30000))
    tr = rate("tessera_refresh_postgres")
    goals.append(goal("refresh with rotation on PostgreSQL ≥ 3,000 req/s", None if tr is None else f"{fmt(tr)} req/s", "≥ 3,000", tr is not None and tr >= 3000))
    tl = rate("tessera_login_storm")
    rl = ratio(tl, login_limit)
    goals.append(goal(f"password logins ≥ 90% of ({n} cores ÷ one Argon2id hash)",
                      None if rl is None else f"{rl:.1%} ({fmt(tl)} of {fmt(login_limit)}/s); introspection p99 "
                      f"{fmt(intro_alone, 2)} ms alone, {fmt(intro_storm, 2)} ms beside the storm", "≥ 90%", rl is not None and rl >= 0.9))
    tf = rate("tessera_flow_sqlite")
    goals.append(goal("full code flow ≥ 1,500 flows/s (SQLite)", None if tf is None else f"{fmt(tf)} flows/s", "≥ 1,500", tf is not None and tf >= 1500))
    goals.append(goal("idle RSS ≤ 30 MiB", None if idle is None else f"{idle:.1f} MiB", "≤ 30", idle is not None and idle <= 30))
    goals.append(goal("RSS under load ≤ 150 MiB (highest VmHWM of a Tessera process)",
                      None if peak_rss is None else f"{peak_rss:.1f} MiB ({peak_where})", "≤ 150",
                      peak_rss is not None and peak_rss <= 150))
    goals.append(goal("ready ≤ 1 s on SQLite (restart: start → /ready 200)", None if ready_restart is None else f"{ready_restart:,.0f} ms", "≤ 1,000 ms",
                      ready_restart is not None and ready_restart <= 1000))
    goals.append(goal("ready ≤ 1 s on SQLite (first start: fresh data dir, keys generated)", None if ready_fresh is None else f"{ready_fresh:,.0f} ms", "≤ 1,000 ms",
                      ready_fresh is not None and ready_fresh <= 1000))
    gtable = ["| Goal (issue 6.3) | Measured | Target | |", "|---|---:|---:|---|"]
    for text, value, target, verdict in goals:
        v = f"**{verdict}**" if verdict != "met" else verdict
        gtable.append(f"| {text} | {value} | {target} | {v} |")

    # document --------------------------------------------------------------------------------------------------
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out.append("# Tessera benchmark results")
    out.append("")
    out.append(f"Generated by `bench/run{' --quick' if a.mode == 'quick' else ''}` on {now}"
               f" ({a.mode} run: {a.duration} s per scenario, wrk {a.wrk} unless noted; JWT_ALGORITHM={a.alg} outside the"
               " client_credentials rows). How to read this: bench/README.md.")
    if a.mode == "quick":
        out.append("")
        out.append("> **Smoke run** (`--quick`): durations are too short for stable numbers; run `bench/run` for the real figures.")
    out.append("")
    out.append("## Machine")
    out.append("")
    out.append(f"- CPU: {machine.get('cpu')} — nproc {n}")
    out.append(f"- memory: {machine.get('mem_gib')} GiB; kernel {machine.get('kernel')}; {machine.get('os')}")
    out.append("- load generator (wrk), server and baselines share these cores: every figure includes wrk's own CPU use.")
    if a.wrk_sched == "batch":
        out.append("- wrk runs as `SCHED_BATCH` (`chrt --batch 0`): its wake-ups do not preempt a server thread, so the server"
                   " is not switched out after every response, as with a load generator on another machine."
                   " Every server in the table runs under the same load generator. `BENCH_WRK_SCHED=normal` runs wrk as any process.")
    else:
        out.append("- wrk runs as any process (`BENCH_WRK_SCHED=normal`): each response wakes it and it preempts a server thread.")
    if "loadavg" in machine:
        out.append(f"- 1-minute load average when the measurements started: {machine['loadavg']}")
    busy = [alg for alg in ("rsa2048", "ecdsap256", "ed25519")
            if single.get(alg, {}).get("sign") and multi.get(alg, {}).get("sign", 0) < 1.5 * single[alg]["sign"]]
    if n > 1 and (busy or float(machine.get("loadavg", 0)) >= 1.0):
        out.append("")
        out.append(f"> **The machine was busy** (load average {machine.get('loadavg', 'unknown')}; `openssl speed -multi {n}` below"
                   f" 1.5× one process for {', '.join(busy) or 'no algorithm'}): other work shared the cores, so these"
                   " figures understate every server and the limits. Re-run on an idle machine.")
    out.append("")
    failed = [row["name"].split(":", 1)[1] for row in res.rows if row["name"].startswith("failed:")]
    if failed:
        out.append(f"> **Steps that failed**: {', '.join(failed)} — see the logs in bench/out/run/.")
        out.append("")
    out.append("## Goals")
    out.append("")
    out += gtable
    out.append("")
    out.append("## Ratios")
    out.append("")
    out += rtable
    out.append("")
    out.append("## Scenarios")
    out.append("")
    out += scenario_table(res)
    out.append("")
    out.append(f"CPU % is of one core ({100 * n}% = every core busy): the server's from /proc/PID/stat, wrk's (the load"
               " generator, on the same cores) from its rusage. Peak RSS is the highest VmRSS sampled every 100 ms during the"
               " scenario; the login storm runs last on its process because Argon2id's memory stays with the allocator.")
    extra = []
    if intro_alone is not None or intro_storm is not None:
        extra.append(f"- Introspection p99 alone: {fmt(intro_alone, 2)} ms; during the login storm: {fmt(intro_storm, 2)} ms"
                     " (a large rise means Argon2id blocks the event loop).")
    if idle is not None:
        extra.append(f"- Idle RSS after start-up: {idle:.1f} MiB. Highest RSS in a Tessera scenario: {fmt(peak_rss, 1)} MiB ({peak_where}).")
    if ready_restart is not None or ready_fresh is not None:
        extra.append(f"- Time to ready on SQLite (process start → `/ready` 200): first start {fmt(ready_fresh)} ms, restart {fmt(ready_restart)} ms.")
    pg = res.get("ready_fresh_pg")
    if pg:
        extra.append(f"- Time to ready on a fresh PostgreSQL database (migrations + keys): {fmt(pg.get('ms'))} ms.")
    if extra:
        out.append("")
        out += extra
    out.append("")
    out.append("## Baselines")
    out.append("")
    if multi or single:
        out.append(f"`openssl speed -seconds N rsa2048 ecdsap256 ed25519`, one process and `-multi {n}`:")
        out.append("")
        out.append("| Algorithm | sign/s (1) | verify/s (1) | sign/s (-multi %d) | verify/s (-multi %d) |" % (n, n))
        out.append("|---|---:|---:|---:|---:|")
        for alg in ("rsa2048", "ecdsap256", "ed25519"):
            s, m = single.get(alg, {}), multi.get(alg, {})
            out.append(f"| {alg} | {fmt(s.get('sign'))} | {fmt(s.get('verify'))} | {fmt(m.get('sign'))} | {fmt(m.get('verify'))} |")
    if argon:
        out.append("")
        out.append(f"Argon2id (m=19456 KiB, t=2, p=1, the server's parameters; `bench/hashtime`): one hash {argon['hash_ms']:.1f} ms,"
                   f" one verification {argon['verify_ms']:.1f} ms on one thread; {argon['parallel_per_s']:.0f} verifications/s on"
                   f" {argon['threads']} threads. Login ceiling used above: {fmt(login_limit)}/s ({n} ÷ one verification).")
        if around:
            first = next((r for r in res.rows if r.get("name") == "argon2"), argon)
            out.append("This machine's speed drifts, so the login ceiling is the mean of the ceilings measured "
                       + " and ".join(f"{r['when']} ({r['verify_ms']:.1f} ms per verification, {fmt(n * 1000.0 / r['verify_ms'])}/s)" for r in around)
                       + f". The run's first measurement gave {first['verify_ms']:.1f} ms per verification and"
                       f" {first['parallel_per_s']:.0f}/s on {first['threads']} threads.")
    out.append("")
    return "\n".join(out)


def cmd_report(a):
    res = Results(a.results)
    machine = json.load(open(a.machine)) if a.machine else {}
    doc = build(res, machine, a)
    with open(a.out, "w") as f:
        f.write(doc)
    # the console gets the goals, ratios and scenarios
    start = doc.index("## Goals")
    if "Steps that failed" in doc:
        start = doc.index("> **Steps that failed")
    print(doc[start:])
    print(f"written: {a.out}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("openssl")
    p.add_argument("one")
    p.add_argument("multi")
    p = sub.add_parser("bracket")
    p.add_argument("before")
    p.add_argument("after")
    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--machine")
    p.add_argument("--out", required=True)
    p.add_argument("--mode", default="full")
    p.add_argument("--duration", default="10")
    p.add_argument("--wrk", default="-t2 -c32")
    p.add_argument("--wrk-sched", default="normal", choices=["batch", "normal"])
    p.add_argument("--alg", default="RS256")
    a = ap.parse_args()
    return {"openssl": cmd_openssl, "bracket": cmd_bracket, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
