import FuzzSupport

@testable import HTTPServer

/// The HTTP/1 session (parser, chunked decoder, framing) on arbitrary bytes split at
/// arbitrary points. Oracles: no crash; the same bytes give the same requests and errors
/// whether they arrive at once or in pieces; nothing is held after an error; bodies stay
/// within the limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 1 else { return 0 }
    let seed = Int(data[0])
    let bytes = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let whole = events(bytes, split: { _ in bytes.count })
    var step = seed % 17 + 1
    let pieces = events(bytes, split: { _ in
        step = (step * 31 + seed) % 23 + 1
        return step
    })
    require(whole == pieces, "split-dependent result: \(whole) vs \(pieces)")
    return 0
}

enum Outcome: Equatable {
    case request(method: String, target: String, headers: [String], body: [UInt8], keepAlive: Bool)
    case error(Int)
}

func events(_ bytes: UnsafeBufferPointer<UInt8>, split: (Int) -> Int) -> [Outcome] {
    let maxBody = 4096
    var session = HTTP1Session(maxHeadBytes: 1024, maxBodyBytes: maxBody)
    var out: [Outcome] = []
    var offset = 0
    while offset < bytes.count {
        let n = min(max(1, split(offset)), bytes.count - offset)
        session.receive(UnsafeBufferPointer(rebasing: bytes[offset..<(offset + n)]))
        offset += n
        for _ in 0..<10_000 {
            let event = session.next()
            require(session.committedBytes >= 0, "negative committed bytes")
            if case .needMore = event { break }
            if case .sendContinue = event { continue }
            if case .error(let error) = event {
                out.append(.error(error.status))
                require(session.committedBytes == 0 && session.next() == .needMore, "bytes held after an error")
                return out
            }
            if case .request(let head, let body, let keepAlive) = event {
                require(body.count <= maxBody, "body over the limit")
                out.append(.request(method: head.method, target: head.target, headers: head.headers.map { $0.name + ":" + $0.value }, body: body, keepAlive: keepAlive))
            }
        }
    }
    return out
}

@_cdecl("FuzzHTTP1_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzHTTP1)
}
