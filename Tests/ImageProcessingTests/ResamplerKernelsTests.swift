import Testing

@testable import ImageProcessing

/// The AVX2 passes (`resample.c`) against the portable Swift passes, which the Pillow goldens pin: every byte.
@Suite("Bicubic resize: the AVX2 passes give the scalar passes' bytes")
struct ResamplerKernelsTests {
    /// A small deterministic generator (SplitMix64), so that a failure reproduces.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    enum Content: CaseIterable { case noise, extremes, stripes }

    static func image(width: Int, height: Int, content: Content, seed: UInt64) -> RGBImage {
        var generator = SplitMix(state: seed)
        let count = width * height * 3
        let pixels: [UInt8] = (0..<count).map { index in
            switch content {
            case .noise: return UInt8.random(in: 0...255, using: &generator)
            // Only 0 and 255: the kernel's negative lobes push sums past both ends (clamping).
            case .extremes: return Bool.random(using: &generator) ? 255 : 0
            // Sharp one-pixel stripes, the same in every channel.
            case .stripes: return (index / 3) % 2 == 0 ? 255 : 0
            }
        }
        return RGBImage(trustedWidth: width, height: height, pixels: pixels)
    }

    /// (source width, height) -> (target width, height): shrink and enlarge on each axis, the vertical pass
    /// first (height shrinks far more), one-pixel sides, widths that leave tails after the 32- and 8-sample
    /// vector steps, a 40x shrink (161-tap kernels), and the workloads' 768x512 -> 756x504.
    static let shapes: [(Int, Int, Int, Int)] = [
        (768, 512, 756, 504), (37, 23, 51, 29), (50, 40, 13, 11), (16, 300, 14, 20), (300, 16, 40, 15),
        (1, 9, 1, 4), (9, 1, 4, 1), (1, 1, 3, 5), (3, 2, 1, 1), (33, 17, 35, 19), (4000, 30, 100, 28),
        (31, 4000, 29, 100), (257, 129, 255, 131),
    ]

    @Test(
        "random, clamping and striped images, every shape",
        .enabled(if: BicubicResampler.avx2Available, "this CPU has no AVX2"),
        arguments: Content.allCases)
    func sameBytes(_ content: Content) {
        for (index, (width, height, outWidth, outHeight)) in Self.shapes.enumerated() {
            let source = Self.image(width: width, height: height, content: content, seed: UInt64(index + 1))
            let scalar = BicubicResampler.resize(source, width: outWidth, height: outHeight, kernels: .scalar)
            let vector = BicubicResampler.resize(source, width: outWidth, height: outHeight, kernels: .avx2)
            #expect(scalar.width == outWidth && scalar.height == outHeight)
            #expect(vector.width == scalar.width && vector.height == scalar.height)
            let differing = zip(scalar.pixels, vector.pixels).filter { $0 != $1 }.count
            #expect(differing == 0, "\(width)x\(height) -> \(outWidth)x\(outHeight): \(differing) bytes differ")
        }
    }

    @Test("this machine's choice: AVX2 where the CPU has it")
    func choice() {
        #expect(BicubicResampler.kernels == (BicubicResampler.avx2Available ? .avx2 : .scalar))
    }
}
