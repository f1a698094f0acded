import AdmissionKit

/// The spec fields the CRD declares, found in one pass over the spec's members. The rules
/// read them about 60 times a review, and each `spec[key]` scanned the members and
/// compared keys (~100 instructions a hit, a miss of a length some member has as much).
/// As with `spec[key]`, the last member with a key wins.
///
/// A class: as a struct its sixteen `JSON?` (~400 bytes) were copied into the rules' input
/// and out of its initialiser, each copy retaining every field (~1,400 instructions a review).
final class SpecFields {
    /// The declared fields, each named by its key (`ScalarRules.knownSpecKeys` is made of these).
    enum Field: String, CaseIterable {
        case selector, targetRef, targetRefs, url, sha256, imagePullPolicy, imagePullSecret, verificationKey
        case pluginConfig, pluginName, phase, priority, failStrategy, vmConfig, match, type
    }

    private(set) var selector: JSON?
    private(set) var targetRef: JSON?
    private(set) var targetRefs: JSON?
    private(set) var url: JSON?
    private(set) var sha256: JSON?
    private(set) var imagePullPolicy: JSON?
    private(set) var imagePullSecret: JSON?
    private(set) var verificationKey: JSON?
    private(set) var pluginConfig: JSON?
    private(set) var pluginName: JSON?
    private(set) var phase: JSON?
    private(set) var priority: JSON?
    private(set) var failStrategy: JSON?
    private(set) var vmConfig: JSON?
    private(set) var match: JSON?
    private(set) var type: JSON?

    init(_ spec: JSONObject) {
        // By length first, then one compare (two at most): a `switch` on the key compared
        // it with each case in turn.
        let members = spec.members
        for i in members.indices {
            let key = members[i].key
            switch key.utf8.count {
            case 3: if key == "url" { url = members[i].value }
            case 4: if key == "type" { type = members[i].value }
            case 5:
                if key == "phase" { phase = members[i].value } else if key == "match" { match = members[i].value }
            case 6: if key == "sha256" { sha256 = members[i].value }
            case 8:
                if key == "selector" {
                    selector = members[i].value
                } else if key == "priority" {
                    priority = members[i].value
                } else if key == "vmConfig" {
                    vmConfig = members[i].value
                }
            case 9: if key == "targetRef" { targetRef = members[i].value }
            case 10:
                if key == "targetRefs" { targetRefs = members[i].value } else if key == "pluginName" { pluginName = members[i].value }
            case 12:
                if key == "pluginConfig" {
                    pluginConfig = members[i].value
                } else if key == "failStrategy" {
                    failStrategy = members[i].value
                }
            case 15:
                if key == "imagePullPolicy" {
                    imagePullPolicy = members[i].value
                } else if key == "imagePullSecret" {
                    imagePullSecret = members[i].value
                } else if key == "verificationKey" {
                    verificationKey = members[i].value
                }
            default: break
            }
        }
    }

    subscript(field: Field) -> JSON? {
        switch field {
        case .selector: selector
        case .targetRef: targetRef
        case .targetRefs: targetRefs
        case .url: url
        case .sha256: sha256
        case .imagePullPolicy: imagePullPolicy
        case .imagePullSecret: imagePullSecret
        case .verificationKey: verificationKey
        case .pluginConfig: pluginConfig
        case .pluginName: pluginName
        case .phase: phase
        case .priority: priority
        case .failStrategy: failStrategy
        case .vmConfig: vmConfig
        case .match: match
        case .type: type
        }
    }
}
