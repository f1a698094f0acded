#!/usr/bin/env python3
"""Renders every kustomization with `kubectl kustomize`, validates each object against the
Kubernetes API schemas (kubernetes-validate, strict: unknown fields are errors), checks
cert-manager objects against the fields they need, and checks what the webhook needs of
the rendered YAML. Exit 0 only if everything holds.

  check_manifests.py MANIFESTS_DIR [K8S_VERSION]
static-ca must have been filled in by certs/make-certs.sh (the test does it in a copy).
"""
import subprocess
import sys

import kubernetes_validate
import yaml

NAME = "wasmplugin-webhook"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def render(path):
    out = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise SystemExit(f"kubectl kustomize {path} failed: {out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def check_webhook(doc, mutating):
    kind = doc["kind"]
    webhooks = doc["webhooks"]
    check(len(webhooks) == 1, f"{kind}: one webhook")
    w = webhooks[0]
    check(w.get("sideEffects") == "None", f"{kind}: sideEffects None")
    check(w.get("admissionReviewVersions") == ["v1"], f"{kind}: admissionReviewVersions [v1]")
    check(w.get("failurePolicy") == "Fail", f"{kind}: failurePolicy Fail")
    check(w.get("matchPolicy") == "Equivalent", f"{kind}: matchPolicy Equivalent")
    check(1 <= w.get("timeoutSeconds", 10) <= 10 and "timeoutSeconds" in w, f"{kind}: timeoutSeconds well under 30")
    check(w["clientConfig"]["service"] == {"name": NAME, "namespace": NAME, "path": "/mutate" if mutating else "/validate", "port": 443},
          f"{kind}: clientConfig.service {w['clientConfig']['service']}")
    rule = w["rules"]
    check(rule == [{"apiGroups": ["extensions.istio.io"], "apiVersions": ["v1alpha1"], "resources": ["wasmplugins"],
                    "operations": ["CREATE", "UPDATE"], "scope": "Namespaced"}], f"{kind}: rules {rule}")
    expressions = w["namespaceSelector"]["matchExpressions"]
    check({"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [NAME, "kube-system"]} in expressions,
          f"{kind}: namespaceSelector must leave out {NAME} and kube-system")
    if mutating:
        check(w.get("reinvocationPolicy") == "IfNeeded", f"{kind}: reinvocationPolicy IfNeeded")
    else:
        check("reinvocationPolicy" not in w, f"{kind}: validating webhooks have no reinvocationPolicy")
    return w


def check_base(docs, overlay):
    kinds = sorted(d["kind"] for d in docs)
    for k in ["Namespace", "ServiceAccount", "Deployment", "Service", "PodDisruptionBudget", "ConfigMap",
              "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]:
        check(k in kinds, f"{overlay}: missing {k}")
    for d in docs:
        if d["kind"] not in ("Namespace", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            check(d["metadata"].get("namespace") == NAME, f"{overlay}: {d['kind']} {d['metadata']['name']} not in namespace {NAME}")
    dep = by_kind(docs, "Deployment")[0]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    check(spec["replicas"] >= 2, "Deployment: at least 2 replicas")
    check(pod.get("topologySpreadConstraints") or pod.get("affinity", {}).get("podAntiAffinity"), "Deployment: spread or anti-affinity")
    check(pod["securityContext"].get("runAsNonRoot") is True, "Pod: runAsNonRoot")
    check(pod["securityContext"].get("seccompProfile", {}).get("type") == "RuntimeDefault", "Pod: seccomp RuntimeDefault")
    c = pod["containers"][0]
    sc = c["securityContext"]
    check(sc.get("readOnlyRootFilesystem") is True, "container: readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False, "container: allowPrivilegeEscalation false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], "container: drop ALL capabilities")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports.get("https") == 8443 and ports.get("probes") == 8081, f"container ports {ports}")
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = c[probe]["httpGet"]
        # On the plain probe port: kubelet sends no client certificate, so with --client-ca
        # probes on the admission port would fail.
        check(get["path"] == path and get["scheme"] == "HTTP" and get["port"] == "probes", f"container: {probe} {path} on the probe port")
    annotations = spec["template"]["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/scrape") == "true" and annotations.get("prometheus.io/port") == "8081",
          "pod: Prometheus scrapes the probe port")
    check("requests" in c["resources"] and "limits" in c["resources"], "container: resources")
    args = c["args"]
    check(args[0] == "serve" and "--tls-cert=/tls/tls.crt" in args and "--tls-key=/tls/tls.key" in args, f"container args {args}")
    check("--probe-listen=0.0.0.0:8081" in args, "container: --probe-listen=0.0.0.0:8081")
    check("--threads=2" in args and c["resources"]["limits"].get("memory") == "128Mi",
          "container: --threads=2 with the 128Mi limit the defaults are sized for")
    policy_arg = [a for a in args if a.startswith("--policy=")]
    check(policy_arg == ["--policy=/etc/wasmplugin-webhook/policy.yaml"], "container: --policy from the ConfigMap")
    volumes = {v["name"]: v for v in pod["volumes"]}
    check(volumes["tls"]["secret"]["secretName"] == f"{NAME}-tls", "TLS Secret mounted as a volume")
    cm = by_kind(docs, "ConfigMap")[0]
    check(volumes["policy"]["configMap"]["name"] == cm["metadata"]["name"], "policy ConfigMap mounted (hashed name)")
    check("policy.yaml" in cm["data"], "ConfigMap holds policy.yaml")
    svc = by_kind(docs, "Service")[0]
    check(svc["spec"]["ports"][0]["port"] == 443 and svc["spec"]["ports"][0]["targetPort"] == "https", "Service 443 -> https")
    pdb = by_kind(docs, "PodDisruptionBudget")[0]
    check(pdb["spec"].get("minAvailable") == 1, "PDB minAvailable 1")
    return (check_webhook(by_kind(docs, "MutatingWebhookConfiguration")[0], True),
            check_webhook(by_kind(docs, "ValidatingWebhookConfiguration")[0], False))


def validate_schemas(docs, overlay, version):
    for d in docs:
        try:
            kubernetes_validate.validate(d, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            check(d["apiVersion"] == "cert-manager.io/v1", f"{overlay}: no schema for {d['apiVersion']} {d['kind']}")
        except kubernetes_validate.ValidationError as e:
            failures.append(f"{overlay}: {d['kind']} {d['metadata']['name']}: {e}")


def render_with_component(root, component):
    """The base with `components/<component>` on top, as an overlay would include it."""
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "kustomization.yaml"), "w") as f:
            # kustomize takes only relative paths.
            base, comp = (os.path.relpath(os.path.join(root, p), tmp) for p in ("base", f"components/{component}"))
            f.write(f"resources:\n  - {base}\ncomponents:\n  - {comp}\n")
        docs = render(tmp)
    validate_schemas(docs, f"base+components/{component}", "1.30")
    return docs


