import ArgumentParser
import CPUBackend
import CUDABackend
import Foundation

/// `lychee-rerank selftest --backend cuda`: every op of the GPU backend against the CPU backend.
struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Run every op of a backend against the CPU reference on fresh random inputs and print the errors.",
        discussion: "Exits non-zero when any op exceeds its tolerance (bf16: relative error 1e-2; copies: exact)."
    )

    @Option(name: .long, help: "Backend to check against the CPU: cuda or auto (cpu checks the CPU against itself).")
    var backend: BackendChoice = .cuda

    @Option(name: .long, help: "Seed of the random inputs (default: a fresh one, printed).")
    var seed: UInt64?

    @Flag(name: .long, help: "Small shapes (quick; for machines without a GPU).")
    var small = false

    func run() throws {
        let device = try BackendSelection.make(backend)
        if let cuda = device as? CUDABackend {
            cuda.synchronizeEveryOp = true
            cuda.poisonAllocations = true
            print("device: \(cuda.device)")
            print("libraries: \(cuda.device.libraries.joined(separator: ", "))")
        }
        var test = OpSelfTest(device: device, reference: CPUBackend(), seed: seed)
        print("backend: \(device.name) against CPU, seed \(test.seed)")
        print(OpSelfTest.Check.header)
        let checks = try test.run(scale: small ? .small : .realistic) { print($0) }
        let failed = checks.filter { !$0.passed }
        print("\(checks.count - failed.count) of \(checks.count) ops passed")
        if !failed.isEmpty { throw ExitCode.failure }
    }
}
