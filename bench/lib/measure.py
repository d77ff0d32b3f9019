#!/usr/bin/env python3
"""Measurement helpers for bench/run (standard library only).

  measure.py load --results F --name N --pid PID [--server S] [--meta k=v ...] [--timeout SEC] -- wrk ...
      Runs the load command (with a hard timeout) while sampling the server process PID (and its child
      processes, summed) every 100 ms:
      CPU (utime+stime from /proc/PID/stat, in % of one core), peak VmRSS during the run and VmHWM after.
      Parses wrk's output (req/s, latency percentiles from --latency, non-2xx, socket errors, and the
      `BENCH k=v` line a Lua done() prints) and appends one JSON record to F.
  measure.py ready --url U --since-ns T [--pid PID] [--timeout SEC]
      Polls U every 5 ms until it answers 200 (failing early if PID exits); prints the milliseconds since T (a `date +%s%N` stamp).
  measure.py rss --pid PID
      Prints VmRSS and VmHWM of PID in MiB as JSON.
  measure.py record --results F --name N [--meta k=v ...]
      Appends a record made of the --meta pairs (numbers where they parse).
"""

import argparse
import json
import os
import resource
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the ")": state is field 3, so utime (14) and stime (15) are at 11 and 12
    return int(fields[11]) + int(fields[12])


def tree(pid):
    """pid and its descendants (node-oidc-provider in cluster mode is a primary and its workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def tree_ticks(pid):
    total = 0
    for p in tree(pid):
        try:
            total += cpu_ticks(p)
        except OSError:
            pass
    return total


def tree_kib(pid, key):
    total = 0
    for p in tree(pid):
        try:
            total += status_kib(p, key)
        except OSError:
            pass
    return total


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def number(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def meta(pairs):
    out = {}
    for p in pairs or []:
        k, _, v = p.partition("=")
        out[k] = number(v)
    return out


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse_wrk(out):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    if m:
        r["requests"] = int(m.group(1))
        r["duration_ms"] = ms(m.group(2))
    for p in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{p}%\s+([\d.]+\w+)\s*$", out, re.M)
        if m:
            r[f"p{p}_ms"] = ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    for line in re.findall(r"^BENCH (.*)$", out, re.M):
        for k, v in re.findall(r"(\w+)=(\S+)", line):
            r[k] = number(v)
    return r


def cmd_load(a):
    pid = a.pid
    samples = {"rss_peak": 0, "stop": False}

    def sampler():
        while not samples["stop"]:
            try:
                samples["rss_peak"] = max(samples["rss_peak"], tree_kib(pid, "VmRSS"))
            except OSError:
                return
            time.sleep(0.1)

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, c0 = time.monotonic(), tree_ticks(pid)
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    try:
        p = subprocess.run(a.command, capture_output=True, text=True, timeout=a.timeout)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err, rc = f"timed out after {a.timeout}s", 124
    elapsed = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    try:
        c1 = tree_ticks(pid)
        hwm = tree_kib(pid, "VmHWM")
    except OSError:
        c1, hwm = c0, 0
    samples["stop"] = True
    th.join()
    rec = {"name": a.name, "server": a.server, **meta(a.meta), **parse_wrk(out)}
    rec.update({
        "cpu_pct": round(100.0 * (c1 - c0) / TICK / elapsed, 1),
        "wrk_cpu_pct": round(100.0 * load_cpu / elapsed, 1),
        "rss_peak_mb": round(samples["rss_peak"] / 1024, 1),
        "vmhwm_mb": round(hwm / 1024, 1),
        "rc": rc,
    })
    bad = rec.get("non2xx", 0) + rec.get("socket_errors", 0) + rec.get("failed", 0) + rec.get("starved", 0)
    rec["error_pct"] = round(100.0 * bad / rec["requests"], 2) if rec.get("requests") else 100.0
    if a.raw:
        with open(a.raw, "w") as f:
            f.write(out + "\n--- stderr ---\n" + err)
    with open(a.results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    line = (f"  {a.name:<34} {rec['rps']:>10.1f} req/s  p50 {rec.get('p50_ms', 0):7.2f} ms  "
            f"p99 {rec.get('p99_ms', 0):7.2f} ms  cpu {rec['cpu_pct']:5.1f}% (wrk {rec['wrk_cpu_pct']:5.1f}%)  "
            f"rss peak {rec['rss_peak_mb']:6.1f} MiB")
    if bad:
        line += f"  ERRORS {bad} ({rec['error_pct']}%)"
    extra = {k: rec[k] for k in ("flows", "ok") if k in rec}
    if extra:
        line += "  " + " ".join(f"{k}={v}" for k, v in extra.items())
    print(line, flush=True)
    if rc != 0 or not rec.get("requests"):
        print(f"  ! load command failed (rc={rc}): {err.strip()[:400]}", file=sys.stderr)
    elif err.strip():
        print("  ! " + err.strip().replace("\n", "\n  ! ")[:600], file=sys.stderr)
    return 0


def cmd_ready(a):
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        if a.pid and not os.path.exists(f"/proc/{a.pid}"):
            print(f"process {a.pid} exited before {a.url} answered", file=sys.stderr)
            return 1
        try:
            with urllib.request.urlopen(a.url, timeout=1) as r:
                if r.status == 200:
                    print(round((time.time_ns() - a.since_ns) / 1e6, 1))
                    return 0
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.005)
    print(f"not ready after {a.timeout}s: {a.url}", file=sys.stderr)
    return 1


def cmd_rss(a):
    print(json.dumps({"rss_mb": round(status_kib(a.pid, "VmRSS") / 1024, 1),
                      "vmhwm_mb": round(status_kib(a.pid, "VmHWM") / 1024, 1)}))
    return 0


def cmd_record(a):
    with open(a.results, "a") as f:
        f.write(json.dumps({"name": a.name, **meta(a.meta)}) + "\n")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("load")
    p.add_argument("--results", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--server", default="tessera")
    p.add_argument("--meta", action="append")
    p.add_argument("--raw")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("ready")
    p.add_argument("--url", required=True)
    p.add_argument("--since-ns", type=int, required=True)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("rss")
    p.add_argument("--pid", type=int, required=True)
    p = sub.add_parser("record")
    p.add_argument("--results", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--meta", action="append")
    a = ap.parse_args()
    if a.cmd == "load" and a.command and a.command[0] == "--":
        a.command = a.command[1:]
    return {"load": cmd_load, "ready": cmd_ready, "rss": cmd_rss, "record": cmd_record}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
