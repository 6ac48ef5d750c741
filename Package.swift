// swift-tools-version:6.1
import PackageDescription

/// One set of compiler settings for every target.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "lychee-rerank",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lychee-rerank", targets: ["LycheeCLI"]),
        .library(name: "Reranker", targets: ["Reranker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: Tensors and backends
        .target(name: "TensorKit", swiftSettings: swiftSettings),
        /// Debian's OpenBLAS (libopenblas-dev): cblas_sgemm for the CPU backend's matrix products.
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "CPUBackend", dependencies: ["TensorKit", "COpenBLAS"], swiftSettings: swiftSettings),
        /// Types and function-pointer signatures of the CUDA driver, cuBLASLt and NVRTC; no CUDA header or
        /// library is needed to build: CUDABackend opens the libraries with dlopen at run time.
        .target(name: "CCUDA"),
        .target(
            name: "CUDABackend", dependencies: ["TensorKit", "CCUDA"], swiftSettings: swiftSettings,
            linkerSettings: [.linkedLibrary("dl")]),

        // MARK: Checkpoint files
        .target(name: "SafeTensors", swiftSettings: swiftSettings),

        // MARK: Text
        .target(name: "Tokenizers", swiftSettings: swiftSettings),

        // MARK: Images
        /// C shims over libjpeg-turbo, libpng, libwebp and giflib: their error paths use setjmp/longjmp,
        /// which Swift cannot express, so each decoder is wrapped once in C.
        .target(
            name: "CImageCodecs",
            linkerSettings: [
                .linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp"),
                .linkedLibrary("gif"), .linkedLibrary("z"), .linkedLibrary("m"),
            ]
        ),
        .target(name: "ImageProcessing", dependencies: ["CImageCodecs"], swiftSettings: swiftSettings),

        // MARK: Model family
        .target(name: "Qwen25VL", dependencies: ["SafeTensors", "TensorKit"], swiftSettings: swiftSettings),

        // MARK: Public API
        .target(
            name: "Reranker",
            dependencies: ["SafeTensors", "Tokenizers", "ImageProcessing", "Qwen25VL", "TensorKit"],
            swiftSettings: swiftSettings
        ),

        // MARK: Command-line tool
        .executableTarget(
            name: "LycheeCLI",
            dependencies: [
                "Reranker", "Tokenizers", "ImageProcessing", "Qwen25VL", "SafeTensors", "TensorKit", "CPUBackend",
                "CUDABackend", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "TensorKitTests", dependencies: ["TensorKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CPUBackendTests", dependencies: ["CPUBackend", "TensorKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CUDABackendTests", dependencies: ["CUDABackend", "CPUBackend", "TensorKit"],
            swiftSettings: swiftSettings),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ImageProcessingTests", dependencies: ["ImageProcessing", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "Qwen25VLTests", dependencies: ["Qwen25VL", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EngineTests",
            dependencies: ["Reranker", "CPUBackend", "Qwen25VL", "ImageProcessing", "SafeTensors", "TensorKit", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(name: "RerankerTests", dependencies: ["Reranker", "Tokenizers", "TestSupport"], swiftSettings: swiftSettings),
    ]
)
