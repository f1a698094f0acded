// swift-tools-version:6.1
import PackageDescription

/// One place for the settings every Swift target shares (see docs: style habits).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .unsafeFlags(["-warnings-as-errors"], .when(configuration: .debug)),
    // Release: our modules' small functions inline into each other (rules call AdmissionKit's
    // field lookups ~100 times a review): −1.2 % instructions per request (scripts/instructions.sh
    // server), +7 % clean release build time.
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "wasmplugin-webhook",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "wasmplugin-webhook", targets: ["wasmplugin-webhook"]),
        .executable(name: "admission-bench", targets: ["admission-bench"]),
        // For the fuzz targets in Fuzz/ (a package of its own, built with libFuzzer).
        .library(name: "WebhookLibraries", targets: ["HTTPServer", "AdmissionKit", "ClusterView", "KubernetesClient", "WasmPluginPolicy", "YAMLManifests"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries. CTLS carries tiny shims for OpenSSL macros Swift cannot import.
        .target(
            name: "CTLS",
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        // Linux headers Swift's Glibc module leaves out (epoll, eventfd, accept4).
        .target(name: "CSystem"),
        // libcurl, for the Kubernetes API client; typed wrappers for its variadic setters.
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .systemLibrary(
            name: "CNGHTTP2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]
        ),
        // Below every other module: pthreads, a value behind a pthread mutex (visible to
        // ThreadSanitizer, unlike Synchronization.Mutex), bounded whole-file reads.
        .target(name: "Platform", swiftSettings: strictSettings),
        // HTTPS server: epoll, sockets, TLS, HTTP/1.1, HTTP/2. Knows nothing of Kubernetes.
        .target(
            name: "HTTPServer",
            dependencies: ["CTLS", "CNGHTTP2", "CSystem", "Platform"],
            swiftSettings: strictSettings
        ),
        // AdmissionReview model, JSON, JSON Pointer/Patch, field errors. No sockets, no C.
        .target(name: "AdmissionKit", swiftSettings: strictSettings),
        // The read-only cluster view the context rules read: the facts kept of Namespaces,
        // Services, ServiceEntries, Gateways and GatewayClasses. No I/O.
        .target(name: "ClusterView", dependencies: ["AdmissionKit", "Platform"], swiftSettings: strictSettings),
        // Lists and watches the view's kinds from the API server (serve --context-checks):
        // credentials, libcurl transfers, one reflector thread per kind.
        .target(
            name: "KubernetesClient",
            dependencies: ["CCurl", "ClusterView", "AdmissionKit", "YAMLManifests", "Platform"],
            swiftSettings: strictSettings
        ),
        // WasmPlugin rules, defaults and policy settings. Imports AdmissionKit and ClusterView.
        .target(
            name: "WasmPluginPolicy",
            dependencies: ["AdmissionKit", "ClusterView"],
            swiftSettings: strictSettings
        ),
        // Manifest files (YAML/JSON, multi-document) as JSON values with source lines.
        .target(
            name: "YAMLManifests",
            dependencies: ["AdmissionKit", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        // The executable: CLI and wiring only.
        .executableTarget(
            name: "wasmplugin-webhook",
            dependencies: [
                "HTTPServer", "Platform", "AdmissionKit", "ClusterView", "KubernetesClient", "WasmPluginPolicy", "YAMLManifests",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        // Benchmark program: time per review (decode + rules + encode), and the cluster
        // view's memory (--view-size); not a test.
        .executableTarget(
            name: "admission-bench",
            dependencies: ["AdmissionKit", "WasmPluginPolicy", "ClusterView", "CSystem"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AdmissionKitTests",
            dependencies: ["AdmissionKit"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WasmPluginPolicyTests",
            dependencies: ["WasmPluginPolicy", "AdmissionKit", "ClusterView", "YAMLManifests"],
            resources: [.copy("Fixtures"), .copy("Istio")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: ["HTTPServer", "CNGHTTP2"],
            swiftSettings: strictSettings
        ),
        // Runs the built `wasmplugin-webhook` binary: the dependency makes `swift build
        // --build-tests` rebuild it, so the tests never run a stale one.
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["wasmplugin-webhook", "admission-bench", "KubernetesClient", "ClusterView", "Platform"],
            swiftSettings: strictSettings
        ),
    ]
)
