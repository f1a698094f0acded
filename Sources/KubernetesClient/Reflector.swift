import AdmissionKit
import ClusterView

/// What the watchers report, for metrics and logs (the executable decides how).
public protocol ClusterWatchObserver: Sendable {
    /// A list (first sync or relist) replaced the kind's contents.
    func listed(_ kind: ClusterKind, objects: Int, relist: Bool, reason: String?)
    /// The view of `kind` is current as of now (a list, an event or a bookmark).
    func progressed(_ kind: ClusterKind)
    /// A list or watch failed; the reflector retries after `retryIn` seconds.
    func watchFailed(_ kind: ClusterKind, _ message: String, retryIn: Double)
    /// The kind went from failing to working (or the reverse): log once per change.
    func healthChanged(_ kind: ClusterKind, healthy: Bool, message: String)
}

/// Limits and timings of the list + watch loops.
public struct WatchSettings: Sendable {
    /// Objects per list page (`limit`).
    public var pageSize = 500
    /// Largest list page held at once (500 typical Services are about 1.5 MiB). A larger
    /// page is asked for again with half the `limit`, down to 10 objects. With five kinds
    /// listing at once this bounds list memory to 5 × 8 MiB.
    public var maxPageBytes = 8 << 20
    /// Largest watch event (etcd stores objects up to 1.5 MiB).
    public var maxEventBytes = 4 << 20
    /// Server-side watch timeout, picked in this range per watch so that the watches of
    /// many replicas do not all end together (client-go does the same).
    public var watchSeconds: ClosedRange<Int> = 300...600
    /// Backoff after a failure: doubles from `initialBackoff` up to `maxBackoff`, with
    /// full jitter.
    public var initialBackoff = 0.5
    public var maxBackoff = 30.0
    /// How often to look again for a kind whose API is not installed (no CRD).
    public var missingAPIRecheck = 60.0
    public var requestTimeout = 60

    public init() {}
}

/// List + watch of one kind into the live view: the reflector of client-go, reduced to
/// what a read-only view needs. Lists page by page (`limit`/`continue`), then watches from
/// the list's `resourceVersion` with bookmarks; a 410 Gone (on a page or as a watch ERROR
/// event) relists; a dropped or failed watch resumes from the last version seen after a
/// jittered backoff. Admission never waits on any of this.
final class Reflector: @unchecked Sendable {
    let kind: ClusterKind
    private let client: APIClient
    private let view: LiveClusterView
    private let observer: any ClusterWatchObserver
    private let settings: WatchSettings
    private let stop: StopSignal
    /// The API version the server serves this kind at (found by the first list).
    private var version: String
    private var healthy = true
    private var failures = 0

    init(kind: ClusterKind, client: APIClient, view: LiveClusterView, observer: any ClusterWatchObserver, settings: WatchSettings, stop: StopSignal) {
        self.kind = kind
        self.client = client
        self.view = view
        self.observer = observer
        self.settings = settings
        self.stop = stop
        version = kind.versions[0]
    }

    enum ListOutcome {
        case listed(resourceVersion: String, objects: Int)
        /// No version of the API is served: the CRD is not installed, so no such objects exist.
        case notInstalled
        case failed(String)
    }

    enum WatchOutcome {
        /// The server ended the watch (its timeout): resume from `resourceVersion`.
        case ended(resourceVersion: String)
        /// 410 Gone: the version is too old; relist. `progressed`: events came first.
        case gone(String, progressed: Bool)
        case failed(String, resourceVersion: String)
    }

