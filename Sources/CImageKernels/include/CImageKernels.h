#ifndef CIMAGEKERNELS_H
#define CIMAGEKERNELS_H
/*
 * The bicubic resize's two passes with AVX2 (resample.c), for ImageProcessing's BicubicResampler, which holds
 * the coefficients and the scalar passes these must match byte for byte. Call them only where
 * lr_resample_avx2_available() returned 1; each returns 0 without writing anything where this build has no
 * AVX2 path (not x86-64).
 */
#include <stdint.h>

/** 1 when the CPU runs AVX2 and this build has the AVX2 passes, else 0. */
int lr_resample_avx2_available(void);

/** Output rows row_begin ..< row_end of the vertical pass: output row r is the sum over tap t < counts[r] of
 *  input row starts[r] + t times weights[r * kernel_size + t]; rows are row_length bytes. */
int lr_resample_vertical(const uint8_t *input, int64_t row_length, const int64_t *starts, const int64_t *counts,
                         const int32_t *weights, int64_t kernel_size, int64_t row_begin, int64_t row_end,
                         uint8_t *output);

/** Output rows row_begin ..< row_end of the horizontal pass over RGB rows in_stride bytes apart (output row r
 *  reads input row r + first_input_row; the input holds input_length bytes); output pixel x sums input pixels
 *  starts[x] + t, t < counts[x]. */
int lr_resample_horizontal(const uint8_t *input, int64_t input_length, int64_t in_stride, int64_t first_input_row,
                           const int64_t *starts, const int64_t *counts, const int32_t *weights, int64_t kernel_size,
                           int64_t out_width, int64_t row_begin, int64_t row_end, uint8_t *output);

#endif
