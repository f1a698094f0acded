import AdmissionKit
import Testing

@testable import WasmPluginPolicy

/// The rules read the spec's fields from `SpecFields`, found in one pass: it must hold
/// exactly what `spec[key]` gives, for every declared key.
@Suite struct SpecFieldsTests {
    /// The CRD's spec fields, which `spec-fields` knows from `SpecFields.Field`.
    @Test func everyDeclaredKeyHasAField() {
        #expect(
            ScalarRules.knownSpecKeys.names == [
                "selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret",
                "verificationKey", "pluginConfig", "pluginName", "phase", "priority", "failStrategy", "vmConfig", "match", "type",
            ])
    }

    /// Each key alone sets its field and no other; keys that differ by a byte, or share a
    /// length with a declared key, set nothing.
    @Test func eachKeySetsOnlyItsField() throws {
        for field in SpecFields.Field.allCases {
            let spec = try object(#"{"\#(field.rawValue)": "v"}"#)
            let fields = SpecFields(spec)
            for other in SpecFields.Field.allCases {
                #expect((fields[other] != nil) == (other == field), "\(field.rawValue) set \(other.rawValue)")
            }
            #expect(fields[field] == .string("v"))
        }
        var nearMisses: [String] = []
        for name in ScalarRules.knownSpecKeys.names {
            let bytes = Array(name.utf8)
            nearMisses.append(String(decoding: bytes.dropLast() + [UInt8(ascii: "_")], as: UTF8.self))
            nearMisses.append(String(decoding: [UInt8(ascii: "_")] + bytes.dropFirst(), as: UTF8.self))
            nearMisses.append(name.uppercased())
            nearMisses.append(name + "s")
        }
        nearMisses.removeAll { ScalarRules.knownSpecKeys.contains($0) }
        let members = nearMisses.map { JSONMember($0, .string("x")) }
        let fields = SpecFields(JSONObject(members: members))
        for field in SpecFields.Field.allCases { #expect(fields[field] == nil, "\(field.rawValue) set by a near miss") }
    }

    /// A full spec with repeated keys and unknown ones: every field is what `spec[key]`
    /// reads (the last member with the key).
    @Test func agreesWithLookupsOnRepeatedKeys() throws {
        var members: [JSONMember] = []
        for (i, field) in SpecFields.Field.allCases.enumerated() {
            members.append(JSONMember(field.rawValue, .number("\(i)")))
            members.append(JSONMember(field.rawValue.uppercased(), .bool(true)))
        }
        for (i, field) in SpecFields.Field.allCases.enumerated() where i % 3 == 0 {
            members.append(JSONMember(field.rawValue, .string("again \(i)")))
        }
        let spec = JSONObject(members: members)
        let fields = SpecFields(spec)
        for field in SpecFields.Field.allCases {
            #expect(fields[field] == spec[field.rawValue], "\(field.rawValue)")
            #expect(fields[field] != nil)
        }
    }

    private func object(_ text: String) throws -> JSONObject {
        try #require(try JSONParser.parse(text).objectValue)
    }
}