def check_mtls(root):
    """components/mtls on top of the base: the client CA mounted and required."""
    docs = render_with_component(root, "mtls")
    c = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]
    args = c["containers"][0]["args"]
    check("--client-ca=/client-ca/ca.crt" in args, f"mtls: --client-ca in {args}")
    check("--probe-listen=0.0.0.0:8081" in args, "mtls: probes stay on the plain port")
    volumes = {v["name"]: v for v in c["volumes"]}
    check(volumes.get("client-ca", {}).get("secret", {}).get("secretName") == f"{NAME}-client-ca", "mtls: client CA Secret volume")
    mounts = {m["name"]: m["mountPath"] for m in c["containers"][0]["volumeMounts"]}
    check(mounts.get("client-ca") == "/client-ca", "mtls: client CA mounted at /client-ca")
    print(f"base+components/mtls: {len(docs)} objects rendered and checked")


# What the cluster view lists and watches: (apiGroup, resource).
CONTEXT_RESOURCES = {("", "namespaces"), ("", "services"), ("networking.istio.io", "serviceentries"),
                     ("gateway.networking.k8s.io", "gateways"), ("gateway.networking.k8s.io", "gatewayclasses")}


def check_context_checks(root):
    """components/context-checks: the flag, the token mounted, and read-only RBAC on exactly
    the view's kinds, bound to the webhook's ServiceAccount."""
    docs = render_with_component(root, "context-checks")
    pod = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]
    check("--context-checks" in pod["containers"][0]["args"], "context-checks: --context-checks in args")
    check(pod.get("automountServiceAccountToken") is True, "context-checks: service-account token mounted")
    roles = by_kind(docs, "ClusterRole")
    check(len(roles) == 1, "context-checks: one ClusterRole")
    granted = set()
    for rule in roles[0]["rules"] if roles else []:
        check(sorted(rule["verbs"]) == ["get", "list", "watch"], f"context-checks: read-only verbs, not {rule['verbs']}")
        granted |= {(g, r) for g in rule["apiGroups"] for r in rule["resources"]}
    check(granted == CONTEXT_RESOURCES, f"context-checks: RBAC on exactly the view's kinds, not {sorted(granted)}")
    bindings = by_kind(docs, "ClusterRoleBinding")
    sa = by_kind(docs, "ServiceAccount")[0]["metadata"]
    check(len(bindings) == 1 and bindings[0]["roleRef"]["name"] == (roles[0]["metadata"]["name"] if roles else None), "context-checks: binding names the role")
    check(bindings and bindings[0]["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}],
          "context-checks: bound to the webhook's ServiceAccount")
    print(f"base+components/context-checks: {len(docs)} objects rendered and checked")


def main(root, version="1.30"):
    check_mtls(root)
    check_context_checks(root)
    for overlay in ("base", "overlays/cert-manager", "overlays/static-ca"):
        docs = render(f"{root}/{overlay}")
        validate_schemas(docs, overlay, version)
        mutating, validating = check_base(docs, overlay)
        if overlay.endswith("cert-manager"):
            for d in by_kind(docs, "MutatingWebhookConfiguration") + by_kind(docs, "ValidatingWebhookConfiguration"):
                check(d["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from") == f"{NAME}/{NAME}-serving",
                      f"{d['kind']}: cert-manager CA injection annotation")
            certs = {c["metadata"]["name"]: c for c in by_kind(docs, "Certificate")}
            serving = certs.get(f"{NAME}-serving", {}).get("spec", {})
            check(serving.get("secretName") == f"{NAME}-tls", "serving Certificate writes the mounted Secret")
            check(sorted(serving.get("dnsNames", [])) == [f"{NAME}.{NAME}.svc", f"{NAME}.{NAME}.svc.cluster.local"], "serving Certificate SANs")
            check(serving.get("issuerRef", {}).get("name") in {i["metadata"]["name"] for i in by_kind(docs, "Issuer")}, "serving Certificate issuer exists")
        if overlay.endswith("static-ca"):
            secret = [s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == f"{NAME}-tls"]
            check(len(secret) == 1 and secret[0]["type"] == "kubernetes.io/tls", "static-ca: the TLS Secret")
            for w in (mutating, validating):
                check(len(w["clientConfig"].get("caBundle", "")) > 100, "static-ca: caBundle filled in")
        print(f"{overlay}: {len(docs)} objects rendered and checked")
    for f in failures:
        print("FAIL " + f)
    print(f"manifests: {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
