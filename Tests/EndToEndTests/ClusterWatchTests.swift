import ClusterView
import Foundation
import KubernetesClient
import Testing
import Platform

/// Records what the watchers report.
final class RecordingObserver: ClusterWatchObserver {
    struct Record {
        var lists: [ClusterKind: Int] = [:]
        var relists: [ClusterKind: Int] = [:]
        var failures: [(ClusterKind, String)] = []
        var health: [(ClusterKind, Bool)] = []
    }
    let record = Locked(Record())

    func listed(_ kind: ClusterKind, objects: Int, relist: Bool, reason: String?) {
        record.withLock {
            $0.lists[kind, default: 0] += 1
            if relist { $0.relists[kind, default: 0] += 1 }
        }
    }
    func progressed(_ kind: ClusterKind) {}
    func watchFailed(_ kind: ClusterKind, _ message: String, retryIn: Double) { record.withLock { $0.failures.append((kind, message)) } }
    func healthChanged(_ kind: ClusterKind, healthy: Bool, message: String) { record.withLock { $0.health.append((kind, healthy)) } }
}

/// Waits up to `seconds` for `condition`; returns whether it came true.
func eventually(_ seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

extension LiveServers {
    /// The live view's list + watch client against the stand-in API server.
    @Suite struct ClusterWatchTests {
        struct Running {
            let api: FakeAPIServer
            let watcher: ClusterWatcher
            let observer: RecordingObserver
            let tokenFile: String
            var view: LiveClusterView { watcher.view }

            /// Whether every kind's watch has reached the API server. Synced means listed; a
            /// watch opens after its list, and a `drop()` or `expire()` cuts only the watches
            /// already open (under ThreadSanitizer, one opened after the drop and nothing
            /// was ever cut).
            func watchesOpen() throws -> Bool {
                try eventually(5) { ((try api.stats()["watches"] as? [String: Int]) ?? [:]).filter { $0.value >= 1 }.count == ClusterKind.allCases.count }
            }
        }

        func start(
            seed: [[String: Any]] = APIObjects.scenario60530, missing: [String] = [], continueGone: Int = 0, alwaysGone: Bool = false,
            settings: WatchSettings = .fast
        ) throws -> Running {
            let api = try FakeAPIServer(seed: seed, missing: missing, continueGone: continueGone, alwaysGone: alwaysGone)
            let tokenFile = api.dir.path("token")
            let kubeconfig = try api.kubeconfig(tokenFile: tokenFile)
            let observer = RecordingObserver()
            let watcher = ClusterWatcher(credentials: .kubeconfig(path: kubeconfig, context: nil), view: LiveClusterView(), observer: observer, settings: settings)
            watcher.start()
            #expect(eventually(10) { watcher.isSynced }, "not synced: \(watcher.unsyncedKinds)")
            return Running(api: api, watcher: watcher, observer: observer, tokenFile: tokenFile)
        }

        @Test func listsInPagesThenAppliesWatchEvents() throws {
            let services = (0..<1_234).map { APIObjects.service("bulk", "svc-\($0)") }
            var settings = WatchSettings.fast
            settings.pageSize = 100
            let r = try start(seed: APIObjects.scenario60530 + services, settings: settings)
            defer { r.watcher.stop() }
            #expect(r.view.count(.service) == 1_235)
            #expect(r.view.count(.namespace) == 2)
            let lists = try #require(r.api.stats()["lists"] as? [String: Int])
            #expect(lists["Service"] == 13, "1,235 Services in pages of 100")
            // ADDED, MODIFIED, DELETED, each seen within a second.
            try r.api.apply([APIObjects.service("app-ns", "new-svc")])
            #expect(eventually(1) { r.view.service(namespace: "app-ns", name: "new-svc").isKnown && r.view.service(namespace: "app-ns", name: "new-svc").value != nil })
            try r.api.apply([APIObjects.service("app-ns", "my-app", labels: APIObjects.ownWaypoint)])
            #expect(eventually(1) { r.view.service(namespace: "app-ns", name: "my-app").value?.waypoint.useWaypointNamespace == nil })
            try r.api.delete(kind: "Service", namespace: "bulk", name: "svc-7")
            #expect(eventually(1) { r.view.service(namespace: "bulk", name: "svc-7").value == nil })
            #expect(r.observer.record.withLock { $0.relists.isEmpty && $0.failures.isEmpty })
        }

        /// A bookmark moves the version a watch resumes from, with no object in it.
        @Test func bookmarksMoveTheResumeVersion() throws {
            let r = try start()
            defer { r.watcher.stop() }
            // Changes to Namespaces raise the store's version; the Services watch hears of it
            // only through bookmarks.
            try r.api.apply([APIObjects.namespace("x1"), APIObjects.namespace("x2")])
            let raised = try #require(r.api.stats()["rv"] as? Int)
            usleep(1_200_000)  // two bookmark intervals
            #expect(try r.watchesOpen())
            try r.api.drop()
            #expect(try eventually(5) { ((try r.api.stats()["watch_rvs"] as? [String: [Int]])?["Service"]?.last ?? 0) >= raised })
            let lists = try #require(r.api.stats()["lists"] as? [String: Int])
            #expect(lists["Service"] == 1, "a dropped watch resumes; it does not relist")
        }

        /// 410 Gone as a watch ERROR event: every kind relists, and changes made meanwhile show.
        @Test func goneRelists() throws {
            let r = try start()
            defer { r.watcher.stop() }
            // Synced means listed; a kind whose watch is not open yet when the server expires
            // would start it at the compacted version itself and never hear a 410 (a race of
            // this test, seen under ThreadSanitizer): wait until every kind is watching.
            #expect(try r.watchesOpen())
            try r.api.expire()
            #expect(eventually(5) { r.observer.record.withLock { rec in ClusterKind.allCases.allSatisfy { (rec.relists[$0] ?? 0) >= 1 } } })
            try r.api.apply([APIObjects.service("app-ns", "after-gone")])
            #expect(eventually(1) { r.view.service(namespace: "app-ns", name: "after-gone").value != nil })
            // A relist that works is not an error loop: a handful of lists, not hundreds.
            usleep(500_000)
            let lists = try #require(r.api.stats()["lists"] as? [String: Int])
            #expect((lists["Service"] ?? 0) <= 3)
        }

        /// A server that answers every watch with 410, even from the version it just listed:
        /// the watcher backs off between relists instead of listing in a tight loop.
        @Test func goneRightAfterAListBacksOff() throws {
            let r = try start(alwaysGone: true)
            defer { r.watcher.stop() }
            let before = try #require((r.api.stats()["lists"] as? [String: Int])?["Service"])
            usleep(3_000_000)
            let after = try #require((r.api.stats()["lists"] as? [String: Int])?["Service"])
            // Backoff from 0.2 s doubling to 1 s: a handful of lists in 3 s; without it, 33.
            #expect(after - before <= 10, "\(after - before) lists in 3 s")
            #expect(after - before >= 1, "it keeps trying")
            #expect(r.observer.record.withLock { $0.health.contains { $0.0 == .service && !$0.1 } })
        }

        /// A connection cut mid-stream: logged once as failing, then recovered; no relist.
        @Test func droppedWatchResumes() throws {
            let r = try start()
            defer { r.watcher.stop() }
            #expect(try r.watchesOpen())
            try r.api.drop()
            #expect(eventually(5) { r.observer.record.withLock { $0.health.contains { $0.0 == .service && $0.1 } } })
            let health = r.observer.record.withLock { $0.health.filter { $0.0 == .service }.map(\.1) }
            #expect(health == [false, true])
            try r.api.apply([APIObjects.service("app-ns", "after-drop")])
            #expect(eventually(2) { r.view.service(namespace: "app-ns", name: "after-drop").value != nil })
            #expect(r.observer.record.withLock { $0.relists.isEmpty })
        }

        /// The token file is read again on every connection: after a rotation the watcher
        /// gets 401s until the new token is in the file, then carries on.
        @Test func rotatedTokenIsReadAgain() throws {
            let r = try start()
            defer { r.watcher.stop() }
            try r.api.rotate(to: "token-2")
            try r.api.drop()
            #expect(try eventually(5) { (try r.api.stats()["unauthorized"] as? Int ?? 0) > 0 })
            #expect(eventually(3) { r.observer.record.withLock { $0.failures.contains { $0.1.contains("HTTP 401") } } })
            try "token-2\n".write(toFile: r.tokenFile, atomically: true, encoding: .utf8)
            try r.api.apply([APIObjects.service("app-ns", "after-rotation")])
            #expect(eventually(6) { r.view.service(namespace: "app-ns", name: "after-rotation").value != nil })
        }

        /// A kind whose API is not installed (no CRD) is known and empty, so rules can say a
        /// target does not exist; the others sync as usual.
        @Test func missingAPIIsKnownEmpty() throws {
            let r = try start(missing: ["ServiceEntry"])
            defer { r.watcher.stop() }
            guard case .absent = r.view.serviceEntry(namespace: "app-ns", name: "anything") else {
                Issue.record("a ServiceEntry lookup without the API should be known-absent")
                return
            }
        }

        /// A continue token that expires mid-list (410) restarts the list from its first page:
        /// the view gets one consistent list, not pages from two versions.
        @Test func expiredContinueTokenRestartsTheList() throws {
            var settings = WatchSettings.fast
            settings.pageSize = 100
            let services = (0..<250).map { APIObjects.service("bulk", "svc-\($0)") }
            let r = try start(seed: APIObjects.scenario60530 + services, continueGone: 1, settings: settings)
            defer { r.watcher.stop() }
            #expect(r.view.count(.service) == 251)
            let lists = try #require((r.api.stats()["lists"] as? [String: Int])?["Service"])
            // 3 pages, plus the page that got 410 and the first page again; the other kinds
            // take the one 410 only if they page, which 6 objects do not.
            #expect(lists == 5, "\(lists) list requests")
        }

        /// A page over the byte limit is asked for again in smaller pieces, so large objects
        /// still list while memory stays bounded by the limit.
        @Test func largePagesAreListedInSmallerPieces() throws {
            var settings = WatchSettings.fast
            settings.maxPageBytes = 256 << 10
            let big = (0..<40).map { i -> [String: Any] in
                ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "big-\(i)", "namespace": "app-ns", "annotations": ["blob": String(repeating: "y", count: 20_000)]]]
            }
            let r = try start(seed: APIObjects.scenario60530 + big, settings: settings)
            defer { r.watcher.stop() }
            #expect(r.view.count(.service) == 41)
            let lists = try #require((r.api.stats()["lists"] as? [String: Int])?["Service"])
            #expect(lists > 2, "41 Services of 20 KB do not fit one 256 KiB page: \(lists) requests")
        }

        /// An event past the line limit fails that watch with a clear message, retried with
        /// backoff (no busy loop), while the other kinds keep working.
        @Test func oversizedEventIsRefusedAndBounded() throws {
            var settings = WatchSettings.fast
            settings.maxEventBytes = 64 << 10
            let r = try start(settings: settings)
            defer { r.watcher.stop() }
            var huge = APIObjects.service("app-ns", "huge")
            huge["metadata"] = ["name": "huge", "namespace": "app-ns", "annotations": ["blob": String(repeating: "x", count: 200_000)]]
            try r.api.apply([huge])
            #expect(eventually(3) { r.observer.record.withLock { $0.failures.contains { $0.1.contains("longer than 65536 bytes") } } })
            let before = try #require((r.api.stats()["watches"] as? [String: Int])?["Service"])
            usleep(2_000_000)
            let after = try #require((r.api.stats()["watches"] as? [String: Int])?["Service"])
            #expect(after - before <= 8, "retries back off: \(after - before) watches in 2 s")
            try r.api.apply([APIObjects.namespace("still-watched")])
            #expect(eventually(1) { r.view.namespace("still-watched").value != nil })
        }
    }
}

