/// The attention kernel on Hopper (H100, H200), for the decoder and the vision tower: the blocks, tiles, copy
/// pipeline and online softmax of ``AttentionKernelSource``, with both products on the warpgroup tensor-core
/// instructions (`wgmma`, sm_90a) instead of `mma.sync` (on the H200 per op: the decoder's 26-34% faster, a whole
/// image's 20%; docs/CUDA.md, engine round 8).
///
/// A block is one warpgroup (4 warps, 16 query rows each, as in the 16-row kernel). The scores of a key tile are
/// one asynchronous 64 x 64 product per 16 dimensions, both operands (the query rows and the key tile) read by the
/// tensor cores straight from shared memory: no `ldmatrix`, no operand registers, which is where the `mma.sync`
/// kernels spend their issue slots (Nsight Compute: the tensor pipe 41% busy, stalls on the instructions feeding
/// it). The value product takes the probabilities from registers (the scores' accumulator layout is the A
/// operand's, as for `mma.sync`) and the value tile from shared memory, read transposed by the tensor cores.
///
/// Tiles in shared memory are laid out as the tensor cores read them: column blocks, one after the other, each a
/// swizzled 64-row matrix. Head dimensions that are multiples of 64 use the 128-byte swizzle (blocks of 64
/// columns: a row is 128 bytes and its 16-byte chunk c lies at c ^ (row % 8)); the vision tower's 80 uses the
/// 32-byte swizzle (blocks of 16 columns: a row is 32 bytes, chunk c at c ^ (row / 4 % 2)). Key tiles are read as
/// K-major operands, value tiles as MN-major ones, from the same layout. The copies write it directly, each
/// thread's rows a multiple of 8 apart so that its swizzle is fixed. Tiles start on 1024-byte boundaries, where
/// the patterns repeat.
///
/// Compiled only for sm_90a (``CUDABackend/DeviceInfo/compilerArchitecture``); elsewhere the entry points are
/// empty and never launched.
enum AttentionHopperKernelSource {
    /// Head dimensions that use this kernel: the decoder's 128, the vision tower's 80, and 64.
    static let headDims = [64, 80, 128]

    /// Threads a block: one warpgroup.
    static let threads = 128

    static func kernelName(headDim: Int) -> String { "attention_wgmma_d\(headDim)" }

    /// Dynamic shared memory a block: the query, key and value tiles (64 rows of `headDim` values, unpadded),
    /// and 1 KB to start them on the swizzle pattern's 1024-byte boundary.
    static func sharedBytes(headDim: Int) -> Int { 3 * 64 * headDim * 2 + 1024 }

    /// Blocks each multiprocessor should hold at once, at every head dimension: 16 warps with 128 registers a
    /// thread (for d = 128, 126 used and no spills: NVRTC's report; 5 blocks would spill at every head dimension)
    /// and 4 x 49 KB of shared memory at most.
    static let blocksPerMultiprocessor = 4

    static let source: String =
        wgmmaInstructions + body
        + AttentionKernelSource.entryPoints(
            headDims: headDims, name: kernelName(headDim:), calling: { "attention_wgmma_tile<\($0)>" },
            threads: threads, blocksPerMultiprocessor: { _ in blocksPerMultiprocessor })

    /// `wgmma` wrappers, their operand lists written out: the scores (m64n64k16, both operands in shared memory)
    /// and the value products (m64nDk16, probabilities in registers) for each of ``headDims``.
    static var wgmmaInstructions: String {
        let scores = """
            /// Scores of 64 rows against 64 keys over 16 dimensions: s (+)= A * B^T, both K-major in shared memory.
            __device__ __forceinline__ void wgmma_scores(float (&s)[8][4], unsigned long long a, unsigned long long b,
                                                         int accumulate) {
            #if defined(__CUDA_ARCH_FEAT_SM90_ALL)
                asm volatile(
                    "{\\n.reg .pred p;\\nsetp.ne.b32 p, %34, 0;\\n"
                    "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {\(operands(0..<32))}, %32, %33, p, 1, 1, 0, 0;\\n}\\n"
                    : \(accumulators("s", count: 32))
                    : "l"(a), "l"(b), "r"(accumulate));
            #endif
            }

            """
        let values = headDims.map { n in
            """
            /// Outputs of 64 rows over \(n) dimensions: o += P * V over 16 keys; P in registers (the A fragment), V in
            /// shared memory with its rows along the keys (MN-major, read transposed).
            __device__ __forceinline__ void wgmma_values(float (&o)[\(n / 8)][4], const unsigned (&p)[4],
                                                         unsigned long long b) {
            #if defined(__CUDA_ARCH_FEAT_SM90_ALL)
                asm volatile(
                    "{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(n / 2 + 5), 0;\\n"
                    "wgmma.mma_async.sync.aligned.m64n\(n)k16.f32.bf16.bf16 {\(operands(0..<(n / 2)))}, "
                    "{\(operands((n / 2)..<(n / 2 + 4)))}, %\(n / 2 + 4), p, 1, 1, 1;\\n}\\n"
                    : \(accumulators("o", count: n / 2))
                    : "r"(p[0]), "r"(p[1]), "r"(p[2]), "r"(p[3]), "l"(b), "r"(1));
            #endif
            }

            """
        }
        return scores + values.joined()
    }

