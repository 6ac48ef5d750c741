/*
 * JPEG through libjpeg-turbo, matching Pillow's JpegDecode: default DCT (islow) and fancy upsampling,
 * 1 component -> gray replicated, 3 -> RGB, 4 -> CMYK read as Adobe-inverted ("CMYK;I") then Pillow's
 * CMYK -> RGB rule. libjpeg errors longjmp back here; a premature end of data is a truncation error
 * (Pillow refuses truncated files too), other warnings are ignored as Pillow ignores them.
 */
#include "common.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int truncated;
} lr_jpeg_error;

static void lr_jpeg_error_exit(j_common_ptr cinfo) {
    lr_jpeg_error *error = (lr_jpeg_error *)cinfo->err;
    longjmp(error->jump, 1);
}

static void lr_jpeg_emit_message(j_common_ptr cinfo, int level) {
    lr_jpeg_error *error = (lr_jpeg_error *)cinfo->err;
    if (level < 0 && error->base.msg_code == JWRN_JPEG_EOF) {
        error->truncated = 1;
        longjmp(error->jump, 1);
    }
}

static void lr_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Pillow's cmyk2rgb: channel = nk - round(c * nk / 255), nk = 255 - k, on already inverted values. */
static uint8_t lr_cmyk_channel(uint8_t c, uint8_t k) {
    int nk = 255 - k;
    int tmp = c * nk + 128;
    int product = ((tmp >> 8) + tmp) >> 8;
    int value = nk - product;
    return (uint8_t)(value < 0 ? 0 : value);
}

lr_status lr_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, uint32_t max_dimension,
                         lr_decoded *out) {
    struct jpeg_decompress_struct cinfo;
    lr_jpeg_error error;
    JSAMPLE *volatile row = NULL;
    lr_status status;

    memset(out, 0, sizeof *out);
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&error.base);
    error.base.error_exit = lr_jpeg_error_exit;
    error.base.emit_message = lr_jpeg_emit_message;
    error.base.output_message = lr_jpeg_output_message;
    error.truncated = 0;
    if (setjmp(error.jump)) {
        char text[JMSG_LENGTH_MAX];
        int truncated = error.truncated;
        (error.base.format_message)((j_common_ptr)&cinfo, text);
        jpeg_destroy_decompress(&cinfo);
        free(row);
        if (truncated) return lr_fail(out, LR_ERR_TRUNCATED, "JPEG data ends early (file is truncated)");
        return lr_fail(out, LR_ERR_CORRUPT, "JPEG data is invalid: %s", text);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    status = lr_check_size(out, cinfo.image_width, cinfo.image_height, max_pixels, max_dimension);
    if (status != LR_OK) {
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    switch (cinfo.num_components) {
    case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo.out_color_space = JCS_RGB; break;
    case 4: cinfo.out_color_space = JCS_CMYK; break;
    default:
        jpeg_destroy_decompress(&cinfo);
        return lr_fail(out, LR_ERR_UNSUPPORTED, "JPEG with %d color components is not supported",
                       cinfo.num_components);
    }
    jpeg_start_decompress(&cinfo);
    if (lr_allocate(out, 3) != LR_OK) {
        jpeg_destroy_decompress(&cinfo);
        return LR_ERR_OUT_OF_MEMORY;
    }
    row = malloc((size_t)cinfo.output_width * (size_t)cinfo.output_components);
    if (row == NULL) {
        jpeg_destroy_decompress(&cinfo);
        return lr_fail(out, LR_ERR_OUT_OF_MEMORY, "cannot allocate a JPEG row");
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        JSAMPROW rows[1] = {row};
        uint8_t *target = out->pixels + y * (size_t)out->width * 3;
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (cinfo.output_components == 3) {
            memcpy(target, row, (size_t)out->width * 3);
        } else if (cinfo.output_components == 1) {
            for (size_t x = 0; x < out->width; x++) {
                target[3 * x] = target[3 * x + 1] = target[3 * x + 2] = row[x];
            }
        } else {
            for (size_t x = 0; x < out->width; x++) {
                const JSAMPLE *cmyk = row + 4 * x;
                uint8_t k = (uint8_t)(255 - cmyk[3]);
                target[3 * x] = lr_cmyk_channel((uint8_t)(255 - cmyk[0]), k);
                target[3 * x + 1] = lr_cmyk_channel((uint8_t)(255 - cmyk[1]), k);
                target[3 * x + 2] = lr_cmyk_channel((uint8_t)(255 - cmyk[2]), k);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return LR_OK;
}
