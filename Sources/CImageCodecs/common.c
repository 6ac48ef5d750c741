/* Shared helpers of the codec shims: size checks before allocation, result cleanup. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void lr_decoded_free(lr_decoded *image) {
    if (image == NULL) return;
    free(image->pixels);
    image->pixels = NULL;
}

lr_status lr_fail(lr_decoded *out, lr_status status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(out->message, sizeof out->message, format, args);
    va_end(args);
    free(out->pixels);
    out->pixels = NULL;
    return status;
}

lr_status lr_check_size(lr_decoded *out, uint64_t width, uint64_t height, uint64_t max_pixels,
                        uint32_t max_dimension) {
    out->width = (uint32_t)(width > UINT32_MAX ? UINT32_MAX : width);
    out->height = (uint32_t)(height > UINT32_MAX ? UINT32_MAX : height);
    if (width == 0 || height == 0) {
        return lr_fail(out, LR_ERR_EMPTY, "image has zero size (%llux%llu)", (unsigned long long)width,
                       (unsigned long long)height);
    }
    if (width > max_dimension || height > max_dimension) {
        return lr_fail(out, LR_ERR_TOO_WIDE, "image is %llux%llu, a side is above %u", (unsigned long long)width,
                       (unsigned long long)height, max_dimension);
    }
    if (width * height > max_pixels) {
        return lr_fail(out, LR_ERR_TOO_MANY_PIXELS, "image is %llux%llu = %llu pixels, above %llu",
                       (unsigned long long)width, (unsigned long long)height,
                       (unsigned long long)(width * height), (unsigned long long)max_pixels);
    }
    return LR_OK;
}

lr_status lr_allocate(lr_decoded *out, uint32_t channels) {
    size_t count = (size_t)out->width * (size_t)out->height * channels;
    out->channels = channels;
    out->pixels = malloc(count);
    if (out->pixels == NULL) {
        return lr_fail(out, LR_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for the pixels", count);
    }
    return LR_OK;
}