    /// `%first, ..., %last` for an inline-assembly operand list.
    static func operands(_ range: Range<Int>) -> String { range.map { "%\($0)" }.joined(separator: ", ") }

    /// `"+f"(name[0][0]), ...` for `count` accumulators held as `name[count / 4][4]`.
    static func accumulators(_ name: String, count: Int) -> String {
        (0..<count).map { "\"+f\"(\(name)[\($0 / 4)][\($0 % 4)])" }.joined(separator: ", ")
    }

    /// Uses the helpers of ``AttentionKernelSource/body`` (copies, the copy pipeline, softmax, staging).
    static let body = #"""
        #define ATTH_THREADS 128

        /// The shared layout of a 64-row tile of D columns: column blocks of `columns` values, each a swizzled
        /// matrix of 64 rows of `rowBytes`, and the descriptor fields the tensor cores read it with.
        template <int D> struct SwizzledTile {
            static constexpr bool wide = D % 64 == 0;
            static constexpr int columns = wide ? 64 : 16, rowBytes = columns * 2, blockBytes = ATT_BK * rowBytes;
            static constexpr int blockChunks = rowBytes / 16;
            /// Descriptor swizzle mode: 1 = 128 bytes, 3 = 32 bytes.
            static constexpr unsigned long long mode = wide ? 1 : 3;
            static_assert(D % columns == 0, "whole column blocks");

            /// Where 16-byte chunk `chunk` (of the block's row) of block `block`, row `row` lies, in bytes.
            __device__ static __forceinline__ unsigned offset(int block, int row, int chunk) {
                const int swizzled = wide ? chunk ^ (row & 7) : chunk ^ ((row >> 2) & 1);
                return block * blockBytes + row * rowBytes + (swizzled << 4);
            }
        };

        /// The 32-byte layout's copies of a thread: chunk `chunk` of tile row `r` in every column block, from `from`
        /// (the row's chunk in its first block), or zeros (reading `fallback`, any valid address) when not `valid`.
        template <int D>
        __device__ __forceinline__ void copy_row_blocks(unsigned tile, int r, int chunk, const bf16_t* from,
                                                        const bf16_t* fallback, bool valid) {
            using Tile = SwizzledTile<D>;
            static_assert(ATTH_THREADS == ATT_BK * Tile::blockChunks, "one column block a pass");
            const unsigned target = tile + Tile::offset(0, r, chunk);
        #pragma unroll
            for (int block = 0; block < D / Tile::columns; ++block) {
                copy16_async(target + block * Tile::blockBytes, valid ? from + block * Tile::columns : fallback, valid);
            }
        }

