import FuzzSupport

@testable import HTTPServer

/// The HTTP/2 session fed arbitrary bytes after the client preface, in pieces, answering
/// every request as the connection does. Oracles: no crash; output is taken in bounded
/// batches; the budget holds exactly what the session stores, and nothing once it is gone.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP2(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let budget = BufferBudget(limit: 256 * 1024)
    do {
        guard let session = try? HTTP2Session(limits: .init(maxConcurrentStreams: 8, maxBodyBytes: 8192, maxHeaderListBytes: 2048, maxPendingOutputBytes: 16384), budget: budget, now: 0)
        else { return 0 }
        let seed = Int(data[0])
        let bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + UnsafeBufferPointer(start: data + 1, count: size - 1)
        var offset = 0
        var step = seed % 13 + 1
        while offset < bytes.count {
            let n = min(step, bytes.count - offset)
            step = (step * 17 + seed) % 61 + 1
            let failed = (try? bytes[offset..<(offset + n)].withUnsafeBufferPointer { try session.receive($0, now: UInt64(offset)) }) == nil
            offset += n
            for (stream, response) in session.takeRejected() { session.respond(streamID: stream, response) }
            for (stream, request) in session.takeReady() { session.respond(streamID: stream, HTTPResponse(status: 200, body: request.body)) }
            var out: [UInt8] = []
            session.drainOutput(into: &out, pending: 0)
            require(out.count < 16384 + 16384 + 64, "an unbounded output batch: \(out.count)")
            require(budget.usedBytes == session.bufferedBodyBytes + session.bufferedHeaderBytes, "budget and session disagree")
            if failed || !session.wantsIO { break }
        }
    }
    require(budget.usedBytes == 0, "bytes still charged after the session ended: \(budget.usedBytes)")
    return 0
}

@_cdecl("FuzzHTTP2_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzHTTP2)
}
