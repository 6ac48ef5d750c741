/// The fused attention kernel: flash-attention style over packed variable-length sequences.
///
/// One block of 4 warps takes 64 query rows of one sequence and one head; each warp owns 16 rows.
/// Keys and values stream through shared memory 64 rows at a time with `cp.async` (zero-filled past the
/// sequence): the value tile loads while the scores of the key tile are computed, and the next key tile
/// while the values are multiplied. Scores live only in registers (`mma.sync` m16n8k16 bf16 tensor-core
/// products, fp32 accumulators, operands read from shared memory with `ldmatrix`, the value tile
/// transposed on the way) with an online softmax in fp32 (exp2 of log2e-scaled scores), so no n x n
/// matrix ever exists. The probabilities are rounded to bf16 for the second product, as flash-attention
/// does. Grouped KV heads: query head h reads kv head h / (heads / kvHeads). Causal blocks stop at their
/// last query row; only the key tiles that cross the sequence end or a warp's diagonal are masked. Query
/// rows arrive and outputs leave through shared memory too (16-byte copies instead of 4-byte loads and
/// stores: window attention 11-12% faster, decoder attention 4-9%, measured per op on the H200).
///
/// `tiles` holds five ints per block: first query row, sequence start, sequence end, and the rows of a
/// shared prefix the sequence also attends to (start, end; equal for none). A block computes those of its
/// 64 rows that lie in its sequence (``AttentionTiling``: a causal sequence's first block may start before it).
///
/// On Hopper the decoder (head dimension 128) runs ``AttentionHopperKernelSource``'s warpgroup variant instead;
/// on the A100, ``AttentionWideKernelSource``'s, with 32 rows a warp.
///
/// Integer work per key tile is kept small (the kernel issued about as many address instructions as
/// products before): shared addresses are 32-bit and computed once per thread, each thread copies fixed
/// columns of rows a constant stride apart, and element offsets are 32-bit.
enum AttentionKernelSource {
    /// Head dimensions compiled (the vision tower's 80 and the decoder's 128, plus 64 for tests). The decoder
    /// runs on ``AttentionWideKernelSource``'s kernel where the device has the shared memory for it.
    static let headDims = [64, 80, 128]

    static func kernelName(headDim: Int) -> String { "attention_d\(headDim)" }

    /// Blocks each multiprocessor should hold at once (the register budget the compiler gets): 3 for
    /// d = 128 (168 registers, against 196 unbounded, for 2 blocks), 4 for the smaller heads (no spills).
    static func blocksPerMultiprocessor(headDim: Int) -> Int { headDim > 96 ? 3 : 4 }

    static let source: String =
        body
        + entryPoints(
            headDims: headDims, name: kernelName(headDim:), calling: { "attention_tile<\($0)>" }, threads: 128,
            blocksPerMultiprocessor: blocksPerMultiprocessor(headDim:))

    /// One `extern "C"` kernel per head dimension, calling the template instance `function(D)` with the
    /// attention kernels' arguments.
    static func entryPoints(
        headDims: [Int], name: (Int) -> String, calling function: (Int) -> String, threads: Int,
        blocksPerMultiprocessor: (Int) -> Int
    ) -> String {
        headDims.map { d in
            """
            extern "C" __global__ void __launch_bounds__(\(threads), \(blocksPerMultiprocessor(d))) \(name(d))(
                const bf16_t* q, const bf16_t* k, const bf16_t* v, bf16_t* out, const int* tiles,
                int heads, int kvHeads, float scaleLog2, int causal) {
                \(function(d))(q, k, v, out, tiles, heads, kvHeads, scaleLog2, causal);
            }

            """
        }.joined()
    }

    static let body = #"""
        #define ATT_BQ 64
        #define ATT_BK 64
        #define ATT_THREADS 128
        #define ATT_NEG_INF (__int_as_float(0xff800000))

