/// CUDA C sources of the backend's kernels, compiled by NVRTC at first use.
///
/// They include no header: bf16 values travel as `unsigned short` bit patterns (the top half of an fp32)
/// and every kernel computes in fp32, rounding to nearest-even once when it stores.
enum KernelSources {
    /// bf16 <-> fp32 helpers and reductions shared by the kernels.
    static let prelude = #"""
        typedef unsigned short bf16_t;

        __device__ __forceinline__ float bf2f(bf16_t v) { return __uint_as_float(((unsigned)v) << 16); }

        /// Two floats rounded to bf16 (nearest even) in one instruction (`cvt.rn.bf16x2.f32`, sm_80 and later),
        /// `lo` in the low half. A NaN becomes the canonical NaN.
        __device__ __forceinline__ unsigned pack_bf2(float lo, float hi) {
            unsigned packed;
            asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(hi), "f"(lo));
            return packed;
        }

        __device__ __forceinline__ bf16_t f2bf(float f) { return (bf16_t)pack_bf2(f, 0.0f); }

        /// `f` rounded to bf16 and widened back: the value a bf16 store keeps.
        __device__ __forceinline__ float round_bf(float f) { return __uint_as_float(pack_bf2(0.0f, f) & 0xffff0000u); }

        /// Eight bf16 values of one 16-byte load as fp32 (element 0 in the low half of the first word).
        __device__ __forceinline__ void unpack8(uint4 v, float* f) {
            const unsigned w[4] = {v.x, v.y, v.z, v.w};
            #pragma unroll
            for (int i = 0; i < 4; ++i) { f[2 * i] = __uint_as_float(w[i] << 16); f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u); }
        }

        __device__ __forceinline__ uint4 pack8(const float* f) {
            return make_uint4(pack_bf2(f[0], f[1]), pack_bf2(f[2], f[3]), pack_bf2(f[4], f[5]), pack_bf2(f[6], f[7]));
        }

        /// silu(gate) * up in fp32, `gate / (1 + e^-gate) * up`, with the fast exponential and division (a few
        /// fp32 ulps from the CPU backend's exact ones, far below the bf16 rounding that follows; large negative
        /// gates give 0, as the exact formula does): these kernels are bound by instruction issue, not memory.
        __device__ __forceinline__ float silu_times(float gate, float up) { return __fdividef(gate, 1.0f + __expf(-gate)) * up; }

        __device__ __forceinline__ float warp_sum(float v) {
            for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
            return v;
        }

        /// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
        __device__ float block_sum(float v) {
            __shared__ float partial[32];
            __shared__ float total;
            v = warp_sum(v);
            const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
            if (lane == 0) partial[warp] = v;
            __syncthreads();
            if (warp == 0) {
                float w = lane < (blockDim.x >> 5) ? partial[lane] : 0.0f;
                w = warp_sum(w);
                if (lane == 0) total = w;
            }
            __syncthreads();
            float result = total;
            __syncthreads();
            return result;
        }
        """#

    /// Row-wise and elementwise kernels.
    static let elementwise = #"""
        /// RMSNorm, one block per row: statistics in fp32; the normalised row is rounded to bf16 before the
        /// weight multiplies it, as transformers' Qwen2RMSNorm does.
        extern "C" __global__ void rms_norm(const bf16_t* x, const bf16_t* weight, bf16_t* out, int width, float eps) {
            const bf16_t* row = x + (size_t)blockIdx.x * width;
            bf16_t* target = out + (size_t)blockIdx.x * width;
            float squares = 0.0f;
            for (int i = threadIdx.x; i < width; i += blockDim.x) { float v = bf2f(row[i]); squares += v * v; }
            const float inverse = rsqrtf(block_sum(squares) / (float)width + eps);
            for (int i = threadIdx.x; i < width; i += blockDim.x) {
                float normed = round_bf(bf2f(row[i]) * inverse);
                target[i] = f2bf(normed * bf2f(weight[i]));
            }
        }

        /// The second pass of the vector norms: target = bf16(row * inverse) * weight, 8 elements per load, the
        /// block's threads striding over the row's `vectors` 16-byte vectors.
        __device__ __forceinline__ void scale_row8(const uint4* row, const uint4* w, uint4* target, int vectors,
                                                   float inverse) {
            for (int i = threadIdx.x; i < vectors; i += blockDim.x) {
                float f[8], g[8];
                unpack8(row[i], f);
                unpack8(w[i], g);
                #pragma unroll
                for (int j = 0; j < 8; ++j) f[j] = round_bf(f[j] * inverse) * g[j];
                target[i] = pack8(f);
            }
        }

        /// rms_norm for rows of a multiple of 8 elements on 16-byte aligned pointers: 16-byte loads and stores.
        extern "C" __global__ void rms_norm_v8(const bf16_t* x, const bf16_t* weight, bf16_t* out, int width, float eps) {
            const uint4* row = (const uint4*)(x + (size_t)blockIdx.x * width);
            uint4* target = (uint4*)(out + (size_t)blockIdx.x * width);
            const uint4* w = (const uint4*)weight;
            const int vectors = width >> 3;
            float squares = 0.0f;
            for (int i = threadIdx.x; i < vectors; i += blockDim.x) {
                float f[8];
                unpack8(row[i], f);
                #pragma unroll
                for (int j = 0; j < 8; ++j) squares += f[j] * f[j];
            }
            scale_row8(row, w, target, vectors, rsqrtf(block_sum(squares) / (float)width + eps));
        }

        /// rms_norm_v8 with one warp a row for rows of at most 32 V vectors (8 rows a 256-thread block): the row
        /// stays in registers, so it is read once, and the sum needs shuffles only (no block barriers). The
        /// one-block-a-row kernel read each row twice and waited at three barriers, ~2 TB/s on the H200.
        template <int V>
        __device__ __forceinline__ void rms_norm_warp_row(const bf16_t* x, const bf16_t* weight, bf16_t* out, int rows,
                                                          int width, float eps) {
            const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
            if (row >= rows) return;
            const int lane = threadIdx.x & 31, vectors = width >> 3;
            const uint4* source = (const uint4*)(x + (size_t)row * width);
            uint4 values[V];
            float squares = 0.0f;
            #pragma unroll
            for (int i = 0; i < V; ++i) {
                if (i * 32 + lane < vectors) {
                    values[i] = source[i * 32 + lane];
                    float f[8];
                    unpack8(values[i], f);
                    #pragma unroll
                    for (int j = 0; j < 8; ++j) squares += f[j] * f[j];
                }
            }
            const float inverse = rsqrtf(warp_sum(squares) / (float)width + eps);
            uint4* target = (uint4*)(out + (size_t)row * width);
            const uint4* w = (const uint4*)weight;
            #pragma unroll
            for (int i = 0; i < V; ++i) {
                if (i * 32 + lane < vectors) {
                    float f[8], g[8];
                    unpack8(values[i], f);
                    unpack8(w[i * 32 + lane], g);
                    #pragma unroll
                    for (int j = 0; j < 8; ++j) f[j] = round_bf(f[j] * inverse) * g[j];
                    target[i * 32 + lane] = pack8(f);
                }
            }
        }

        extern "C" __global__ void rms_norm_warp8_v8(const bf16_t* x, const bf16_t* weight, bf16_t* out, int rows,
                                                     int width, float eps) {
            rms_norm_warp_row<8>(x, weight, out, rows, width, eps);
        }

        extern "C" __global__ void rms_norm_warp16_v8(const bf16_t* x, const bf16_t* weight, bf16_t* out, int rows,
                                                      int width, float eps) {
            rms_norm_warp_row<16>(x, weight, out, rows, width, eps);
        }

        /// add over 8-element vectors (n8 = elements / 8, 16-byte aligned pointers).
        extern "C" __global__ void add_v8(const uint4* a, const uint4* b, uint4* out, long long n8) {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n8; i += (long long)gridDim.x * blockDim.x) {
                float f[8], g[8];
                unpack8(a[i], f);
                unpack8(b[i], g);
                #pragma unroll
                for (int j = 0; j < 8; ++j) f[j] += g[j];
                out[i] = pack8(f);
            }
        }

        /// silu_mul_fused over 8-element vectors (width8 = width / 8): blockIdx.x and threadIdx.x pick the vector
        /// of a row, blockIdx.y the row (striding by gridDim.y), so no thread divides a 64-bit index.
        extern "C" __global__ void silu_mul_fused_v8(const uint4* gateUp, uint4* out, int width8, int rows) {
            const int col = blockIdx.x * blockDim.x + threadIdx.x;
            if (col >= width8) return;
            for (int row = blockIdx.y; row < rows; row += gridDim.y) {
                const uint4* base = gateUp + (long long)row * 2 * width8;
                float g[8], u[8];
                unpack8(base[col], g);
                unpack8(base[width8 + col], u);
                #pragma unroll
                for (int j = 0; j < 8; ++j) g[j] = silu_times(g[j], u[j]);
                out[(long long)row * width8 + col] = pack8(g);
            }
        }

        /// out = a + b (the residual connection).
        extern "C" __global__ void add(const bf16_t* a, const bf16_t* b, bf16_t* out, long long n) {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
                out[i] = f2bf(bf2f(a[i]) + bf2f(b[i]));
        }

        extern "C" __global__ void silu_mul(const bf16_t* gate, const bf16_t* up, bf16_t* out, long long n) {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
                out[i] = f2bf(silu_times(bf2f(gate[i]), bf2f(up[i])));
            }
        }

        /// silu(gate) * up where gate and up are the two halves of each row of a fused [gate | up] product.
        extern "C" __global__ void silu_mul_fused(const bf16_t* gateUp, bf16_t* out, int width, long long n) {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
                long long row = i / width, col = i - row * width;
                const bf16_t* base = gateUp + row * 2 * width;
                out[i] = f2bf(silu_times(bf2f(base[col]), bf2f(base[width + col])));
            }
        }

        extern "C" __global__ void gelu(const bf16_t* x, bf16_t* out, long long n) {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
                float v = bf2f(x[i]);
                out[i] = f2bf(0.5f * v * (1.0f + erff(v * 0.70710678118654752f)));
            }
        }

        /// The [tokens, 2 half] cos and sin tables of a rotary embedding from exact fp32 angle tables
        /// [angle rows, frequencies]: one thread per (token, j < half). Column j reads component
        /// sources[j]'s angle-table row of the token, frequency sources[half + j]; positions holds each
        /// component's rows, [components, tokens]. Rounded once to bf16 and written to columns j and half + j,
        /// the values of the host tables uploaded.
        extern "C" __global__ void rotary_tables(const float* angleCos, const float* angleSin, const int* sources,
                                                 const int* positions, bf16_t* cosTable, bf16_t* sinTable, int tokens,
                                                 int half, int frequencies) {
            const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
            if (i >= (long long)tokens * half) return;
            const int token = (int)(i / half), j = (int)(i - (long long)token * half);
            const long long angle =
                (long long)positions[(long long)sources[j] * tokens + token] * frequencies + sources[half + j];
            const bf16_t c = f2bf(angleCos[angle]), s = f2bf(angleSin[angle]);
            const long long base = (long long)token * 2 * half + j;
            cosTable[base] = c;
            cosTable[base + half] = c;
            sinTable[base] = s;
            sinTable[base + half] = s;
        }

        /// rotate_half's pair (j, j + half) of one head row: out_j = x_j c_j - x_(j+half) s_j and
        /// out_(j+half) = x_(j+half) c_(j+half) + x_j s_(j+half), in fp32. Every RoPE kernel rotates through it.
        __device__ __forceinline__ void rotate_pair(float x1, float x2, float c1, float c2, float s1, float s2,
                                                    float& o1, float& o2) {
            o1 = x1 * c1 - x2 * s1;
            o2 = x2 * c2 + x1 * s2;
        }

        /// Rotates pair j of `row` into `target` (bf16 rows of d elements, the token's tables `c` and `s`).
        __device__ __forceinline__ void rotate_pair_bf16(const bf16_t* row, const bf16_t* c, const bf16_t* s,
                                                         bf16_t* target, int j, int half) {
            float o1, o2;
            rotate_pair(bf2f(row[j]), bf2f(row[j + half]), bf2f(c[j]), bf2f(c[j + half]), bf2f(s[j]),
                        bf2f(s[j + half]), o1, o2);
            target[j] = f2bf(o1);
            target[j + half] = f2bf(o2);
        }

        /// Where head `head` (of heads + 2 kvHeads) of a fused q/k/v row goes: its row in q, k or v; `isValue`
        /// tells v (copied, not rotated).
        __device__ __forceinline__ bf16_t* split_target(bf16_t* q, bf16_t* k, bf16_t* v, int token, int head,
                                                       int heads, int kvHeads, int d, bool& isValue) {
            isValue = head >= heads + kvHeads;
            if (head < heads) return q + ((long long)token * heads + head) * d;
            if (!isValue) return k + ((long long)token * kvHeads + head - heads) * d;
            return v + ((long long)token * kvHeads + head - heads - kvHeads) * d;
        }

        /// Rotary embedding with rotate_half; one thread per (token, head, pair j < d/2).
        /// x and out are [tokens, heads, d].
        extern "C" __global__ void rope(const bf16_t* x, const bf16_t* cosTable, const bf16_t* sinTable, bf16_t* out,
                                        int tokens, int heads, int d) {
            const int half = d >> 1;
            long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
            long long total = (long long)tokens * heads * half;
            if (i >= total) return;
            int j = (int)(i % half);
            long long th = i / half;
            int token = (int)(th / heads);
            rotate_pair_bf16(x + th * d, cosTable + (size_t)token * d, sinTable + (size_t)token * d, out + th * d, j,
                             half);
        }

        /// Splits a fused [tokens, (heads + 2 kvHeads) d] q/k/v row and rotates q and k (rotate_half), one
        /// thread per (token, head of the heads + 2 kvHeads, pair j < d/2); v heads are copied.
        extern "C" __global__ void split_rope(const bf16_t* qkv, const bf16_t* cosTable, const bf16_t* sinTable,
                                              bf16_t* q, bf16_t* k, bf16_t* v, int tokens, int heads, int kvHeads, int d) {
            const int half = d >> 1, all = heads + 2 * kvHeads;
            long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
            if (i >= (long long)tokens * all * half) return;
            int j = (int)(i % half);
            long long th = i / half;
            int token = (int)(th / all), head = (int)(th % all);
            const bf16_t* row = qkv + th * d;
            bool isValue;
            bf16_t* target = split_target(q, k, v, token, head, heads, kvHeads, d, isValue);
            if (isValue) {
                target[j] = row[j];
                target[j + half] = row[j + half];
                return;
            }
            rotate_pair_bf16(row, cosTable + (size_t)token * d, sinTable + (size_t)token * d, target, j, half);
        }

        /// split_rope over 8 pairs per thread (half = d / 2 a multiple of 8, 16-byte aligned rows): one thread
        /// per (token, head, group of 8 j), the same arithmetic per element as split_rope.
        extern "C" __global__ void split_rope_v8(const bf16_t* qkv, const bf16_t* cosTable, const bf16_t* sinTable,
                                                 bf16_t* q, bf16_t* k, bf16_t* v, int tokens, int heads, int kvHeads, int d) {
            const int half = d >> 1, groups = half >> 3, all = heads + 2 * kvHeads;
            long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
            if (i >= (long long)tokens * all * groups) return;
            const int j = (int)(i % groups) << 3;
            long long th = i / groups;
            int token = (int)(th / all), head = (int)(th % all);
            const bf16_t* row = qkv + th * d;
            const uint4 lo = *(const uint4*)(row + j), hi = *(const uint4*)(row + j + half);
            bool isValue;
            bf16_t* target = split_target(q, k, v, token, head, heads, kvHeads, d, isValue);
            if (isValue) {
                *(uint4*)(target + j) = lo;
                *(uint4*)(target + j + half) = hi;
                return;
            }
            const bf16_t* c = cosTable + (size_t)token * d;
            const bf16_t* s = sinTable + (size_t)token * d;
            float x1[8], x2[8], c1[8], c2[8], s1[8], s2[8], o1[8], o2[8];
            unpack8(lo, x1);
            unpack8(hi, x2);
            unpack8(*(const uint4*)(c + j), c1);
            unpack8(*(const uint4*)(c + j + half), c2);
            unpack8(*(const uint4*)(s + j), s1);
            unpack8(*(const uint4*)(s + j + half), s2);
            #pragma unroll
            for (int t = 0; t < 8; ++t) rotate_pair(x1[t], x2[t], c1[t], c2[t], s1[t], s2[t], o1[t], o2[t]);
            *(uint4*)(target + j) = pack8(o1);
            *(uint4*)(target + j + half) = pack8(o2);
        }

        /// out[i] = x[indices[i]], one block per output row; `width` in 2-byte elements.
        extern "C" __global__ void gather_rows(const bf16_t* x, const int* indices, bf16_t* out, int width) {
            const bf16_t* source = x + (size_t)indices[blockIdx.x] * width;
            bf16_t* target = out + (size_t)blockIdx.x * width;
            if ((width & 7) == 0) {
                const uint4* s4 = (const uint4*)source;
                uint4* t4 = (uint4*)target;
                for (int i = threadIdx.x; i < (width >> 3); i += blockDim.x) t4[i] = s4[i];
            } else {
                for (int i = threadIdx.x; i < width; i += blockDim.x) target[i] = source[i];
            }
        }

        /// destination[indices[i]] = rows[i], one block per source row.
        extern "C" __global__ void scatter_rows(const bf16_t* rows, const int* indices, bf16_t* destination, int width) {
            const bf16_t* source = rows + (size_t)blockIdx.x * width;
            bf16_t* target = destination + (size_t)indices[blockIdx.x] * width;
            for (int i = threadIdx.x; i < width; i += blockDim.x) target[i] = source[i];
        }

        /// Adds a bias row to every row (used when cuBLASLt runs without its bias epilogue).
        extern "C" __global__ void add_bias(bf16_t* x, const bf16_t* bias, int width, long long n) {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
                x[i] = f2bf(bf2f(x[i]) + bf2f(bias[i % width]));
        }

        /// Plain fp32-accumulating product for shapes cuBLASLt refuses: out[m, n] = sum_k x[m, k] w[n, k].
        extern "C" __global__ void linear_fallback(const bf16_t* x, const bf16_t* w, const bf16_t* bias, bf16_t* out,
                                                   int m, int n, int k) {
            int row = blockIdx.y, col = blockIdx.x * blockDim.y + threadIdx.y;
            if (row >= m || col >= n) return;
            float acc = 0.0f;
            for (int i = threadIdx.x; i < k; i += 32) acc += bf2f(x[(size_t)row * k + i]) * bf2f(w[(size_t)col * k + i]);
            acc = warp_sum(acc);
            if (threadIdx.x == 0) out[(size_t)row * n + col] = f2bf(acc + (bias ? bf2f(bias[col]) : 0.0f));
        }
        """#

    /// Every kernel in one translation unit (one NVRTC compile, one module).
    static var all: String {
        prelude + "\n" + elementwise + "\n" + FP8KernelSource.source + "\n" + AttentionKernelSource.source + "\n"
            + AttentionWideKernelSource.source + "\n" + AttentionHopperKernelSource.source + "\n"
            + AttentionWindowKernelSource.source + "\n"
            + PatchifyKernelSource.source
    }
}
