#!/usr/bin/env python3
"""Applies every patch the golden mutate fixtures produce with an independent RFC 6902
implementation (the `jsonpatch` package) and checks, through the real binary:
  1. the patch applies to the object as sent;
  2. mutating the patched object again produces no patch (idempotence: the apiserver
     may call a mutating webhook twice with reinvocationPolicy IfNeeded);
  3. the patched object validates without errors, unless the fixture is one whose
     problem no default can fix (listed below with the reason).

  check_patches.py BINARY FIXTURES_DIR
"""
import base64
import copy
import glob
import json
import os
import subprocess
import sys

import jsonpatch

# Broken variants the mutating webhook must not "fix": the user has to choose.
STILL_INVALID = {
    "mutate-forgotten-colon": "a credential without ':' cannot be guessed",
    "mutate-ftp-scheme": "no supported scheme to rewrite to",
    "mutate-lowercase-phase": "enums are not case-folded: the user may have meant another",
    "mutate-selector-and-targetrefs": "two targeting modes: the user must pick one",
    "mutate-wrong-types": "wrong types are explained, not coerced",
    "mutate-file-url-with-host": "host or relative path: which absolute path was meant is a guess",
    "mutate-lowercase-method": "methods match exactly: a custom lowercase method may be meant",
    "mutate-network-type": "NETWORK or the wrong module: the user must choose",
    "mutate-oci-tag-read-as-port": "which registry was meant is a guess",
    "mutate-plugin-name-bytes": "no safe way to shorten a name",
    "mutate-plus-in-tag": "registries map '+' differently; the tag must be looked up",
    "mutate-pull-secret-other-namespace": "the Secret must be copied, not renamed",
    "mutate-targetref-bad-name": "the target's real name is unknown",
    "mutate-uppercase-repository": "lowercasing a repository may name another image",
    "mutate-waypoint-match-ports": "which traffic was meant is a guess",
}


def review(binary, endpoint, body):
    out = subprocess.run([binary, "review", "--endpoint", endpoint, "-"], input=json.dumps(body).encode(),
                         capture_output=True, timeout=30)
    if out.returncode != 0:
        raise SystemExit(f"review exited {out.returncode}: {out.stderr.decode()}")
    return json.loads(out.stdout)["response"]


def main(binary, fixtures):
    checked = patched = 0
    failures = []
    for path in sorted(glob.glob(os.path.join(fixtures, "mutate-*.request.json"))):
        case = os.path.basename(path)[: -len(".request.json")]
        request = json.load(open(path))
        response = json.load(open(path.replace(".request.json", ".response.json")))["response"]
        checked += 1
        if "patch" not in response:
            if "patchType" in response:
                failures.append(f"{case}: patchType without patch")
            continue
        patched += 1
        ops = json.loads(base64.b64decode(response["patch"], validate=True))
        try:
            fixed = jsonpatch.apply_patch(request["request"]["object"], ops)
        except jsonpatch.JsonPatchException as e:
            failures.append(f"{case}: patch does not apply: {e}")
            continue
        again = copy.deepcopy(request)
        again["request"]["object"] = fixed
        second = review(binary, "mutate", again)
        if "patch" in second:
            failures.append(f"{case}: not idempotent, second patch {base64.b64decode(second['patch']).decode()}")
        verdict = review(binary, "validate", again)
        if case in STILL_INVALID:
            if verdict["allowed"]:
                failures.append(f"{case}: expected to stay invalid ({STILL_INVALID[case]})")
        elif not verdict["allowed"]:
            failures.append(f"{case}: patched object is denied: {verdict['status']['message']}")
    for f in failures:
        print("FAIL " + f)
    print(f"{checked} mutate fixtures, {patched} patches applied with jsonpatch {jsonpatch.__version__}: "
          f"{patched - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
