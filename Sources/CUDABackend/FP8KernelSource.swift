/// Kernels of the 8-bit (E4M3) products: per-row quantization of activations and widening of 8-bit
/// weights to bf16. E4M3 rounding is ``FP8E4M3``'s (nearest even, saturating): with the hardware conversion
/// on GPUs with FP8 (sm_89+), in integer arithmetic elsewhere (where only the widening path runs).
enum FP8KernelSource {
    static let source = #"""
        /// Round-to-nearest-even E4M3 bits of |x| (sign added by the caller), saturating at 448.
        __device__ __forceinline__ unsigned e4m3_bits(float x) {
            const unsigned sign = (__float_as_uint(x) >> 24) & 0x80u;
            const float a = fabsf(x);
            if (a != a) return sign | 0x7Fu;
            if (a >= 448.0f) return sign | 0x7Eu;
            if (a < 0.015625f) return sign | (unsigned)__float2int_rn(a * 512.0f);
            const unsigned p = __float_as_uint(a);
            const unsigned r = (p + 0x7FFFFu + ((p >> 20) & 1u)) >> 20;
            return sign | min(r - (120u << 3), 0x7Eu);
        }

        /// The value of E4M3 bits.
        __device__ __forceinline__ float e4m3_value(unsigned b) {
            const unsigned e = (b >> 3) & 15u, m = b & 7u, s = (b & 0x80u) << 24;
            if (e == 15u && m == 7u) return __uint_as_float(0x7fc00000u);
            if (e == 0u) return __uint_as_float(s | __float_as_uint((float)m * 0.001953125f));
            return __uint_as_float(s | ((e + 120u) << 23) | (m << 20));
        }

