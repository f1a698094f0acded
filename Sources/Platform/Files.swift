#if canImport(Glibc)
import Glibc
#endif

/// Why a file could not be read: the call that failed and its errno (EFBIG: over the limit).
public struct FileReadError: Error, Sendable {
    public var call: String
    public var errno: Int32
}

/// A whole file, refused past `limit` bytes: certificates, keys, tokens and kubeconfigs are
/// small, and a path pointed at something huge must not fill memory.
public func readFile(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(call: "open(\(path))", errno: errno) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileReadError(call: "read(\(path))", errno: errno)
        }
        if n == 0 { return out }
        out += chunk[0..<n]
        if out.count > limit { throw FileReadError(call: "read(\(path)): larger than \(limit) bytes", errno: EFBIG) }
    }
}
