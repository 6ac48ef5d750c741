/// The decoder's attention kernel (head dimension 128): the same blocks, tiles and online softmax as
/// ``AttentionKernelSource``'s, but each warp owns 32 query rows (two 16-row tiles) instead of 16.
///
/// Every key or value fragment a warp reads from shared memory then feeds two tensor-core products instead
/// of one, which halves the shared-memory reads per product (Nsight Compute put the 16-row kernel's stalls
/// on shared-memory reads and the instructions waiting for them). A block is two warps over the same 64
/// query rows, so the host's tiling is unchanged. Two tiles' accumulators do not leave room in registers
/// for the query fragments as well, so the query rows wait in shared memory beside the key and value
/// tiles (52 KB a block, dynamic shared memory) and each key tile reads them with `ldmatrix`.
enum AttentionWideKernelSource {
    /// Head dimensions that use this kernel.
    static let headDims = [128]

    /// Threads a block: two warps.
    static let threads = 64

    static func kernelName(headDim: Int) -> String { "attention_wide_d\(headDim)" }

    /// Dynamic shared memory a block: the query, key and value tiles, padded rows.
    static func sharedBytes(headDim: Int) -> Int { 3 * 64 * (headDim + 8) * 2 }

    /// Blocks each multiprocessor should hold at once on Hopper (the register budget the compiler gets: 256 a
    /// thread, 254 used).
    static let blocksPerMultiprocessor = 4

    /// Blocks a multiprocessor must hold at once for this kernel to beat the 16-row one, whose blocks are
    /// twice the threads: with fewer, too few warps hide the latencies.
    static let minimumBlocksPerMultiprocessor = 3

    /// Whether a multiprocessor with `bytes` of shared memory holds ``minimumBlocksPerMultiprocessor`` blocks
    /// (the driver keeps 1 KB a block): Hopper (228 KB) and the A100 (164 KB) do; Ada and consumer Ampere
    /// (100 KB) hold one.
    static func runsWell(sharedMemoryPerMultiprocessor bytes: Int) -> Bool {
        let perBlock = headDims.map { sharedBytes(headDim: $0) }.max() ?? 0
        return bytes >= minimumBlocksPerMultiprocessor * (perBlock + 1024)
    }

    static let source: String =
        body
        + AttentionKernelSource.entryPoints(
            headDims: headDims, name: kernelName(headDim:), calling: { "attention_wide_tile<\($0)>" }, threads: threads,
            blocksPerMultiprocessor: { _ in blocksPerMultiprocessor })

    /// Uses the helpers of ``AttentionKernelSource/body`` (copies, `ldmatrix`, `mma`, key tiles).
    static let body = #"""
        #define ATTW_THREADS 64