        /// Starts copying rows `start ..< start + ATT_BK` of one head into the swizzled tile at `tile`; rows outside
        /// `lo ..< hi` become zeros. Each thread's swizzle is fixed and its addresses move by constants (integer
        /// work per copy matters here: with the products on `wgmma`, the copies are much of what a thread issues;
        /// computing each copy's place afresh cost the decoder's attention 10-15%). 128-byte layout: each thread
        /// copies one chunk column of rows 8 (or 16) apart, consecutive threads the consecutive chunks of a row.
        /// 32-byte layout: each thread copies the same row and chunk of every column block.
        template <int D>
        __device__ __forceinline__ void load_tile_swizzled(unsigned tile, const bf16_t* source, int stride, int start,
                                                           int lo, int hi) {
            using Tile = SwizzledTile<D>;
            if constexpr (Tile::wide) {
                constexpr int chunks = D / 8, rowsPerPass = ATTH_THREADS / chunks;
                static_assert(ATTH_THREADS % chunks == 0 && rowsPerPass % 8 == 0, "rows a multiple of 8 apart");
                const int r0 = threadIdx.x / chunks, chunk = threadIdx.x % chunks;
                unsigned target = tile + Tile::offset(chunk / Tile::blockChunks, r0, chunk % Tile::blockChunks);
                const bf16_t* from = source + (start + r0) * stride + chunk * 8;
                if (start >= lo && start + ATT_BK <= hi) {
                    // A whole tile (all but a sequence's or prefix's last): no row checks, unrolled (the checked
                    // loop below issued 15 instructions a copy, a third of the decoder kernel's instructions).
        #pragma unroll
                    for (int pass = 0; pass < ATT_BK / rowsPerPass; ++pass) {
                        copy16_async_whole(target + pass * rowsPerPass * Tile::rowBytes, from + pass * rowsPerPass * stride);
                    }
                    return;
                }
                int row = start + r0;
        #pragma unroll 1
                for (int pass = 0; pass < ATT_BK / rowsPerPass; ++pass) {
                    const bool valid = row >= lo && row < hi;
                    copy16_async(target, valid ? from : source, valid);
                    target += rowsPerPass * Tile::rowBytes;
                    from += rowsPerPass * stride;
                    row += rowsPerPass;
                }
            } else {
                const int r = threadIdx.x / Tile::blockChunks, chunk = threadIdx.x % Tile::blockChunks;
                copy_row_blocks<D>(tile, r, chunk, source + (start + r) * stride + chunk * 8, source,
                                   start + r >= lo && start + r < hi);
            }
        }

        /// The query rows a block computes, where query row `row` of the packed rows (``row_token``) is head
        /// `firstHead + row - token * group` of its token: copies rows `first ..< first + ATT_BK` into the swizzled
        /// tile at `tile`, zeros for rows whose token lies outside `seqStart ..< seqEnd`. Once a block, so each row's
        /// place is computed afresh (a division by the group; none with one head a block).
        template <int D>
        __device__ __forceinline__ void load_query_rows(unsigned tile, const bf16_t* q, int qStride, int first, int group,
                                                        int firstHead, int seqStart, int seqEnd) {
            using Tile = SwizzledTile<D>;
            if constexpr (Tile::wide) {
                constexpr int chunks = D / 8, rowsPerPass = ATTH_THREADS / chunks;
                static_assert(ATTH_THREADS % chunks == 0 && rowsPerPass % 8 == 0, "rows a multiple of 8 apart");
                const int r0 = threadIdx.x / chunks, chunk = threadIdx.x % chunks;
                unsigned target = tile + Tile::offset(chunk / Tile::blockChunks, r0, chunk % Tile::blockChunks);
        #pragma unroll 1
                for (int pass = 0; pass < ATT_BK / rowsPerPass; ++pass) {
                    const int row = first + r0 + pass * rowsPerPass, token = row_token(row, group);
                    const bool valid = token >= seqStart && token < seqEnd;
                    const bf16_t* from = q + token * qStride + (firstHead + row - token * group) * D + chunk * 8;
                    copy16_async(target, valid ? from : q, valid);
                    target += rowsPerPass * Tile::rowBytes;
                }
            } else {
                const int r = threadIdx.x / Tile::blockChunks, chunk = threadIdx.x % Tile::blockChunks;
                const int row = first + r, token = row_token(row, group);
                copy_row_blocks<D>(tile, r, chunk, q + token * qStride + (firstHead + row - token * group) * D + chunk * 8,
                                   q, token >= seqStart && token < seqEnd);
            }
        }

        /// ``prefetch_tile`` into a swizzled tile (the same pipeline step; only the copy's layout differs).
        template <int D>
        __device__ __forceinline__ void prefetch_swizzled(unsigned tile, const bf16_t* source, int stride,
                                                          const AttentionBlock& b, int index) {
            if (index < b.blocks) {
                const KeyTile keys = key_tile(index, b);
                load_tile_swizzled<D>(tile, source, stride, keys.start, keys.start, keys.end);
            }
            commit_async();
        }

