// swift-tools-version:6.2
import PackageDescription

/// One set of compiler settings for every target.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "lychee-rerank",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lychee-rerank", targets: ["LycheeCLI"]),
        .library(name: "Reranker", targets: ["Reranker"]),
        // The parsers of untrusted input, as products so that the fuzz package (Fuzz/, `make fuzz`) can reach them.
        .library(name: "SafeTensors", targets: ["SafeTensors"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "ImageProcessing", targets: ["ImageProcessing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // MARK: Tensors and backends
        .target(name: "TensorKit", swiftSettings: swiftSettings),
        /// Debian's OpenBLAS (libopenblas-dev): cblas_sgemm for the CPU backend's matrix products, linked
        /// from its static archive (see module.modulemap; no pkg-config, whose flags name the .so).
        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CPUBackend", dependencies: ["TensorKit", "COpenBLAS"], swiftSettings: swiftSettings),
        /// Types and function-pointer signatures of the CUDA driver, cuBLASLt and NVRTC; no CUDA header or
        /// library is needed to build: CUDABackend opens the libraries with dlopen at run time.
        .target(name: "CCUDA"),
        .target(
            name: "CUDABackend", dependencies: ["TensorKit", "CCUDA"], swiftSettings: swiftSettings,
            linkerSettings: [.linkedLibrary("dl")]),
        /// The op conformance suite (ggml's test-backend-ops for us): every op of one backend against a reference
        /// backend, generic over `Backend`; a harness, kept out of the backends themselves. `selftest` runs it.
        .target(
            name: "BackendConformance", dependencies: ["TensorKit", "CUDABackend"], swiftSettings: swiftSettings),

        // MARK: Files
        /// Reading files that must be regular files (a FIFO or a device given as a model file never blocks).
        .target(name: "RegularFiles", swiftSettings: swiftSettings),

        // MARK: Checkpoint files
        .target(name: "SafeTensors", dependencies: ["RegularFiles"], swiftSettings: swiftSettings),

        // MARK: Text
        .target(name: "Tokenizers", dependencies: ["RegularFiles"], swiftSettings: swiftSettings),

        // MARK: Images
        /// C shims over libjpeg-turbo, libpng, libwebp and giflib: their error paths use setjmp/longjmp,
        /// which Swift cannot express, so each decoder is wrapped once in C. The libraries are linked
        /// from Debian's static archives (`-l:libX.a`), so the binary needs none of their .so files.
        .target(
            name: "CImageCodecs",
            linkerSettings: [
                .linkedLibrary(":libjpeg.a"), .linkedLibrary(":libpng16.a"), .linkedLibrary(":libwebp.a"),
                .linkedLibrary(":libgif.a"), .linkedLibrary(":libz.a"), .linkedLibrary("m"),
            ]
        ),
        /// The bicubic resize's passes as AVX2 vector code, chosen at run time (the binary targets the x86-64
        /// baseline, which has no 32-bit vector multiply): C, for a function-level target attribute.
        .target(name: "CImageKernels"),
        /// Patch rows come from TensorKit's `PatchifySource` (the one host implementation of their order, which
        /// the backends' `patchify` op shares).
        .target(
            name: "ImageProcessing", dependencies: ["CImageCodecs", "CImageKernels", "RegularFiles", "TensorKit"],
            swiftSettings: swiftSettings),

        // MARK: Model family
        .target(
            name: "Qwen25VL", dependencies: ["SafeTensors", "TensorKit", "Tokenizers", "RegularFiles"],
            swiftSettings: swiftSettings),

        // MARK: Public API
        .target(
            name: "Reranker",
            dependencies: [
                "SafeTensors", "Tokenizers", "ImageProcessing", "Qwen25VL", "TensorKit", "RegularFiles",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: HTTP server
        .target(
            name: "RerankServer",
            dependencies: [
                "Reranker", "Qwen25VL", "TensorKit", "CPUBackend",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            // Web/ is compiled in (EmbeddedWebFiles.swift, made by scripts/embed-web-assets.sh).
            exclude: ["Web"],
            swiftSettings: swiftSettings
        ),

        // MARK: Model downloads
        /// Hugging Face Hub and ModelScope clients writing the caches their Python tools read.
        .target(
            name: "ModelHub",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        /// The benchmark workloads (W1-W4, S1-S4 of BENCHMARK.md): deterministic synthetic texts and images,
        /// for `bench` and `bench-serve`.
        .target(name: "Workloads", dependencies: ["Reranker", "ImageProcessing"], swiftSettings: swiftSettings),

        // MARK: Command-line tool
        .executableTarget(
            name: "LycheeCLI",
            dependencies: [
                "Reranker", "Tokenizers", "ImageProcessing", "Qwen25VL", "SafeTensors", "TensorKit", "CPUBackend",
                "RerankServer", "ModelHub",
                "CUDABackend", "BackendConformance", "Workloads",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .target(
            name: "TestSupport", dependencies: ["SafeTensors", "CPUBackend", "TensorKit"], path: "Tests/TestSupport",
            swiftSettings: swiftSettings),
        .testTarget(name: "TensorKitTests", dependencies: ["TensorKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CPUBackendTests", dependencies: ["CPUBackend", "TensorKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CUDABackendTests", dependencies: ["CUDABackend", "CPUBackend", "TensorKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "WorkloadsTests", dependencies: ["Workloads", "Reranker", "ImageProcessing"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BackendConformanceTests",
            dependencies: ["BackendConformance", "CPUBackend", "TensorKit", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ImageProcessingTests", dependencies: ["ImageProcessing", "TestSupport"], swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "Qwen25VLTests", dependencies: ["Qwen25VL", "TensorKit", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "Reranker", "CPUBackend", "Qwen25VL", "ImageProcessing", "SafeTensors", "TensorKit", "TestSupport",
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RerankServerTests",
            dependencies: [
                "RerankServer", "ModelHub", "Reranker", "CPUBackend", "ImageProcessing", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ModelHubTests",
            dependencies: [
                "ModelHub", "Reranker", "CPUBackend", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "RerankerTests", dependencies: ["Reranker", "Tokenizers", "TestSupport"], swiftSettings: swiftSettings
        ),
        /// Runs the built binary (and tests its output helpers): exit statuses and messages as users see them.
        .testTarget(
            name: "LycheeCLITests", dependencies: ["LycheeCLI", "Reranker", "CPUBackend", "TestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