        template <int D>
        __device__ void attention_wide_tile(const bf16_t* q, const bf16_t* k, const bf16_t* v, bf16_t* out,
                                            const int* tiles, int heads, int kvHeads, float scaleLog2, int causal) {
            extern __shared__ __align__(16) unsigned char attention_shared[];
            constexpr int pitch = TilePitch<D>::bytes;
            const unsigned queryTile = shared_address(attention_shared);
            const unsigned keyTile = queryTile + ATT_BQ * pitch, valueTile = keyTile + ATT_BK * pitch;
            const BlockHeads heads_ = block_heads(heads, kvHeads);
            const int group = heads_.group, firstHead = heads_.firstHead, kvHead = heads_.kvHead;
            const AttentionBlock block = attention_block(tiles, blockIdx.x, causal, group);
            const int qStart = block.qStart, seqStart = block.seqStart, seqEnd = block.seqEnd;
            const AttentionThread thread = attention_thread<D>(heads, kvHeads);
            const int warp = thread.warp, g = thread.g, t = thread.t;
            const int qStride = thread.qStride, kvStride = thread.kvStride;
            const unsigned keyLane = thread.keyLane, rowLane = thread.rowLane;
            const unsigned queryLane = queryTile + warp * 32 * pitch + rowLane;
            // Rows of this thread: tile m (0, 1), half h (0, 1) is row warpFirst + 16 m + 8 h + g; masks follow the
            // rows' tokens.
            const int warpFirst = qStart + warp * 32, warpFirstToken = row_token(warpFirst, group);
            // A warp none of whose rows lie in the sequence (a causal sequence's first block starts before it, a
            // full one's last block may end after it) only helps with the copies and barriers.
            const bool idle = row_token(warpFirst + 31, group) < seqStart || warpFirstToken >= seqEnd;
            int token[2][2];
        #pragma unroll
            for (int m = 0; m < 2; ++m) {
        #pragma unroll
                for (int h = 0; h < 2; ++h) token[m][h] = row_token(warpFirst + 16 * m + 8 * h + g, group);
            }

            const bf16_t* keys0 = k + kvHead * D;
            const bf16_t* values0 = v + kvHead * D;

            // The block's query rows (zeros outside the sequence) arrive with the first key tile, then the first
            // value tile (``prefetch_tile``'s pipeline).
            load_query_rows_async<D, ATTW_THREADS>(queryTile, q, qStride, qStart, group, firstHead, seqStart, seqEnd);
            prefetch_tile<D, ATTW_THREADS>(keyTile, keys0, kvStride, block, 0);
            prefetch_tile<D, ATTW_THREADS>(valueTile, values0, kvStride, block, 0);

            float o[2][D / 8][4];
            clear_outputs<D>(o[0]);
            clear_outputs<D>(o[1]);
            float mx[2][2], l[2][2];
        #pragma unroll
            for (int m = 0; m < 2; ++m) { mx[m][0] = mx[m][1] = ATT_NEG_INF; l[m][0] = l[m][1] = 0.0f; }

            for (int blockIndex = 0; blockIndex < block.blocks; ++blockIndex) {
                const KeyTile keys = key_tile(blockIndex, block);
                wait_older_tile();  // this block's keys (and, the first time, the query rows)

                const bool masked = keys.start + ATT_BK > keys.end || (causal && !keys.inPrefix && keys.start + ATT_BK - 1 > warpFirstToken);
                // Probabilities of both tiles, rounded to bf16 pairs as the A operand of the value product.
                unsigned p[2][ATT_BK / 16][4];
                if (!idle) {
                    float s[2][ATT_BK / 8][4];
        #pragma unroll
                    for (int m = 0; m < 2; ++m) {
        #pragma unroll
                        for (int nt = 0; nt < ATT_BK / 8; ++nt) {
                            s[m][nt][0] = s[m][nt][1] = s[m][nt][2] = s[m][nt][3] = 0.0f;
                        }
                    }
        #pragma unroll
                    for (int kk = 0; kk < D / 16; ++kk) {
                        unsigned a0[4], a1[4];
                        load_matrices(a0, queryLane + kk * 32);
                        load_matrices(a1, queryLane + 16 * pitch + kk * 32);
        #pragma unroll
                        for (int np = 0; np < ATT_BK / 16; ++np) {
                            unsigned b[4];
                            load_matrices(b, keyTile + keyLane + np * 16 * pitch + kk * 32);
                            mma_bf16_16816(s[0][2 * np], a0, b[0], b[1]);
                            mma_bf16_16816(s[0][2 * np + 1], a0, b[2], b[3]);
                            mma_bf16_16816(s[1][2 * np], a1, b[0], b[1]);
                            mma_bf16_16816(s[1][2 * np + 1], a1, b[2], b[3]);
                        }
                    }

        #pragma unroll
                    for (int m = 0; m < 2; ++m) {
                        float c0, c1;
                        online_softmax(s[m], mx[m][0], mx[m][1], l[m][0], l[m][1], masked, keys_seen(token[m][0], keys, causal, t),
                                       keys_seen(token[m][1], keys, causal, t), scaleLog2, c0, c1);
        #pragma unroll
                        for (int ks = 0; ks < ATT_BK / 16; ++ks) probability_operand(s[m], ks, p[m][ks]);
                        rescale_outputs<D>(o[m], c0, c1);
                    }
                }

                next_tile<D, ATTW_THREADS>(keyTile, keys0, kvStride, block, blockIndex);
                wait_older_tile();  // this block's values

                if (!idle) {
        #pragma unroll
                    for (int ks = 0; ks < ATT_BK / 16; ++ks) {
        #pragma unroll
                        for (int dp = 0; dp < D / 16; ++dp) {
                            unsigned b[4];
                            load_matrices_transposed(b, valueTile + rowLane + ks * 16 * pitch + dp * 32);
                            mma_bf16_16816(o[0][2 * dp], p[0][ks], b[0], b[1]);
                            mma_bf16_16816(o[0][2 * dp + 1], p[0][ks], b[2], b[3]);
                            mma_bf16_16816(o[1][2 * dp], p[1][ks], b[0], b[1]);
                            mma_bf16_16816(o[1][2 * dp + 1], p[1][ks], b[2], b[3]);
                        }
                    }
                }
                next_tile<D, ATTW_THREADS>(valueTile, values0, kvStride, block, blockIndex);
            }

            // The outputs leave through the query tile, which both warps are done with (with no key tile at all,
            // its copy may still be in flight): 16-byte stores, not 4-byte ones.
            if (block.blocks == 0) {
                wait_async_all();
                __syncthreads();
            }
            bf16_t* stage = (bf16_t*)attention_shared + warp * 32 * (D + 8);
        #pragma unroll
            for (int m = 0; m < 2; ++m) stage_rows<D>(o[m], l[m][0], l[m][1], stage + m * 16 * (D + 8), g, t);
            __syncwarp();
            copy_staged_query_rows<D>(stage, 32, warpFirst, group, firstHead, seqStart, seqEnd, out, qStride);
        }

        """#
}
