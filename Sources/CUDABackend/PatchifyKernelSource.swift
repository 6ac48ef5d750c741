import TensorKit

/// The kernel of ``CUDABackend/patchify(_:layout:)``: the vision tower's bf16 patch rows cut from 8-bit RGB
/// images on the device, so that only the images' bytes (3 a pixel) cross from the host.
///
/// It writes what ``TensorKit/PatchifySource/patchRows(layout:)`` computes on the host, rounded to bf16: the
/// table it reads holds the layout's normalisation values already rounded (round to nearest even, as `f2bf`),
/// so each output element is a copy of one table entry and the result is bit-exact.
enum PatchifyKernelSource {
    /// Bytes of the bf16 table at the start of the kernel's input buffer: 3 channels x 256 byte values.
    static let tableBytes = 3 * 256 * 2
    /// Int64 values describing each image (first row, grid columns, width in pixels, offset of its bytes).
    static let descriptorFields = 4

    /// Where the parts of the kernel's one input buffer go: the bf16 table at 0, ``descriptorFields`` int64
    /// values per image from ``tableBytes`` on, then every image's bytes from `pixelsOffset` on.
    struct InputLayout: Equatable {
        /// Each image's first row, grid columns, width in pixels and offset of its bytes after `pixelsOffset`.
        var descriptors: [Int64] = []
        /// Each image's byte offset after `pixelsOffset`.
        var byteOffsets: [Int] = []
        var pixelsOffset: Int
        var byteCount: Int

        init(_ images: [PatchifySource]) {
            pixelsOffset = tableBytes + images.count * descriptorFields * 8
            var firstRow = 0, byteOffset = 0
            for image in images {
                descriptors += [Int64(firstRow), Int64(image.gridWidth), Int64(image.width), Int64(byteOffset)]
                byteOffsets.append(byteOffset)
                firstRow += image.patchCount
                byteOffset += image.pixels.count
            }
            byteCount = pixelsOffset + byteOffset
        }
    }

    static let source = #"""
        /// The table value of output element `e` of a patch row whose top-left pixel is at `corner` (a row of
        /// `width` pixels): rows are [channel][frame][py][px], every frame the same still image.
        __device__ __forceinline__ unsigned patch_value(const unsigned char* corner, long long width, const bf16_t* table,
                                                        int e, int patch, int channelLength) {
            const int c = e / channelLength;
            const int q = (e - c * channelLength) % (patch * patch);
            const int py = q / patch, px = q - py * patch;
            return table[c * 256 + corner[(py * width + px) * 3 + c]];
        }

        /// One block per patch row of all the images together. `images` holds 4 values per image: its first row,
        /// its grid columns, its width in pixels and the offset of its bytes in `pixels` (RGB, row-major). An
        /// image's rows go by merge block: block row, block column, then row and column inside the block. With
        /// `vectorized` (rows of a multiple of 8 elements on a 16-byte aligned output) each thread stores 8 values
        /// at once.
        extern "C" __global__ void patchify_rgb8(const unsigned char* __restrict__ pixels, const long long* images,
                                                 int imageCount, const bf16_t* __restrict__ table, bf16_t* out, int patch,
                                                 int merge, int frames, int vectorized) {
            const long long row = blockIdx.x;
            // The image holding this row: the last one whose first row is at or before it.
            int lo = 0, hi = imageCount - 1;
            while (lo < hi) {
                const int mid = (lo + hi + 1) >> 1;
                if (images[4 * mid] <= row) lo = mid; else hi = mid - 1;
            }
            const long long* image = images + 4 * lo;
            const int local = (int)(row - image[0]);
            const int unit = merge * merge, blockColumns = (int)image[1] / merge;
            const int block = local / unit, sub = local - block * unit;
            const int top = ((block / blockColumns) * merge + sub / merge) * patch;
            const int left = ((block % blockColumns) * merge + sub % merge) * patch;
            const long long width = image[2];
            const unsigned char* corner = pixels + image[3] + ((long long)top * width + left) * 3;
            const int channelLength = frames * patch * patch, rowWidth = 3 * channelLength;
            bf16_t* target = out + row * rowWidth;
            if (vectorized) {
                uint4* target4 = (uint4*)target;
                for (int v = threadIdx.x; v < (rowWidth >> 3); v += blockDim.x) {
                    unsigned w[4];
                    #pragma unroll
                    for (int j = 0; j < 4; ++j) {
                        const int e = 8 * v + 2 * j;
                        w[j] = patch_value(corner, width, table, e, patch, channelLength)
                            | (patch_value(corner, width, table, e + 1, patch, channelLength) << 16);
                    }
                    target4[v] = make_uint4(w[0], w[1], w[2], w[3]);
                }
            } else {
                for (int e = threadIdx.x; e < rowWidth; e += blockDim.x)
                    target[e] = (bf16_t)patch_value(corner, width, table, e, patch, channelLength);
            }
        }
        """#
}
