import CSystem
#if canImport(Glibc)
import Glibc
#endif

/// A host:port to listen on; IPv4 or IPv6 literal, or `localhost`.
public struct ListenAddress: Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    /// Parses `HOST:PORT`, `[V6]:PORT` or `:PORT`.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : (host == "localhost" ? "127.0.0.1" : host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

enum Socket {
    /// A non-blocking listening socket with SO_REUSEPORT, so each loop owns one and the
    /// kernel spreads connections across loops.
    static func listen(_ address: ListenAddress, backlog: Int32 = 1024) throws(SystemError) -> Int32 {
        let fd = try syscall("socket") { socket(family(of: address), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
            try bind(fd, to: address)
            try syscall("listen") { Glibc.listen(fd, backlog) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Fails with EADDRINUSE when something already listens on `address`. Our listeners
    /// share their port through SO_REUSEPORT, and so would a second server started on the
    /// same address by the same user: it would silently take half the connections. A bind
    /// without SO_REUSEPORT (SO_REUSEADDR still passes connections in TIME_WAIT) finds it.
    static func checkNotListening(_ address: ListenAddress) throws(SystemError) {
        guard address.port != 0 else { return }  // an ephemeral port is ours alone
        let fd = try syscall("socket") { socket(family(of: address), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        defer { close(fd) }
        try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        try bind(fd, to: address)
    }

    private static func family(of address: ListenAddress) -> Int32 {
        address.host.contains(":") ? AF_INET6 : AF_INET
    }

    private static func bind(_ fd: Int32, to address: ListenAddress) throws(SystemError) {
        if address.host.contains(":") {
            var v6 = sockaddr_in6()
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = address.port.bigEndian
            guard inet_pton(AF_INET6, address.host, &v6.sin6_addr) == 1 else { throw SystemError(call: "inet_pton(\(address.host))", errno: EINVAL) }
            try syscall("bind(\(address))") { withUnsafePointer(to: &v6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } } }
        } else {
            var v4 = sockaddr_in()
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = address.port.bigEndian
            guard inet_pton(AF_INET, address.host, &v4.sin_addr) == 1 else { throw SystemError(call: "inet_pton(\(address.host))", errno: EINVAL) }
            try syscall("bind(\(address))") { withUnsafePointer(to: &v4) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } }
        }
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SystemError) {
        var v = value
        try syscall("setsockopt") { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// Accepts one connection (non-blocking, close-on-exec), or nil when none is pending.
    static func accept(_ listener: Int32) throws(SystemError) -> Int32? {
        switch try nonBlocking("accept4", { csystem_accept4(listener) }) {
        case .done(let fd):
            // Responses are written whole; don't let Nagle hold back their last segment.
            try? setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            return fd
        case .wouldBlock: return nil
        }
    }

    /// The port a socket is bound to (for `--listen 127.0.0.1:0`).
    static func localPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        if storage.ss_family == sa_family_t(AF_INET6) {
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) } }
        }
        return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } }
    }
}
