#!/usr/bin/env python3
"""A stand-in Kubernetes API server for the cluster-view tests (kube-apiserver cannot be
installed on these machines). Standard library only.

It speaks list and watch as the Kubernetes API documentation ("API Concepts": efficient
detection of changes, retrieving large results in chunks, watch bookmarks) specifies:
  - TLS, and `Authorization: Bearer TOKEN` checked on every request (401 Status otherwise);
  - GET /api/v1/{namespaces,services}, /apis/networking.istio.io/v1/serviceentries,
    /apis/gateway.networking.k8s.io/v1/{gateways,gatewayclasses}: a List with
    metadata.resourceVersion, paged by `limit` and `continue` (410 Expired when a continue
    token predates a compaction);
  - the same with `watch=1`: newline-delimited watch events (ADDED, MODIFIED, DELETED,
    BOOKMARK with the `k8s.io/initial-events-end`-free bookmark shape, ERROR with a 410
    Status) over chunked transfer encoding, from `resourceVersion`, ending cleanly after
    `timeoutSeconds`;
  - a watch from a compacted resourceVersion gets one ERROR event with a 410 Status.

A plain-HTTP admin port (loopback) drives it: POST /apply (an object), /delete
({kind, namespace, name}), /expire (410 to every open watch, and compact), /drop (cut
every watch connection without ending the chunked stream), /token ({token}: rotate),
/lists-slow ({seconds}); GET /stats. --continue-gone N answers the first N continue
requests with 410 Expired, as after a compaction mid-list; --always-gone answers every watch
with an ERROR 410 (a server that cannot serve the version it just listed). On start it prints one JSON line:
{"port": P, "admin": A}.
"""
import argparse
import base64
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RESOURCES = {
    "/api/v1/namespaces": ("Namespace", "v1", False),
    "/api/v1/services": ("Service", "v1", True),
    "/apis/networking.istio.io/v1/serviceentries": ("ServiceEntry", "networking.istio.io/v1", True),
    "/apis/gateway.networking.k8s.io/v1/gateways": ("Gateway", "gateway.networking.k8s.io/v1", True),
    "/apis/gateway.networking.k8s.io/v1/gatewayclasses": ("GatewayClass", "gateway.networking.k8s.io/v1", False),
}
KIND_TO_PATH = {kind: path for path, (kind, _, _) in RESOURCES.items()}


