import AdmissionKit
import ClusterView

extension AdmissionWebhook {
    /// The WasmPlugin webhooks with `settings`. Of a review only what the rules read is
    /// built: `object`'s top-level keys (for `object-fields`), `apiVersion`, `kind`,
    /// `metadata.name/namespace/generateName` and all of `spec`. No rule reads `oldObject`,
    /// annotations (kubectl's copy of the whole object), labels or status.
    /// With `cluster`, the context rules read it on every review.
    public static func wasmPlugins(settings: PolicySettings = PolicySettings(), cluster: (any ClusterFacts)? = nil) -> AdmissionWebhook {
        AdmissionWebhook(
            validator: WasmPluginValidator(settings: settings, cluster: cluster), defaulter: WasmPluginDefaulter(settings: settings),
            readSet: AdmissionReviewDecoder.readSet(object: WasmPluginKind.readSet, oldObject: .none),
            strings: WasmPluginKind.commonStrings)
    }
}

extension WasmPluginKind {
    /// Keys and values WasmPlugin specs repeat: the parser hands these out instead of
    /// building each anew (`CommonStrings`).
    public static let commonStrings = CommonStrings.kubernetes.adding(
        [
            group, kind, "extensions.istio.io/v1alpha1", "wasmplugins", "selector", "matchLabels", "targetRef", "targetRefs",
            "url", "sha256", "imagePullPolicy", "imagePullSecret", "pluginName", "phase", "priority", "pluginConfig",
            "failStrategy", "type", "vmConfig", "env", "value", "valueFrom", "match", "mode", "ports", "number",
            "Gateway", "GatewayClass", "Service", "ServiceEntry", "gateway.networking.k8s.io", "networking.istio.io", "",
            "basic_auth_rules", "credentials", "prefix", "exact", "suffix", "request_methods",
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
            "istio.io/rev", "istio.io/use-waypoint", "istio.io/gateway-name", "gateway.networking.k8s.io/gateway-name",
        ]
            + WasmPluginEnums.phase + WasmPluginEnums.imagePullPolicy + WasmPluginEnums.failStrategy + WasmPluginEnums.pluginType
            + WasmPluginEnums.matchMode + WasmPluginEnums.valueFrom)

    public static let readSet: JSONReadSet = .members(
        [
            ("apiVersion", .all), ("kind", .all), ("spec", .all),
            ("metadata", .members([("name", .all), ("namespace", .all), ("generateName", .all)], others: .omit)),
        ], others: .none)
}
