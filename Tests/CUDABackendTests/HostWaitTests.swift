import Testing

@testable import CUDABackend

@Suite("How host threads wait for the device (no GPU needed)")
struct HostWaitTests {
    @Test("each wait maps to the driver's scheduling flag; the driver's own choice sets none")
    func contextFlags() {
        // cuda.h: CU_CTX_SCHED_SPIN 0x01, CU_CTX_SCHED_YIELD 0x02, CU_CTX_SCHED_BLOCKING_SYNC 0x04.
        #expect(HostWait.spin.contextFlags == 1)
        #expect(HostWait.yield.contextFlags == 2)
        #expect(HostWait.block.contextFlags == 4)
        #expect(HostWait.driver.contextFlags == nil)
    }

    @Test("LYCHEE_GPU_WAIT names a wait; anything else (or nothing) blocks")
    func names() {
        #expect(HostWait(rawValue: "spin") == .spin)
        #expect(HostWait(rawValue: "driver") == .driver)
        #expect(HostWait(rawValue: "fast") == nil)
        #expect(HostWait.allCases.count == 4)
    }
}
