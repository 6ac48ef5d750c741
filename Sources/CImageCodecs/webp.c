/*
 * WebP through libwebp (still images), matching Pillow: default decoder options (fancy upsampling),
 * alpha returned when the file has it (Pillow opens those as RGBA), RGB otherwise.
 * Animated WebP would need libwebpdemux; it is refused with a clear message.
 */
#include "common.h"

#include <string.h>
#include <webp/decode.h>

static const char *lr_webp_status_text(VP8StatusCode code) {
    switch (code) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data";
    default: return "unknown error";
    }
}

lr_status lr_decode_webp(const uint8_t *data, size_t size, uint64_t max_pixels, uint32_t max_dimension,
                         lr_decoded *out) {
    WebPBitstreamFeatures features;
    VP8StatusCode code;
    lr_status status;

    memset(out, 0, sizeof *out);
    code = WebPGetFeatures(data, size, &features);
    if (code == VP8_STATUS_NOT_ENOUGH_DATA) {
        return lr_fail(out, LR_ERR_TRUNCATED, "WebP data ends early (file is truncated)");
    }
    if (code != VP8_STATUS_OK) {
        return lr_fail(out, LR_ERR_CORRUPT, "WebP header is invalid: %s", lr_webp_status_text(code));
    }
    if (features.width < 0 || features.height < 0) {
        return lr_fail(out, LR_ERR_CORRUPT, "WebP header has a negative size");
    }
    status = lr_check_size(out, (uint64_t)features.width, (uint64_t)features.height, max_pixels, max_dimension);
    if (status != LR_OK) return status;
    if (features.has_animation) {
        return lr_fail(out, LR_ERR_UNSUPPORTED, "animated WebP is not supported; save the first frame as a still image");
    }
    uint32_t channels = features.has_alpha ? 4 : 3;
    if (lr_allocate(out, channels) != LR_OK) return LR_ERR_OUT_OF_MEMORY;

    size_t stride = (size_t)out->width * channels;
    size_t total = stride * out->height;
    uint8_t *result = channels == 4 ? WebPDecodeRGBAInto(data, size, out->pixels, total, (int)stride)
                                    : WebPDecodeRGBInto(data, size, out->pixels, total, (int)stride);
    if (result == NULL) {
        /* Tell a cut-off file from a damaged one with the incremental decoder's verdict. */
        WebPDecoderConfig config;
        if (WebPInitDecoderConfig(&config)) {
            config.output.colorspace = MODE_RGB;
            code = WebPDecode(data, size, &config);
            WebPFreeDecBuffer(&config.output);
            if (code == VP8_STATUS_NOT_ENOUGH_DATA) {
                return lr_fail(out, LR_ERR_TRUNCATED, "WebP data ends early (file is truncated)");
            }
            return lr_fail(out, LR_ERR_CORRUPT, "WebP data is invalid: %s", lr_webp_status_text(code));
        }
        return lr_fail(out, LR_ERR_CORRUPT, "WebP data is invalid");
    }
    return LR_OK;
}
