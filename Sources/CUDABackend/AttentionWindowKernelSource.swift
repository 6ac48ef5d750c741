/// The vision tower's window attention on Hopper, straight from the fused q/k/v product: `split_rope` and the
/// attention kernel in one (``Backend/splitRopeAttention(_:heads:kvHeads:cos:sin:cuSeqlens:scale:)``).
///
/// Qwen2.5-VL's window layers attend within windows of at most 64 patches (28 of the 7B tower's 32 layers). There
/// a separate `split_rope` pass reads and writes every q/k/v value once more than the attention does (about 2% of
/// a pass over image documents), and the attention itself is one key tile a block: latency, not products. This
/// kernel reads a window's query, key and value rows from the `[tokens, (heads + 2 kvHeads) d]` product, its rows
/// of the cos and sin tables beside them, rotates the query and key tiles in shared memory (the arithmetic of
/// `split_rope_v8`, so the same bits), and runs the scores and values as
/// ``AttentionHopperKernelSource``'s warpgroup kernel does for a single key tile (the same instructions in the
/// same order: the same outputs, bit for bit, as `split_rope` followed by that kernel).
///
/// A block is one window (query rows = key rows, at most 64: the host only sends such sequences) and one head.
/// Compiled only for sm_90a; elsewhere the entry points are empty and never launched.
enum AttentionWindowKernelSource {
    /// Head dimensions compiled: the vision tower's 80, and 64 (the 128-byte swizzle, for the self-test).
    static let headDims = [64, 80]

    /// Threads a block: one warpgroup.
    static let threads = 128

    /// Longest sequence the kernel takes: one key tile.
    static let longestSequence = 64

    static func kernelName(headDim: Int) -> String { "attention_window_rope_wgmma_d\(headDim)" }

    /// Dynamic shared memory a block: the query, key and value tiles (swizzled), the window's rows of the cos and
    /// sin tables, and 1 KB to start the tiles on the swizzle pattern's 1024-byte boundary.
    static func sharedBytes(headDim: Int) -> Int { 5 * 64 * headDim * 2 + 1024 }

    /// Blocks each multiprocessor should hold at once (4 x 52 KB of shared memory at d = 80).
    static let blocksPerMultiprocessor = 4

    static let source: String =
        body
        + headDims.map { d in
            """
            extern "C" __global__ void __launch_bounds__(\(threads), \(blocksPerMultiprocessor)) \(kernelName(headDim: d))(
                const bf16_t* qkv, const bf16_t* cosTable, const bf16_t* sinTable, bf16_t* out, const int* tiles,
                int heads, int kvHeads, float scaleLog2) {
                attention_window_rope_tile<\(d)>(qkv, cosTable, sinTable, out, tiles, heads, kvHeads, scaleLog2);
            }

            """
        }.joined()

    /// Uses the helpers of ``AttentionKernelSource/body`` and ``AttentionHopperKernelSource/body``.
    static let body = #"""
        /// Starts copying rows `start ..< end` (at most ATT_BK) of a `[tokens, D]` table into a plain shared tile,
        /// rows D * 2 bytes apart; the tile's other rows are left as they are (never read).
        template <int D>
        __device__ __forceinline__ void load_table_rows(unsigned tile, const bf16_t* table, int start, int end) {
            constexpr int chunks = D / 8;
            const int count = (end - start) * chunks;
            const bf16_t* from = table + start * D;
            for (int c = threadIdx.x; c < count; c += ATTH_THREADS) copy16_async(tile + c * 16, from + c * 8, true);
        }

        /// Rotates rows `0 ..< rows` of the swizzled query and key tiles in place (rotate_half, pair j with
        /// j + D / 2, eight pairs at a time), each row with its row of the plain cos and sin tiles: the arithmetic
        /// of split_rope_v8, one table read for both tiles. The tiles lie at byte offsets from `shared`.
        template <int D>
        __device__ __forceinline__ void rotate_tiles(unsigned char* shared, unsigned queryOffset, unsigned keyOffset,
                                                     unsigned cosOffset, unsigned sinOffset, int rows) {
            using Tile = SwizzledTile<D>;
            constexpr int groups = D / 16;  // 16-byte chunks in each half of a row
            for (int item = threadIdx.x; item < rows * groups; item += ATTH_THREADS) {
                const int r = item / groups, j = item - r * groups;
                const uint4* cosRow = (const uint4*)(shared + cosOffset + r * D * 2);
                const uint4* sinRow = (const uint4*)(shared + sinOffset + r * D * 2);
                float c1[8], c2[8], s1[8], s2[8];
                unpack8(cosRow[j], c1);
                unpack8(cosRow[j + groups], c2);
                unpack8(sinRow[j], s1);
                unpack8(sinRow[j + groups], s2);
                const unsigned first = Tile::offset(j / Tile::blockChunks, r, j % Tile::blockChunks);
                const unsigned second = Tile::offset((j + groups) / Tile::blockChunks, r, (j + groups) % Tile::blockChunks);
        #pragma unroll
                for (int which = 0; which < 2; ++which) {
                    unsigned char* tile = shared + (which == 0 ? queryOffset : keyOffset);
                    uint4* lo = (uint4*)(tile + first);
                    uint4* hi = (uint4*)(tile + second);
                    float x1[8], x2[8], o1[8], o2[8];
                    unpack8(*lo, x1);
                    unpack8(*hi, x2);
        #pragma unroll
                    for (int e = 0; e < 8; ++e) rotate_pair(x1[e], x2[e], c1[e], c2[e], s1[e], s2[e], o1[e], o2[e]);
                    *lo = pack8(o1);
                    *hi = pack8(o2);
                }
            }
        }

