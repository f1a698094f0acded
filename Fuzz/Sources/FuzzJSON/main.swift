import AdmissionKit
import FuzzSupport

/// The JSON parser on arbitrary bytes. Oracles: no crash; a document that parses writes
/// back to bytes that parse to the same value (strings, numbers and key order kept); what
/// builds also skips (skipping checks the same grammar, not a string's UTF-8 or escape
/// letters), an object read with `omit` for every member comes out empty, and strings
/// handed out by the common-string table write the same bytes as strings built anew.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let skipped = try? JSONParser.parse(bytes, reading: .none)
    let omitted = try? JSONParser.parse(bytes, reading: .members([], others: .omit))
    guard let value = try? JSONParser.parse(bytes, skipping: [], maxValues: 50_000) else { return 0 }
    require(skipped == JSON.null, "a document that builds failed to skip")
    if case .object = value { require(omitted == [:], "omitted members were kept") }
    let written = JSONWriter().bytes(value)
    let interned = try? JSONParser.parse(bytes, reading: .all, maxValues: 50_000, strings: commonStrings)
    require(interned.map { JSONWriter().bytes($0) } == written, "the common-string table changed a string")
    let again = try? JSONParser.parse(written, skipping: [], maxValues: 50_000)
    require(again == value, "round trip changed the value: \(String(decoding: written.prefix(200), as: UTF8.self))")
    return 0
}

/// Kubernetes' table with strings of every length up to its limit, near misses of each other.
let commonStrings = CommonStrings.kubernetes.adding((0...CommonStrings.maxLength).map { String(repeating: "a", count: $0) })

@_cdecl("FuzzJSON_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzJSON)
}
