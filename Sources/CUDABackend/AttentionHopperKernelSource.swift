/// The decoder's attention kernel on Hopper (H100, H200): the blocks, tiles, copy pipeline and online softmax
/// of ``AttentionKernelSource``, with both products on the warpgroup tensor-core instructions (`wgmma`, sm_90a)
/// instead of `mma.sync`.
///
/// A block is one warpgroup (4 warps, 16 query rows each, as in the 16-row kernel). The scores of a key tile are
/// one asynchronous 64 x 64 product per 16 dimensions, both operands (the query rows and the key tile) read by the
/// tensor cores straight from shared memory: no `ldmatrix`, no operand registers, which is where the `mma.sync`
/// kernels spend their issue slots (Nsight Compute: the tensor pipe 41% busy, stalls on the instructions feeding
/// it). The value product takes the probabilities from registers (the scores' accumulator layout is the A
/// operand's, as for `mma.sync`) and the value tile from shared memory, read transposed by the tensor cores.
///
/// Tiles in shared memory use the 128-byte swizzle the tensor cores read: a row of 64 bf16 values is 128 bytes,
/// and its 16-byte chunk c lies at chunk c ^ (row % 8). Head dimension 128 is two such 64-column halves, one after
/// the other (8 KB each for 64 rows). The copies write that layout directly, and each thread's rows share their
/// swizzle (its rows are a multiple of 8 apart). Tiles start on 1024-byte boundaries, where the pattern repeats.
///
/// Compiled only for sm_90a (``CUDABackend/DeviceInfo/compilerArchitecture``); elsewhere the entry points are
/// empty and never launched.
enum AttentionHopperKernelSource {
    /// Head dimensions that use this kernel (multiples of 64: whole swizzled halves).
    static let headDims = [64, 128]

    /// Threads a block: one warpgroup.
    static let threads = 128

    static func kernelName(headDim: Int) -> String { "attention_wgmma_d\(headDim)" }

    /// Dynamic shared memory a block: the query, key and value tiles (64 rows of `headDim` values, unpadded),
    /// and 1 KB to start them on the swizzle pattern's 1024-byte boundary.
    static func sharedBytes(headDim: Int) -> Int { 3 * 64 * headDim * 2 + 1024 }

    /// Blocks each multiprocessor should hold at once: 16 warps, 128 registers a thread (126 used, no spills;
    /// NVRTC's report), 4 x 49 KB of shared memory.
    static let blocksPerMultiprocessor = 4

    static let source: String =
        wgmmaInstructions + body
        + AttentionKernelSource.entryPoints(
            headDims: headDims, name: kernelName(headDim:), calling: { "attention_wgmma_tile<\($0)>" },
            threads: threads, blocksPerMultiprocessor: { _ in blocksPerMultiprocessor })

