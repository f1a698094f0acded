#!/usr/bin/env python3
"""Writes the WasmPlugin AdmissionReview request fixtures in the shape of the recorded
apiserver bodies (../shared/fixtures/recorded, docs/admission-protocol.md §1.2):
key order as the apiserver emits it; a mutating CREATE sees no metadata.uid and a null
creationTimestamp, a validating one sees both filled in.

Run from the repository root:  python3 Tests/scripts/make_fixtures.py
Responses are recorded by the Swift golden test with RECORD_SNAPSHOTS=1.
"""
import copy
import json
import os
import uuid

OUT = os.path.join(os.path.dirname(__file__), "..", "WasmPluginPolicyTests", "Fixtures")
SEED_URL = "oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"
GVK = {"group": "extensions.istio.io", "version": "v1alpha1", "kind": "WasmPlugin"}
GVR = {"group": "extensions.istio.io", "version": "v1alpha1", "resource": "wasmplugins"}


def seed(name, gateway, credentials=("ok:test", "YWRtaW4zOmFkbWluMw==")):
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway}],
        "url": SEED_URL,
        "phase": "AUTHN",
        "pluginConfig": {
            "basic_auth_rules": [
                {"prefix": "/productpage", "request_methods": ["GET", "POST"], "credentials": list(credentials)}
            ]
        },
    }