    func run() {
        var resourceVersion: String? = nil
        var relistReason: String? = nil
        var everListed = false
        // The next watch starts from a list's version (a 410 with no event before it then
        // means the server cannot serve what it just listed).
        var fromFreshList = false
        while !stop.isStopped {
            guard let from = resourceVersion else {
                switch list() {
                case .listed(let rv, let count):
                    resourceVersion = rv
                    fromFreshList = true
                    observer.listed(kind, objects: count, relist: everListed, reason: relistReason)
                    everListed = true
                    relistReason = nil
                    // Current as of now, but working again only once a watch delivers: a server
                    // that 410s right after every list must not reset the backoff (or flap the log).
                    observer.progressed(kind)
                case .notInstalled:
                    view.update { $0.replace(kind, with: []) }
                    if !everListed { observer.listed(kind, objects: 0, relist: false, reason: "API not installed") }
                    everListed = true
                    succeeded()
                    stop.sleep(seconds: settings.missingAPIRecheck)
                case .failed(let message):
                    fail(message)
                }
                continue
            }
            let afterList = fromFreshList
            fromFreshList = false
            switch watch(from: from) {
            case .ended(let rv):
                resourceVersion = rv
                succeeded()
            case .gone(let message, let progressed):
                resourceVersion = nil
                relistReason = message
                // Gone again straight after a list: the server cannot serve the version it
                // just listed at. Back off instead of relisting in a tight loop.
                if afterList && !progressed { fail("watch \(kind.resource) from a fresh list: \(message)") }
            case .failed(let message, let rv):
                resourceVersion = rv
                fail(message)
            }
        }
    }

    private func succeeded() {
        failures = 0
        observer.progressed(kind)
        if !healthy {
            healthy = true
            observer.healthChanged(kind, healthy: true, message: "watching again")
        }
    }

    private func fail(_ message: String) {
        guard !stop.isStopped else { return }
        failures += 1
        let ceiling = min(settings.maxBackoff, settings.initialBackoff * Double(1 << min(failures - 1, 16)))
        // Full jitter, but never a busy loop.
        let delay = max(settings.initialBackoff / 2, Double.random(in: 0...ceiling))
        observer.watchFailed(kind, message, retryIn: delay)
        if healthy {
            healthy = false
            observer.healthChanged(kind, healthy: false, message: message)
        }
        stop.sleep(seconds: delay)
    }

    // MARK: List

    private func list() -> ListOutcome {
        var versions = kind.versions[...]
        while let candidate = versions.first {
            let outcome = list(version: candidate)
            if case .notInstalled = outcome {
                versions = versions.dropFirst()
                continue
            }
            if case .listed = outcome { version = candidate }
            return outcome
        }
        return .notInstalled
    }

