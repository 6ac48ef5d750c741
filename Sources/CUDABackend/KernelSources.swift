/// CUDA C sources of the backend's kernels, compiled by NVRTC at first use.
///
/// They include no header: bf16 values travel as `unsigned short` bit patterns (the top half of an fp32)
/// and every kernel computes in fp32, rounding to nearest-even once when it stores.
enum KernelSources {
    /// bf16 <-> fp32 helpers and reductions shared by the kernels.
    static let prelude = #"""
    typedef unsigned short bf16_t;

    __device__ __forceinline__ float bf2f(bf16_t v) { return __uint_as_float(((unsigned)v) << 16); }

    __device__ __forceinline__ bf16_t f2bf(float f) {
        unsigned u = __float_as_uint(f);
        if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40u);
        u += 0x7fffu + ((u >> 16) & 1u);
        return (bf16_t)(u >> 16);
    }

    __device__ __forceinline__ unsigned pack_bf2(float lo, float hi) {
        return (unsigned)f2bf(lo) | ((unsigned)f2bf(hi) << 16);
    }

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
            float normed = bf2f(f2bf(bf2f(row[i]) * inverse));
            target[i] = f2bf(normed * bf2f(weight[i]));
        }
    }

    /// out = a + b (the residual connection).
    extern "C" __global__ void add(const bf16_t* a, const bf16_t* b, bf16_t* out, long long n) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
            out[i] = f2bf(bf2f(a[i]) + bf2f(b[i]));
    }

    extern "C" __global__ void silu_mul(const bf16_t* gate, const bf16_t* up, bf16_t* out, long long n) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
            float g = bf2f(gate[i]);
            out[i] = f2bf(g / (1.0f + expf(-g)) * bf2f(up[i]));
        }
    }

    /// silu(gate) * up where gate and up are the two halves of each row of a fused [gate | up] product.
    extern "C" __global__ void silu_mul_fused(const bf16_t* gateUp, bf16_t* out, int width, long long n) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
            long long row = i / width, col = i - row * width;
            const bf16_t* base = gateUp + row * 2 * width;
            float g = bf2f(base[col]);
            out[i] = f2bf(g / (1.0f + expf(-g)) * bf2f(base[width + col]));
        }
    }

    extern "C" __global__ void gelu(const bf16_t* x, bf16_t* out, long long n) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
            float v = bf2f(x[i]);
            out[i] = f2bf(0.5f * v * (1.0f + erff(v * 0.70710678118654752f)));
        }
    }

    /// Rotary embedding with rotate_half; one thread per (token, head, pair j < d/2).
    /// x rows have `rowStride` elements (heads x d for a plain tensor); out is [tokens, heads, d].
    extern "C" __global__ void rope(const bf16_t* x, const bf16_t* cosTable, const bf16_t* sinTable, bf16_t* out,
                                    int tokens, int heads, int d) {
        const int half = d >> 1;
        long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
        long long total = (long long)tokens * heads * half;
        if (i >= total) return;
        int j = (int)(i % half);
        long long th = i / half;
        int token = (int)(th / heads);
        const bf16_t* row = x + th * d;
        bf16_t* target = out + th * d;
        const bf16_t* c = cosTable + (size_t)token * d;
        const bf16_t* s = sinTable + (size_t)token * d;
        float x1 = bf2f(row[j]), x2 = bf2f(row[j + half]);
        target[j] = f2bf(x1 * bf2f(c[j]) - x2 * bf2f(s[j]));
        target[j + half] = f2bf(x2 * bf2f(c[j + half]) + x1 * bf2f(s[j + half]));
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
        bf16_t* target;
        if (head < heads) target = q + ((long long)token * heads + head) * d;
        else if (head < heads + kvHeads) target = k + ((long long)token * kvHeads + head - heads) * d;
        else {
            target = v + ((long long)token * kvHeads + head - heads - kvHeads) * d;
            target[j] = row[j];
            target[j + half] = row[j + half];
            return;
        }
        const bf16_t* c = cosTable + (size_t)token * d;
        const bf16_t* s = sinTable + (size_t)token * d;
        float x1 = bf2f(row[j]), x2 = bf2f(row[j + half]);
        target[j] = f2bf(x1 * bf2f(c[j]) - x2 * bf2f(s[j]));
        target[j + half] = f2bf(x2 * bf2f(c[j + half]) + x1 * bf2f(s[j + half]));
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
    static var all: String { prelude + "\n" + elementwise + "\n" + AttentionKernelSource.source }
}