def plugin(name, spec, namespace="default", validating=False, generation=1):
    metadata = {
        "name": name,
        "namespace": namespace,
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
                 "metadata": {"annotations": {}, "name": name, "namespace": namespace}, "spec": spec},
                separators=(",", ":")) + "\n"
        },
        "managedFields": [{
            "manager": "kubectl-client-side-apply", "operation": "Update",
            "apiVersion": "extensions.istio.io/v1alpha1", "time": "2026-11-20T10:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {".": {}, **{"f:" + k: {} for k in spec}}},
        }],
    }
    if validating:
        metadata["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "obj/" + name))
        metadata["creationTimestamp"] = "2026-11-20T10:00:00Z"
        metadata["generation"] = generation
    else:
        metadata["creationTimestamp"] = None
    return {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin", "metadata": metadata, "spec": spec}


def review(case, name, operation, obj, old=None, dry_run=False, version="admission.k8s.io/v1", namespace="default"):
    options = {"CREATE": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"},
               "UPDATE": {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"},
               "DELETE": {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "propagationPolicy": "Background"}}[operation]
    request = {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, "review/" + case)),
        "kind": GVK, "resource": GVR, "requestKind": GVK, "requestResource": GVR,
        "name": name, "namespace": namespace, "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]},
        "object": obj, "oldObject": old, "dryRun": dry_run, "options": options,
    }
    if version.endswith("v1beta1"):
        # v1beta1 reviews come from old apiservers: no requestKind/requestResource.
        for k in ("requestKind", "requestResource"):
            del request[k]
    return {"kind": "AdmissionReview", "apiVersion": version, "request": request}


def write(case, body):
    with open(os.path.join(OUT, case + ".request.json"), "w") as f:
        json.dump(body, f, indent=2)
        f.write("\n")


def both(variant, name, spec, **kw):
    """The same object as the mutating and the validating webhook see it."""
    write("mutate-" + variant, review("mutate-" + variant, name, "CREATE", plugin(name, spec), **kw))
    write("validate-" + variant, review("validate-" + variant, name, "CREATE", plugin(name, spec, validating=True), **kw))


def main():
    seeds = {
        "seed-gateway": ("basic-auth-at-gateway", seed("basic-auth-at-gateway", "bookinfo-gateway")),
        "seed-waypoint": ("basic-auth-at-waypoint", seed("basic-auth-at-waypoint", "waypoint")),
        "seed-service": ("basic-auth-for-service", seed("basic-auth-for-service", "reviews-svc-waypoint",
                                                        ("ok:test", "MXQtaW4zOmFkbWluMw=="))),
    }
    for variant, (name, spec) in seeds.items():
        both(variant, name, spec)

    base = seeds["seed-gateway"][1]

    def variant(mutator):
        spec = copy.deepcopy(base)
        mutator(spec)
        return spec

    broken = {
        "no-scheme": lambda s: s.update(url="ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"),
        "localhost-registry": lambda s: s.update(url="localhost:5000/wasm-extensions/basic_auth:1.12.0"),
        "selector-instead-of-targetrefs": lambda s: (s.pop("targetRefs"), s.update(selector={"matchLabels": {"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"}})),
        "ingress-selector": lambda s: (s.pop("targetRefs"), s.update(selector={"matchLabels": {"istio": "ingressgateway"}})),
        "gateway-without-group": lambda s: s["targetRefs"][0].pop("group"),
        "deprecated-targetref": lambda s: s.update(targetRef={"kind": "Gateway", "name": "bookinfo-gateway"}) or s.pop("targetRefs"),
        "forgotten-colon": lambda s: s["pluginConfig"]["basic_auth_rules"][0].update(credentials=["admin3admin3"]),
        "unpadded-base64": lambda s: s["pluginConfig"]["basic_auth_rules"][0].update(credentials=["YWRtaW4zOmFkbWluMw"]),
        "ftp-scheme": lambda s: s.update(url="ftp://registry.example.com/basic_auth.wasm"),
        "lowercase-phase": lambda s: s.update(phase="authn"),
        "selector-and-targetrefs": lambda s: s.update(selector={"matchLabels": {"istio": "ingressgateway"}}),
        "no-phase": lambda s: s.pop("phase"),
        "wrong-types": lambda s: s.update(targetRefs={"kind": "Gateway"}, match=[{"ports": [{"number": "80"}]}],
                                          pluginConfig={"basic_auth_rules": [{"prefix": "/", "request_methods": "GET", "credentials": [1, 2]}]}),
    }
    for name, mutator in broken.items():
        both(name, "basic-auth-" + name, variant(mutator))

    # Rules round 2 (issue 8): each gap with the side Istio gets wrong and the right side.
    service_ref = [{"group": "", "kind": "Service", "name": "reviews"}]
    pairs = {
        "bare-image": lambda s: s.update(url="basic_auth"),
        "oci-tag-read-as-port": lambda s: s.update(url="oci://basic_auth:1.12.0"),
        "network-type": lambda s: s.update(type="NETWORK"),
        "http-type": lambda s: s.update(type="HTTP"),
        "waypoint-match-ports": lambda s: s.update(targetRefs=service_ref, match=[{"ports": [{"number": 9080}]}]),
        "waypoint-match-server": lambda s: s.update(targetRefs=service_ref, match=[{"mode": "SERVER"}]),
        "gateway-match-server": lambda s: s.update(match=[{"mode": "SERVER"}]),
        "gateway-match-client": lambda s: s.update(match=[{"mode": "CLIENT", "ports": [{"number": 443}]}]),
        "network-path-url": lambda s: s.update(url="//ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"),
        "uppercase-repository": lambda s: s.update(url="oci://ghcr.io/Istio-Ecosystem/wasm-extensions/basic_auth:1.12.0"),
        "plus-in-tag": lambda s: s.update(url="oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0+build.1"),
        "underscore-in-tag": lambda s: s.update(url="oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0_build.1"),
        "file-url-with-host": lambda s: s.update(url="file://filters/basic_auth.wasm"),
        "file-url-absolute": lambda s: s.update(url="file:///opt/filters/basic_auth.wasm"),
        "echo-newline-credential": lambda s: s["pluginConfig"]["basic_auth_rules"][0].update(credentials=["dXNlcjpwYXNzCg=="]),
        "printf-credential": lambda s: s["pluginConfig"]["basic_auth_rules"][0].update(credentials=["dXNlcjpwYXNz"]),
        "lowercase-method": lambda s: s["pluginConfig"]["basic_auth_rules"][0].update(request_methods=["get", "POST"]),
        "pull-secret-other-namespace": lambda s: s.update(imagePullSecret="registry/ghcr-pull"),
        "pull-secret": lambda s: s.update(imagePullSecret="ghcr-pull"),
        "plugin-name-bytes": lambda s: s.update(pluginName="é" * 129),
        "plugin-name-256-bytes": lambda s: s.update(pluginName="é" * 128),
        "targetref-bad-name": lambda s: s["targetRefs"][0].update(name="Bookinfo_Gateway"),
        "pinned-untagged": lambda s: s.update(url="oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth", sha256="a" * 64),
    }
    for name, mutator in pairs.items():
        both(name, "basic-auth-" + name, variant(mutator))
    # A gateway-name selector in the root namespace reaches that gateway in every
    # namespace: not converted (a targetRef would narrow it), warned about instead.
    root_spec = variant(lambda s: (s.pop("targetRefs"), s.update(selector={"matchLabels": {"istio.io/gateway-name": "ingress"}})))
    for endpoint in ("mutate", "validate"):
        case = endpoint + "-root-namespace-gateway-selector"
        write(case, review(case, "basic-auth-everywhere", "CREATE",
                           plugin("basic-auth-everywhere", root_spec, namespace="istio-system", validating=endpoint == "validate"),
                           namespace="istio-system"))

    # UPDATE with oldObject: the old object was fine, the new one forgot the group.
    new = variant(lambda s: s["targetRefs"][0].pop("group"))
    for endpoint in ("mutate", "validate"):
        case = endpoint + "-update"
        write(case, review(case, "basic-auth-at-gateway", "UPDATE",
                           plugin("basic-auth-at-gateway", new, validating=True, generation=2),
                           old=plugin("basic-auth-at-gateway", base, validating=True)))
    # DELETE: object null, oldObject set: allowed, untouched, even if the old object is broken.
    for endpoint in ("mutate", "validate"):
        case = endpoint + "-delete"
        write(case, review(case, "basic-auth-ftp", "DELETE", None,
                           old=plugin("basic-auth-ftp", variant(broken["ftp-scheme"]), validating=True)))
    # dryRun: same verdict, the flag only shows in the log.
    write("validate-dry-run", review("validate-dry-run", "basic-auth-ftp", "CREATE",
                                     plugin("basic-auth-ftp", variant(broken["ftp-scheme"]), validating=True), dry_run=True))
    # v1beta1 from an old apiserver: answered in v1beta1.
    for endpoint in ("mutate", "validate"):
        case = endpoint + "-v1beta1"
        write(case, review(case, "basic-auth-at-gateway", "CREATE",
                           plugin("basic-auth-at-gateway", variant(broken["no-scheme"]), validating=endpoint == "validate"),
                           version="admission.k8s.io/v1beta1"))


if __name__ == "__main__":
    main()
