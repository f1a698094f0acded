import AdmissionKit
import Platform
import YAMLManifests

#if canImport(Glibc)
import Glibc
#endif

/// Where and how to reach the API server, as of one connection attempt.
public struct APIEndpoint: Sendable {
    /// `https://HOST:PORT` (no trailing slash).
    public var server: String
    /// PEM of the CAs to trust; nil: the system's.
    public var caPEM: [UInt8]?
    public var insecureSkipTLSVerify = false
    public var bearerToken: String?
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?

    public init(server: String, caPEM: [UInt8]? = nil, bearerToken: String? = nil) {
        self.server = server
        self.caPEM = caPEM
        self.bearerToken = bearerToken
    }
}

public struct CredentialError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Where credentials come from. They are read again for every connection, so a rotated
/// service-account token (kubelet rewrites the projected file about hourly), a renewed CA
/// or an edited kubeconfig is picked up without a restart.
public enum CredentialSource: Sendable, CustomStringConvertible {
    /// The pod's service account: `KUBERNETES_SERVICE_HOST`/`_PORT` and the token and CA
    /// in `directory` (normally /var/run/secrets/kubernetes.io/serviceaccount).
    case inCluster(directory: String)
    /// A kubeconfig file and, optionally, a context other than its current one.
    case kubeconfig(path: String, context: String?)

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    public var description: String {
        switch self {
        case .inCluster(let directory): return "in-cluster service account (\(directory))"
        case .kubeconfig(let path, let context): return "kubeconfig \(path)" + (context.map { " context \($0)" } ?? "")
        }
    }

    public func endpoint() throws(CredentialError) -> APIEndpoint {
        switch self {
        case .inCluster(let directory): return try Self.inClusterEndpoint(directory)
        case .kubeconfig(let path, let context): return try Kubeconfig.endpoint(path: path, context: context)
        }
    }

    private static func inClusterEndpoint(_ directory: String) throws(CredentialError) -> APIEndpoint {
        guard let host = environment("KUBERNETES_SERVICE_HOST"), !host.isEmpty,
            let port = environment("KUBERNETES_SERVICE_PORT"), !port.isEmpty
        else {
            throw CredentialError("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not running in a pod? Use --kubeconfig")
        }
        let token = try readText(directory + "/token").trimmingWhitespace()
        let ca = try readFile(directory + "/ca.crt")
        // An IPv6 service address needs brackets in a URL.
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return APIEndpoint(server: "https://\(authority)", caPEM: ca, bearerToken: token)
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// The parts of a kubeconfig a webhook can use: server, CA, token or token file, client
/// certificate. Exec plugins and auth providers need binaries this image does not ship.
enum Kubeconfig {
    static func endpoint(path: String, context wanted: String?) throws(CredentialError) -> APIEndpoint {
        let text = try readText(path)
        let config: JSON
        do {
            guard let document = try YAMLDocuments.parse(text).first else { throw CredentialError("\(path): empty kubeconfig") }
            config = document.value
        } catch let error as CredentialError {
            throw error
        } catch {
            throw CredentialError("\(path): not valid YAML: \(error)")
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        func named(_ list: String, _ name: String) -> JSONObject? {
            config[list]?.arrayValue?.first { $0["name"]?.stringValue == name }?.objectValue
        }
        guard let contextName = wanted ?? config["current-context"]?.stringValue, !contextName.isEmpty else {
            throw CredentialError("\(path): no current-context; pass --kube-context")
        }
        guard let context = named("contexts", contextName)?["context"] else { throw CredentialError("\(path): no context \(contextName)") }
        guard let clusterName = context["cluster"]?.stringValue, let cluster = named("clusters", clusterName)?["cluster"] else {
            throw CredentialError("\(path): context \(contextName) names no cluster that the file defines")
        }
        guard var server = cluster["server"]?.stringValue, server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw CredentialError("\(path): cluster \(clusterName) has no https:// server")
        }
        while server.hasSuffix("/") { server.removeLast() }
        var endpoint = APIEndpoint(server: server)
        endpoint.caPEM = try material(cluster, "certificate-authority", relativeTo: directory)
        endpoint.insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"]?.boolValue ?? false
        if let userName = context["user"]?.stringValue, let user = named("users", userName)?["user"]?.objectValue {
            if user["exec"] != nil || user["auth-provider"] != nil {
                throw CredentialError("\(path): user \(userName) authenticates with an exec plugin or auth provider, which this webhook cannot run; use a token, a token file or a client certificate")
            }
            if let token = user["token"]?.stringValue {
                endpoint.bearerToken = token
            } else if let tokenFile = user["tokenFile"]?.stringValue {
                endpoint.bearerToken = try readText(resolve(tokenFile, directory)).trimmingWhitespace()
            }
            endpoint.clientCertificatePEM = try material(JSON.object(user), "client-certificate", relativeTo: directory)
            endpoint.clientKeyPEM = try material(JSON.object(user), "client-key", relativeTo: directory)
        }
        return endpoint
    }

    /// `NAME-data` (base64 PEM) or `NAME` (a file, relative to the kubeconfig's directory).
    private static func material(_ object: JSON, _ name: String, relativeTo directory: String) throws(CredentialError) -> [UInt8]? {
        if let data = object[name + "-data"]?.stringValue {
            guard let decoded = Base64.decodeLenient(data) else { throw CredentialError("\(name)-data is not base64") }
            return decoded
        }
        guard let file = object[name]?.stringValue else { return nil }
        return try readFile(resolve(file, directory))
    }

    private static func resolve(_ file: String, _ directory: String) -> String {
        file.hasPrefix("/") ? file : directory + "/" + file
    }
}

/// Credentials and kubeconfigs are small: anything past 4 MiB is not one.
private let maxCredentialFileBytes = 4 << 20

func readFile(_ path: String) throws(CredentialError) -> [UInt8] {
    do {
        return try Platform.readFile(path, limit: maxCredentialFileBytes)
    } catch {
        if error.errno == EFBIG { throw CredentialError("\(path) is larger than \(maxCredentialFileBytes) bytes") }
        throw CredentialError("cannot read \(path): \(String(cString: strerror(error.errno)))")
    }
}

func readText(_ path: String) throws(CredentialError) -> String {
    guard let text = String(validating: try readFile(path), as: UTF8.self) else { throw CredentialError("\(path) is not UTF-8 text") }
    return text
}

extension String {
    func trimmingWhitespace() -> String {
        let bytes = utf8.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        let trimmed = bytes.reversed().drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }.reversed()
        return String(decoding: Array(trimmed), as: UTF8.self)
    }
}
