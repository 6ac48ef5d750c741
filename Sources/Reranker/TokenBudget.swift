import Foundation
import Qwen25VL

/// The default size of a forward pass: the smaller of what memory allows and what keeps one pass short
/// enough for latency.
public enum TokenBudget {
    /// Where decoder throughput stops growing on a large GPU (measured on the H200: 16k-token passes run the
    /// GEMMs at their peak; longer passes only add latency).
    public static let gpuLatencyCap = 16384
    /// Bounds of the CPU's budget (a pass of about a second).
    public static let cpuRange = 256...16384

    /// Activation bytes one decoder token needs at once in a pass, estimated from the model's sizes with a
    /// margin: at most six rows of the hidden width alive together (the residual stream into and out of a
    /// layer, its norms, the attention output) and the q/k/v product, plus the rotary tables. On the H200 a
    /// 7B pass measured about 40 KB a token more for each token added (peak live memory of 7k- and 14.5k-token
    /// passes); this gives 52 KB.
    public static func activationBytesPerToken(_ dims: ModelDimensions, elementBytes: Int) -> Int {
        let text = dims.text
        let rowWidth = 6 * text.hiddenSize + (text.headCount + 2 * text.kvHeadCount) * text.headDim
        return rowWidth * elementBytes + 4 * text.headDim * MemoryLayout<Float>.size
    }

    /// Bytes a pass needs whatever its size: the larger MLP row chunk (gate/up product and its activation)
    /// of the decoder and the vision tower, which run one after the other.
    public static func fixedActivationBytes(_ dims: ModelDimensions, chunks: MLPRowChunks, elementBytes: Int) -> Int {
        let text = chunks.text * 3 * dims.text.intermediateSize
        let vision = chunks.vision * 3 * dims.vision.intermediateSize
        return max(text, vision) * elementBytes
    }

    /// The budget on a GPU with `availableBytes` free for activations (after weights and context).
    public static func gpu(availableBytes: Int, dims: ModelDimensions, chunks: MLPRowChunks = .standard) -> Int {
        let perToken = activationBytesPerToken(dims, elementBytes: 2)
        let room = tokenRoom(availableBytes: availableBytes, dims: dims, chunks: chunks)
        return max(256, min(gpuLatencyCap, room / max(1, perToken)))
    }

    /// What `availableBytes` leaves for the tokens of a pass once its fixed activations (bf16) have theirs.
    private static func tokenRoom(availableBytes: Int, dims: ModelDimensions, chunks: MLPRowChunks) -> Int {
        availableBytes - fixedActivationBytes(dims, chunks: chunks, elementBytes: 2)
    }

    /// What a GPU with `availableBytes` free for activations has left once passes of `budget` tokens with
    /// `chunks` have what they need (negative when they need more).
    public static func spareBytes(availableBytes: Int, dims: ModelDimensions, chunks: MLPRowChunks, budget: Int) -> Int
    {
        tokenRoom(availableBytes: availableBytes, dims: dims, chunks: chunks)
            - budget * activationBytesPerToken(dims, elementBytes: 2)
    }

    /// On a GPU with room for passes at the latency cap, the decoder's MLP row chunk grows where that costs no
    /// tokens a pass: the products run nearer their peak on more rows, and a pass's rows split into fewer, larger
    /// chunks. It grows by the first of ``largerTextChunkFactors`` that keeps it within ``largerTextChunkMostRows``:
    /// bf16 2048 -> 6144 rows, 8-bit weights 4096 -> 8192. Measured on the H200 with 16k-token passes: bf16
    /// 2048 -> 4096 rows W1 +1.2%, W3 +3%, W4 +3% (engine round 3), 4096 -> 6144 W3 +2% (its ~6k decoder rows in one
    /// chunk instead of two), W1 +0.5-1%, W2 and W4 within noise, 8192 no better than 6144 (W1 and W4 0.5-1% below it;
    /// engine round 10); 8-bit 4096 -> 8192 rows W1 +1.5%, W3 +3.3%, W2 and W4 within noise (under 10 GiB). The
    /// vision tower's chunk doubles with it where that too costs no tokens (for the 7B it does not add to the
    /// memory the decoder's larger chunk takes): W4's first vision pass (the query image and five documents,
    /// 11,664 rows) then runs whole instead of in two chunks.
    public static let largerTextChunkFactors = [3, 2]

    /// The most decoder rows ``gpuPlan(availableBytes:dims:chunks:)`` grows a chunk to.
    public static let largerTextChunkMostRows = 8192

    /// The token budget on a GPU with `availableBytes` free for activations, and the MLP row chunks to run
    /// with: `chunks`, or `chunks` with the decoder's chunk grown (``largerTextChunkFactors``) where memory
    /// gives that the same budget.
    public static func gpuPlan(availableBytes: Int, dims: ModelDimensions, chunks: MLPRowChunks)
        -> (budget: Int, chunks: MLPRowChunks)
    {
        let budget = gpu(availableBytes: availableBytes, dims: dims, chunks: chunks)
        // For each larger decoder chunk, largest first: both towers' chunks where that costs no tokens (the 7B's
        // doubled vision chunk needs no more memory than its larger decoder chunk), else the decoder's alone.
        let texts = largerTextChunkFactors.map { chunks.text * $0 }.filter {
            $0 > chunks.text && $0 <= largerTextChunkMostRows
        }
        let candidates = texts.flatMap { text in
            [MLPRowChunks(text: text, vision: chunks.vision * 2), MLPRowChunks(text: text, vision: chunks.vision)]
        }
        guard
            let larger = candidates.first(where: {
                gpu(availableBytes: availableBytes, dims: dims, chunks: $0) >= budget
            })
        else { return (budget, chunks) }
        return (budget, larger)
    }

    /// The budget on the CPU: about a second of work at `flopsPerSecond`, and at most a quarter of
    /// `memoryBytes` of fp32 activations.
    public static func cpu(
        dims: ModelDimensions, flopsPerSecond: Double = 2e10 * Double(ProcessInfo.processInfo.activeProcessorCount),
        memoryBytes: Int = Int(clamping: ProcessInfo.processInfo.physicalMemory)
    ) -> Int {
        let flopsPerToken = dims.text.matmulFlopsPerToken
        let bySpeed = Int(min(Double(Int.max / 2), flopsPerSecond / max(1, flopsPerToken)))
        let byMemory = memoryBytes / 4 / max(1, activationBytesPerToken(dims, elementBytes: 4))
        return min(cpuRange.upperBound, max(cpuRange.lowerBound, min(bySpeed, byMemory)))
    }
}
