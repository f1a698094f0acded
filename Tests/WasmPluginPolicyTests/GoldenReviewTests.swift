import AdmissionKit
import Foundation
import Testing

@testable import WasmPluginPolicy

/// Golden AdmissionReview pairs: `Fixtures/<endpoint>-<case>.request.json` →
/// `<endpoint>-<case>.response.json`, compared as canonical JSON (sorted keys).
/// Re-record only on purpose: `RECORD_SNAPSHOTS=1 swift test --filter GoldenReviewTests`,
/// then review `git diff`. A recording run fails, so it can never be left on unnoticed.
@Suite struct GoldenReviewTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let recording = ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"

    static var cases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []
        return names.filter { $0.hasSuffix(".request.json") }.map { String($0.dropLast(".request.json".count)) }.sorted()
    }

    let webhook = AdmissionWebhook.wasmPlugins()

    @Test func thereAreFixtures() {
        #expect(Self.cases.count >= 40)
    }

    @Test(arguments: cases)
    func golden(_ name: String) throws {
        let endpoint = try #require(WebhookEndpoint(rawValue: String(name.prefix { $0 != "-" })))
        let request = try Data(contentsOf: Self.fixtures.appendingPathComponent(name + ".request.json"))
        let outcome = try webhook.review(endpoint, body: Array(request))
        let actual = try JSONParser.parse(outcome.body).canonicalText + "\n"
        let responseURL = Self.fixtures.appendingPathComponent(name + ".response.json")
        if Self.recording {
            try actual.write(to: responseURL, atomically: true, encoding: .utf8)
            Issue.record("recorded \(name).response.json: RECORD_SNAPSHOTS=1 compares nothing; review the diff and run again without it")
            return
        }
        let expected = try JSONParser.parse(Array(try Data(contentsOf: responseURL))).canonicalText + "\n"
        #expect(actual == expected, "response differs from \(name).response.json; re-record with RECORD_SNAPSHOTS=1 if intended")
    }

    /// The response is written straight to bytes; it must be exactly the document the JSON
    /// tree spells, for every fixture, endpoint and version (and for rollout warnings).
    @Test(arguments: cases)
    func directEncodingMatchesTheTree(_ name: String) throws {
        let body = try Data(contentsOf: Self.fixtures.appendingPathComponent(name + ".request.json"))
        let (version, request) = try AdmissionReviewDecoder.decode(Array(body), reading: webhook.readSet)
        let rollout = AdmissionWebhook.wasmPlugins(settings: try PolicySettings(json: ["enforcement": "warn"]))
        for (hook, endpoint) in [(webhook, WebhookEndpoint.validate), (webhook, .mutate), (rollout, .validate)] {
            let response = hook.decide(endpoint, request)
            #expect(response.reviewBytes(version: version) == JSONWriter().bytes(response.review(version: version)))
        }
    }

    /// Of a review only what the rules read is built: kubectl's annotation (a copy of the
    /// whole object), labels, managedFields, userInfo and oldObject are not; the metadata
    /// fields and request parts nobody reads are left out altogether.
    @Test func aReviewBuildsOnlyWhatTheRulesRead() throws {
        let body = try Data(contentsOf: Self.fixtures.appendingPathComponent("validate-update.request.json"))
        let (_, request) = try AdmissionReviewDecoder.decode(Array(body), reading: webhook.readSet)
        let object = try #require(request.object)
        #expect(object["metadata"]?["annotations"] == nil && object["metadata"]?["managedFields"] == nil)
        #expect(object["metadata"]?.objectValue?.keys == ["name", "namespace"])
        #expect(object["metadata"]?["name"] == "basic-auth-at-gateway" && object["metadata"]?["namespace"] == "default")
        #expect(object["spec"]?["pluginConfig"]?["basic_auth_rules"]?.arrayValue?.count == 1)
        #expect(request.oldObject == nil)
        // The generic decoder keeps all but managedFields.
        let (_, generic) = try AdmissionReviewDecoder.decode(Array(body))
        #expect(generic.object?["metadata"]?["annotations"]?.objectValue != nil && generic.oldObject != nil)
    }

    /// The seed scenario end to end: mutate, apply the patch, validate the result.
    @Test(arguments: ["seed-gateway", "seed-waypoint", "seed-service"])
    func seedIsMutatedThenAdmitted(_ name: String) throws {
        let body = try Data(contentsOf: Self.fixtures.appendingPathComponent("mutate-\(name).request.json"))
        let (_, request) = try AdmissionReviewDecoder.decode(Array(body))
        let mutated = webhook.decide(.mutate, request)
        // The plain `ok:test` is normalised to base64, nothing else changes.
        #expect(mutated.patch.map(\.path.jsonPointer) == ["/spec/pluginConfig/basic_auth_rules/0/credentials/0"])
        var patchedRequest = request
        patchedRequest.object = try request.object?.applying(mutated.patch)
        #expect(patchedRequest.object?.value(at: FieldPath("spec", "pluginConfig", "basic_auth_rules").index(0).child("credentials").index(0)) == "b2s6dGVzdA==")
        let verdict = webhook.decide(.validate, patchedRequest)
        #expect(verdict.allowed)
        #expect(verdict.warnings.isEmpty, "\(verdict.warnings)")
        #expect(webhook.decide(.mutate, patchedRequest).patch.isEmpty)
    }
}
