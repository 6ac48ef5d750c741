/* Internal helpers shared by the codec shims (not exported to Swift). */
#ifndef LR_COMMON_H
#define LR_COMMON_H
#include "CImageCodecs.h"

/** Writes a printf-style message into out->message, frees any pixels, returns status. */
lr_status lr_fail(lr_decoded *out, lr_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/** Records the size and refuses empty, too wide or too large images before any pixel allocation. */
lr_status lr_check_size(lr_decoded *out, uint64_t width, uint64_t height, uint64_t max_pixels,
                        uint32_t max_dimension);

/** Allocates out->pixels for width * height * channels bytes. */
lr_status lr_allocate(lr_decoded *out, uint32_t channels);
#endif