        template <int D>
        __device__ void attention_window_rope_tile(const bf16_t* qkv, const bf16_t* cosTable, const bf16_t* sinTable,
                                                   bf16_t* out, const int* tiles, int heads, int kvHeads,
                                                   float scaleLog2) {
        #if defined(__CUDA_ARCH_FEAT_SM90_ALL)
            extern __shared__ __align__(16) unsigned char attention_shared[];
            constexpr int tileBytes = ATT_BK * D * 2;
            const unsigned sharedStart = shared_address(attention_shared);
            // Offsets from the start of the dynamic shared memory; the tiles start on a 1024-byte boundary.
            const unsigned queryOffset = ((sharedStart + 1023u) & ~1023u) - sharedStart;
            const unsigned keyOffset = queryOffset + tileBytes, valueOffset = keyOffset + tileBytes;
            const unsigned cosOffset = valueOffset + tileBytes, sinOffset = cosOffset + tileBytes;
            const unsigned queryTile = sharedStart + queryOffset, keyTile = sharedStart + keyOffset;
            const unsigned valueTile = sharedStart + valueOffset;
            // One window: query rows = key rows = seqStart ..< seqEnd, at most ATT_BK of them (the host checks).
            const AttentionBlock block = attention_block(tiles, blockIdx.x, 0);
            const int seqStart = block.seqStart, seqEnd = block.seqEnd;
            const AttentionThread thread = attention_thread<D>(heads, kvHeads);
            const int head = thread.head, kvHead = thread.kvHead, warp = thread.warp, g = thread.g, t = thread.t;
            const int stride = (heads + 2 * kvHeads) * D;
            const int warpFirst = seqStart + warp * 16;
            const int row0 = warpFirst + g, row1 = row0 + 8;

            // The query and key rows (zeros past the window) and the tables' rows, then the value rows.
            load_tile_swizzled<D>(queryTile, qkv + head * D, stride, seqStart, seqStart, seqEnd);
            load_tile_swizzled<D>(keyTile, qkv + (heads + kvHead) * D, stride, seqStart, seqStart, seqEnd);
            load_table_rows<D>(sharedStart + cosOffset, cosTable, seqStart, seqEnd);
            load_table_rows<D>(sharedStart + sinOffset, sinTable, seqStart, seqEnd);
            commit_async();
            load_tile_swizzled<D>(valueTile, qkv + (heads + kvHeads + kvHead) * D, stride, seqStart, seqStart, seqEnd);
            commit_async();
            wait_older_tile();  // the query and key rows and the tables' rows
            rotate_tiles<D>(attention_shared, queryOffset, keyOffset, cosOffset, sinOffset, seqEnd - seqStart);
            shared_ready_for_wgmma();  // the rotated tiles, written by the threads

            float s[ATT_BK / 8][4];
            warpgroup_scores<D>(s, queryTile, keyTile);

            const KeyTile keys = {seqStart, seqEnd, false};
            float m0 = ATT_NEG_INF, m1 = ATT_NEG_INF, l0 = 0.0f, l1 = 0.0f, c0, c1;
            online_softmax(s, m0, m1, l0, l1, seqStart + ATT_BK > seqEnd, keys_seen(row0, keys, 0, t),
                           keys_seen(row1, keys, 0, t), scaleLog2, c0, c1);
            unsigned p[ATT_BK / 16][4];
        #pragma unroll
            for (int ks = 0; ks < ATT_BK / 16; ++ks) probability_operand(s, ks, p[ks]);
            float o[D / 8][4];
            clear_outputs<D>(o);

            wait_async_all();  // the value rows
            shared_ready_for_wgmma();
            warpgroup_values<D>(o, p, valueTile);

            // The outputs leave through the query and key tiles once every warp's products are done with them.
            __syncthreads();
            bf16_t* stage = (bf16_t*)(attention_shared + queryOffset) + warp * 16 * (D + 8);
            stage_rows<D>(o, l0, l1, stage, g, t);
            __syncwarp();
            copy_staged_rows<D>(stage, 16, warpFirst, seqStart, seqEnd, out + head * D, thread.qStride);
        #endif
        }

        """#
}
