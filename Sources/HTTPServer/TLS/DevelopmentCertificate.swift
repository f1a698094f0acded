import CTLS

/// A throwaway CA and a serving certificate for localhost/127.0.0.1/::1, made in-process
/// with OpenSSL, so `serve` works on a fresh machine with no flags. Development only.
public struct DevelopmentCertificate: Sendable {
    /// PEM of the CA certificate: what clients pass as `--cacert`.
    public let caPEM: [UInt8]
    public let certificatePEM: [UInt8]
    public let keyPEM: [UInt8]

    public static func generate(validDays: Int = 30) throws(TLSError) -> DevelopmentCertificate {
        ERR_clear_error()
        let caKey = try makeKey()
        defer { EVP_PKEY_free(caKey) }
        let ca = try makeCertificate(
            subjectCN: "wasmplugin-webhook development CA", key: caKey, issuer: nil, issuerKey: caKey, days: validDays,
            extensions: [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign")])
        defer { X509_free(ca) }
        let leafKey = try makeKey()
        defer { EVP_PKEY_free(leafKey) }
        let leaf = try makeCertificate(
            subjectCN: "localhost", key: leafKey, issuer: ca, issuerKey: caKey, days: validDays,
            extensions: [
                (NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, "serverAuth"), (NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"),
            ])
        defer { X509_free(leaf) }
        return DevelopmentCertificate(
            caPEM: PEM.encode { PEM_write_bio_X509($0, ca) },
            certificatePEM: PEM.encode { PEM_write_bio_X509($0, leaf) },
            keyPEM: PEM.encode { PEM_write_bio_PrivateKey($0, leafKey, nil, nil, 0, nil, nil) })
    }

    private static func makeKey() throws(TLSError) -> OpaquePointer {
        guard let pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nil) else { throw TLSError("EVP_PKEY_CTX_new_id") }
        defer { EVP_PKEY_CTX_free(pctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(pctx) == 1, EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pctx, NID_X9_62_prime256v1) == 1,
            EVP_PKEY_keygen(pctx, &key) == 1, let key
        else { throw TLSError("EC key generation") }
        return key
    }

    private static func makeCertificate(
        subjectCN: String, key: OpaquePointer, issuer: OpaquePointer?, issuerKey: OpaquePointer, days: Int,
        extensions: [(Int32, String)]
    ) throws(TLSError) -> OpaquePointer {
        guard let cert = X509_new() else { throw TLSError("X509_new") }
        var serial = [UInt8](repeating: 0, count: 16)
        _ = RAND_bytes(&serial, Int32(serial.count))
        serial[0] &= 0x7F
        let bn = BN_bin2bn(serial, Int32(serial.count), nil)
        defer { BN_free(bn) }
        guard X509_set_version(cert, 2) == 1, BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nil,
            X509_gmtime_adj(X509_getm_notBefore(cert), -300) != nil,
            X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400) != nil,
            X509_set_pubkey(cert, key) == 1
        else {
            X509_free(cert)
            throw TLSError("certificate fields")
        }
        let name = X509_get_subject_name(cert)
        _ = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, subjectCN, -1, -1, 0)
        X509_set_issuer_name(cert, issuer.map { X509_get_subject_name($0) } ?? name)
        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, issuer ?? cert, cert, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &v3, nid, value) else {
                X509_free(cert)
                throw TLSError("extension \(value)")
            }
            X509_add_ext(cert, ext, -1)
            X509_EXTENSION_free(ext)
        }
        guard X509_sign(cert, issuerKey, EVP_sha256()) > 0 else {
            X509_free(cert)
            throw TLSError("X509_sign")
        }
        return cert
    }
}
