"""perf/tls/report.py - turn perf/results/tls.jsonl into tls.md and tls.png.

    /usr/bin/python3 perf/tls/report.py RAW.jsonl OUT.md OUT.png

Rows: TLS 1.3 full and resumed handshakes/s and per server CPU-second (per
certificate type), memory per idle TLS connection, and IMAP FETCH MB/s over
TLS (and MB per server CPU-second), Sluice vs Dovecot, medians of the runs,
with the ratios and the targets of issue 7 (handshakes per server
CPU-second >= 1.5x Dovecot's; <= 64 KiB per idle TLS connection). A failed
run counts as missing; a metric without a successful run shows "failed" and
its target as not met.
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

IMPLS = (("sluice", "Sluice", "#1f77b4"), ("dovecot", "Dovecot", "#999999"))
CERT_NAMES = {"ecdsa": "ECDSA P-256", "rsa": "RSA-2048"}
FETCH_NAMES = {"fetch-default": "client's default offer", "fetch-chacha20": "ChaCha20-Poly1305 both"}


def derive(d):
    """Adds the figures the report uses to one result; False if unusable."""
    c = d.get("client") or {}
    t = d["test"]
    if "error" in d or not c:
        return False
    if t.startswith("hs-"):
        cpu = d.get("server_cpu_s") or 0
        d["rate"] = c["rate"]
        d["per_cpu"] = c["ok_total"] / cpu if cpu > 0 else None
        d["cpu_ms_per_op"] = cpu * 1000.0 / c["ok_total"] if c["ok_total"] else None
        d["client_cpu_share"] = c["client_cpu_s"] / c["secs"] if c.get("secs") else None
        d["resumed_share"] = c["resumed"] / c["ok"] if c["ok"] else 0.0
        d["server_cpu_share"] = cpu / c["elapsed_s"] if c.get("elapsed_s") else None
    elif t == "idle":
        d["kib_per_conn"] = d["kib_per_conn"]
    elif t.startswith("fetch-"):
        cpu = d.get("server_cpu_s") or 0
        d["mb_per_s"] = c["mb_per_s"]
        d["mb_per_cpu"] = c["body_bytes"] / 1e6 / cpu if cpu > 0 else None
        d["client_cpu_share"] = c["client_cpu_s"] / c["secs"] if c.get("secs") else None
    return True


def load(path):
    env, runs, crypto = {}, {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            if d.get("impl") == "env":
                env = env or d  # a KEEP=1 run appends its own; the first describes the rounds
                continue
            if d.get("impl") == "crypto":
                if "error" not in d and d.get("client"):
                    crypto[d["test"]] = d["client"]
                continue
            if not derive(d) and "error" not in d:
                d["error"] = "no client result"
            runs.setdefault((d["impl"], d["cert"], d["test"]), []).append(d)
    return env, runs, crypto


def vals(runs, key, field):
    return [r[field] for r in runs.get(key, []) if "error" not in r and r.get(field) is not None]


def med(runs, key, field):
    v = vals(runs, key, field)
    return statistics.median(v) if v else None


def rows(runs):
    """(label, unit, test, cert, field, target kind, target) for every row."""
    certs = sorted({k[1] for k in runs if k[2].startswith("hs-") or k[2] == "idle"},
                   key=lambda c: list(CERT_NAMES).index(c) if c in CERT_NAMES else 9)
    out = []
    for c in certs:
        n = CERT_NAMES.get(c, c)
        out += [
            (f"full handshakes/s, {n}", "hs/s", "hs-full", c, "rate", None, None),
            (f"full handshakes per server CPU-s, {n}", "hs/CPU-s", "hs-full", c, "per_cpu", "ratio", 1.5),
            (f"resumed handshakes/s, {n}", "hs/s", "hs-resumed", c, "rate", None, None),
            (f"resumed handshakes per server CPU-s, {n}", "hs/CPU-s", "hs-resumed", c, "per_cpu", "ratio", 1.5),
            (f"memory per idle TLS connection, {n}", "KiB", "idle", c, "kib_per_conn", "max", 64.0),
        ]
    bulk_cert = next((k[1] for k in runs if k[2].startswith("fetch-")), None)
    for t, n in FETCH_NAMES.items():
        if bulk_cert is None:
            break
        out += [
            (f"IMAP FETCH over TLS, {n}", "MB/s", t, bulk_cert, "mb_per_s", None, None),
            (f"IMAP FETCH MB per server CPU-s, {n}", "MB/CPU-s", t, bulk_cert, "mb_per_cpu", None, None),
        ]
    return out


def fmt(x, unit):
    if x is None:
        return "failed"
    if unit in ("hs/s", "hs/CPU-s"):
        return f"{x:,.0f}"
    return f"{x:,.1f}"


def judge(kind, tgt, a, ratio):
    if kind is None:
        return "(info)", "—"
    if kind == "ratio":
        txt = f"ratio >= {tgt:g}"
        ok = ratio is not None and ratio >= tgt
    else:
        txt = f"Sluice <= {tgt:g} KiB"
        ok = a is not None and a <= tgt
    return txt, "**yes**" if ok else "**no**"


def crypto_md(runs, crypto):
    """The libraries' cost per operation, and what it leaves of a handshake."""
    w, o = crypto.get("wolfcrypt"), crypto.get("openssl")
    if not w or not o:
        return []
    lines = [
        "",
        "## Cryptography floor (one CPU, CPU time per operation)",
        "",
        f"`build/perf/tls/bench_tls_crypto` ({w['lib']}, Sluice's library) and `tlsload crypto` "
        f"({o['lib']}, Dovecot's), pinned to the servers' CPU: what the server side of one of "
        "these handshakes must compute (an X25519 key pair and shared secret, then one signature "
        "for CertificateVerify) and how fast each seals 16 KB records.",
        "",
        "| operation | wolfCrypt | OpenSSL | wolfCrypt / OpenSSL |",
        "|---|---:|---:|---:|",
    ]
    for k, label, unit in (("x25519_keygen_derive_us", "X25519 key pair + shared secret", "µs"),
                           ("ecdsa_p256_sign_us", "ECDSA P-256 signature", "µs"),
                           ("rsa2048_pss_sign_us", "RSA-2048 PSS signature", "µs"),
                           ("chacha20_poly1305_mb_s", "ChaCha20-Poly1305 seal, 16 KB records", "MB/s"),
                           ("aes256_gcm_mb_s", "AES-256-GCM seal, 16 KB records", "MB/s")):
        lines.append(f"| {label} [{unit}] | {w[k]:,.1f} | {o[k]:,.1f} | {w[k] / o[k]:.2f}x |")
        if k == "rsa2048_pss_sign_us" and "sluice_rsa2048_pss_sign_us" in w:
            # Sluice's own signer (netstack/ns_tls_rsa*.c), what its RSA handshakes use
            s_us = w["sluice_rsa2048_pss_sign_us"]
            lines.append(f"| RSA-2048 PSS signature, Sluice's signer ({w.get('sluice_rsa_engine', '?')}) "
                         f"[µs] | {s_us:,.1f} | {o[k]:,.1f} | {s_us / o[k]:.2f}x |")
    lines += ["", "| full handshake | public-key floor, Sluice | measured server CPU, Sluice | "
              "public-key floor, Dovecot | measured server CPU, Dovecot |", "|---|---:|---:|---:|---:|"]
    for cert, sk in (("ecdsa", "ecdsa_p256_sign_us"), ("rsa", "rsa2048_pss_sign_us")):
        a = med(runs, ("sluice", cert, "hs-full"), "cpu_ms_per_op")
        b = med(runs, ("dovecot", cert, "hs-full"), "cpu_ms_per_op")
        if a is None and b is None:
            continue
        # the RSA handshakes sign with Sluice's signer when the bench has it
        wsk = "sluice_rsa2048_pss_sign_us" if cert == "rsa" and "sluice_rsa2048_pss_sign_us" in w else sk
        fw = (w["x25519_keygen_derive_us"] + w[wsk]) / 1000
        fo = (o["x25519_keygen_derive_us"] + o[sk]) / 1000
        ma = "failed" if a is None else f"{a:.3f} ms ({fw / a:.0%} of it)"
        mb = "failed" if b is None else f"{b:.3f} ms ({fo / b:.0%} of it)"
        lines.append(f"| {CERT_NAMES[cert]} | {fw:.3f} ms | {ma} | {fo:.3f} ms | {mb} |")
    return lines


