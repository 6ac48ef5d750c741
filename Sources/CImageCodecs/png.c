/*
 * PNG through libpng, matching Pillow's PNG modes and convert("RGB"):
 *  - palette expanded to RGB (tRNS ignored: Pillow keeps mode "P"); gray 1/2/4-bit scaled to 8 bits;
 *  - 16-bit samples keep their high byte, except 16-bit gray without alpha (Pillow's "I;16"),
 *    whose values above 255 saturate to 255;
 *  - gray is replicated; alpha is returned (channels 4) only where Pillow opens the file as RGBA:
 *    RGBA (8 or 16 bit) and 16-bit gray+alpha. 8-bit gray+alpha ("LA") just drops alpha.
 * libpng errors longjmp back here; running out of data is a truncation error.
 */
#include "common.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    int truncated;
    char message[200];
} lr_png_source;

static void lr_png_read(png_structp png, png_bytep target, size_t length) {
    lr_png_source *source = png_get_io_ptr(png);
    if (length > source->size - source->offset) {
        source->truncated = 1;
        png_error(png, "PNG data ends early");
    }
    memcpy(target, source->data + source->offset, length);
    source->offset += length;
}

static void lr_png_error(png_structp png, png_const_charp message) {
    lr_png_source *source = png_get_error_ptr(png);
    if (source != NULL && source->message[0] == 0) {
        strncpy(source->message, message, sizeof source->message - 1);
    }
    png_longjmp(png, 1);
}

static void lr_png_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

/* One 8-bit sample from a row of `depth`-bit samples; saturate selects Pillow's I;16 rule. */
static inline uint8_t lr_png_sample(const uint8_t *row, size_t index, int depth, int saturate) {
    if (depth == 8) return row[index];
    if (saturate) return row[2 * index] != 0 ? 255 : row[2 * index + 1];
    return row[2 * index];
}

static void lr_png_convert_row(const uint8_t *row, uint8_t *target, size_t width, int channels, int depth,
                               int saturate, int keep_alpha) {
    for (size_t x = 0; x < width; x++) {
        size_t base = x * (size_t)channels;
        uint8_t *pixel = target + x * (keep_alpha ? 4 : 3);
        if (channels <= 2) {
            uint8_t gray = lr_png_sample(row, base, depth, saturate);
            pixel[0] = pixel[1] = pixel[2] = gray;
            if (keep_alpha) pixel[3] = channels == 2 ? lr_png_sample(row, base + 1, depth, 0) : 255;
        } else {
            pixel[0] = lr_png_sample(row, base, depth, 0);
            pixel[1] = lr_png_sample(row, base + 1, depth, 0);
            pixel[2] = lr_png_sample(row, base + 2, depth, 0);
            if (keep_alpha) pixel[3] = channels == 4 ? lr_png_sample(row, base + 3, depth, 0) : 255;
        }
    }
}

lr_status lr_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, uint32_t max_dimension,
                        lr_decoded *out) {
    lr_png_source source = {data, size, 0, 0, {0}};
    png_structp png;
    png_infop info = NULL;
    uint8_t *volatile rows = NULL;
    png_bytep *volatile row_pointers = NULL;
    volatile int pixels_done = 0;
    lr_status status;

    memset(out, 0, sizeof *out);
    /* Check the size in IHDR (always the first chunk) before libpng reads further, so a header-only
       bomb is refused as too large rather than as damaged. */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint64_t header_width = ((uint64_t)data[16] << 24) | ((uint64_t)data[17] << 16) | ((uint64_t)data[18] << 8) | data[19];
        uint64_t header_height = ((uint64_t)data[20] << 24) | ((uint64_t)data[21] << 16) | ((uint64_t)data[22] << 8) | data[23];
        status = lr_check_size(out, header_width, header_height, max_pixels, max_dimension);
        if (status != LR_OK) return status;
    }
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, lr_png_error, lr_png_warning);
    if (png == NULL) return lr_fail(out, LR_ERR_OUT_OF_MEMORY, "cannot create a PNG reader");
    info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        return lr_fail(out, LR_ERR_OUT_OF_MEMORY, "cannot create a PNG reader");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(row_pointers);
        /* Like Pillow, data after the last pixel row (up to IEND) is not required. */
        if (pixels_done) return LR_OK;
        if (source.truncated) return lr_fail(out, LR_ERR_TRUNCATED, "PNG data ends early (file is truncated)");
        return lr_fail(out, LR_ERR_CORRUPT, "PNG data is invalid: %s", source.message);
    }
    /* Dimensions are checked by us below; lift libpng's own 1,000,000 default so ours decides. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_read_fn(png, &source, lr_png_read);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    status = lr_check_size(out, width, height, max_pixels, max_dimension);
    if (status != LR_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return status;
    }
    int color_type = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    int keep_alpha = color_type == PNG_COLOR_TYPE_RGB_ALPHA || (color_type == PNG_COLOR_TYPE_GRAY_ALPHA && depth == 16);
    int saturate = color_type == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    int out_depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (lr_allocate(out, keep_alpha ? 4 : 3) != LR_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return LR_ERR_OUT_OF_MEMORY;
    }
    size_t stride = (size_t)width * out->channels;
    if (passes == 1) {
        rows = malloc(row_bytes);
        if (rows == NULL) png_error(png, "out of memory for a row");
        for (png_uint_32 y = 0; y < height; y++) {
            png_read_row(png, rows, NULL);
            lr_png_convert_row(rows, out->pixels + y * stride, width, channels, out_depth, saturate, keep_alpha);
        }
    } else {
        rows = malloc(row_bytes * height);
        row_pointers = malloc(sizeof(png_bytep) * height);
        if (rows == NULL || row_pointers == NULL) png_error(png, "out of memory for an interlaced image");
        for (png_uint_32 y = 0; y < height; y++) row_pointers[y] = rows + y * row_bytes;
        png_read_image(png, row_pointers);
        for (png_uint_32 y = 0; y < height; y++) {
            lr_png_convert_row(row_pointers[y], out->pixels + y * stride, width, channels, out_depth, saturate,
                               keep_alpha);
        }
    }
    pixels_done = 1;
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    free(row_pointers);
    return LR_OK;
}