        /// Makes this thread's writes to shared memory (its finished copies, or its own stores) visible to the
        /// tensor cores (the asynchronous proxy), then waits for every thread of the block.
        __device__ __forceinline__ void shared_ready_for_wgmma() {
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncthreads();
        }

        /// ``wait_older_tile`` for a tile the tensor cores read next.
        __device__ __forceinline__ void wait_older_tile_for_wgmma() {
            wait_async_but_one();
            shared_ready_for_wgmma();
        }

        /// A shared-memory matrix descriptor for `wgmma`: swizzle `mode`, byte offsets `leading` and `stride`.
        __device__ __forceinline__ unsigned long long matrix_descriptor(unsigned address, unsigned leading,
                                                                        unsigned stride, unsigned long long mode) {
            return (unsigned long long)((address & 0x3FFFF) >> 4) | ((unsigned long long)(leading >> 4) << 16)
                   | ((unsigned long long)(stride >> 4) << 32) | (mode << 62);
        }

        /// The scores' operand descriptor of dimensions 16 kk ..< 16 kk + 16 of a query or key tile (K-major: rows
        /// of 8 a stride of 8 rows apart; the leading offset is unused with a swizzle).
        template <int D>
        __device__ __forceinline__ unsigned long long score_operand(unsigned tile, int kk) {
            using Tile = SwizzledTile<D>;
            const unsigned bytes = kk * 32;
            return matrix_descriptor(tile + bytes / Tile::rowBytes * Tile::blockBytes + bytes % Tile::rowBytes, 16,
                                     8 * Tile::rowBytes, Tile::mode);
        }

        /// The value product's operand descriptor of keys 16 ks ..< 16 ks + 16 of a value tile (MN-major: column
        /// blocks `blockBytes` apart, groups of 8 keys 8 rows apart).
        template <int D>
        __device__ __forceinline__ unsigned long long value_operand(unsigned tile, int ks) {
            using Tile = SwizzledTile<D>;
            return matrix_descriptor(tile + ks * 16 * Tile::rowBytes, Tile::blockBytes, 8 * Tile::rowBytes, Tile::mode);
        }

        __device__ __forceinline__ void wgmma_fence() {
        #if defined(__CUDA_ARCH_FEAT_SM90_ALL)
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        #endif
        }

        /// Commits the products issued so far and waits for all of them.
        __device__ __forceinline__ void wgmma_commit_and_wait() {
        #if defined(__CUDA_ARCH_FEAT_SM90_ALL)
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        #endif
        }

        /// Pins registers the asynchronous products read or write at this point of the program: the compiler may
        /// not move their other uses across it (and so across the fences and waits beside it).
        template <int rows>
        __device__ __forceinline__ void pin_registers(float (&r)[rows][4]) {
        #pragma unroll
            for (int i = 0; i < rows; ++i) {
                asm volatile("" : "+f"(r[i][0]), "+f"(r[i][1]), "+f"(r[i][2]), "+f"(r[i][3]) :: "memory");
            }
        }

        template <int rows>
        __device__ __forceinline__ void pin_registers(unsigned (&r)[rows][4]) {
        #pragma unroll
            for (int i = 0; i < rows; ++i) {
                asm volatile("" : "+r"(r[i][0]), "+r"(r[i][1]), "+r"(r[i][2]), "+r"(r[i][3]) :: "memory");
            }
        }

        /// The scores of the block's 64 query rows against a key tile (raw, fp32): one asynchronous product per 16
        /// dimensions, both operands read from shared memory.
        template <int D>
        __device__ __forceinline__ void warpgroup_scores(float (&s)[ATT_BK / 8][4], unsigned queryTile, unsigned keyTile) {
            wgmma_fence();
        #pragma unroll
            for (int kk = 0; kk < D / 16; ++kk) {
                wgmma_scores(s, score_operand<D>(queryTile, kk), score_operand<D>(keyTile, kk), kk);
            }
            wgmma_commit_and_wait();
            pin_registers(s);
        }

        /// `o += P V` over a value tile: one asynchronous product per 16 keys, the probabilities `p` from registers.
        template <int D>
        __device__ __forceinline__ void warpgroup_values(float (&o)[D / 8][4], unsigned (&p)[ATT_BK / 16][4],
                                                         unsigned valueTile) {
            pin_registers(o);
            pin_registers(p);
            wgmma_fence();
        #pragma unroll
            for (int ks = 0; ks < ATT_BK / 16; ++ks) wgmma_values(o, p[ks], value_operand<D>(valueTile, ks));
            wgmma_commit_and_wait();
            pin_registers(o);
        }

