/// The fused attention kernel: flash-attention style over packed variable-length sequences.
///
/// One block of 4 warps takes 64 query rows of one sequence and one head; each warp owns 16 rows.
/// Keys and values stream through shared memory 64 rows at a time; scores live only in registers
/// (`mma.sync` m16n8k16 bf16 tensor-core products, fp32 accumulators) with an online softmax in fp32
/// (exp2 of log2e-scaled scores), so no n x n matrix ever exists. The probabilities are rounded to bf16
/// for the second product, as flash-attention does. Grouped KV heads: query head h reads kv head
/// h / (heads / kvHeads). Causal blocks stop at their last query row.
///
/// `tiles` holds five ints per block: first query row, sequence start, sequence end, and the rows of a
/// shared prefix the sequence also attends to (start, end; equal for none).
enum AttentionKernelSource {
    /// Head dimensions compiled (the vision tower's 80 and the decoder's 128, plus 64 for tests).
    static let headDims = [64, 80, 128]

    static func kernelName(headDim: Int) -> String { "attention_d\(headDim)" }

    static let source: String = body + headDims.map { d in
        """
        extern "C" __global__ void __launch_bounds__(128) attention_d\(d)(
            const bf16_t* q, const bf16_t* k, const bf16_t* v, bf16_t* out, const int* tiles,
            int heads, int kvHeads, float scaleLog2, int causal) {
            attention_tile<\(d)>(q, k, v, out, tiles, heads, kvHeads, scaleLog2, causal);
        }

        """
    }.joined()

    static let body = #"""
    #define ATT_BQ 64
    #define ATT_BK 64
    #define ATT_NEG_INF (__int_as_float(0xff800000))

