#!/usr/bin/env python3
"""Wire-level clients for the end-to-end tests: real TLS sockets on loopback, standard
library only. Each subcommand prints what it saw and exits 0 only if it saw what the
server must do. Every loop is bounded; every socket has a timeout.

  wire.py apiserver HOST PORT CA BODY [CONNS] [REQUESTS]   # ALPN http/1.1 only, keep-alive, like kube-apiserver
  wire.py pipeline HOST PORT CA BODY...                     # several requests in one write, answers in order
  wire.py expect100 HOST PORT CA BODY                       # waits for 100 Continue before sending the body
  wire.py raw HOST PORT CA STATUS HEX                       # sends raw bytes, expects an HTTP status
  wire.py oldtls HOST PORT                                  # TLS 1.0/1.1 must be refused
  wire.py hostile HOST PORT CA                              # garbage, half handshakes, floods, early closes
  wire.py slowbody HOST PORT CA BODY SECONDS                # head + half body, pause, rest (graceful drain)
  wire.py idle HOST PORT CA SECONDS                         # an idle keep-alive connection is closed by the server
  wire.py keepopen HOST PORT CA BODY SECONDS                # one connection: request, wait, request again
  wire.py flood HOST PORT CA COUNT BODY                     # COUNT pipelined reviews of BODY, read late: back-pressure
  wire.py maxconn HOST PORT CA LIMIT                        # LIMIT connections work, one more is closed, a freed slot is reused
  wire.py halfclose HOST PORT CA BODY [TRIES]               # request and close_notify in one flight: the answer still comes
"""
import http.client
import json
import os
import random
import socket
import ssl
import sys
import threading
import time


def context(ca, alpn=("http/1.1",)):
    ctx = ssl.create_default_context(cafile=ca)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def tls_socket(host, port, ca, alpn=("http/1.1",), timeout=10):
    raw = socket.create_connection((host, port), timeout=timeout)
    return context(ca, alpn).wrap_socket(raw, server_hostname="localhost")


def fail(message):
    print("FAIL " + message)
    sys.exit(1)


def request_bytes(body, path="/validate?timeout=10s", extra=""):
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, */*\r\nUser-Agent: kube-apiserver-admission\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def read_response(sock, buffer=b""):
    """Reads one HTTP/1.1 response with Content-Length; returns (status, headers, body, rest)."""
    deadline = time.time() + 10
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed before a response head")
        buffer += chunk
        if time.time() > deadline:
            raise TimeoutError("no response head")
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed mid-body")
        rest += chunk
    return status, headers, rest[:length], rest[length:]


def apiserver(host, port, ca, body_path, conns="5", requests="20"):
    body = open(body_path, "rb").read()
    uid = json.loads(body)["request"]["uid"]
    errors = []

    def worker(n):
        ctx = context(ca)
        conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
        try:
            for _ in range(int(requests)):
                conn.request("POST", "/validate?timeout=10s", body=body, headers={
                    "Content-Type": "application/json", "Accept": "application/json, */*",
                    "User-Agent": "kube-apiserver-admission", "Accept-Encoding": "gzip"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    errors.append(f"conn {n}: HTTP {resp.status}")
                    return
                review = json.loads(data)
                if review.get("apiVersion") != "admission.k8s.io/v1" or review["response"]["uid"] != uid:
                    errors.append(f"conn {n}: bad review {data[:200]!r}")
                    return
            if conn.sock.version() not in ("TLSv1.2", "TLSv1.3") or conn.sock.selected_alpn_protocol() != "http/1.1":
                errors.append(f"conn {n}: {conn.sock.version()} alpn {conn.sock.selected_alpn_protocol()}")
        except Exception as e:  # noqa: BLE001 - report any failure
            errors.append(f"conn {n}: {e!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(int(conns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        fail("; ".join(errors))
    print(f"ok {int(conns) * int(requests)} reviews over {conns} keep-alive http/1.1 connections")


def pipeline(host, port, ca, *bodies):
    sock = tls_socket(host, port, ca)
    payload = b"".join(request_bytes(open(p, "rb").read()) for p in bodies)
    sock.sendall(payload)
    rest = b""
    for p in bodies:
        status, _, body, rest = read_response(sock, rest)
        want = json.load(open(p))["request"]["uid"]
        got = json.loads(body)["response"]["uid"]
        if status != 200 or got != want:
            fail(f"answer out of order or failed: status {status}, uid {got}, want {want}")
    print(f"ok {len(bodies)} pipelined answers in order")


def expect100(host, port, ca, body_path):
    body = open(body_path, "rb").read()
    sock = tls_socket(host, port, ca)
    head = request_bytes(b"", extra="Expect: 100-continue\r\n").replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode())
    sock.sendall(head)
    status, _, _, rest = read_response(sock)
    if status != 100:
        fail(f"expected 100 Continue, got {status}")
    sock.sendall(body)
    status, _, data, _ = read_response(sock, rest)
    if status != 200 or json.loads(data)["response"]["uid"] != json.loads(body)["request"]["uid"]:
        fail(f"final answer {status}")
    print("ok 100 Continue, then 200")