        template <int D>
        __device__ void attention_wgmma_tile(const bf16_t* q, const bf16_t* k, const bf16_t* v, bf16_t* out,
                                             const int* tiles, int heads, int kvHeads, float scaleLog2, int causal) {
        #if defined(__CUDA_ARCH_FEAT_SM90_ALL)
            extern __shared__ __align__(16) unsigned char attention_shared[];
            constexpr int tileBytes = ATT_BK * D * 2;
            const unsigned sharedStart = shared_address(attention_shared);
            const unsigned queryTile = (sharedStart + 1023u) & ~1023u;
            const unsigned keyTile = queryTile + tileBytes, valueTile = keyTile + tileBytes;
            const BlockHeads heads_ = block_heads(heads, kvHeads);
            const int group = heads_.group, firstHead = heads_.firstHead, kvHead = heads_.kvHead;
            const AttentionBlock block = attention_block(tiles, blockIdx.x, causal, group);
            const int qStart = block.qStart, seqStart = block.seqStart, seqEnd = block.seqEnd;
            const AttentionThread thread = attention_thread<D>(heads, kvHeads);
            const int warp = thread.warp, g = thread.g, t = thread.t;
            const int qStride = thread.qStride, kvStride = thread.kvStride;
            const int warpFirst = qStart + warp * 16;
            // Masks follow the rows' tokens.
            const int warpFirstToken = row_token(warpFirst, group);
            const int token0 = row_token(warpFirst + g, group), token1 = row_token(warpFirst + g + 8, group);
            const bf16_t* keys0 = k + kvHead * D;
            const bf16_t* values0 = v + kvHead * D;

            // The query rows (zeros outside the sequence) arrive with the first key tile, then the first value tile.
            load_query_rows<D>(queryTile, q, qStride, qStart, group, firstHead, seqStart, seqEnd);
            prefetch_swizzled<D>(keyTile, keys0, kvStride, block, 0);
            prefetch_swizzled<D>(valueTile, values0, kvStride, block, 0);

            float o[D / 8][4];
            clear_outputs<D>(o);
            float m0 = ATT_NEG_INF, m1 = ATT_NEG_INF, l0 = 0.0f, l1 = 0.0f;

            for (int blockIndex = 0; blockIndex < block.blocks; ++blockIndex) {
                const KeyTile keys = key_tile(blockIndex, block);
                wait_older_tile_for_wgmma();  // this block's keys (and, the first time, the query rows)

                float s[ATT_BK / 8][4];
                warpgroup_scores<D>(s, queryTile, keyTile);

                const bool masked = keys.start + ATT_BK > keys.end || (causal && !keys.inPrefix && keys.start + ATT_BK - 1 > warpFirstToken);
                float c0, c1;
                online_softmax(s, m0, m1, l0, l1, masked, keys_seen(token0, keys, causal, t), keys_seen(token1, keys, causal, t),
                               scaleLog2, c0, c1);
                rescale_outputs<D>(o, c0, c1);
                unsigned p[ATT_BK / 16][4];
        #pragma unroll
                for (int ks = 0; ks < ATT_BK / 16; ++ks) probability_operand(s, ks, p[ks]);

                __syncthreads();  // every warp's products are done with the key tile
                prefetch_swizzled<D>(keyTile, keys0, kvStride, block, blockIndex + 1);
                wait_older_tile_for_wgmma();  // this block's values

                warpgroup_values<D>(o, p, valueTile);

                __syncthreads();  // every warp's products are done with the value tile
                prefetch_swizzled<D>(valueTile, values0, kvStride, block, blockIndex + 1);
            }

            // The outputs leave through the query and key tiles, padded rows (16-byte stores): with no key tile at
            // all, the copies may still be in flight.
            wait_async_all();
            __syncthreads();
            bf16_t* stage = (bf16_t*)(attention_shared + (queryTile - sharedStart)) + warp * 16 * (D + 8);
            stage_rows<D>(o, l0, l1, stage, g, t);
            __syncwarp();
            copy_staged_query_rows<D>(stage, 16, warpFirst, group, firstHead, seqStart, seqEnd, out, qStride);
        #endif
        }

        """#
}
