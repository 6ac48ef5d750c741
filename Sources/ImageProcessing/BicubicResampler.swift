import CImageKernels
import Dispatch
import Foundation

/// Pillow's `Image.resize(size, Image.BICUBIC)` for 8-bit RGB, reimplemented to give identical bytes.
///
/// Same algorithm as Pillow's `Resample.c`: a cubic kernel with a = -0.5 whose support grows with the
/// shrink factor (antialiasing), weights normalised to sum 1 then turned into 22-bit fixed point; a
/// horizontal pass over only the source rows the vertical pass needs, rounded and clamped to uint8,
/// then a vertical pass. A pass whose size does not change is skipped.
///
/// On x86-64 CPUs with AVX2 the passes run as vector code (`CImageKernels`' `resample.c`, chosen at run time: the
/// binary targets the baseline, which has no 32-bit vector multiply), with the same integer arithmetic: the same
/// bytes, 2-4x faster (a request's query image is on its critical path: the GPU waits for it).
enum BicubicResampler {
    static let precisionBits = 22

    /// Which code runs the passes.
    enum Kernels: Sendable, CaseIterable {
        /// Portable Swift.
        case scalar
        /// AVX2 vector code (only where ``avx2Available``).
        case avx2
    }

    /// Whether this CPU (and build) runs the AVX2 passes.
    static let avx2Available = lr_resample_avx2_available() == 1

    /// The passes' code on this machine: AVX2 where the CPU has it, unless `LYCHEE_SIMD_RESIZE=0` (a diagnostic
    /// switch: the bytes are the same either way).
    static let kernels: Kernels =
        avx2Available && ProcessInfo.processInfo.environment["LYCHEE_SIMD_RESIZE"] != "0" ? .avx2 : .scalar

