/*
 * JPEG encoding through libjpeg-turbo, for the serving benchmark's image requests (clients send JPEGs).
 * libjpeg reports errors by longjmp, hence C.
 */
#include "common.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
} lr_jpeg_encode_error;

static void lr_jpeg_encode_error_exit(j_common_ptr cinfo) {
    lr_jpeg_encode_error *error = (lr_jpeg_encode_error *)cinfo->err;
    longjmp(error->jump, 1);
}

static void lr_jpeg_encode_silent(j_common_ptr cinfo) { (void)cinfo; }

lr_status lr_encode_jpeg(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, uint8_t **out,
                         size_t *out_size) {
    *out = NULL;
    *out_size = 0;
    if (width == 0 || height == 0) return LR_ERR_EMPTY;
    struct jpeg_compress_struct cinfo;
    lr_jpeg_encode_error error;
    unsigned char *buffer = NULL;
    unsigned long size = 0;
    cinfo.err = jpeg_std_error(&error.base);
    error.base.error_exit = lr_jpeg_encode_error_exit;
    error.base.output_message = lr_jpeg_encode_silent;
    if (setjmp(error.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return LR_ERR_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = size;
    return LR_OK;
}

void lr_encoded_free(uint8_t *bytes) { free(bytes); }
