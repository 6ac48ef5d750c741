/*
 * GIF first frame through giflib, matching Pillow's frame 0: the canvas is the logical screen
 * (grown to the frame if the frame reaches past it), pre-filled with the transparency index of the
 * frame's graphic control extension or else index 0; the frame's local color table wins over the
 * global one; indices past the table's end are black; with no table at all, the index is the gray level.
 * Transparency is not applied: Pillow's convert("RGB") of a "P" image ignores it.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <gif_lib.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} lr_gif_source;

static int lr_gif_read(GifFileType *gif, GifByteType *target, int length) {
    lr_gif_source *source = gif->UserData;
    size_t available = source->size - source->offset;
    size_t count = length < 0 ? 0 : (size_t)length;
    if (count > available) count = available;
    memcpy(target, source->data + source->offset, count);
    source->offset += count;
    return (int)count;
}

static lr_status lr_gif_error(lr_decoded *out, GifFileType *gif, int code) {
    if (gif != NULL) DGifCloseFile(gif, NULL);
    if (code == D_GIF_ERR_READ_FAILED || code == D_GIF_ERR_EOF_TOO_SOON) {
        return lr_fail(out, LR_ERR_TRUNCATED, "GIF data ends early (file is truncated)");
    }
    const char *text = GifErrorString(code);
    return lr_fail(out, LR_ERR_CORRUPT, "GIF data is invalid: %s", text != NULL ? text : "unknown error");
}

static void lr_gif_color(const ColorMapObject *map, int index, uint8_t *pixel) {
    if (map == NULL) {
        pixel[0] = pixel[1] = pixel[2] = (uint8_t)index;
    } else if (index < map->ColorCount) {
        pixel[0] = map->Colors[index].Red;
        pixel[1] = map->Colors[index].Green;
        pixel[2] = map->Colors[index].Blue;
    } else {
        pixel[0] = pixel[1] = pixel[2] = 0;
    }
}

lr_status lr_decode_gif(const uint8_t *data, size_t size, uint64_t max_pixels, uint32_t max_dimension,
                        lr_decoded *out) {
    lr_gif_source source = {data, size, 0};
    int code = 0;
    int transparency = -1;
    GifRecordType record;

    memset(out, 0, sizeof *out);
    GifFileType *gif = DGifOpen(&source, lr_gif_read, &code);
    if (gif == NULL) return lr_gif_error(out, NULL, code);

    for (;;) {
        if (DGifGetRecordType(gif, &record) == GIF_ERROR) return lr_gif_error(out, gif, gif->Error);
        if (record == TERMINATE_RECORD_TYPE) {
            DGifCloseFile(gif, NULL);
            return lr_fail(out, LR_ERR_CORRUPT, "GIF file holds no image");
        }
        if (record == EXTENSION_RECORD_TYPE) {
            int ext_code = 0;
            GifByteType *block = NULL;
            if (DGifGetExtension(gif, &ext_code, &block) == GIF_ERROR) return lr_gif_error(out, gif, gif->Error);
            if (ext_code == GRAPHICS_EXT_FUNC_CODE && block != NULL && block[0] >= 4) {
                transparency = (block[1] & 1) ? block[4] : -1;
            }
            while (block != NULL) {
                if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) return lr_gif_error(out, gif, gif->Error);
            }
            continue;
        }
        if (record == IMAGE_DESC_RECORD_TYPE) break;
    }
    if (DGifGetImageDesc(gif) == GIF_ERROR) return lr_gif_error(out, gif, gif->Error);

    GifImageDesc frame = gif->Image;
    uint64_t right = (uint64_t)frame.Left + (uint64_t)frame.Width;
    uint64_t bottom = (uint64_t)frame.Top + (uint64_t)frame.Height;
    uint64_t width = right > (uint64_t)gif->SWidth ? right : (uint64_t)gif->SWidth;
    uint64_t height = bottom > (uint64_t)gif->SHeight ? bottom : (uint64_t)gif->SHeight;
    lr_status status = lr_check_size(out, width, height, max_pixels, max_dimension);
    if (status != LR_OK) {
        DGifCloseFile(gif, NULL);
        return status;
    }
    const ColorMapObject *map = frame.ColorMap != NULL ? frame.ColorMap : gif->SColorMap;
    if (lr_allocate(out, 3) != LR_OK) {
        DGifCloseFile(gif, NULL);
        return LR_ERR_OUT_OF_MEMORY;
    }
    uint8_t background[3];
    lr_gif_color(map, transparency >= 0 ? transparency : 0, background);
    size_t count = (size_t)out->width * out->height;
    for (size_t i = 0; i < count; i++) memcpy(out->pixels + 3 * i, background, 3);

    GifPixelType *line = malloc(frame.Width > 0 ? (size_t)frame.Width : 1);
    if (line == NULL) {
        DGifCloseFile(gif, NULL);
        return lr_fail(out, LR_ERR_OUT_OF_MEMORY, "cannot allocate a GIF row");
    }
    static const int starts[4] = {0, 4, 2, 1};
    static const int steps[4] = {8, 8, 4, 2};
    int passes = frame.Interlace ? 4 : 1;
    for (int pass = 0; pass < passes; pass++) {
        int start = frame.Interlace ? starts[pass] : 0;
        int step = frame.Interlace ? steps[pass] : 1;
        for (int row = start; row < frame.Height; row += step) {
            if (frame.Width > 0 && DGifGetLine(gif, line, frame.Width) == GIF_ERROR) {
                free(line);
                return lr_gif_error(out, gif, gif->Error);
            }
            uint8_t *target = out->pixels + (((size_t)frame.Top + row) * out->width + (size_t)frame.Left) * 3;
            for (int x = 0; x < frame.Width; x++) lr_gif_color(map, line[x], target + 3 * x);
        }
    }
    free(line);
    DGifCloseFile(gif, NULL);
    return LR_OK;
}