def raw(host, port, ca, want, hexbytes):
    sock = tls_socket(host, port, ca)
    sock.sendall(bytes.fromhex(hexbytes))
    status, headers, body, _ = read_response(sock)
    if status != int(want):
        fail(f"expected {want}, got {status}: {body[:200]!r}")
    # An error answer closes the connection.
    if status >= 400 and headers.get("connection") != "close":
        fail("error answer without Connection: close")
    print(f"ok {status} {body.decode(errors='replace').strip()}")


def oldtls(host, port):
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
            ctx.minimum_version = version
            ctx.maximum_version = version
        except (ValueError, ssl.SSLError) as e:
            print(f"note: this OpenSSL cannot even offer {version.name}: {e}")
            continue
        try:
            with socket.create_connection((host, int(port)), timeout=5) as raw_sock:
                with ctx.wrap_socket(raw_sock) as s:
                    fail(f"{version.name} handshake succeeded ({s.version()})")
        except (ssl.SSLError, ConnectionResetError, OSError) as e:
            print(f"ok {version.name} refused: {e.__class__.__name__}")


def hostile(host, port, ca):
    rng = random.Random(7)
    port = int(port)
    # 1. Random bytes instead of a ClientHello.
    for _ in range(20):
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096))))
            try:
                s.recv(100)
            except OSError:
                pass
    # 2. Half a handshake, then silence and a close.
    for _ in range(10):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        s.close()
    # 3. Plain HTTP on the TLS port.
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            s.recv(100)
        except OSError:
            pass
    # 4. Close in the middle of a request (head, then part of the body).
    for _ in range(10):
        t = tls_socket(host, port, ca)
        t.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":")
        t.close()
    # 5. Header flood: many small headers past the limit.
    t = tls_socket(host, port, ca)
    t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Flood: " + b"a" * 100 + b"\r\n" * 1)
    try:
        for _ in range(400):
            t.sendall(b"X-Flood: " + b"a" * 100 + b"\r\n")
        status, _, _, _ = read_response(t)
        if status != 431:
            fail(f"header flood answered {status}, want 431")
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass
    t.close()
    # 6. Garbage after a valid TLS handshake.
    for _ in range(10):
        t = tls_socket(host, port, ca)
        t.sendall(bytes(rng.getrandbits(8) for _ in range(512)))
        try:
            t.recv(1000)
        except OSError:
            pass
        t.close()
    # 7. HTTP/2 client preface then garbage.
    t = tls_socket(host, port, ca, alpn=("h2",))
    t.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(rng.getrandbits(8) for _ in range(300)))
    try:
        t.recv(1000)
    except OSError:
        pass
    t.close()
    print("ok hostile inputs sent")


def slowbody(host, port, ca, body_path, seconds):
    body = open(body_path, "rb").read()
    sock = tls_socket(host, port, ca, timeout=30)
    half = len(body) // 2
    sock.sendall(request_bytes(body)[: -len(body) + half])
    print("sent-half", flush=True)
    time.sleep(float(seconds))
    sock.sendall(body[half:])
    status, headers, data, _ = read_response(sock)
    if status != 200 or json.loads(data)["response"]["uid"] != json.loads(body)["request"]["uid"]:
        fail(f"in-flight request answered {status}")
    print(f"ok in-flight request answered 200, connection: {headers.get('connection', 'keep-alive')}")


def idle(host, port, ca, seconds):
    sock = tls_socket(host, port, ca, timeout=float(seconds) + 10)
    start = time.time()
    try:
        data = sock.recv(100)
    except (ConnectionResetError, ssl.SSLError):
        data = b""
    waited = time.time() - start
    if data:
        fail(f"unexpected data {data!r}")
    if waited < float(seconds) - 0.5:
        fail(f"closed too early after {waited:.1f}s")
    print(f"ok idle connection closed by the server after {waited:.1f}s")


