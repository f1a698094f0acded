import AdmissionKit
import Foundation
import Testing

@testable import WasmPluginPolicy

/// The rule catalog, the README's rule table and the rule tests stay in step.
@Suite struct RuleCatalogTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md")

    /// The README table, as `WasmPluginRules.all` says it should read.
    static var expectedTable: String {
        let rows = WasmPluginRules.all.map { rule in
            "| `\(rule.id)` | \(rule.field) | \(rule.verdict.rawValue) | \(rule.fix) |"
        }
        return (["| id | field | default | fix |", "|---|---|---|---|"] + rows).joined(separator: "\n")
    }

    @Test func readmeListsEveryRule() throws {
        let text = try String(contentsOf: Self.readme, encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- rules:begin -->\n"))
        let end = try #require(text.range(of: "<!-- rules:end -->", range: begin.upperBound..<text.endIndex))
        let table = String(text[begin.upperBound..<end.lowerBound]).trimmingCharacters(in: .newlines)
        #expect(table == Self.expectedTable, "README rule table is out of date; it should read:\n\(Self.expectedTable)")
    }

    @Test func idsAreUniqueAndDistinctFromDefaultingIDs() {
        let ids = WasmPluginRules.all.map(\.id)
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids).isDisjoint(with: WasmPluginRules.defaultingIDs))
        #expect(ids.allSatisfy { $0.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" } })
    }

    /// Every rule fires in some rule-table case (the rules that are off by default, under
    /// the policy that turns them on).
    @Test func everyRuleIsExercised() throws {
        var fired = Set<String>()
        for c in RuleTableTests.cases {
            let result = try validate(c.spec, namespace: c.namespace)
            fired.formUnion(result.errors.map(\.rule))
            fired.formUnion(result.warnings.map(\.rule))
        }
        let strict = try PolicySettings(json: ["selector": "deny", "requireDigest": true, "allowedRegistries": ["registry.example.com/"]])
        let strictResult = try validate(spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"a":"b"}}"#), settings: strict)
        fired.formUnion(strictResult.errors.map(\.rule))
        #expect(fired.isSuperset(of: ["selector-not-allowed", "digest-required", "url-registry"]))
        let object = try JSONParser.parse(#"{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","specs":{},"spec":\#(spec())}"#)
        fired.formUnion(WasmPluginValidator().validate(object: object, namespace: "default").errors.map(\.rule))
        for c in ContextRuleTests.cases {
            let result = try validate(c.spec, namespace: c.namespace, cluster: c.view)
            fired.formUnion(result.errors.map(\.rule))
            fired.formUnion(result.warnings.map(\.rule))
        }
        let missing = WasmPluginRules.all.map(\.id).filter { !fired.contains($0) }
        #expect(missing.isEmpty, "rules no test case exercises: \(missing)")
    }
}
