// swift-tools-version:6.1
// libFuzzer targets for wasmplugin-webhook, in a package of their own so that a plain
// `swift build` of the main package never links them without libFuzzer. Built and run by
// scripts/fuzz.sh:
//   swift build --package-path Fuzz --product FuzzHTTP1 -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing
import Foundation
import PackageDescription

/// The main package is the parent directory; SwiftPM names a path dependency after its
/// directory, which differs between checkouts.
let mainPackage = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent
let libraries = Target.Dependency.product(name: "WebhookLibraries", package: mainPackage)

func fuzzTarget(_ name: String) -> Target {
    .executableTarget(
        name: name, dependencies: ["FuzzSupport", libraries],
        swiftSettings: [.unsafeFlags(["-parse-as-library"])])
}

let package = Package(
    name: "wasmplugin-webhook-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [libraries]),
        fuzzTarget("FuzzHTTP1"),
        fuzzTarget("FuzzHTTP2"),
        fuzzTarget("FuzzJSON"),
        fuzzTarget("FuzzReview"),
        fuzzTarget("FuzzYAML"),
        fuzzTarget("FuzzWatch"),
    ]
)
