#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
/*
 * Plain-C shims over libjpeg-turbo, libpng, libwebp and giflib.
 *
 * Why C: libjpeg and libpng report errors by longjmp out of a callback, which Swift cannot express
 * safely, so every decoder is wrapped once here behind one calling convention: the caller passes the
 * encoded bytes and the size limits, gets back a status and either pixels or a message.
 *
 * The size limits are checked from the header, before any pixel memory is allocated.
 * Output pixels follow Pillow's `Image.open(f)` modes: `channels` is 3 (RGB) or 4 (RGB plus the alpha
 * channel, only where Pillow would open the image as RGBA). Conversion rules live in each decoder.
 */
#include <stddef.h>
#include <stdint.h>

typedef enum {
    LR_OK = 0,
    LR_ERR_CORRUPT = 1,        /* the data is not a valid image of this format (message says why) */
    LR_ERR_TRUNCATED = 2,      /* the data ends before the image does */
    LR_ERR_TOO_MANY_PIXELS = 3,/* width * height above max_pixels (width/height are filled in) */
    LR_ERR_TOO_WIDE = 4,       /* one side above max_dimension (width/height are filled in) */
    LR_ERR_EMPTY = 5,          /* zero width or height */
    LR_ERR_UNSUPPORTED = 6,    /* a valid file using a feature we do not decode (message says which) */
    LR_ERR_OUT_OF_MEMORY = 7
} lr_status;

typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t channels;       /* 3 or 4 */
    uint8_t *pixels;         /* width * height * channels bytes, free with lr_decoded_free */
    char message[256];       /* set on failure */
} lr_decoded;

/** Releases the pixels of a decoded image (safe on an empty or failed result). */
void lr_decoded_free(lr_decoded *image);

lr_status lr_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, uint32_t max_dimension,
                         lr_decoded *out);
lr_status lr_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, uint32_t max_dimension,
                        lr_decoded *out);
lr_status lr_decode_webp(const uint8_t *data, size_t size, uint64_t max_pixels, uint32_t max_dimension,
                         lr_decoded *out);
lr_status lr_decode_gif(const uint8_t *data, size_t size, uint64_t max_pixels, uint32_t max_dimension,
                        lr_decoded *out);

/** Encodes `width * height * 3` RGB bytes as a baseline JPEG of `quality` (1-100); free `*out` with
 *  lr_encoded_free. For the serving benchmark, which sends images the way clients do. */
lr_status lr_encode_jpeg(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, uint8_t **out,
                         size_t *out_size);
void lr_encoded_free(uint8_t *bytes);

#endif