def write_md(env, runs, crypto, out):
    nruns = env.get("runs", "?")
    lines = [
        "# TLS benchmark (perf/tls)",
        "",
        f"Run {env.get('date', '?')} on commit `{env.get('commit', '?')}`: {env.get('ncpu', '?')} CPUs "
        f"({env.get('cpu', '?')}), Linux {env.get('kernel', '?')}; Sluice with wolfSSL "
        f"{env.get('wolfssl', '?')} on 993 over the TAP, Dovecot {env.get('dovecot', '?')} "
        f"({env.get('openssl', '?')}) on 993 over a veth pair, {env.get('dovecot_login_procs', '?')} "
        "imap-login process(es) in high-performance mode. Client: `build/perf/tls/tlsload` (OpenSSL, "
        f"TLS 1.3 only, pinned to CPU {env.get('client_cpu', '?')}); both servers on CPU "
        f"{env.get('server_cpu', '?')}. Handshakes: {env.get('conc', '?')} connections in flight, "
        f"each connect + handshake + IMAP greeting + close, {env.get('secs', '?')} s after "
        f"{env.get('warmup', '?')} s warm-up. Idle: {env.get('idle_n', '?')} connections. Bulk: "
        f"{env.get('bulk_count', '?')} messages of {env.get('bulk_size', 0) // 1024} KiB appended, "
        f"then one `FETCH 1:* BODY.PEEK[]`. Every figure is the median of {nruns} runs, Sluice and "
        "Dovecot interleaved, each on a fresh server. Method and analysis: docs/perf.md (\"TLS\").",
        "",
        "| metric | Sluice | Dovecot | ratio | target | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for label, unit, test, cert, field, kind, tgt in rows(runs):
        a, b = med(runs, ("sluice", cert, test), field), med(runs, ("dovecot", cert, test), field)
        ratio = a / b if a is not None and b else None
        ttxt, met = judge(kind, tgt, a, ratio)
        rtxt = "n/a" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"| {label} [{unit}] | {fmt(a, unit)} | {fmt(b, unit)} | {rtxt} | {ttxt} | {met} |")
    lines += [
        "",
        "Server CPU: Sluice is utime+stime of `sluiced` (all threads; the worker lcore busy-polls "
        "while traffic flows, so its polling between packets is included); Dovecot is the cpuacct "
        "cgroup its master was started in (master, imap-login, auth, anvil, log, config, imap). "
        "Per CPU-second figures divide every operation of the client run (warm-up included) by the "
        "server CPU over the same run. Memory: the server's RSS with the idle connections open minus "
        "before (Sluice: sluiced; Dovecot: the sum over its processes), divided by their number.",
        *crypto_md(runs, crypto),
        "",
        "## Details (medians)",
        "",
        "| test | | Sluice | Dovecot |",
        "|---|---|---:|---:|",
    ]
    tests = sorted({(k[1], k[2]) for k in runs}, key=lambda x: (x[1][:2] != "hs", x))
    for cert, test in tests:
        for field, label in (
            ("cpu_ms_per_op", "server CPU ms per handshake"),
            ("server_cpu_share", "server CPU used / wall time"),
            ("client_cpu_share", "client CPU used / wall time (1.0 = client-bound)"),
            ("resumed_share", "share of handshakes resumed"),
            ("pss_kib_per_conn", "Pss KiB per idle connection"),
        ):
            a, b = med(runs, ("sluice", cert, test), field), med(runs, ("dovecot", cert, test), field)
            if a is None and b is None:
                continue
            fa = "—" if a is None else f"{a:.3f}"
            fb = "—" if b is None else f"{b:.3f}"
            lines.append(f"| {test} {cert} | {label} | {fa} | {fb} |")
        for impl in ("sluice", "dovecot"):
            ciph = {(r.get("client") or {}).get("cipher") for r in runs.get((impl, cert, test), [])
                    if "error" not in r} - {None}
            if ciph and test != "idle":
                lines.append(f"| {test} {cert} | {impl}: negotiated suite | {', '.join(sorted(ciph))} | |")
    lines += ["", "## Every run", "", "| impl | cert | test | run | figure | details |",
              "|---|---|---|---:|---:|---|"]
    for key in sorted(runs, key=lambda k: (k[1], k[2], k[0] != "sluice")):
        for d in sorted(runs[key], key=lambda x: x.get("run", 0)):
            if "error" in d:
                lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {d.get('run')} | failed | {d['error']} |")
                continue
            c = d.get("client") or {}
            if key[2].startswith("hs-"):
                fig = f"{d['rate']:,.0f} hs/s"
                det = (f"ok {c['ok']} (resumed {c['resumed']}), failed {c['failed']}, total {c['ok_total']} in "
                       f"{c['elapsed_s']:.1f} s, server CPU {d['server_cpu_s']:.2f} s, client CPU "
                       f"{c['client_cpu_s']:.2f} s, {c.get('cipher')}, {c.get('group')}")
            elif key[2] == "idle":
                fig = f"{d['kib_per_conn']:.1f} KiB"
                det = (f"RSS {d['rss_before_kib']} -> {d['rss_idle_kib']} KiB with {d['n']} open "
                       f"(-> {d.get('rss_after_close_kib')} after close), Pss {d['pss_before_kib']} -> "
                       f"{d['pss_idle_kib']} KiB, opened in {c.get('open_s')} s")
            elif key[2].startswith("fetch-"):
                fig = f"{d['mb_per_s']:.1f} MB/s"
                det = (f"{c['body_bytes']} bytes in {c['secs']:.3f} s, server CPU {d['server_cpu_s']:.2f} s, "
                       f"client CPU {c['client_cpu_s']:.2f} s, {c.get('cipher')}")
            else:
                fig = f"{c.get('secs', 0):.1f} s"
                det = f"{c.get('count')} x {c.get('size')} bytes APPENDed"
            det += f"; box busy {d.get('box_busy_pct')}% before, load {d.get('loadavg')}"
            lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {d.get('run')} | {fig} | {det} |")
    if any("error" in d for v in runs.values() for d in v):
        lines += ["", "Failed runs are counted as missing; a metric without any successful run is "
                  "reported as failed and its target as not met."]
    lines.append("")
    with open(out, "w") as f:
        f.write("\n".join(lines))


