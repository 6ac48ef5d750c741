/*
 * The two passes of the bicubic resize (ImageProcessing's BicubicResampler) with AVX2, chosen at run time.
 *
 * Why C: the binary targets the x86-64 baseline (SSE2), which has no 32-bit vector multiply; these functions
 * are compiled for AVX2 alone (a function attribute) and run only where the CPU reports it. The arithmetic is
 * the scalar passes' exactly: 32-bit integer products and sums of 8-bit samples and 22-bit weights starting
 * from half a unit, wrapping as they do, shifted right by 22 and clamped to 0...255 (Pillow's clip8). Integer
 * operations give the same bits in any order, so the results are the scalar passes' to the byte (tested).
 */
#include "CImageKernels.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define LR_HAS_AVX2_PATH 1
#else
#define LR_HAS_AVX2_PATH 0
#endif

int lr_resample_avx2_available(void) {
#if LR_HAS_AVX2_PATH
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

#if LR_HAS_AVX2_PATH
#define LR_AVX2 __attribute__((target("avx2")))

/* Eight 32-bit sums -> eight bytes: arithmetic shift by the weights' 22 fraction bits, then saturation to
 * 0...255 (through 16 bits, which the shifted sums never leave: |sum| < 2^31 gives |shifted| < 2^9). */
LR_AVX2 static inline void lr_store_clipped8(__m256i sums, uint8_t *out) {
    const __m256i shifted = _mm256_srai_epi32(sums, 22);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(shifted), _mm256_extracti128_si256(shifted, 1));
    const __m128i bytes = _mm_packus_epi16(words, words);
    _mm_storel_epi64((__m128i *)out, bytes);
}

LR_AVX2 static inline uint8_t lr_clip8(int32_t sum) {
    const int32_t shifted = sum >> 22;
    return shifted < 0 ? 0 : (shifted > 255 ? 255 : (uint8_t)shifted);
}

/* Eight samples widened to 32 bits. */
LR_AVX2 static inline __m256i lr_load8(const uint8_t *p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

LR_AVX2 static void lr_vertical_avx2(const uint8_t *input, int64_t row_length, const int64_t *starts,
                                     const int64_t *counts, const int32_t *weights, int64_t kernel_size,
                                     int64_t row_begin, int64_t row_end, uint8_t *output) {
    for (int64_t row = row_begin; row < row_end; ++row) {
        const int32_t *k = weights + row * kernel_size;
        const uint8_t *first = input + starts[row] * row_length;
        const int64_t count = counts[row];
        uint8_t *out = output + row * row_length;
        int64_t column = 0;
        /* 32 samples a step: four accumulators over the taps, each tap's rows read once. */
        for (; column + 32 <= row_length; column += 32) {
            __m256i a0 = _mm256_set1_epi32(1 << 21), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t tap = 0; tap < count; ++tap) {
                const __m256i w = _mm256_set1_epi32(k[tap]);
                const uint8_t *p = first + tap * row_length + column;
                a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(lr_load8(p), w));
                a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(lr_load8(p + 8), w));
                a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(lr_load8(p + 16), w));
                a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(lr_load8(p + 24), w));
            }
            lr_store_clipped8(a0, out + column);
            lr_store_clipped8(a1, out + column + 8);
            lr_store_clipped8(a2, out + column + 16);
            lr_store_clipped8(a3, out + column + 24);
        }
        for (; column + 8 <= row_length; column += 8) {
            __m256i a = _mm256_set1_epi32(1 << 21);
            for (int64_t tap = 0; tap < count; ++tap) {
                const __m256i w = _mm256_set1_epi32(k[tap]);
                a = _mm256_add_epi32(a, _mm256_mullo_epi32(lr_load8(first + tap * row_length + column), w));
            }
            lr_store_clipped8(a, out + column);
        }
        for (; column < row_length; ++column) {
            uint32_t sum = 1u << 21;
            for (int64_t tap = 0; tap < count; ++tap) {
                sum += (uint32_t)first[tap * row_length + column] * (uint32_t)k[tap];
            }
            out[column] = lr_clip8((int32_t)sum);
        }
    }
}

