import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import HTTPServer

@Suite struct TLSContextTests {
    @Test func developmentCertificateLoadsAndExpiresInTheFuture() throws {
        let dev = try DevelopmentCertificate.generate(validDays: 3)
        #expect(String(decoding: dev.caPEM, as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----"))
        let context = try TLSContext(certificatePEM: dev.certificatePEM, keyPEM: dev.keyPEM)
        let now = Int64(time(nil))
        #expect(context.notAfter > now + 2 * 86400 && context.notAfter <= now + 3 * 86400)
    }

    @Test func mismatchedKeyIsRefused() throws {
        let a = try DevelopmentCertificate.generate(), b = try DevelopmentCertificate.generate()
        #expect(throws: TLSError.self) { try TLSContext(certificatePEM: a.certificatePEM, keyPEM: b.keyPEM) }
        #expect(throws: TLSError.self) { try TLSContext(certificatePEM: Array("not pem".utf8), keyPEM: a.keyPEM) }
    }

    @Test func listenAddressParsing() {
        #expect(ListenAddress("127.0.0.1:8443")?.port == 8443)
        #expect(ListenAddress("[::1]:9443")?.host == "::1")
        #expect(ListenAddress(":8443")?.host == "0.0.0.0")
        #expect(ListenAddress("localhost:1")?.host == "127.0.0.1")
        #expect(ListenAddress("nonsense") == nil)
    }
}

@Suite struct UsableCPUsTests {
    @Test(arguments: [("200000 100000\n", 2), ("150000 100000", 2), ("50000 100000", 1), ("max 100000\n", nil), ("", nil), ("garbage", nil)] as [(String, Int?)])
    func cgroupV2Quota(_ text: String, _ cpus: Int?) {
        #expect(UsableCPUs.fromCPUMax(text) == cpus, "\(text)")
    }

    @Test func cgroupV1Quota() {
        #expect(UsableCPUs.fromCFS(quota: "-1\n", period: "100000\n") == nil)
        #expect(UsableCPUs.fromCFS(quota: "300000\n", period: "100000\n") == 3)
    }

    @Test func neverMoreThanOnlineNorLessThanOne() {
        let n = UsableCPUs.count()
        #expect(n >= 1 && n <= Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}
