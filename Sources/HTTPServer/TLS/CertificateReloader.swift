import Platform

#if canImport(Glibc)
import Glibc
#endif

/// Where the serving certificate comes from.
public enum CertificateSource: Sendable {
    /// PEM files, watched for changes (including a Secret volume's `..data` symlink swap).
    case files(certificate: String, key: String)
    /// Fixed PEM bytes (the development certificate).
    case memory(certificate: [UInt8], key: [UInt8])
}

/// Holds the current `TLSContext` and replaces it when the files' bytes change. New
/// handshakes get the new context; open connections keep theirs. A broken pair is refused
/// and the old one kept; each real change, good or bad, is logged once.
public final class CertificateReloader: Sendable {
    private let source: CertificateSource
    private let clientCAPath: String?
    private let clientNames: [String]
    private let log: @Sendable (LogLevel, String) -> Void
    private let state: Locked<State>

    private struct State {
        var context: TLSContext
        /// Bytes of the last pair we tried (good or bad), so an unchanged or still-broken
        /// pair is neither reloaded nor logged again.
        var lastSeen: [UInt8]
    }

    /// `clientNames`: with a client CA, accept only certificates naming one of these (empty:
    /// any certificate the CA signed).
    public init(
        source: CertificateSource, clientCAPath: String?, clientNames: [String] = [], log: @escaping @Sendable (LogLevel, String) -> Void
    ) throws {
        self.source = source
        self.clientCAPath = clientCAPath
        self.clientNames = clientNames
        self.log = log
        let (cert, key) = try Self.read(source)
        let context = try TLSContext(certificatePEM: cert, keyPEM: key, clientCAPath: clientCAPath, clientNames: clientNames)
        state = Locked(State(context: context, lastSeen: cert + key))
    }

    public var current: TLSContext { state.withLock { $0.context } }

    /// Re-reads the files; swaps the context when they changed and load cleanly.
    /// Returns true when a new certificate was installed.
    @discardableResult
    public func checkForChanges() -> Bool {
        guard case .files(let certPath, let keyPath) = source else { return false }
        guard let (cert, key) = try? Self.read(source) else { return false }  // mid-swap: try next time
        let bytes = cert + key
        if state.withLock({ $0.lastSeen == bytes }) { return false }
        do {
            let context = try TLSContext(certificatePEM: cert, keyPEM: key, clientCAPath: clientCAPath, clientNames: clientNames)
            state.withLock {
                $0.context = context
                $0.lastSeen = bytes
            }
            log(.info, "reloaded TLS certificate from \(certPath) and \(keyPath)")
            return true
        } catch {
            state.withLock { $0.lastSeen = bytes }
            log(.error, "refused new TLS certificate from \(certPath) and \(keyPath), keeping the previous one: \(error)")
            return false
        }
    }

    private static func read(_ source: CertificateSource) throws -> ([UInt8], [UInt8]) {
        switch source {
        case .memory(let cert, let key): return (cert, key)
        case .files(let certPath, let keyPath): return (try readFile(certPath), try readFile(keyPath))
        }
    }

    static func readFile(_ path: String) throws(SystemError) -> [UInt8] {
        do {
            return try Platform.readFile(path, limit: 1 << 20)
        } catch {
            throw SystemError(call: error.call, errno: error.errno)
        }
    }
}

public enum LogLevel: String, Sendable {
    case debug, info, warning, error
}