    /// Per output position: the first source index, how many taps, and `kernelSize` fixed-point weights.
    struct Coefficients: Sendable {
        let kernelSize: Int
        var starts: [Int]
        let counts: [Int]
        let weights: [Int32]
    }

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bicubic filter.
    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 2.0 * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: outSize)
        var counts = [Int](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * kernelSize)
        var taps = [Double](repeating: 0, count: kernelSize)
        let inverseScale = 1.0 / filterScale
        for position in 0..<outSize {
            let center = (Double(position) + 0.5) * scale
            let first = max(0, Int(center - support + 0.5))
            let last = min(inSize, Int(center + support + 0.5))
            let count = max(0, last - first)
            var total = 0.0
            for tap in 0..<count {
                let weight = cubic((Double(tap + first) - center + 0.5) * inverseScale)
                taps[tap] = weight
                total += weight
            }
            for tap in 0..<count {
                var weight = taps[tap]
                if total != 0 { weight /= total }
                let fixed =
                    weight < 0 ? -0.5 + weight * Double(1 << precisionBits) : 0.5 + weight * Double(1 << precisionBits)
                weights[position * kernelSize + tap] = Int32(fixed)
            }
            starts[position] = first
            counts[position] = count
        }
        return Coefficients(kernelSize: kernelSize, starts: starts, counts: counts, weights: weights)
    }

    /// Keys' cubic convolution kernel with a = -0.5, as Pillow writes it.
    @inline(__always)
    static func cubic(_ value: Double) -> Double {
        let a = -0.5
        let x = abs(value)
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
        if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0.0
    }

    /// Fixed-point sum -> uint8, as Pillow's `clip8`.
    @inline(__always)
    static func clip8(_ sum: Int32) -> UInt8 {
        let shifted = sum >> Int32(precisionBits)
        return shifted < 0 ? 0 : (shifted > 255 ? 255 : UInt8(truncatingIfNeeded: shifted))
    }

    /// Resizes to `width` x `height` (both > 0) with `kernels` (``avx2`` only where ``avx2Available``).
    static func resize(_ image: RGBImage, width: Int, height: Int, kernels: Kernels = kernels) -> RGBImage {
        if image.width == width && image.height == height { return image }
        let kernels = avx2Available ? kernels : .scalar
        var vertical = coefficients(inSize: image.height, outSize: height)
        if verticalPassFirst(inWidth: image.width, inHeight: image.height, outWidth: width, outHeight: height) {
            let shrunk = verticalPass(image, vertical, kernels)
            if width == image.width { return shrunk }
            return horizontalPass(shrunk, coefficients(inSize: image.width, outSize: width), rows: 0..<height, kernels)
        }
        let firstRow = vertical.starts[0]
        let lastRow = vertical.starts[height - 1] + vertical.counts[height - 1]
        var source = image
        if width != image.width {
            let horizontal = coefficients(inSize: image.width, outSize: width)
            source = horizontalPass(image, horizontal, rows: firstRow..<lastRow, kernels)
            for index in vertical.starts.indices { vertical.starts[index] -= firstRow }
        }
        if height != image.height {
            source = verticalPass(source, vertical, kernels)
        }
        return source
    }

    /// Pillow 13's pass order: the vertical pass runs first when the height shrinks by more than twice
    /// as many pixels as the width does; otherwise horizontal first (on only the rows the vertical pass
    /// reads). Pillow 12 and older always ran the horizontal pass first, which can change results by a
    /// few levels; the reference pinned by `tools/make_image_fixtures.py` is Pillow 13.
    static func verticalPassFirst(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) -> Bool {
        let heightDrop = inHeight - outHeight
        return heightDrop > 0 && heightDrop > (inWidth - outWidth) * 2
    }

    /// Rows are split among this many tasks: 8, or one a core on larger machines (a lone image, such as a
    /// request's query image, is on the request's critical path: the device waits for it).
    private static let taskCount = max(8, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(rows)` over `count` rows split into `taskCount` contiguous chunks, concurrently.
    private static func forEachRowChunk(_ count: Int, _ body: @Sendable (Range<Int>) -> Void) {
        DispatchQueue.concurrentPerform(iterations: taskCount) { task in
            body((count * task / taskCount)..<(count * (task + 1) / taskCount))
        }
    }

    private static func horizontalPass(
        _ image: RGBImage, _ coefficients: Coefficients, rows: Range<Int>, _ kernels: Kernels
    ) -> RGBImage {
        let outWidth = coefficients.starts.count
        let rowCount = rows.count
        let inStride = image.width * 3
        let kernelSize = coefficients.kernelSize
        let pixels = [UInt8](unsafeUninitializedCapacity: outWidth * rowCount * 3) { target, initialized in
            guard let outputBase = target.baseAddress else { return }
            let output = SendablePointer(pointer: outputBase)
            forEachRowChunk(rowCount) { chunk in
                let vectorised =
                    kernels == .avx2
                    && withInt64s(coefficients.starts, coefficients.counts) { starts, counts in
                        lr_resample_horizontal(
                            image.pixels, Int64(image.pixels.count), Int64(inStride), Int64(rows.lowerBound), starts,
                            counts, coefficients.weights, Int64(kernelSize), Int64(outWidth), Int64(chunk.lowerBound),
                            Int64(chunk.upperBound), output.pointer) == 1
                    }
                if vectorised { return }
                image.pixels.withUnsafeBufferPointer { input in
                    coefficients.weights.withUnsafeBufferPointer { weights in
                        coefficients.starts.withUnsafeBufferPointer { starts in
                            coefficients.counts.withUnsafeBufferPointer { counts in
                                guard let inputBase = input.baseAddress, let weightBase = weights.baseAddress else {
                                    return
                                }
                                for row in chunk {
                                    let inRow = inputBase + (row + rows.lowerBound) * inStride
                                    let outRow = output.pointer + row * outWidth * 3
                                    for x in 0..<outWidth {
                                        let k = weightBase + x * kernelSize
                                        var red: Int32 = 1 << 21, green: Int32 = 1 << 21, blue: Int32 = 1 << 21
                                        var pixel = inRow + starts[x] * 3
                                        for tap in 0..<counts[x] {
                                            let weight = k[tap]
                                            red &+= Int32(pixel[0]) &* weight
                                            green &+= Int32(pixel[1]) &* weight
                                            blue &+= Int32(pixel[2]) &* weight
                                            pixel += 3
                                        }
                                        outRow[3 * x] = clip8(red)
                                        outRow[3 * x + 1] = clip8(green)
                                        outRow[3 * x + 2] = clip8(blue)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialized = outWidth * rowCount * 3
        }
        return RGBImage(trustedWidth: outWidth, height: rowCount, pixels: pixels)
    }

    /// Accumulates one output row per task step over a whole row of samples at a time (cache friendly).
    private static func verticalPass(_ image: RGBImage, _ coefficients: Coefficients, _ kernels: Kernels) -> RGBImage {
        let outHeight = coefficients.starts.count
        let rowLength = image.width * 3
        let kernelSize = coefficients.kernelSize
        let pixels = [UInt8](unsafeUninitializedCapacity: rowLength * outHeight) { target, initialized in
            guard let outputBase = target.baseAddress else { return }
            let output = SendablePointer(pointer: outputBase)
            forEachRowChunk(outHeight) { chunk in
                let vectorised =
                    kernels == .avx2
                    && withInt64s(coefficients.starts, coefficients.counts) { starts, counts in
                        lr_resample_vertical(
                            image.pixels, Int64(rowLength), starts, counts, coefficients.weights, Int64(kernelSize),
                            Int64(chunk.lowerBound), Int64(chunk.upperBound), output.pointer) == 1
                    }
                if vectorised { return }
                var sums = [Int32](repeating: 0, count: rowLength)
                image.pixels.withUnsafeBufferPointer { input in
                    coefficients.weights.withUnsafeBufferPointer { weights in
                        sums.withUnsafeMutableBufferPointer { sums in
                            guard let inputBase = input.baseAddress, let weightBase = weights.baseAddress else {
                                return
                            }
                            for row in chunk {
                                let k = weightBase + row * kernelSize
                                let first = inputBase + coefficients.starts[row] * rowLength
                                for column in 0..<rowLength { sums[column] = 1 << 21 }
                                for tap in 0..<coefficients.counts[row] {
                                    let weight = k[tap]
                                    let sourceRow = first + tap * rowLength
                                    for column in 0..<rowLength {
                                        sums[column] &+= Int32(sourceRow[column]) &* weight
                                    }
                                }
                                let outRow = output.pointer + row * rowLength
                                for column in 0..<rowLength { outRow[column] = clip8(sums[column]) }
                            }
                        }
                    }
                }
            }
            initialized = rowLength * outHeight
        }
        return RGBImage(trustedWidth: image.width, height: outHeight, pixels: pixels)
    }
}

/// `body` with the coefficients' starts and counts as the C passes take them (`Int` is 64 bits on the platforms
/// that have those passes; elsewhere they report no pass and this is never reached with data).
private func withInt64s(
    _ starts: [Int], _ counts: [Int], _ body: (UnsafePointer<Int64>?, UnsafePointer<Int64>?) -> Bool
) -> Bool {
    guard MemoryLayout<Int>.size == MemoryLayout<Int64>.size else { return false }
    return starts.withUnsafeBufferPointer { starts in
        counts.withUnsafeBufferPointer { counts in
            starts.withMemoryRebound(to: Int64.self) { starts in
                counts.withMemoryRebound(to: Int64.self) { counts in body(starts.baseAddress, counts.baseAddress) }
            }
        }
    }
}

/// A raw pointer handed to concurrent tasks that write disjoint rows.
struct SendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt8>
}
