/// Enum spellings exactly as Istio's CRD accepts them (case-sensitive strings).
public enum WasmPluginEnums {
    public static let phase = ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"]
    public static let imagePullPolicy = ["UNSPECIFIED_POLICY", "IfNotPresent", "Always"]
    public static let failStrategy = ["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]
    public static let pluginType = ["UNSPECIFIED_PLUGIN_TYPE", "HTTP", "NETWORK"]
    public static let matchMode = ["UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"]
    public static let valueFrom = ["INLINE", "HOST"]
}

/// The resource this package judges.
public enum WasmPluginKind {
    public static let group = "extensions.istio.io"
    public static let kind = "WasmPlugin"

    public static func matches(_ gvk: (group: String, kind: String)) -> Bool {
        gvk.group == group && gvk.kind == kind
    }
}
