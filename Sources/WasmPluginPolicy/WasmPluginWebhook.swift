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
            readSet: AdmissionReviewDecoder.readSet(object: WasmPluginKind.readSet, oldObject: .none))
    }
}

extension WasmPluginKind {
    public static let readSet: JSONReadSet = .members(
        [
            ("apiVersion", .all), ("kind", .all), ("spec", .all),
            ("metadata", .members([("name", .all), ("namespace", .all), ("generateName", .all)], others: .none)),
        ], others: .none)
}
