#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora from the test fixtures (and a few hand-made
protocol exchanges) into CORPUS_DIR/<Target>/. Existing files are kept: corpora grow
across runs.  Usage: seeds.py REPO_ROOT CORPUS_DIR"""
import glob
import hashlib
import json
import os
import struct
import sys

root, corpus = sys.argv[1], sys.argv[2]
fixtures = sorted(glob.glob(os.path.join(root, "Tests/WasmPluginPolicyTests/Fixtures/*.json")))
recorded = sorted(glob.glob(os.path.join(root, "..", "shared", "fixtures", "recorded", "*.json")))


def put(target, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16])
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


bodies = [open(p, "rb").read() for p in fixtures + recorded]
small = [b for b in bodies if len(b) < 20_000]

# JSON: every fixture body.
for b in bodies:
    put("FuzzJSON", b)

# Review: whole bodies (first byte even), and request objects (odd).
for b in small:
    put("FuzzReview", b"\x00" + b)
    try:
        obj = json.loads(b).get("request", {}).get("object")
    except ValueError:
        obj = None
    if obj is not None:
        put("FuzzReview", b"\x01" + json.dumps(obj).encode())

# YAML: manifests and fixture objects (JSON is YAML).
for p in glob.glob(os.path.join(root, "manifests", "**", "*.yaml"), recursive=True):
    put("FuzzYAML", open(p, "rb").read())
for b in small[:20]:
    put("FuzzYAML", b)
# Documents the defaulter edits in place (check --fix): block and flow styles, comments,
# quoted scalars that must keep their type, and Istio's own cases.
put("FuzzYAML", open(os.path.join(root, "Tests", "WasmPluginPolicyTests", "Istio", "istio-cases.yaml"), "rb").read())
put("FuzzYAML", b"""# c
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: a, namespace: ns}   # m
spec:
  targetRef:
    kind: Gateway
    name: gw
  url: ghcr.io/x/basic_auth   # no scheme
  pluginConfig:
    enabled: "true"
    version: "1.10"
    basic_auth_rules:
    - prefix: /
      request_methods: [GET]
      credentials: ["ok:test", 'YWRtaW4zOmFkbWluMw']
---
spec: {selector: {matchLabels: {istio.io/gateway-name: gw}}, url: "//ghcr.io/x/basic_auth:1"}
""")
put("FuzzYAML", b'{"apiVersion":"v1","kind":"List","items":[{"spec":{"targetRefs":[{"kind":"Gateway","name":"g"}],"url":"OCI://ghcr.io/x/basic_auth"}}]}')

# HTTP/1: the requests the apiserver and probes send, chunked, pipelined, 100-continue.
body = small[0] if small else b"{}"
head = b"POST /validate?timeout=10s HTTP/1.1\r\nHost: webhook.ns.svc:443\r\nContent-Type: application/json\r\n"
for seed in (0, 3, 7, 16):
    put("FuzzHTTP1", bytes([seed]) + head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    put("FuzzHTTP1", bytes([seed]) + head + b"Transfer-Encoding: chunked\r\n\r\n10;x=y\r\n" + body[:16] + b"\r\n0\r\nT: v\r\n\r\n")
    put("FuzzHTTP1", bytes([seed]) + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET https://x/readyz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    put("FuzzHTTP1", bytes([seed]) + head + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}")

# HTTP/2 (after the preface): SETTINGS, a GET, a POST with DATA, PING, WINDOW_UPDATE, RST.
get = bytes([0x82, 0x87, 0x84, 0x41, 0x09]) + b"localhost"
post = bytes([0x83, 0x87, 0x44, 0x09]) + b"/validate" + bytes([0x41, 0x09]) + b"localhost"
exchanges = [
    frame(4, 0, 0) + frame(1, 5, 1, get),
    frame(4, 0, 0) + frame(1, 4, 1, post) + frame(0, 0, 1, b'{"a":') + frame(0, 1, 1, b"1}"),
    frame(4, 0, 0, struct.pack(">HI", 4, 1 << 20)) + frame(6, 0, 0, b"\0" * 8) + frame(8, 0, 0, struct.pack(">I", 1000)) + frame(1, 5, 3, get),
    frame(4, 0, 0) + frame(1, 4, 1, post) + frame(3, 0, 1, struct.pack(">I", 8)) + frame(1, 5, 3, get) + frame(7, 0, 0, b"\0" * 8),
]
for seed in (0, 5, 9):
    for e in exchanges:
        put("FuzzHTTP2", bytes([seed]) + e)

# Watch: list pages (first byte even) and watch-event lines (odd) for each kind.
objects = [
    {"metadata": {"name": "my-app", "namespace": "app-ns", "resourceVersion": "5", "labels": {"istio.io/use-waypoint": "waypoint", "istio.io/use-waypoint-namespace": "gw-ns"}}, "spec": {"ports": [{"port": 80}]}},
    {"metadata": {"name": "app-ns", "labels": {"istio.io/dataplane-mode": "ambient", "istio-injection": "enabled"}}},
    {"metadata": {"name": "waypoint", "namespace": "gw-ns", "labels": {"istio.io/waypoint-for": "service"}}, "spec": {"gatewayClassName": "istio-waypoint"}},
    {"metadata": {"name": "istio-waypoint"}, "spec": {"controllerName": "istio.io/mesh-controller"}},
]
for k in range(5):
    page = {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "9", "continue": "abc"}, "items": objects}
    put("FuzzWatch", bytes([k * 2]) + json.dumps(page).encode())
    lines = [{"type": t, "object": o} for t in ("ADDED", "MODIFIED", "DELETED") for o in objects]
    lines.append({"type": "BOOKMARK", "object": {"kind": "Service", "apiVersion": "v1", "metadata": {"resourceVersion": "12"}}})
    lines.append({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Expired", "code": 410, "message": "too old"}})
    put("FuzzWatch", bytes([k * 2 + 1]) + b"\n".join(json.dumps(l).encode() for l in lines))