def keepopen(host, port, ca, body_path, seconds):
    body = open(body_path, "rb").read()
    sock = tls_socket(host, port, ca, timeout=30)
    sock.sendall(request_bytes(body))
    status, _, _, rest = read_response(sock)
    print(f"first {status}", flush=True)
    time.sleep(float(seconds))
    sock.sendall(request_bytes(body))
    status2, _, _, _ = read_response(sock, rest)
    if status != 200 or status2 != 200:
        fail(f"answers {status}, {status2}")
    print("ok same connection answered before and after")


def flood(host, port, ca, count, body_path):
    """Many pipelined requests whose answers pile up while the client is not reading:
    the server must stop reading, keep every answer, in order, and resume."""
    count = int(count)
    body = open(body_path, "rb").read()
    sock = tls_socket(host, port, ca, timeout=60)
    requests = b"".join(request_bytes(body, path=f"/validate?n={i}") for i in range(count - 1))
    requests += b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    sender = threading.Thread(target=sock.sendall, args=(requests,))
    sender.start()
    time.sleep(1.0)  # let the answers pile up on the server
    data = bytearray()
    deadline = time.time() + 60
    while time.time() < deadline:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    sender.join(10)
    answers = data.count(b"HTTP/1.1 200 OK\r\n")
    if answers != count or not data.rstrip().endswith(b"ok"):
        fail(f"{answers} of {count} answers ({len(data)} bytes)")
    print(f"ok {count} pipelined answers ({len(data) // 1024} KiB) after back-pressure")


def healthz(sock):
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body, _ = read_response(sock)
    return status == 200 and body == b"ok\n"


def maxconn(host, port, ca, limit):
    held = [tls_socket(host, port, ca) for _ in range(int(limit))]
    if not all(healthz(s) for s in held):
        fail("connections under the limit were not served")
    try:
        extra = tls_socket(host, port, ca, timeout=5)
        served = healthz(extra)
    except (ssl.SSLError, ConnectionError, EOFError, OSError):
        served = False
    if served:
        fail("a connection over the limit was served")
    held.pop().close()
    time.sleep(0.3)
    again = tls_socket(host, port, ca)
    if not healthz(again):
        fail("a freed slot was not reused")
    print(f"ok {limit} connections served, one more refused, freed slot reused")


def halfclose(host, port, ca, body_path, tries="10"):
    """TLS 1.3 close_notify closes only the sender's side (RFC 8446 §6.1): a client may send
    its request, close its side, and still read the answer. Request and close_notify go out
    in one write, so the server reads both before it answers."""
    body = open(body_path, "rb").read()
    want = json.loads(body)["request"]["uid"]
    for attempt in range(int(tries)):
        raw_sock = socket.create_connection((host, port), timeout=10)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context(ca).wrap_bio(incoming, outgoing, server_hostname="localhost")
        for _ in range(50):  # a handshake is a few round trips
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw_sock.sendall(outgoing.read())
                chunk = raw_sock.recv(65536)
                if not chunk:
                    fail("closed during the handshake")
                incoming.write(chunk)
        else:
            fail("handshake did not finish")
        raw_sock.sendall(outgoing.read())
        tls.write(request_bytes(body))
        try:
            tls.unwrap()  # queues close_notify behind the request
        except ssl.SSLWantReadError:
            pass
        raw_sock.sendall(outgoing.read())
        answer = b""
        deadline = time.time() + 10
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < 2 or not answer.endswith(b"}"):
            if time.time() > deadline:
                fail(f"attempt {attempt}: no complete answer in time ({len(answer)} bytes)")
            chunk = raw_sock.recv(65536)
            if not chunk:
                fail(f"attempt {attempt}: closed after {len(answer)} bytes of the answer")
            incoming.write(chunk)
            try:
                while True:
                    data = tls.read(65536)
                    if not data:
                        break
                    answer += data
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                pass
        status = int(answer.split(b" ")[1])
        got = json.loads(answer.partition(b"\r\n\r\n")[2])["response"]["uid"]
        if status != 200 or got != want:
            fail(f"attempt {attempt}: status {status}, uid {got}")
        raw_sock.close()
    print(f"ok {tries} answers after request and close_notify in one flight")


if __name__ == "__main__":
    commands = {f.__name__: f for f in (apiserver, pipeline, expect100, raw, oldtls, hostile, slowbody, idle, keepopen, flood, maxconn, halfclose)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        sys.exit(2)
    commands[sys.argv[1]](*sys.argv[2:])