    /// `wgmma` wrappers, their operand lists written out: the scores (m64n64k16, both operands in shared memory)
    /// and the value products (m64nDk16, probabilities in registers) for D = 64 and 128.
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
        let values = [64, 128].map { n in
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
        /// Bytes of one 64-column half of a 64-row tile.
        #define ATTH_HALF (ATT_BK * 128)

        /// Where 16-byte chunk `chunk` of row `row` lies in a swizzled tile (bytes from its start).
        __device__ __forceinline__ unsigned swizzled_offset(int row, int chunk) {
            return (chunk >> 3) * ATTH_HALF + row * 128 + (((chunk & 7) ^ (row & 7)) << 4);
        }

        /// Starts copying rows `start ..< start + ATT_BK` of one head into the swizzled tile at `tile`; rows outside
        /// `lo ..< hi` become zeros. Each thread copies one chunk column of rows a multiple of 8 apart, so its
        /// swizzle is fixed.
        template <int D>
        __device__ __forceinline__ void load_tile_swizzled(unsigned tile, const bf16_t* source, int stride, int start,
                                                           int lo, int hi) {
            constexpr int chunks = D / 8, rowsPerPass = ATTH_THREADS / chunks;
            static_assert(D % 64 == 0 && rowsPerPass % 8 == 0, "whole swizzled halves, rows 8 apart");
            const int r0 = threadIdx.x / chunks, chunk = threadIdx.x % chunks;
            unsigned target = tile + swizzled_offset(r0, chunk);
            const bf16_t* from = source + (start + r0) * stride + chunk * 8;
            int row = start + r0;
        #pragma unroll 1
            for (int pass = 0; pass < ATT_BK / rowsPerPass; ++pass) {
                const bool valid = row >= lo && row < hi;
                copy16_async(target, valid ? from : source, valid);
                target += rowsPerPass * 128;
                from += rowsPerPass * stride;
                row += rowsPerPass;
            }
        }

        /// ``prefetch_tile`` into a swizzled tile.
        template <int D>
        __device__ __forceinline__ void prefetch_swizzled(unsigned tile, const bf16_t* source, int stride,
                                                          const AttentionBlock& b, int index) {
            if (index < b.blocks) {
                const KeyTile keys = key_tile(index, b);
                load_tile_swizzled<D>(tile, source, stride, keys.start, keys.start, keys.end);
            }
            commit_async();
        }

        /// ``wait_older_tile`` for a tile the tensor cores read next: the copies are made visible to the
        /// asynchronous proxy before the barrier.
        __device__ __forceinline__ void wait_older_tile_for_wgmma() {
            wait_async_but_one();
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncthreads();
        }

        /// A shared-memory matrix descriptor for `wgmma`: 128-byte swizzle, byte offsets `leading` and `stride`.
        __device__ __forceinline__ unsigned long long matrix_descriptor(unsigned address, unsigned leading,
                                                                        unsigned stride) {
            return (unsigned long long)((address & 0x3FFFF) >> 4) | ((unsigned long long)(leading >> 4) << 16)
                   | ((unsigned long long)(stride >> 4) << 32) | (1ull << 62);
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

        template <int D>
        __device__ void attention_wgmma_tile(const bf16_t* q, const bf16_t* k, const bf16_t* v, bf16_t* out,
                                             const int* tiles, int heads, int kvHeads, float scaleLog2, int causal) {
        #if defined(__CUDA_ARCH_FEAT_SM90_ALL)
            extern __shared__ __align__(16) unsigned char attention_shared[];
            constexpr int tileBytes = ATT_BK * D * 2;
            const unsigned sharedStart = shared_address(attention_shared);
            const unsigned queryTile = (sharedStart + 1023u) & ~1023u;
            const unsigned keyTile = queryTile + tileBytes, valueTile = keyTile + tileBytes;
            const AttentionBlock block = attention_block(tiles, blockIdx.x, causal);
            const int qStart = block.qStart, seqStart = block.seqStart, seqEnd = block.seqEnd;
            const AttentionThread thread = attention_thread<D>(heads, kvHeads);
            const int head = thread.head, kvHead = thread.kvHead, warp = thread.warp, g = thread.g, t = thread.t;
            const int qStride = thread.qStride, kvStride = thread.kvStride;
            const int warpFirst = qStart + warp * 16;
            const int row0 = warpFirst + g, row1 = row0 + 8;
            const bf16_t* keys0 = k + kvHead * D;
            const bf16_t* values0 = v + kvHead * D;

            // The query rows (zeros outside the sequence) arrive with the first key tile, then the first value tile.
            load_tile_swizzled<D>(queryTile, q + head * D, qStride, qStart, seqStart, seqEnd);
            prefetch_swizzled<D>(keyTile, keys0, kvStride, block, 0);
            prefetch_swizzled<D>(valueTile, values0, kvStride, block, 0);

            float o[D / 8][4];
        #pragma unroll
            for (int dt = 0; dt < D / 8; ++dt) { o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f; }
            float m0 = ATT_NEG_INF, m1 = ATT_NEG_INF, l0 = 0.0f, l1 = 0.0f;

            for (int blockIndex = 0; blockIndex < block.blocks; ++blockIndex) {
                const KeyTile keys = key_tile(blockIndex, block);
                const int kStart = keys.start, keyEnd = keys.end;
                wait_older_tile_for_wgmma();  // this block's keys (and, the first time, the query rows)

                // Scores: 16 dimensions a product; dimension 64 on lies in the second half of both tiles.
                float s[ATT_BK / 8][4];
                wgmma_fence();
        #pragma unroll
                for (int kk = 0; kk < D / 16; ++kk) {
                    const unsigned offset = (kk >> 2) * ATTH_HALF + (kk & 3) * 32;
                    wgmma_scores(s, matrix_descriptor(queryTile + offset, 16, 1024),
                                 matrix_descriptor(keyTile + offset, 16, 1024), kk);
                }
                wgmma_commit_and_wait();
                pin_registers(s);

                const bool masked = kStart + ATT_BK > keyEnd || (causal && !keys.inPrefix && kStart + ATT_BK - 1 > warpFirst);
                float c0, c1;
                online_softmax(s, m0, m1, l0, l1, masked, keys_seen(row0, keys, causal, t), keys_seen(row1, keys, causal, t),
                               scaleLog2, c0, c1);
                rescale_outputs<D>(o, c0, c1);
                unsigned p[ATT_BK / 16][4];
        #pragma unroll
                for (int ks = 0; ks < ATT_BK / 16; ++ks) probability_operand(s, ks, p[ks]);

                __syncthreads();  // every warp's products are done with the key tile
                prefetch_swizzled<D>(keyTile, keys0, kvStride, block, blockIndex + 1);
                wait_older_tile_for_wgmma();  // this block's values

                // Values: 16 keys a product (2 KB of the tile); the 64-column halves are 8 KB apart, rows 128 bytes.
                pin_registers(o);
                pin_registers(p);
                wgmma_fence();
        #pragma unroll
                for (int ks = 0; ks < ATT_BK / 16; ++ks) {
                    wgmma_values(o, p[ks], matrix_descriptor(valueTile + ks * 16 * 128, ATTH_HALF, 1024));
                }
                wgmma_commit_and_wait();
                pin_registers(o);

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
            copy_staged_rows<D>(stage, 16, warpFirst, seqStart, seqEnd, out + head * D, qStride);
        #endif
        }

        """#
}