    private func list(version: String) -> ListOutcome {
        var objects: [ClusterObject] = []
        var continueToken: String? = nil
        var listVersion: String? = nil
        var pageSize = settings.pageSize
        var restarts = 0
        // Until the last page (no `continue`). `continue` statements below ask for a page again.
        while true {
            if stop.isStopped { return .failed("stopped") }
            var path = kind.collectionPath(version: version) + "?limit=\(pageSize)"
            if let token = continueToken { path += "&continue=" + Self.queryEscape(token) }
            let page: JSON
            switch client.get(path, maxBytes: settings.maxPageBytes, timeoutSeconds: settings.requestTimeout, stop: stop) {
            case .failed(let message) where message.hasPrefix(APIClient.tooLarge) && pageSize > 10:
                // Large objects: the same page again, in smaller pieces.
                pageSize = max(10, pageSize / 2)
                continue
            case .failed(let message): return .failed("list \(kind.resource): \(message)")
            case .response(let status, let body):
                if status == 404 { return .notInstalled }
                if status == 410 {
                    // The continue token expired mid-list: start over, a few times at most
                    // (then the outer loop backs off).
                    restarts += 1
                    if restarts > 3 { return .failed("list \(kind.resource): continue token expired \(restarts) times") }
                    objects.removeAll()
                    continueToken = nil
                    listVersion = nil
                    continue
                }
                guard status == 200 else { return .failed("list \(kind.resource): \(Self.describe(status: status, body: body))") }
                do {
                    page = try JSONParser.parse(body, reading: ClusterObject.listReadSet)
                } catch {
                    return .failed("list \(kind.resource): \(error)")
                }
            }
            guard let items = page["items"]?.arrayValue, let metadata = page["metadata"] else {
                return .failed("list \(kind.resource): the answer is no list")
            }
            listVersion = listVersion ?? metadata["resourceVersion"]?.stringValue
            objects += items.compactMap { ClusterObject($0, as: kind) }
            continueToken = metadata["continue"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            if continueToken == nil { break }
        }
        guard let resourceVersion = listVersion else { return .failed("list \(kind.resource): no resourceVersion") }
        let count = objects.count
        view.update { $0.replace(kind, with: objects) }
        return .listed(resourceVersion: resourceVersion, objects: count)
    }

    // MARK: Watch

    private func watch(from start: String) -> WatchOutcome {
        var sawEvent = false
        let seconds = Int.random(in: settings.watchSeconds)
        let path =
            kind.collectionPath(version: version)
            + "?watch=1&allowWatchBookmarks=true&resourceVersion=\(Self.queryEscape(start))&timeoutSeconds=\(seconds)"
        var resourceVersion = start
        var ending: WatchOutcome? = nil
        let result = client.stream(path, maxLineBytes: settings.maxEventBytes, timeoutSeconds: seconds + 30, stop: stop) { line in
            switch self.apply(line) {
            case .applied(let rv):
                if let rv { resourceVersion = rv }
                // The first event or bookmark of a resumed watch: it works again.
                if sawEvent { self.observer.progressed(self.kind) } else { self.succeeded() }
                sawEvent = true
                return true
            case .gone(let message):
                ending = .gone(message, progressed: sawEvent)
                return false
            case .failed(let message):
                ending = .failed(message, resourceVersion: resourceVersion)
                return false
            }
        }
        if let ending { return ending }
        switch result {
        case .failed(let message): return .failed("watch \(kind.resource): \(message)", resourceVersion: resourceVersion)
        case .response(let status, let body):
            if status == 410 { return .gone("410 Gone", progressed: sawEvent) }
            guard status == 200 else {
                return .failed("watch \(kind.resource): \(Self.describe(status: status, body: body))", resourceVersion: resourceVersion)
            }
            return .ended(resourceVersion: resourceVersion)
        }
    }

    enum EventOutcome {
        case applied(resourceVersion: String?)
        case gone(String)
        case failed(String)
    }

    /// One watch event (`{"type":…,"object":…}`), applied to the view.
    func apply(_ line: [UInt8]) -> EventOutcome {
        let event: JSON
        do {
            event = try JSONParser.parse(line, reading: ClusterObject.eventReadSet)
        } catch {
            return .failed("watch \(kind.resource): an event that is not JSON (\(error))")
        }
        guard let type = event["type"]?.stringValue, let object = event["object"] else {
            return .failed("watch \(kind.resource): an event without type or object")
        }
        let rv = object["metadata"]?["resourceVersion"]?.stringValue
        switch type {
        case "ADDED", "MODIFIED":
            if let decoded = ClusterObject(object, as: kind) { view.update { $0.insert(decoded) } }
        case "DELETED":
            if let decoded = ClusterObject(object, as: kind) {
                view.update { $0.remove(kind, namespace: decoded.namespace, name: decoded.name) }
            }
        case "BOOKMARK":
            break
        case "ERROR":
            // A metav1.Status; 410 (Expired/Gone) means our version was compacted away.
            let code = object["code"]?.intValue
            let message = object["message"]?.stringValue ?? "no message"
            if code == 410 { return .gone("410 Gone: \(message.prefix(200))") }
            return .failed("watch \(kind.resource): ERROR event \(code.map(String.init) ?? "?"): \(message.prefix(200))")
        default:
            return .failed("watch \(kind.resource): unknown event type \(type.prefix(40))")
        }
        return .applied(resourceVersion: rv)
    }

    /// An error answer, from its metav1.Status when it is one.
    static func describe(status: Int, body: [UInt8]) -> String {
        if let json = try? JSONParser.parse(body), let message = json["message"]?.stringValue {
            return "HTTP \(status): \(message.prefix(300))"
        }
        return "HTTP \(status)"
    }

    /// Percent-encodes a query value (continue tokens are base64 with '=' and '/').
    static func queryEscape(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}