    __device__ __forceinline__ void mma_bf16_16816(float* c, const unsigned* a, unsigned b0, unsigned b1) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }

    __device__ __forceinline__ unsigned load_pair(const bf16_t* p) { return *(const unsigned*)p; }

    template <int D>
    __device__ void attention_tile(const bf16_t* q, const bf16_t* k, const bf16_t* v, bf16_t* out,
                                   const int* tiles, int heads, int kvHeads, float scaleLog2, int causal) {
        __shared__ __align__(16) bf16_t Ks[ATT_BK][D + 8];
        __shared__ __align__(16) bf16_t Vs[ATT_BK][D + 8];
        const int tile = blockIdx.x, head = blockIdx.y;
        const int qStart = tiles[5 * tile], seqStart = tiles[5 * tile + 1], seqEnd = tiles[5 * tile + 2];
        const int prefixStart = tiles[5 * tile + 3], prefixEnd = tiles[5 * tile + 4];
        const int kvHead = head / (heads / kvHeads);
        const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        const int g = lane >> 2, t = lane & 3;
        const long long qStride = (long long)heads * D, kvStride = (long long)kvHeads * D;
        const int row0 = qStart + warp * 16 + g, row1 = row0 + 8;
        const bool valid0 = row0 < seqEnd, valid1 = row1 < seqEnd;

        // This thread's query fragments (A operand, row-major 16 x 16 per k-step).
        unsigned qf[D / 16][4];
        const bf16_t* q0 = q + row0 * qStride + head * D;
        const bf16_t* q1 = q + row1 * qStride + head * D;
    #pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
            const int col = kk * 16 + t * 2;
            qf[kk][0] = valid0 ? load_pair(q0 + col) : 0u;
            qf[kk][1] = valid1 ? load_pair(q1 + col) : 0u;
            qf[kk][2] = valid0 ? load_pair(q0 + col + 8) : 0u;
            qf[kk][3] = valid1 ? load_pair(q1 + col + 8) : 0u;
        }

        float o[D / 8][4];
    #pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) { o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f; }
        float m0 = ATT_NEG_INF, m1 = ATT_NEG_INF, l0 = 0.0f, l1 = 0.0f;

        // Keys: the shared prefix rows first (all visible; they precede every row of the sequence), then
        // the sequence's own rows.
        const int ownEnd = causal ? min(seqEnd, qStart + ATT_BQ) : seqEnd;
        const int prefixBlocks = (prefixEnd - prefixStart + ATT_BK - 1) / ATT_BK;
        const int ownBlocks = (ownEnd - seqStart + ATT_BK - 1) / ATT_BK;
        for (int blockIndex = 0; blockIndex < prefixBlocks + ownBlocks; ++blockIndex) {
            const bool inPrefix = blockIndex < prefixBlocks;
            const int kStart = inPrefix ? prefixStart + blockIndex * ATT_BK : seqStart + (blockIndex - prefixBlocks) * ATT_BK;
            const int keyEnd = inPrefix ? prefixEnd : seqEnd;
            __syncthreads();
            for (int c = threadIdx.x; c < ATT_BK * (D / 8); c += blockDim.x) {
                const int r = c / (D / 8), col = (c % (D / 8)) * 8, key = kStart + r;
                uint4 kv = make_uint4(0u, 0u, 0u, 0u), vv = make_uint4(0u, 0u, 0u, 0u);
                if (key < keyEnd) {
                    kv = *(const uint4*)(k + key * kvStride + kvHead * D + col);
                    vv = *(const uint4*)(v + key * kvStride + kvHead * D + col);
                }
                *(uint4*)&Ks[r][col] = kv;
                *(uint4*)&Vs[r][col] = vv;
            }
            __syncthreads();

            float s[ATT_BK / 8][4];
    #pragma unroll
            for (int nt = 0; nt < ATT_BK / 8; ++nt) {
                s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
    #pragma unroll
                for (int kk = 0; kk < D / 16; ++kk) {
                    const bf16_t* kr = &Ks[nt * 8 + g][kk * 16 + t * 2];
                    mma_bf16_16816(s[nt], qf[kk], load_pair(kr), load_pair(kr + 8));
                }
            }

            float mx0 = m0, mx1 = m1;
    #pragma unroll
            for (int nt = 0; nt < ATT_BK / 8; ++nt) {
    #pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int key = kStart + nt * 8 + t * 2 + (e & 1);
                    const int row = e < 2 ? row0 : row1;
                    const bool ok = key < keyEnd && (!causal || key <= row);
                    s[nt][e] = ok ? s[nt][e] * scaleLog2 : ATT_NEG_INF;
                }
                mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
                mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
            }
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
            const float c0 = mx0 == ATT_NEG_INF ? 1.0f : exp2f(m0 - mx0);
            const float c1 = mx1 == ATT_NEG_INF ? 1.0f : exp2f(m1 - mx1);
            const float base0 = mx0 == ATT_NEG_INF ? 0.0f : mx0;
            const float base1 = mx1 == ATT_NEG_INF ? 0.0f : mx1;
            m0 = mx0;
            m1 = mx1;
            float sum0 = 0.0f, sum1 = 0.0f;
    #pragma unroll
            for (int nt = 0; nt < ATT_BK / 8; ++nt) {
                s[nt][0] = exp2f(s[nt][0] - base0);
                s[nt][1] = exp2f(s[nt][1] - base0);
                s[nt][2] = exp2f(s[nt][2] - base1);
                s[nt][3] = exp2f(s[nt][3] - base1);
                sum0 += s[nt][0] + s[nt][1];
                sum1 += s[nt][2] + s[nt][3];
            }
            l0 = l0 * c0 + sum0;
            l1 = l1 * c1 + sum1;
    #pragma unroll
            for (int dt = 0; dt < D / 8; ++dt) {
                o[dt][0] *= c0; o[dt][1] *= c0; o[dt][2] *= c1; o[dt][3] *= c1;
            }

    #pragma unroll
            for (int ks = 0; ks < ATT_BK / 16; ++ks) {
                unsigned a[4];
                a[0] = pack_bf2(s[2 * ks][0], s[2 * ks][1]);
                a[1] = pack_bf2(s[2 * ks][2], s[2 * ks][3]);
                a[2] = pack_bf2(s[2 * ks + 1][0], s[2 * ks + 1][1]);
                a[3] = pack_bf2(s[2 * ks + 1][2], s[2 * ks + 1][3]);
                const int keyRow = ks * 16 + t * 2;
    #pragma unroll
                for (int dt = 0; dt < D / 8; ++dt) {
                    const int col = dt * 8 + g;
                    const unsigned b0 = (unsigned)Vs[keyRow][col] | ((unsigned)Vs[keyRow + 1][col] << 16);
                    const unsigned b1 = (unsigned)Vs[keyRow + 8][col] | ((unsigned)Vs[keyRow + 9][col] << 16);
                    mma_bf16_16816(o[dt], a, b0, b1);
                }
            }
        }

        l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
        l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
        const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f;
        const float inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
        bf16_t* out0 = out + row0 * qStride + head * D;
        bf16_t* out1 = out + row1 * qStride + head * D;
    #pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) {
            const int col = dt * 8 + t * 2;
            if (valid0) *(unsigned*)(out0 + col) = pack_bf2(o[dt][0] * inv0, o[dt][1] * inv0);
            if (valid1) *(unsigned*)(out1 + col) = pack_bf2(o[dt][2] * inv1, o[dt][3] * inv1);
        }
    }

    """#
}