/* One RGB pixel widened to 32 bits in lanes 0-2. With `wide`, four bytes are read (one load; lane 3 then holds
 * the next byte, which nothing uses); without, exactly three (for a pixel that may end the buffer). */
LR_AVX2 static inline __m128i lr_load_pixel(const uint8_t *p, int wide) {
    uint32_t bytes = 0;
    if (wide) {
        memcpy(&bytes, p, 4);
    } else {
        memcpy(&bytes, p, 3);
    }
    return _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)bytes));
}

/* One row, a pixel at a time (its three channels in one vector). `wide`: the input has at least one byte after
 * this row, so every pixel may be read as four bytes. */
LR_AVX2 static inline void lr_horizontal_row(const uint8_t *in_row, const int64_t *starts, const int64_t *counts,
                                             const int32_t *weights, int64_t kernel_size, int64_t out_width,
                                             int wide, uint8_t *out_row) {
    for (int64_t x = 0; x < out_width; ++x) {
        const int32_t *k = weights + x * kernel_size;
        const uint8_t *pixel = in_row + starts[x] * 3;
        __m128i sum = _mm_set1_epi32(1 << 21);
        for (int64_t tap = 0; tap < counts[x]; ++tap) {
            sum = _mm_add_epi32(sum, _mm_mullo_epi32(lr_load_pixel(pixel + tap * 3, wide), _mm_set1_epi32(k[tap])));
        }
        const __m128i shifted = _mm_srai_epi32(sum, 22);
        const __m128i words = _mm_packs_epi32(shifted, shifted);
        const uint32_t bytes = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(words, words));
        memcpy(out_row + 3 * x, &bytes, 3);
    }
}

LR_AVX2 static void lr_horizontal_avx2(const uint8_t *input, int64_t input_length, int64_t in_stride,
                                       int64_t first_input_row, const int64_t *starts, const int64_t *counts,
                                       const int32_t *weights, int64_t kernel_size, int64_t out_width,
                                       int64_t row_begin, int64_t row_end, uint8_t *output) {
    for (int64_t row = row_begin; row < row_end; ++row) {
        const int64_t row_offset = (row + first_input_row) * in_stride;
        const int wide = row_offset + in_stride < input_length;
        uint8_t *out_row = output + row * out_width * 3;
        /* Two copies of the loop, so that each has its load fixed. */
        if (wide) {
            lr_horizontal_row(input + row_offset, starts, counts, weights, kernel_size, out_width, 1, out_row);
        } else {
            lr_horizontal_row(input + row_offset, starts, counts, weights, kernel_size, out_width, 0, out_row);
        }
    }
}
#endif

int lr_resample_vertical(const uint8_t *input, int64_t row_length, const int64_t *starts, const int64_t *counts,
                         const int32_t *weights, int64_t kernel_size, int64_t row_begin, int64_t row_end,
                         uint8_t *output) {
#if LR_HAS_AVX2_PATH
    lr_vertical_avx2(input, row_length, starts, counts, weights, kernel_size, row_begin, row_end, output);
    return 1;
#else
    (void)input; (void)row_length; (void)starts; (void)counts; (void)weights; (void)kernel_size;
    (void)row_begin; (void)row_end; (void)output;
    return 0;
#endif
}

int lr_resample_horizontal(const uint8_t *input, int64_t input_length, int64_t in_stride, int64_t first_input_row,
                           const int64_t *starts, const int64_t *counts, const int32_t *weights, int64_t kernel_size,
                           int64_t out_width, int64_t row_begin, int64_t row_end, uint8_t *output) {
#if LR_HAS_AVX2_PATH
    lr_horizontal_avx2(input, input_length, in_stride, first_input_row, starts, counts, weights, kernel_size,
                       out_width, row_begin, row_end, output);
    return 1;
#else
    (void)input; (void)input_length; (void)in_stride; (void)first_input_row; (void)starts; (void)counts; (void)weights;
    (void)kernel_size; (void)out_width; (void)row_begin; (void)row_end; (void)output;
    return 0;
#endif
}