        /// Two values as E4M3 bytes, `lo` in the low byte: the hardware conversion on GPUs with FP8 (sm_89 and
        /// later; round to nearest even, saturating at 448, the same bits as e4m3_bits for every finite
        /// value), e4m3_bits elsewhere.
        __device__ __forceinline__ unsigned e4m3_pair(float lo, float hi) {
        #if __CUDA_ARCH__ >= 890
            unsigned short pair;
            asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(hi), "f"(lo));
            return pair;
        #else
            return e4m3_bits(lo) | (e4m3_bits(hi) << 8);
        #endif
        }

        /// Eight values times `inverse` (the reciprocal of the row's scale) as E4M3 bytes, element 0 in the low
        /// byte of the first word. A product by the reciprocal, not a division: the result differs from the host's
        /// `x / scale` (``RowQuantizedMatrix``) only where the two fp32 quotients straddle an E4M3 rounding
        /// boundary (one step, about once in a million values), and it is several instructions cheaper.
        __device__ __forceinline__ uint2 quantize8(const float* f, float inverse) {
            unsigned word[2];
            #pragma unroll
            for (int w = 0; w < 2; ++w) {
                const float* g = f + 4 * w;
                word[w] = e4m3_pair(g[0] * inverse, g[1] * inverse) | (e4m3_pair(g[2] * inverse, g[3] * inverse) << 16);
            }
            return make_uint2(word[0], word[1]);
        }

        __device__ float block_max(float v) {
            __shared__ float partial[32];
            __shared__ float total;
            for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
            const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
            if (lane == 0) partial[warp] = v;
            __syncthreads();
            if (warp == 0) {
                float w = lane < (blockDim.x >> 5) ? partial[lane] : 0.0f;
                for (int offset = 16; offset > 0; offset >>= 1) w = fmaxf(w, __shfl_xor_sync(0xffffffffu, w, offset));
                if (lane == 0) total = w;
            }
            __syncthreads();
            float result = total;
            __syncthreads();
            return result;
        }

        /// The row's scale from each thread's largest finite magnitude: `max / 448` (1 for a row of zeros), written
        /// to `scales[blockIdx.x]`; returns its reciprocal to every thread.
        __device__ float row_scale_inverse(float largest, float* scales) {
            largest = block_max(largest);
            const float scale = largest > 0.0f ? largest / 448.0f : 1.0f;
            if (threadIdx.x == 0) scales[blockIdx.x] = scale;
            return __frcp_rn(scale);
        }

        /// The row-quantizing kernels below hold one row per block in registers: each thread keeps up to
        /// ROW_VECTORS 16-byte vectors (8 bf16 values each, vector i at thread i % blockDim.x), so a row of up to
        /// ROW_VECTORS x blockDim.x vectors is read once and never parked in memory while the block finds its
        /// largest magnitude.
        #define ROW_VECTORS 4

        /// Calls `body(v, i)` for each of this thread's vectors of a row: vector i = threadIdx.x + v * blockDim.x,
        /// those below width8 (v is a constant after unrolling, so arrays indexed by it stay in registers).
        template <typename Body>
        __device__ __forceinline__ void for_row_vectors(int width8, Body body) {
            #pragma unroll
            for (int v = 0; v < ROW_VECTORS; ++v) {
                const int i = threadIdx.x + v * blockDim.x;
                if (i < width8) body(v, i);
            }
        }

        /// The last step of every row-quantizing kernel: each thread's vectors of bf16 values (`packed`, the
        /// valid ones below width8) quantized with the row's scale (from the block's largest magnitude, written to
        /// scales[blockIdx.x]) into row blockIdx.x of out.
        __device__ __forceinline__ void store_quantized_row(const uint4* packed, float largest, uint2* out, float* scales,
                                                            int width8) {
            const float inverse = row_scale_inverse(largest, scales);
            uint2* target = out + (long long)blockIdx.x * width8;
            for_row_vectors(width8, [&](int v, int i) {
                float f[8];
                unpack8(packed[v], f);
                target[i] = quantize8(f, inverse);
            });
        }

        __device__ __forceinline__ float largest_finite(float largest, const float* f) {
            #pragma unroll
            for (int j = 0; j < 8; ++j) if (fabsf(f[j]) <= 3.0e38f) largest = fmaxf(largest, fabsf(f[j]));
            return largest;
        }

        /// What every row-quantizing kernel does with each of its vectors: keeps it (8 values, already bf16) for
        /// store_quantized_row and takes its largest finite magnitude into the row's.
        __device__ __forceinline__ void keep_row_vector(const float* f, uint4& packed, float& largest) {
            largest = largest_finite(largest, f);
            packed = pack8(f);
        }

        /// One block per row of x `[rows, width]` (bf16): scales[row] = max|x| / 448 (1 for a row of zeros or
        /// without finite values), out = E4M3(x times the reciprocal of scale). width a multiple of 8, at most
        /// ROW_VECTORS x blockDim.x vectors; rows 16-byte aligned.
        extern "C" __global__ void __launch_bounds__(1024) quantize_rows_e4m3_v8(const uint4* x, uint2* out, float* scales, int width8) {
            const uint4* row = x + (long long)blockIdx.x * width8;
            uint4 packed[ROW_VECTORS];
            float largest = 0.0f;
            for_row_vectors(width8, [&](int v, int i) {
                float f[8];
                unpack8(row[i], f);
                keep_row_vector(f, packed[v], largest);
            });
            store_quantized_row(packed, largest, out, scales, width8);
        }

        /// silu(gate) * up of one row of gateUp `[rows, 2 * width]` (gate half, then up half), rounded to bf16 as
        /// the separate kernel stores it, then quantized as quantize_rows_e4m3_v8 quantizes: the bf16 product never
        /// goes to memory.
        extern "C" __global__ void __launch_bounds__(1024) silu_mul_quantize_e4m3_v8(const uint4* gateUp, uint2* out, float* scales, int width8) {
            const uint4* gate = gateUp + (long long)blockIdx.x * 2 * width8;
            const uint4* up = gate + width8;
            uint4 packed[ROW_VECTORS];
            float largest = 0.0f;
            for_row_vectors(width8, [&](int v, int i) {
                float g[8], u[8];
                unpack8(gate[i], g);
                unpack8(up[i], u);
                #pragma unroll
                for (int j = 0; j < 8; ++j) g[j] = round_bf(silu_times(g[j], u[j]));
                keep_row_vector(g, packed[v], largest);
            });
            store_quantized_row(packed, largest, out, scales, width8);
        }

        /// rms_norm_v8's rows (rounded to bf16 as it stores them) quantized as quantize_rows_e4m3_v8 quantizes
        /// them: the bf16 normed row never goes to memory.
        extern "C" __global__ void __launch_bounds__(1024) rms_norm_quantize_e4m3_v8(const uint4* x, const uint4* weight, uint2* out, float* scales, int width8, float eps) {
            const uint4* row = x + (long long)blockIdx.x * width8;
            uint4 packed[ROW_VECTORS];
            float squares = 0.0f;
            for_row_vectors(width8, [&](int v, int i) {
                packed[v] = row[i];
                float f[8];
                unpack8(packed[v], f);
                #pragma unroll
                for (int j = 0; j < 8; ++j) squares += f[j] * f[j];
            });
            const float inverse = rsqrtf(block_sum(squares) / (float)(width8 * 8) + eps);
            float largest = 0.0f;
            for_row_vectors(width8, [&](int v, int i) {
                float f[8], g[8];
                unpack8(packed[v], f);
                unpack8(weight[i], g);
                #pragma unroll
                for (int j = 0; j < 8; ++j) f[j] = round_bf(round_bf(f[j] * inverse) * g[j]);
                keep_row_vector(f, packed[v], largest);
            });
            store_quantized_row(packed, largest, out, scales, width8);
        }

        /// out[r, c] = bf16(e4m3(w[r, c]) * scales[r]) over 8 values per thread: n8 = rows * width8.
        extern "C" __global__ void widen_e4m3_rows_v8(const uint2* w, const float* scales, uint4* out, int width8, long long n8) {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n8; i += (long long)gridDim.x * blockDim.x) {
                const float scale = scales[i / width8];
                const uint2 v = w[i];
                float f[8];
                #pragma unroll
                for (int j = 0; j < 4; ++j) {
                    f[j] = e4m3_value((v.x >> (8 * j)) & 0xFFu) * scale;
                    f[j + 4] = e4m3_value((v.y >> (8 * j)) & 0xFFu) * scale;
                }
                out[i] = pack8(f);
            }
        }

        /// widen_e4m3_rows_v8 one value per thread (any width): n = rows * width.
        extern "C" __global__ void widen_e4m3_rows(const unsigned char* w, const float* scales, bf16_t* out, int width, long long n) {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
                out[i] = f2bf(e4m3_value(w[i]) * scales[i / width]);
        }
        """#
}
