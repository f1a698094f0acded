import AdmissionKit

/// `match` (istiod `validateWasmPluginMatch`; the CRD's list-map keys; pilot
/// `extensions.go` `matchTrafficSelectors`/`matchMode`, and `listener_waypoint.go`, which
/// applies plugins at waypoints as inbound with port 0).
enum MatchRules {
    private static let match$ = FieldPath("spec", "match")

    static func ports(_ input: RuleInput) -> [(FieldPath, JSONObject)] {
        JSONObject.objectItems(of: input.fields.match, at: match$).flatMap { path, selector in selector.objectItems("ports", at: path.child("ports")) }
    }

    static func port(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, port) in ports(input) {
            let numberPath = path.child("number")
            guard let value = port["number"], !value.isNull else {
                r.report(.required(numberPath, "port number must be set"))
                continue
            }
            guard case .number(let text) = value, ObjectRules.isIntegerLiteral(text) else { continue }  // field-type
            if let n = Int(text), (1...65535).contains(n) { continue }
            r.report(numberPath, "\(text.prefix(20)) is out of range", hint: "use a port from 1 to 65535")
        }
    }

    /// The CRD keys `ports` by number (`x-kubernetes-list-map-keys`): a repeat is refused there.
    static func portUnique(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, selector) in JSONObject.objectItems(of: input.fields.match, at: match$) {
            var seen: [Int: Int] = [:]
            for (portPath, port) in selector.objectItems("ports", at: path.child("ports")) {
                guard let number = port["number"]?.intValue, case .index(let j)? = portPath.steps.last else { continue }
                if let first = seen[number] {
                    r.report(
                        FieldError(
                            .duplicate, portPath.child("number"), "duplicate port \(number), also in ports[\(first)]",
                            hint: "list each port once; to match more modes, add another match entry"))
                } else {
                    seen[number] = j
                }
            }
        }
    }

    /// Whether one match entry fires for a listener: the mode (UNDEFINED and
    /// CLIENT_AND_SERVER match all; CLIENT matches gateways and sidecar outbound; SERVER
    /// matches sidecar inbound, which is how waypoints apply plugins) and the port.
    static func fires(_ selector: JSONObject, onWaypoint: Bool) -> Bool {
        let mode = selector.string("mode") ?? "UNDEFINED"
        let hasPorts = !(selector["ports"]?.arrayValue?.isEmpty ?? true)
        if onWaypoint { return mode != "CLIENT" && !hasPorts }
        return mode != "SERVER"
    }

    static func entries(_ input: RuleInput) -> [JSONObject]? {
        guard let match = input.fields.match?.arrayValue, !match.isEmpty else { return nil }
        let entries = match.compactMap(\.objectValue)
        // Only when every entry is readable: a bad mode is enum-value's to report.
        guard entries.count == match.count,
            entries.allSatisfy({ $0.string("mode").map(WasmPluginEnums.matchMode.contains) ?? ($0["mode"] == nil || $0["mode"]!.isNull) })
        else { return nil }
        return entries
    }

    /// Every target applies only at waypoints, and no entry fires there: the plugin never runs.
    static func unreachableOnWaypoints(_ input: RuleInput, _ r: inout ValidationResult) {
        // `match` first: most plugins have none, and the kinds are a list built per call.
        guard let entries = entries(input) else { return }
        let kinds = input.targetKinds
        guard !kinds.isEmpty, kinds.allSatisfy(TargetingRules.waypointOnlyKinds.contains), !entries.contains(where: { fires($0, onWaypoint: true) })
        else { return }
        r.report(
            match$, "can never fire: \(Set(kinds).sorted().joined(separator: " and ")) targets run at waypoints, which apply plugins as inbound (SERVER) traffic on port 0",
            hint: "remove ports, and use mode SERVER or CLIENT_AND_SERVER (or remove match)")
    }

    /// A Gateway target with only SERVER entries: an ingress gateway never runs it. (A Gateway
    /// can be a waypoint, where SERVER is right: so a warning.)
    static func unreachableOnGateways(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let entries = entries(input), input.targetKinds.contains("Gateway"), !entries.contains(where: { fires($0, onWaypoint: false) }) else { return }
        r.report(
            match$, "mode SERVER never fires on an ingress or egress gateway, only if the Gateway is a waypoint",
            hint: "use CLIENT or CLIENT_AND_SERVER for a gateway")
    }
}