        /// Not `volatile`: registers in and out only, so the compiler may schedule it among its neighbours.
        __device__ __forceinline__ void mma_bf16_16816(float* c, const unsigned* a, unsigned b0, unsigned b1) {
            asm(
                "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
        }

        /// 2^x with one MUFU instruction (relative error ~2^-22; -inf -> 0, subnormal results flushed to 0).
        __device__ __forceinline__ float fast_exp2(float x) {
            float y;
            asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
            return y;
        }

        /// The shared-memory address of a generic pointer into shared memory.
        __device__ __forceinline__ unsigned shared_address(const void* p) {
            unsigned address;
            asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(address) : "l"(p));
            return address;
        }

        /// Copies 16 bytes to shared memory (a shared-window address) asynchronously, or writes 16 zero bytes
        /// when `valid` is false.
        __device__ __forceinline__ void copy16_async(unsigned target, const void* source, bool valid) {
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                         :: "r"(target), "l"(source), "r"(valid ? 16 : 0));
        }

        /// ``copy16_async`` of 16 bytes that all exist (no source size to choose).
        __device__ __forceinline__ void copy16_async_whole(unsigned target, const void* source) {
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" :: "r"(target), "l"(source));
        }

        __device__ __forceinline__ void commit_async() { asm volatile("cp.async.commit_group;\n" ::); }

        /// Waits until at most one committed group of copies is still in flight.
        __device__ __forceinline__ void wait_async_but_one() { asm volatile("cp.async.wait_group 1;\n" ::); }

        /// Waits until every committed group of copies has landed.
        __device__ __forceinline__ void wait_async_all() { asm volatile("cp.async.wait_group 0;\n" ::); }

        /// Four 8x8 b16 matrices from shared memory; lane l names row l % 8 of matrix l / 8.
        __device__ __forceinline__ void load_matrices(unsigned* r, unsigned address) {
            asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                         : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
        }

        /// `load_matrices`, each matrix transposed.
        __device__ __forceinline__ void load_matrices_transposed(unsigned* r, unsigned address) {
            asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                         : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
        }

        /// Bytes between rows of a shared key or value tile: D elements and 8 of padding, which staggers the rows
        /// `ldmatrix` reads together over the banks.
        template <int D> struct TilePitch { static constexpr int bytes = (D + 8) * 2; };

        /// Copies chunks `first ..< first + width` (16 bytes each) of `ATT_BK` tile rows starting at row `start`:
        /// `width` of the block's `threads` threads per row, so that each thread's rows are a fixed stride apart
        /// and its addresses differ by constants. Rows outside `lo ..< hi` become zeros.
        template <int D, int threads, int width, int first>
        __device__ __forceinline__ void copy_tile_columns(unsigned tile, const bf16_t* source, int stride, int start,
                                                          int lo, int hi) {
            constexpr int rowsPerPass = threads / width;
            static_assert(threads % width == 0 && ATT_BK % rowsPerPass == 0, "whole rows per pass");
            const int r0 = threadIdx.x / width, col = (first + threadIdx.x % width) * 8;
            const int step = rowsPerPass * stride;
            unsigned target = tile + r0 * TilePitch<D>::bytes + col * 2;
            const bf16_t* from = source + (start + r0) * stride + col;
            if (start >= lo && start + ATT_BK <= hi) {
                // A whole tile: no row checks, unrolled (the checked loop issues about 15 instructions a copy).
        #pragma unroll
                for (int pass = 0; pass < ATT_BK / rowsPerPass; ++pass) {
                    copy16_async_whole(target + pass * rowsPerPass * TilePitch<D>::bytes, from + pass * step);
                }
                return;
            }
            int row = start + r0;
        #pragma unroll 1
            for (int pass = 0; pass < ATT_BK / rowsPerPass; ++pass) {
                const bool valid = row >= lo && row < hi;
                copy16_async(target, valid ? from : source, valid);
                target += rowsPerPass * TilePitch<D>::bytes;
                from += step;
                row += rowsPerPass;
            }
        }

        /// Starts copying rows `start ..< start + ATT_BK` of one head (`source` points at the head's first element,
        /// rows `stride` elements apart) into the shared tile at `tile`; rows outside `lo ..< hi` become zeros (so
        /// that a zero probability never meets a stale value). A row's 16-byte chunks go in a power-of-two group
        /// of 8 or 16 and, for D = 80, a group of the last 2.
        template <int D, int threads = ATT_THREADS>
        __device__ __forceinline__ void load_tile_async(unsigned tile, const bf16_t* source, int stride, int start,
                                                        int lo, int hi) {
            constexpr int chunks = D / 8, main = chunks >= 16 ? 16 : 8, rest = chunks - main;
            static_assert(chunks == main || rest == 2, "head dimensions 64, 80 or 128");
            copy_tile_columns<D, threads, main, 0>(tile, source, stride, start, lo, hi);
            if constexpr (rest > 0) copy_tile_columns<D, threads, rest, main>(tile, source, stride, start, lo, hi);
        }

        /// The token of query row `row` when a block's rows pack the `group` query heads of one kv head
        /// (``AttentionTiling``: row = token * group + the head's place in its group); with `group` 1 the row is
        /// the token. Rows before the first token give -1 (outside every sequence).
        __device__ __forceinline__ int row_token(int row, int group) {
            return group == 1 ? row : (row >= 0 ? row / group : -1);
        }

        /// The query rows of a block into the shared tile at `tile` (rows `TilePitch` bytes apart), where query row
        /// `row` (``row_token``) is head `firstHead + row - token * group` of its token: rows `first ..< first +
        /// ATT_BQ`, zeros for rows whose token lies outside `seqStart ..< seqEnd`. Once a block, so each row's place
        /// is computed afresh (a division by the group; none with one head a block).
        template <int D, int threads = ATT_THREADS>
        __device__ __forceinline__ void load_query_rows_async(unsigned tile, const bf16_t* q, int qStride, int first,
                                                              int group, int firstHead, int seqStart, int seqEnd) {
            constexpr int chunks = D / 8;
        #pragma unroll 1
            for (int c = threadIdx.x; c < ATT_BQ * chunks; c += threads) {
                const int r = c / chunks, chunk = c - r * chunks, row = first + r, token = row_token(row, group);
                const bool valid = token >= seqStart && token < seqEnd;
                const bf16_t* from = q + token * qStride + (firstHead + row - token * group) * D + chunk * 8;
                copy16_async(tile + r * TilePitch<D>::bytes + chunk * 16, valid ? from : q, valid);
            }
        }

        /// What one block computes (five ints of `tiles` per block): query rows `qStart ..< qStart + ATT_BQ`, of
        /// which those in `seqStart ..< seqEnd` are its sequence's; keys `prefixStart ..< prefixEnd` of a shared
        /// prefix, then the sequence's own (under a causal mask up to the block's last row): `blocks` key tiles,
        /// the prefix's `prefixBlocks` first.
        struct AttentionBlock { int qStart, seqStart, seqEnd, prefixStart, prefixEnd, prefixBlocks, blocks; };

        /// Block `tile` of `tiles`; its query rows pack `group` heads a token (``row_token``).
        __device__ __forceinline__ AttentionBlock attention_block(const int* tiles, int tile, int causal, int group = 1) {
            AttentionBlock b;
            b.qStart = tiles[5 * tile];
            b.seqStart = tiles[5 * tile + 1];
            b.seqEnd = tiles[5 * tile + 2];
            b.prefixStart = tiles[5 * tile + 3];
            b.prefixEnd = tiles[5 * tile + 4];
            const int ownEnd = causal ? min(b.seqEnd, row_token(b.qStart + ATT_BQ - 1, group) + 1) : b.seqEnd;
            b.prefixBlocks = (b.prefixEnd - b.prefixStart + ATT_BK - 1) / ATT_BK;
            b.blocks = b.prefixBlocks + (ownEnd - b.seqStart + ATT_BK - 1) / ATT_BK;
            return b;
        }

        /// What every thread of an attention block derives from its block and lane, in both kernels: the query
        /// and kv head, its warp, its place in the m16n8k16 fragments (`g`, `t`), the row strides, and its row
        /// addresses within the four matrices of a key fragment (`keyLane`) and of a query or, transposed, value
        /// fragment (`rowLane`), for tiles of `pitch` bytes a row.
        struct AttentionThread { int head, kvHead, warp, g, t, qStride, kvStride; unsigned keyLane, rowLane; };

        template <int D>
        __device__ __forceinline__ AttentionThread attention_thread(int heads, int kvHeads) {
            constexpr int pitch = TilePitch<D>::bytes;
            AttentionThread a;
            a.head = blockIdx.y;
            a.kvHead = a.head / (heads / kvHeads);
            const int lane = threadIdx.x & 31;
            a.warp = threadIdx.x >> 5;
            a.g = lane >> 2;
            a.t = lane & 3;
            // ldmatrix: this lane names row `mr` of matrix `mi`.
            const int mi = lane >> 3, mr = lane & 7;
            // Element offsets fit in 32 bits (the host checks).
            a.qStride = heads * D;
            a.kvStride = kvHeads * D;
            a.keyLane = ((mi >> 1) * 8 + mr) * pitch + (mi & 1) * 16;
            a.rowLane = ((mi & 1) * 8 + mr) * pitch + (mi >> 1) * 16;
            return a;
        }

        /// Key-tile step `ks` of a 16-row tile's probabilities (`s`, m16n8k16 accumulators), rounded to bf16 pairs
        /// as the A operand of the value product.
        __device__ __forceinline__ void probability_operand(const float (&s)[ATT_BK / 8][4], int ks, unsigned (&a)[4]) {
            a[0] = pack_bf2(s[2 * ks][0], s[2 * ks][1]);
            a[1] = pack_bf2(s[2 * ks][2], s[2 * ks][3]);
            a[2] = pack_bf2(s[2 * ks + 1][0], s[2 * ks + 1][1]);
            a[3] = pack_bf2(s[2 * ks + 1][2], s[2 * ks + 1][3]);
        }

        /// Key tile `index` of a block: the shared prefix's tiles first, then the sequence's own. Keys `start ..<
        /// start + ATT_BK`, of which those before `end` exist.
        struct KeyTile { int start, end; bool inPrefix; };

        __device__ __forceinline__ KeyTile key_tile(int index, const AttentionBlock& b) {
            const bool inPrefix = index < b.prefixBlocks;
            return {inPrefix ? b.prefixStart + index * ATT_BK : b.seqStart + (index - b.prefixBlocks) * ATT_BK,
                    inPrefix ? b.prefixEnd : b.seqEnd, inPrefix};
        }

        /// The copy pipeline both kernels share. Every step commits exactly one group of copies (an empty one when
        /// there is nothing left to load), so that "the older of the two groups in flight" always names the tile
        /// a step needs: the query rows and key tile 0, then value tile 0 go first; after each key tile's scores
        /// the next key tile starts loading, after each value product the next value tile.
        ///
        /// Starts copying tile `index` of the block's keys or values (`source`: the kv head's first element)
        /// into `tile` when the block has that tile, and commits the group.
        template <int D, int threads>
        __device__ __forceinline__ void prefetch_tile(unsigned tile, const bf16_t* source, int stride,
                                                      const AttentionBlock& b, int index) {
            if (index < b.blocks) {
                const KeyTile keys = key_tile(index, b);
                load_tile_async<D, threads>(tile, source, stride, keys.start, keys.start, keys.end);
            }
            commit_async();
        }

        /// Waits for the older of the two groups of copies in flight, then for every thread of the block.
        __device__ __forceinline__ void wait_older_tile() {
            wait_async_but_one();
            __syncthreads();
        }

        /// Once every warp of the block is done with tile `index` (keys after their scores, values after their
        /// product), tile `index + 1` starts loading into the same shared tile. After a key tile, the kernels then
        /// wait for that tile's values (``wait_older_tile``).
        template <int D, int threads>
        __device__ __forceinline__ void next_tile(unsigned tile, const bf16_t* source, int stride, const AttentionBlock& b,
                                                  int index) {
            __syncthreads();
            prefetch_tile<D, threads>(tile, source, stride, b, index + 1);
        }

        /// Zeros a 16-row tile's output accumulators.
        template <int D>
        __device__ __forceinline__ void clear_outputs(float (&o)[D / 8][4]) {
        #pragma unroll
            for (int dt = 0; dt < D / 8; ++dt) { o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f; }
        }

        /// Keys of `keys` a row sees, counted from this lane's first column (2 t): those before the tile's end
        /// and, on its own sequence's keys under a causal mask, those up to the row (the prefix precedes it).
        __device__ __forceinline__ int keys_seen(int row, KeyTile keys, int causal, int t) {
            const bool diagonal = causal && !keys.inPrefix;
            return (diagonal ? min(keys.end, row + 1) : keys.end) - keys.start - t * 2;
        }

        /// `r[0] op r[1] op ...` over `n` values (a power of two), pairwise: log2(n) dependent steps, not n - 1.
        template <int n, typename Op>
        __device__ __forceinline__ float tree_reduce(float (&r)[n], Op op) {
        #pragma unroll
            for (int width = n / 2; width >= 1; width /= 2) {
        #pragma unroll
                for (int i = 0; i < width; ++i) r[i] = op(r[i], r[i + width]);
            }
            return r[0];
        }

        /// One key tile's step of the online softmax for a 16-row tile. `s` holds its raw scores (m16n8k16
        /// accumulators: this thread has rows g and g + 8 at columns 2 t, 2 t + 1 of each 8 keys); when `masked`,
        /// keys at or past `seen0` / `seen1` (see `keys_seen`) become -inf. Updates the running maxima `m0`, `m1`
        /// (raw units: the scale is positive, so maxima commute with it) and sums `l0`, `l1`, turns the scores
        /// into probabilities, and returns in `c0`, `c1` the factors the rows' earlier outputs must be scaled by.
        __device__ __forceinline__ void online_softmax(float (&s)[ATT_BK / 8][4], float& m0, float& m1, float& l0,
                                                       float& l1, bool masked, int seen0, int seen1, float scaleLog2,
                                                       float& c0, float& c1) {
            if (masked) {
        #pragma unroll
                for (int nt = 0; nt < ATT_BK / 8; ++nt) {
        #pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        if (nt * 8 + (e & 1) >= (e < 2 ? seen0 : seen1)) s[nt][e] = ATT_NEG_INF;
                    }
                }
            }
            // Maxima and sums as trees, not chains: the dependent steps, not the operations, cost here.
            float r0[ATT_BK / 8], r1[ATT_BK / 8];
        #pragma unroll
            for (int nt = 0; nt < ATT_BK / 8; ++nt) {
                r0[nt] = fmaxf(s[nt][0], s[nt][1]);
                r1[nt] = fmaxf(s[nt][2], s[nt][3]);
            }
            const auto larger = [](float a, float b) { return fmaxf(a, b); };
            float mx0 = fmaxf(m0, tree_reduce(r0, larger)), mx1 = fmaxf(m1, tree_reduce(r1, larger));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
            // A row whose keys are all masked so far keeps m = -inf and scale 1.
            c0 = mx0 == ATT_NEG_INF ? 1.0f : fast_exp2((m0 - mx0) * scaleLog2);
            c1 = mx1 == ATT_NEG_INF ? 1.0f : fast_exp2((m1 - mx1) * scaleLog2);
            const float base0 = mx0 == ATT_NEG_INF ? 0.0f : mx0 * scaleLog2;
            const float base1 = mx1 == ATT_NEG_INF ? 0.0f : mx1 * scaleLog2;
            m0 = mx0;
            m1 = mx1;
        #pragma unroll
            for (int nt = 0; nt < ATT_BK / 8; ++nt) {
                s[nt][0] = fast_exp2(fmaf(s[nt][0], scaleLog2, -base0));
                s[nt][1] = fast_exp2(fmaf(s[nt][1], scaleLog2, -base0));
                s[nt][2] = fast_exp2(fmaf(s[nt][2], scaleLog2, -base1));
                s[nt][3] = fast_exp2(fmaf(s[nt][3], scaleLog2, -base1));
                r0[nt] = s[nt][0] + s[nt][1];
                r1[nt] = s[nt][2] + s[nt][3];
            }
            const auto sum = [](float a, float b) { return a + b; };
            l0 = fmaf(l0, c0, tree_reduce(r0, sum));
            l1 = fmaf(l1, c1, tree_reduce(r1, sum));
        }

        /// Scales a 16-row tile's outputs by its rows' factors; once the maxima settle no row of the warp changes
        /// its scale, and the multiplications are skipped.
        template <int D>
        __device__ __forceinline__ void rescale_outputs(float (&o)[D / 8][4], float c0, float c1) {
            if (__any_sync(0xffffffffu, c0 != 1.0f || c1 != 1.0f)) {
        #pragma unroll
                for (int dt = 0; dt < D / 8; ++dt) {
                    o[dt][0] *= c0; o[dt][1] *= c0; o[dt][2] *= c1; o[dt][3] *= c1;
                }
            }
        }

        /// Divides a 16-row tile's outputs by its rows' sums (`l0`, `l1`: this lane's part, summed over the four
        /// lanes of a row here) and writes them as bf16 to the tile's 16 shared rows at `stage` (D + 8 elements
        /// apart: the lanes of a write fall in distinct banks), for ``copy_staged_rows``.
        template <int D>
        __device__ __forceinline__ void stage_rows(const float (&o)[D / 8][4], float l0, float l1, bf16_t* stage, int g,
                                                   int t) {
            l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
            l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
            l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
            l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
            const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f;
            const float inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
            bf16_t* row0 = stage + g * (D + 8);
            bf16_t* row1 = row0 + 8 * (D + 8);
        #pragma unroll
            for (int dt = 0; dt < D / 8; ++dt) {
                const int col = dt * 8 + t * 2;
                *(unsigned*)(row0 + col) = pack_bf2(o[dt][0] * inv0, o[dt][1] * inv0);
                *(unsigned*)(row1 + col) = pack_bf2(o[dt][2] * inv1, o[dt][3] * inv1);
            }
        }

        /// Copies a warp's `rows` staged rows (sequence rows `first ..< first + rows`) to `out` (rows `stride`
        /// elements apart) 16 bytes a lane at a time, only those in `seqStart ..< seqEnd`. After `__syncwarp`.
        template <int D>
        __device__ __forceinline__ void copy_staged_rows(const bf16_t* stage, int rows, int first, int seqStart,
                                                         int seqEnd, bf16_t* out, int stride) {
            constexpr int chunks = D / 8;
            for (int c = threadIdx.x & 31; c < rows * chunks; c += 32) {
                const int r = c / chunks, chunk = c - r * chunks, row = first + r;
                if (row >= seqStart && row < seqEnd) {
                    *(uint4*)(out + row * stride + chunk * 8) = *(const uint4*)(stage + r * (D + 8) + chunk * 8);
                }
            }
        }

        /// ``copy_staged_rows`` for query rows that may pack a kv head's query heads (``load_query_rows_async``):
        /// each staged row to its token's row and head of `out`.
        template <int D>
        __device__ __forceinline__ void copy_staged_query_rows(const bf16_t* stage, int rows, int first, int group,
                                                               int firstHead, int seqStart, int seqEnd, bf16_t* out,
                                                               int stride) {
            constexpr int chunks = D / 8;
            for (int c = threadIdx.x & 31; c < rows * chunks; c += 32) {
                const int r = c / chunks, chunk = c - r * chunks, row = first + r, token = row_token(row, group);
                if (token >= seqStart && token < seqEnd) {
                    bf16_t* to = out + token * stride + (firstHead + row - token * group) * D + chunk * 8;
                    *(uint4*)to = *(const uint4*)(stage + r * (D + 8) + chunk * 8);
                }
            }
        }

        /// Where a block of the attention kernels stands among the heads: the grid's y axis runs over the query
        /// heads (one head a block, `group` 1) or over the kv heads, each block's rows packing its kv head's
        /// `group` query heads token-major (``AttentionTiling``). Packed, a short sequence's rows fill whole tiles
        /// instead of each head's padding its own (150 tokens of 7 heads: 17 blocks instead of 7 x 3), and a
        /// block's key tiles serve all the heads of its rows.
        struct BlockHeads { int group, firstHead, kvHead; };

        __device__ __forceinline__ BlockHeads block_heads(int heads, int kvHeads) {
            BlockHeads b;
            b.group = heads / gridDim.y;
            b.firstHead = blockIdx.y * b.group;
            b.kvHead = b.firstHead / (heads / kvHeads);
            return b;
        }

        template <int D>
        __device__ void attention_tile(const bf16_t* q, const bf16_t* k, const bf16_t* v, bf16_t* out,
                                       const int* tiles, int heads, int kvHeads, float scaleLog2, int causal) {
            __shared__ __align__(16) bf16_t Ks[ATT_BK][D + 8];
            __shared__ __align__(16) bf16_t Vs[ATT_BK][D + 8];
            const BlockHeads heads_ = block_heads(heads, kvHeads);
            const int group = heads_.group, firstHead = heads_.firstHead, kvHead = heads_.kvHead;
            const AttentionBlock block = attention_block(tiles, blockIdx.x, causal, group);
            const int qStart = block.qStart, seqStart = block.seqStart, seqEnd = block.seqEnd;
            const AttentionThread thread = attention_thread<D>(heads, kvHeads);
            const int warp = thread.warp, g = thread.g, t = thread.t;
            const int qStride = thread.qStride, kvStride = thread.kvStride;
            const unsigned keyTile = shared_address(Ks), valueTile = shared_address(Vs);
            const unsigned keyLane = thread.keyLane, valueLane = thread.rowLane;
            const bf16_t* keys0 = k + kvHead * D;
            const bf16_t* values0 = v + kvHead * D;
            // A causal sequence's first block may start before the sequence (its blocks end at the sequence's
            // end, so the partly filled one reads the fewest keys): rows outside the sequence are not computed.
            // Masks follow the rows' tokens.
            const int warpFirst = qStart + warp * 16, warpFirstToken = row_token(warpFirst, group);
            // A warp none of whose rows lie in the sequence (a causal sequence's first block starts before it, a
            // full one's last block may end after it) only helps with the copies and barriers.
            const bool idle = row_token(warpFirst + 15, group) < seqStart || warpFirstToken >= seqEnd;
            const int token0 = row_token(warpFirst + g, group), token1 = row_token(warpFirst + g + 8, group);

            // The block's query rows come through the value tile, free until the first value load: 16-byte copies
            // (zeros outside the sequence), then `ldmatrix` into this warp's fragments (A operand, row-major 16 x 16
            // per k-step), instead of 4-byte loads straight from memory. Keys: the shared prefix rows first (all
            // visible; they precede every row of the sequence), then the sequence's own rows.
            load_query_rows_async<D>(valueTile, q, qStride, qStart, group, firstHead, seqStart, seqEnd);
            commit_async();
            prefetch_tile<D, ATT_THREADS>(keyTile, keys0, kvStride, block, 0);
            wait_async_but_one();  // the query rows
            __syncthreads();
            unsigned qf[D / 16][4];
        #pragma unroll
            for (int kk = 0; kk < D / 16; ++kk) {
                load_matrices(qf[kk], valueTile + warp * 16 * TilePitch<D>::bytes + valueLane + kk * 32);
            }
            __syncthreads();  // every warp holds its fragments before the value tile is overwritten
            prefetch_tile<D, ATT_THREADS>(valueTile, values0, kvStride, block, 0);

            float o[D / 8][4];
            clear_outputs<D>(o);
            float m0 = ATT_NEG_INF, m1 = ATT_NEG_INF, l0 = 0.0f, l1 = 0.0f;

            for (int blockIndex = 0; blockIndex < block.blocks; ++blockIndex) {
                const KeyTile keys = key_tile(blockIndex, block);
                wait_older_tile();  // this block's keys

                // Only tiles crossing the sequence end or the diagonal need masks.
                const bool masked = keys.start + ATT_BK > keys.end || (causal && !keys.inPrefix && keys.start + ATT_BK - 1 > warpFirstToken);
                float s[ATT_BK / 8][4];
                if (!idle) {
        #pragma unroll
                    for (int nt = 0; nt < ATT_BK / 8; ++nt) { s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f; }
        #pragma unroll
                    for (int kk = 0; kk < D / 16; ++kk) {
        #pragma unroll
                        for (int np = 0; np < ATT_BK / 16; ++np) {
                            // Matrices: keys 16 np + 0..7 then + 8..15, each at dims 16 kk + 0..7 and + 8..15.
                            unsigned b[4];
                            load_matrices(b, keyTile + keyLane + np * 16 * TilePitch<D>::bytes + kk * 32);
                            mma_bf16_16816(s[2 * np], qf[kk], b[0], b[1]);
                            mma_bf16_16816(s[2 * np + 1], qf[kk], b[2], b[3]);
                        }
                    }

                    float c0, c1;
                    online_softmax(s, m0, m1, l0, l1, masked, keys_seen(token0, keys, causal, t), keys_seen(token1, keys, causal, t),
                                   scaleLog2, c0, c1);
                    rescale_outputs<D>(o, c0, c1);
                }

                next_tile<D, ATT_THREADS>(keyTile, keys0, kvStride, block, blockIndex);
                wait_older_tile();  // this block's values

                if (!idle) {
        #pragma unroll
                    for (int ks = 0; ks < ATT_BK / 16; ++ks) {
                        unsigned a[4];
                        probability_operand(s, ks, a);
        #pragma unroll
                        for (int dp = 0; dp < D / 16; ++dp) {
                            // Matrices (transposed): keys 16 ks + 0..7 then + 8..15, each at dims 16 dp + 0..7 and + 8..15.
                            unsigned b[4];
                            load_matrices_transposed(b, valueTile + valueLane + ks * 16 * TilePitch<D>::bytes + dp * 32);
                            mma_bf16_16816(o[2 * dp], a, b[0], b[1]);
                            mma_bf16_16816(o[2 * dp + 1], a, b[2], b[3]);
                        }
                    }
                }
                next_tile<D, ATT_THREADS>(valueTile, values0, kvStride, block, blockIndex);
            }

            // The outputs leave through the key tile (every warp is done with it, and no copy into it is left in
            // flight): 16-byte stores, not 4-byte ones.
            bf16_t* stage = &Ks[warp * 16][0];
            stage_rows<D>(o, l0, l1, stage, g, t);
            __syncwarp();
            copy_staged_query_rows<D>(stage, 16, warpFirst, group, firstHead, seqStart, seqEnd, out, qStride);
        }

        """#
}
