import CTLS

#if canImport(Glibc)
import Glibc
#endif

/// The negotiated application protocol.
public enum HTTPVersion: String, Sendable {
    case http1 = "http/1.1"
    case http2 = "h2"
}

/// One immutable OpenSSL server context: certificate chain, key, protocol and cipher policy,
/// ALPN, optional client verification. A reload builds a new one; connections keep a
/// reference to the context they were accepted with (SSL_new takes its own reference).
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    /// Leaf certificate expiry, seconds since the epoch (for the metric).
    public let notAfter: Int64
    /// Client certificates must name one of these (subject CN or DNS SAN); empty: any
    /// certificate the client CA signed.
    let clientNames: [String]

    /// TLS 1.2 suites: ECDHE only, AEAD only (TLS 1.3 suites are all modern by definition).
    static let tls12Ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    /// TLS 1.3 suites in the order Go's crypto/tls prefers them on AES hardware, as the Go
    /// peer and kube-apiserver do: AES-128-GCM (the suite RFC 8446 makes mandatory) first.
    /// OpenSSL's default list puts AES-256-GCM first, which server preference then chose for
    /// every client at 14 AES rounds to 10. A client that lists ChaCha20 first (one without
    /// AES hardware) still gets it: `SSL_OP_PRIORITIZE_CHACHA` in `ctls_server_options`.
    static let tls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

    public convenience init(certificatePEM: [UInt8], keyPEM: [UInt8], clientCAPath: String? = nil, clientNames: [String] = []) throws(TLSError) {
        let certs = try PEM.certificates(certificatePEM)
        defer { certs.forEach { X509_free($0) } }
        let key = try PEM.privateKey(keyPEM)
        defer { EVP_PKEY_free(key) }
        try self.init(chain: certs, key: key, clientCAPath: clientCAPath, clientNames: clientNames)
    }

    init(chain: [OpaquePointer], key: OpaquePointer, clientCAPath: String?, clientNames: [String] = []) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError("SSL_CTX_new") }
        self.ctx = ctx
        self.clientNames = clientNames
        var expiry: Int64 = 0
        if let notAfter = X509_get0_notAfter(chain[0]) {
            var t = tm()
            if ASN1_TIME_to_tm(notAfter, &t) == 1 { expiry = Int64(timegm(&t)) }
        }
        self.notAfter = expiry
        guard ctls_set_proto_versions(ctx, ctls_tls1_2_version(), ctls_tls1_3_version()) == 1 else { throw TLSError("set TLS versions") }
        guard SSL_CTX_set_cipher_list(ctx, Self.tls12Ciphers) == 1 else { throw TLSError("set ciphers") }
        guard SSL_CTX_set_ciphersuites(ctx, Self.tls13Suites) == 1 else { throw TLSError("set TLS 1.3 suites") }
        SSL_CTX_set_options(ctx, ctls_server_options())
        _ = ctls_set_groups(ctx, "X25519:P-256:P-384")
        // Idle keep-alive connections hold no read/write buffers (RSS stays small).
        _ = ctls_set_mode(ctx, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))
        // Read whole TLS records (and whatever follows) in one read(2) instead of header
        // and body separately; the connection checks SSL_has_pending before waiting.
        ctls_set_read_ahead(ctx)
        guard SSL_CTX_use_certificate(ctx, chain[0]) == 1 else { throw TLSError("certificate") }
        for intermediate in chain.dropFirst() {
            guard ctls_add_chain_cert(ctx, intermediate) == 1 else { throw TLSError("certificate chain") }
        }
        guard SSL_CTX_use_PrivateKey(ctx, key) == 1 else { throw TLSError("private key") }
        guard SSL_CTX_check_private_key(ctx) == 1 else { throw TLSError("the private key does not match the certificate") }
        SSL_CTX_set_alpn_select_cb(ctx, alpnSelect, nil)
        if let clientCAPath {
            guard SSL_CTX_load_verify_locations(ctx, clientCAPath, nil) == 1 else { throw TLSError("client CA \(clientCAPath)") }
            if let names = SSL_load_client_CA_file(clientCAPath) { SSL_CTX_set_client_CA_list(ctx, names) }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            let id = Array("wasmplugin-webhook".utf8)
            _ = SSL_CTX_set_session_id_context(ctx, id, UInt32(id.count))
        }
    }

    deinit { SSL_CTX_free(ctx) }

    /// After the handshake: whether the client's (CA-verified) certificate names one of
    /// `clientNames`, as its subject CN or a DNS SAN. True when no names are configured.
    func acceptsPeer(of ssl: OpaquePointer) -> Bool {
        guard !clientNames.isEmpty else { return true }
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return false }
        defer { X509_free(certificate) }
        return clientNames.contains { name in
            X509_check_host(certificate, name, name.utf8.count, UInt32(X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT), nil) == 1
        }
    }
}

/// Server preference: h2, then http/1.1. A client offering neither gets no ALPN answer
/// (never a fatal alert), which means HTTP/1.1 — what the apiserver's Go client expects.
private func alpnSelect(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outlen: UnsafeMutablePointer<UInt8>?,
    _ input: UnsafePointer<UInt8>?, _ inlen: UInt32, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let input, let out, let outlen else { return SSL_TLSEXT_ERR_NOACK }
    var http1: (UnsafePointer<UInt8>, UInt8)?
    var i = 0
    while i < Int(inlen) {
        let length = Int(input[i])
        let start = input + i + 1
        guard i + 1 + length <= Int(inlen) else { break }
        let name = UnsafeBufferPointer(start: start, count: length)
        if name.elementsEqual("h2".utf8) {
            out.pointee = start
            outlen.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        if name.elementsEqual("http/1.1".utf8) { http1 = (start, UInt8(length)) }
        i += 1 + length
    }
    if let http1 {
        out.pointee = http1.0
        outlen.pointee = http1.1
        return SSL_TLSEXT_ERR_OK
    }
    return SSL_TLSEXT_ERR_NOACK
}

/// PEM decoding through memory BIOs.
enum PEM {
    static func withBIO<T>(_ bytes: [UInt8], _ body: (OpaquePointer) throws(TLSError) -> T) throws(TLSError) -> T {
        ERR_clear_error()
        guard let bio = bytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else { throw TLSError("BIO_new_mem_buf") }
        defer { BIO_free(bio) }
        return try body(bio)
    }

    static func certificates(_ pem: [UInt8]) throws(TLSError) -> [OpaquePointer] {
        try withBIO(pem) { bio throws(TLSError) in
            var certs: [OpaquePointer] = []
            while let cert = PEM_read_bio_X509(bio, nil, nil, nil) { certs.append(cert) }
            ERR_clear_error()  // the loop ends with a "no start line" error
            if certs.isEmpty { throw TLSError("no PEM certificate found") }
            return certs
        }
    }

    static func privateKey(_ pem: [UInt8]) throws(TLSError) -> OpaquePointer {
        try withBIO(pem) { bio throws(TLSError) in
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { throw TLSError("no PEM private key found") }
            return key
        }
    }

    static func encode(_ write: (OpaquePointer) -> Int32) -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { return [] }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let n = out.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
        return Array(out.prefix(Int(max(n, 0))))
    }
}
