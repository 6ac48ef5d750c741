import CPUBackend
import Foundation
import TensorKit
import TestSupport
import Testing

@testable import BackendConformance

@Suite("Op self-test harness")
struct OpSelfTestTests {
    @Test("the CPU backend against itself passes every check")
    func cpuAgainstItself() throws {
        var test = OpSelfTest(device: CPUBackend(), reference: CPUBackend(), seed: 7)
        let checks = try test.run(scale: .small)
        #expect(checks.count >= 15)
        #expect(checks.filter { !$0.passed }.isEmpty)
    }

    @Test("a backend with a wrong op fails that op, and only that op")
    func detectsWrongOp() throws {
        var test = OpSelfTest(device: skewedAddBackend, reference: CPUBackend(), seed: 11)
        let failed = try test.run(scale: .small).filter { !$0.passed }
        #expect(failed.map(\.op) == ["add"])
    }

    @Test("NaN never passes")
    func nanFails() {
        let check = OpSelfTest.Check(op: "x", shape: "", maxAbsError: .nan, relativeError: .nan, tolerance: 1)
        #expect(!check.passed)
    }
}

/// The CPU backend with `add` off by 5%: the harness must notice.
let skewedAddBackend = HookedCPUBackend(
    name: "skewed",
    add: { a, b, base in
        let sum = try base.download(try base.add(a, b)).map { $0 * 1.05 }
        return try base.upload(sum, shape: a.shape)
    })
