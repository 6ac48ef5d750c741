// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for lychee-rerank's untrusted-input parsers. A package of its own, beside the product, so that
// `swift build` and `swift test` of the main package never see it; `make fuzz` (scripts/fuzz.sh) builds it with
// `-sanitize=fuzzer,address` into `.build-fuzz` and runs every target against its seed corpus in Fuzz/Corpus.
//
// Each target is an executable whose `main.swift` hands its harness to libFuzzer's driver (CFuzzDriver), so the
// targets link only with the fuzzer flags (`-sanitize=fuzzer`) that the script passes.

let swiftSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

/// One executable per fuzz target, named `Fuzz<Name>` after its folder in Sources/.
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: "Fuzz\(name)", dependencies: ["CFuzzDriver"] + dependencies, swiftSettings: swiftSettings)
}

let imageFormats = ["JPEG", "PNG", "WebP", "GIF", "BMP"]

let package = Package(
    name: "lychee-rerank-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "lychee-rerank", path: "..")],
    targets: [
        /// Calls libFuzzer's `LLVMFuzzerRunDriver` (C, since it takes C function pointers and `char ***`).
        .target(name: "CFuzzDriver"),
        /// The image harness the five decoder targets share; each pins its own format's signature.
        .target(
            name: "ImageFuzzing", dependencies: [.product(name: "ImageProcessing", package: "lychee-rerank")],
            swiftSettings: swiftSettings),
        fuzzTarget("SafeTensorsHeader", [.product(name: "SafeTensors", package: "lychee-rerank")]),
        fuzzTarget("TokenizerJSON", [.product(name: "Tokenizers", package: "lychee-rerank")]),
        /// The server's request types without its HTTP stack: Sources/FuzzRequestJSON/APITypes.swift is a link to
        /// Sources/RerankServer/APITypes.swift (depending on RerankServer would build NIO, Hummingbird and BoringSSL
        /// under the sanitizers: over 2,000 compile steps for one Foundation-only file).
        fuzzTarget("RequestJSON", []),
    ]
        + imageFormats.map {
            fuzzTarget("Image\($0)", ["ImageFuzzing"])
        }
)