class State:
    def __init__(self, token, missing, bookmark_interval):
        self.cond = threading.Condition()
        self.token = token
        self.rv = 100
        self.compacted = 0
        self.objects = {path: {} for path in RESOURCES if path not in missing}
        self.events = []  # (rv, path, type, object)
        self.expire_generation = 0
        self.drop_generation = 0
        self.bookmark_interval = bookmark_interval
        self.list_delay = 0.0
        self.continue_gone = 0  # how many continue requests still get 410
        self.always_gone = False  # every watch gets 410, even from the version just listed
        self.stats = {"lists": {}, "watches": {}, "watch_rvs": {}, "unauthorized": 0, "open_watches": 0}

    def key(self, obj):
        md = obj["metadata"]
        return (md.get("namespace", ""), md["name"])

    def apply(self, obj):
        path = KIND_TO_PATH[obj["kind"]]
        with self.cond:
            self.rv += 1
            obj = json.loads(json.dumps(obj))
            obj["metadata"]["resourceVersion"] = str(self.rv)
            store = self.objects[path]
            kind = "MODIFIED" if self.key(obj) in store else "ADDED"
            store[self.key(obj)] = obj
            self.events.append((self.rv, path, kind, obj))
            self.cond.notify_all()
            return self.rv

    def delete(self, kind, namespace, name):
        path = KIND_TO_PATH[kind]
        with self.cond:
            obj = self.objects[path].pop((namespace or "", name), None)
            if obj is None:
                return None
            self.rv += 1
            obj = json.loads(json.dumps(obj))
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.events.append((self.rv, path, "DELETED", obj))
            self.cond.notify_all()
            return self.rv


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with state.cond:
                token = state.token
            if self.headers.get("Authorization") != "Bearer " + token:
                with state.cond:
                    state.stats["unauthorized"] += 1
                return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            if url.path not in state.objects:
                return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
            if query.get("watch") in ("1", "true"):
                return self.watch(url.path, query)
            return self.list(url.path, query)

        def list(self, path, query):
            with state.cond:
                delay = state.list_delay
            if delay:
                time.sleep(delay)
            kind, api_version, _ = RESOURCES[path]
            limit = int(query.get("limit", "0") or 0)
            with state.cond:
                state.stats["lists"][kind] = state.stats["lists"].get(kind, 0) + 1
                start, rv = 0, state.rv
                if "continue" in query:
                    token = json.loads(base64.b64decode(query["continue"]))
                    if state.continue_gone > 0:
                        state.continue_gone -= 1
                        return self.send_json(410, status(410, "Expired", "The provided continue parameter is too old"))
                    if token["rv"] < state.compacted:
                        return self.send_json(410, status(410, "Expired", "The provided continue parameter is too old"))
                    start, rv = token["start"], token["rv"]
                items = [state.objects[path][k] for k in sorted(state.objects[path])]
            # Items of a list carry no kind or apiVersion of their own (the list does).
            page = items[start:start + limit] if limit else items[start:]
            cleaned = []
            for item in page:
                item = dict(item)
                item.pop("kind", None)
                item.pop("apiVersion", None)
                cleaned.append(item)
            metadata = {"resourceVersion": str(rv)}
            if limit and start + limit < len(items):
                metadata["continue"] = base64.b64encode(json.dumps({"rv": rv, "start": start + limit}).encode()).decode()
                metadata["remainingItemCount"] = len(items) - start - limit
            self.send_json(200, {"kind": kind + "List", "apiVersion": api_version, "metadata": metadata, "items": cleaned})

        def chunk(self, obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def watch(self, path, query):
            kind, api_version, _ = RESOURCES[path]
            since = int(query.get("resourceVersion", "0") or 0)
            timeout = float(query.get("timeoutSeconds", "1800"))
            bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
            deadline = time.monotonic() + timeout
            with state.cond:
                state.stats["watches"][kind] = state.stats["watches"].get(kind, 0) + 1
                state.stats["watch_rvs"].setdefault(kind, []).append(since)
                state.stats["open_watches"] += 1
                expire, drop = state.expire_generation, state.drop_generation
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                with state.cond:
                    too_old = since < state.compacted or state.always_gone
                if too_old:
                    self.chunk({"type": "ERROR", "object": status(410, "Expired", "too old resource version: %d (%d)" % (since, state.compacted))})
                    self.wfile.write(b"0\r\n\r\n")
                    return
                sent = since
                last_bookmark = time.monotonic()
                while True:
                    with state.cond:
                        pending = [e for e in state.events if e[0] > sent and e[1] == path]
                        if not pending and state.expire_generation == expire and state.drop_generation == drop:
                            state.cond.wait(timeout=0.05)
                            pending = [e for e in state.events if e[0] > sent and e[1] == path]
                        expired = state.expire_generation != expire
                        dropped = state.drop_generation != drop
                        current = state.rv
                    if dropped:
                        # Cut the connection mid-stream: no terminating chunk.
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    if expired:
                        self.chunk({"type": "ERROR", "object": status(410, "Expired", "too old resource version: %d (%d)" % (sent, current))})
                        break
                    for rv, _, kind_of_event, obj in pending:
                        event_obj = dict(obj)
                        event_obj["kind"], event_obj["apiVersion"] = kind, api_version
                        self.chunk({"type": kind_of_event, "object": event_obj})
                        sent = rv
                    now = time.monotonic()
                    if bookmarks and now - last_bookmark >= state.bookmark_interval:
                        # A bookmark carries only the kind, apiVersion and resourceVersion.
                        self.chunk({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": str(current)}}})
                        sent = max(sent, current)
                        last_bookmark = now
                    if now >= deadline:
                        break
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.close_connection = True
            finally:
                with state.cond:
                    state.stats["open_watches"] -= 1

    return Handler


def make_admin(state):
    class Admin(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with state.cond:
                self.reply(dict(state.stats, rv=state.rv))

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/apply":
                objects = body if isinstance(body, list) else [body]
                rv = [state.apply(o) for o in objects][-1]
                return self.reply({"resourceVersion": rv})
            if self.path == "/delete":
                return self.reply({"resourceVersion": state.delete(body["kind"], body.get("namespace", ""), body["name"])})
            with state.cond:
                if self.path == "/expire":
                    state.expire_generation += 1
                    # Everything before the current version is compacted away: a watch
                    # from an older version gets 410; a fresh list's version still works.
                    state.compacted = state.rv
                elif self.path == "/drop":
                    state.drop_generation += 1
                elif self.path == "/token":
                    state.token = body["token"]
                elif self.path == "/lists-slow":
                    state.list_delay = float(body["seconds"])
                state.cond.notify_all()
            self.reply({"ok": True})

    return Admin


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--seed", help="a JSON file: a list of objects to start with")
    parser.add_argument("--missing", action="append", default=[], help="a kind whose API is not installed (404)")
    parser.add_argument("--bookmark-interval", type=float, default=1.0)
    parser.add_argument("--list-delay", type=float, default=0.0)
    parser.add_argument("--continue-gone", type=int, default=0, help="answer this many continue requests with 410")
    parser.add_argument("--always-gone", action="store_true", help="a broken server: every watch gets ERROR 410")
    args = parser.parse_args()
    missing = {KIND_TO_PATH[k] for k in args.missing}
    state = State(args.token, missing, args.bookmark_interval)
    state.list_delay = args.list_delay
    state.continue_gone = args.continue_gone
    state.always_gone = args.always_gone
    if args.seed:
        with open(args.seed) as f:
            for obj in json.load(f):
                state.apply(obj)
    api = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    api.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    api.socket = context.wrap_socket(api.socket, server_side=True)
    admin = ThreadingHTTPServer(("127.0.0.1", 0), make_admin(state))
    admin.daemon_threads = True
    threading.Thread(target=admin.serve_forever, daemon=True).start()
    print(json.dumps({"port": api.server_address[1], "admin": admin.server_address[1]}), flush=True)
    api.serve_forever()


if __name__ == "__main__":
    main()
