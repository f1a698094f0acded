import AdmissionKit
import FuzzSupport

/// The JSON parser on arbitrary bytes. Oracles: no crash; a document that parses writes
/// back to bytes that parse to the same value (strings, numbers and key order kept).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONParser.parse(bytes, skipping: [], maxValues: 50_000) else { return 0 }
    let written = JSONWriter().bytes(value)
    let again = try? JSONParser.parse(written, skipping: [], maxValues: 50_000)
    require(again == value, "round trip changed the value: \(String(decoding: written.prefix(200), as: UTF8.self))")
    return 0
}

@_cdecl("FuzzJSON_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzJSON)
}