def write_png(env, runs, out):
    rs = rows(runs)
    # One panel per metric kind; bars per certificate or FETCH variant.
    panels = {}
    for r in rs:
        kind = r[0].split(",")[0]
        panels.setdefault(kind, []).append(r)
    n = len(panels)
    cols = 3
    nrows = (n + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 4.2 * nrows), squeeze=False)
    w = 0.38
    for ax, (title, prs) in zip(axes.flat, panels.items()):
        unit = prs[0][1]
        kind, tgt = prs[0][5], prs[0][6]
        for i, (label, _, test, cert, field, _, _) in enumerate(prs):
            for j, (impl, name, color) in enumerate(IMPLS):
                x = i + (j - 0.5) * w
                m = med(runs, (impl, cert, test), field)
                ax.bar(x, m or 0, w, color=color, label=name if i == 0 else None)
                v = vals(runs, (impl, cert, test), field)
                ax.plot([x] * len(v), v, "k.", ms=5)
            a, b = med(runs, ("sluice", cert, test), field), med(runs, ("dovecot", cert, test), field)
            if a is not None and b:
                ax.text(i, max(a, b) * 1.04, f"{a / b:.2f}x", ha="center", fontsize=9,
                        bbox=dict(facecolor="white", edgecolor="none", pad=1))
                if kind == "ratio":
                    ax.plot([i - w, i], [b * tgt, b * tgt], "r--", lw=1.2)
            if kind == "max":
                ax.plot([i - w, i], [tgt, tgt], "r--", lw=1.2)
        ax.set_xticks(range(len(prs)))
        ax.set_xticklabels([p[0].split(", ", 1)[1] if ", " in p[0] else p[0] for p in prs], fontsize=8)
        sub = ""
        if kind == "ratio":
            sub = f" (target >= {tgt:g}x Dovecot, red)"
        elif kind == "max":
            sub = f" (target <= {tgt:g} KiB, red)"
        ax.set_title(f"{title}{sub}", fontsize=9)
        ax.set_ylabel(unit)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.12)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=9)
    fig.suptitle(f"perf/tls: Sluice vs Dovecot, TLS 1.3 on 993 (medians of {env.get('runs', '?')} runs; dots: runs)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    env, runs, crypto = load(sys.argv[1])
    if not runs:
        print("perf/tls/report.py: no results in " + sys.argv[1], file=sys.stderr)
        return 1
    write_md(env, runs, crypto, sys.argv[2])
    write_png(env, runs, sys.argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main())
