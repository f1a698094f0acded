import AdmissionKit
import FuzzSupport
import WasmPluginPolicy

let webhook = AdmissionWebhook.wasmPlugins()

/// The whole review on arbitrary input: with the first byte even, the input is the body;
/// odd, it is the WasmPlugin object inside a real CREATE envelope (so the rules, not only
/// the envelope checks, see it). Oracles: no crash; /validate never patches; a /mutate
/// patch applies to the object as sent; mutating the patched object patches nothing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReview(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let body = data[0] & 1 == 0 ? input : envelope(input)
    requireEnvelopeReadingAgrees(body)
    guard let validated = try? webhook.review(.validate, body: body) else { return 0 }
    require(validated.response.patch.isEmpty, "validate patched")
    // The answer is written straight to bytes (a denial's causes copied from its message):
    // it must be exactly the document the response's JSON tree spells.
    require(validated.body == JSONWriter().bytes(validated.response.review(version: validated.version)), "answer bytes differ from the tree")
    guard let mutated = try? webhook.review(.mutate, body: body) else {
        fatalError("mutate refused a body that validate decoded")
    }
    let answer = try? JSONParser.parse(mutated.body)
    require(answer?["response"]?["uid"] == .string(mutated.request.uid), "uid not echoed")
    guard !mutated.response.patch.isEmpty, let object = mutated.request.object else { return 0 }
    // The patch as sent: base64 of JSON Patch, decoded and applied like the apiserver does.
    guard case .string(let encoded)? = answer?["response"]?["patch"], let patchBytes = Base64.decodeCanonical(encoded),
        case .array(let ops)? = try? JSONParser.parse(patchBytes)
    else {
        fatalError("mutate answered a patch that is not base64 JSON Patch")
    }
    var patched = object
    for op in ops {
        guard case .string(let name)? = op["op"], let kind = PatchOperation.Op(rawValue: name), case .string(let pointer)? = op["path"],
            let path = try? FieldPath(jsonPointer: pointer)
        else { fatalError("malformed patch operation \(op)") }
        do {
            try patched.apply(PatchOperation(kind, path, op["value"]))
        } catch {
            fatalError("patch does not apply: \(error)")
        }
    }
    var request = mutated.request
    request.object = patched
    let again = webhook.decide(.mutate, request)
    require(again.patch.isEmpty, "mutating the mutated object patched again: \(again.patch.map(\.path.jsonPointer))")
    return 0
}

/// The envelope read member by member decides as decoding its tree does (fields or message).
func requireEnvelopeReadingAgrees(_ body: [UInt8]) {
    guard !body.isEmpty else { return }
    let read = Result { () throws(AdmissionDecodeError) in try AdmissionReviewDecoder.decode(body, reading: webhook.readSet, strings: webhook.strings) }
    let tree = Result { () throws(AdmissionDecodeError) in
        let json: JSON
        do {
            json = try JSONParser.parse(body, reading: webhook.readSet, maxValues: AdmissionReviewDecoder.maxValues, strings: webhook.strings)
        } catch {
            throw AdmissionDecodeError("body is not valid JSON: \(error)")
        }
        return try AdmissionReviewDecoder.decode(json)
    }
    switch (read, tree) {
    case (.success(let r), .success(let t)) where r.0 == t.0 && r.1 == t.1: return
    case (.failure(let r), .failure(let t)) where r == t: return
    default: break
    }
    // Parts nobody reads are skipped, checked for JSON structure but not for what their
    // strings hold (escapes, UTF-8), and not counted against the value limit, as the read
    // set's skipped parts always were; the tree builds every envelope member. So the two
    // may differ only where the tree stopped at a string's contents or at the limit.
    guard case .failure(let treeError) = tree else { fatalError("oracle failed: the tree decoded, the reader did not: \(read)") }
    let text = treeError.description
    let stoppedAtContents = ["not valid UTF-8", "escape", "surrogate", "JSON values"].contains { text.contains($0) }
    require(text.hasPrefix("body is not valid JSON") && stoppedAtContents, "envelope read member by member: \(read)\ntree: \(tree)")
    require(text.contains("JSON values") || (try? JSONParser.parse(body)) == nil, "a valid JSON body decided differently: \(read)\ntree: \(tree)")
}

func envelope(_ object: [UInt8]) -> [UInt8] {
    Array(#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"f","kind":{"group":"extensions.istio.io","version":"v1alpha1","kind":"WasmPlugin"},"resource":{"group":"extensions.istio.io","version":"v1alpha1","resource":"wasmplugins"},"namespace":"default","operation":"CREATE","object":"#.utf8)
        + object + Array("}}".utf8)
}

@_cdecl("FuzzReview_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzReview)
}