extension WatchSettings {
    /// Short timings for tests: backoff from 0.2 s up to 1 s, watches of 5-10 s.
    static var fast: WatchSettings {
        var s = WatchSettings()
        s.initialBackoff = 0.2
        s.maxBackoff = 1
        s.watchSeconds = 5...10
        s.missingAPIRecheck = 2
        return s
    }
}

/// The view's size target: 50,000 Services and 10,000 Namespaces in at most 32 MiB.
/// Measured by `admission-bench --view-size` in a process of its own: glibc's heap
/// counters are process-wide, and the tests run in parallel.
@Suite struct ClusterViewSizeTests {
    @Test func fiftyThousandServicesAndTenThousandNamespacesFitIn32MiB() throws {
        let bench = URL(fileURLWithPath: Package.binary).deletingLastPathComponent().appendingPathComponent("admission-bench").path
        let out = try run(bench, ["--view-size"], timeout: 120)
        #expect(out.status == 0, "\(out.stderr)")
        let fields = out.stdout.split(whereSeparator: \.isWhitespace)
        #expect(fields.count == 4 && fields[0] == "view-size" && fields[2] == "services=50000" && fields[3] == "namespaces=10000", "\(out.stdout)")
        let bytes = Int(fields.count > 1 ? fields[1] : "") ?? -1
        if bytes == 0 { return }  // under a sanitizer glibc's counters read 0: nothing to measure
        #expect(bytes <= 32 << 20, "\(bytes) bytes")
        // The measurement must see the view at all: more than a few bytes per object.
        #expect(bytes > 60_000 * 16, "\(bytes) bytes")
    }
}
